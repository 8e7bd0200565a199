//! CPU-heavy work the event loop hands to the worker pool: Argon2id
//! verification and hashing, and the key derivations of bootstrap and
//! rekey. A [`Job`] carries everything it needs and touches no shared
//! state; its [`JobOutput`] comes back to the loop, which resumes the
//! request with the [`Then`] it parked.

use super::bootstrap::PreparedFirstAdmin;
use crate::accounts::Role;
use reddb_storage::crypto::password::{hash_password, verify_password, PasswordCost};
use reddb_storage::database::{Database, PreparedRekey};
use reddb_storage::error::Result;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// A PHC string verified when the user does not exist, so an unknown
/// username costs the same time as a wrong password.
pub(crate) const DUMMY_PHC: &str = "$argon2id$v=19$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

pub enum Job {
    Verify {
        phc: String,
        password: Zeroizing<String>,
    },
    Hash {
        password: Zeroizing<String>,
        cost: PasswordCost,
    },
    /// A user changing its own password: verify `current` against `phc`,
    /// and only if it matches hash `password`.
    Rehash {
        phc: String,
        current: Zeroizing<String>,
        password: Zeroizing<String>,
        cost: PasswordCost,
    },
    Bootstrap {
        username: String,
        password: Zeroizing<String>,
        cost: PasswordCost,
        min_password_len: usize,
    },
    /// `POST /admin/rekey`: a new master secret, certificate, salt and
    /// vault key ([`Database::prepare_rekey`]).
    Rekey,
}

pub enum JobOutput {
    Verified(bool),
    Hashed(Result<String>),
    /// `None`: the current password did not verify (nothing was hashed).
    Rehashed(Option<Result<String>>),
    Bootstrap(Box<Result<PreparedFirstAdmin>>),
    Rekey(Box<Result<PreparedRekey>>),
}

impl Job {
    pub fn run(self) -> JobOutput {
        match self {
            Job::Verify { phc, password } => {
                JobOutput::Verified(verify_password(password.as_bytes(), &phc))
            }
            Job::Hash { password, cost } => {
                JobOutput::Hashed(hash_password(password.as_bytes(), cost))
            }
            Job::Rehash {
                phc,
                current,
                password,
                cost,
            } => JobOutput::Rehashed(
                verify_password(current.as_bytes(), &phc)
                    .then(|| hash_password(password.as_bytes(), cost)),
            ),
            Job::Bootstrap {
                username,
                password,
                cost,
                min_password_len,
            } => JobOutput::Bootstrap(Box::new(PreparedFirstAdmin::prepare(
                &username,
                password.as_bytes(),
                cost,
                min_password_len,
            ))),
            Job::Rekey => JobOutput::Rekey(Box::new(Database::prepare_rekey())),
        }
    }
}

/// What to do with a job's output once it is back on the loop.
#[derive(Debug, Clone)]
pub enum Then {
    /// `POST /auth/login`: make a session when the password verified.
    /// `stamp` is the user's [`crate::accounts::user_stamp`] when
    /// the check began (`None`: no such user, a dummy hash was verified).
    Login {
        username: String,
        peer: IpAddr,
        stamp: Option<String>,
    },
    /// Wire `AUTH user pass` / `HELLO AUTH`: authenticate the connection.
    WireAuth {
        username: String,
        peer: IpAddr,
        stamp: Option<String>,
    },
    /// `actor` and `peer` are for the audit event.
    CreateUser {
        username: String,
        role: Role,
        actor: String,
        peer: Option<IpAddr>,
    },
    /// `stamp`: the user's stamp when the change began (a change that
    /// raced another one is refused). `own`: the user is changing its own
    /// password, verified by a [`Job::Rehash`] and throttled from this peer.
    SetPassword {
        username: String,
        actor: String,
        peer: Option<IpAddr>,
        stamp: String,
        own: Option<IpAddr>,
    },
    Bootstrap {
        peer: IpAddr,
    },
    /// `POST /admin/rekey`: write the new vault and header on the loop.
    /// `actor` and `peer` are for the audit event.
    Rekey {
        actor: String,
        peer: IpAddr,
    },
}

impl Then {
    /// Whether the outcome exists only in the reply to its caller, so that
    /// finishing it for a caller who has gone would lose it: a bootstrap
    /// (the certificate and the first API key) and a rekey (the new
    /// certificate). Such work is cancelled, not finished, when its
    /// connection closed while the job ran.
    pub fn delivered_only_in_the_reply(&self) -> bool {
        matches!(self, Then::Bootstrap { .. } | Then::Rekey { .. })
    }
}

/// A job and its continuation.
pub struct Work {
    pub job: Job,
    pub then: Then,
}
