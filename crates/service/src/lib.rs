//! The service layer: what a request means, whoever sent it.
//!
//! HTTP and the Redis-compatible wire protocol translate their bytes into
//! calls on [`Service`] and translate the results back; nothing here
//! touches a socket or knows a status code, a JSON body or a RESP type.
//! Operations take typed arguments and return typed results ([`results`])
//! or a [`ServiceError`]; the only JSON is the stored record format (the
//! private `records` module). The service owns the database
//! (or the sealed/fresh file), the token indexes, the admin token and the
//! login rate limiter. Writes are staged in the store; the event loop
//! flushes them (group commit) before any reply leaves the process.
//!
//! Depends on `reddb-storage` only; no JSON outside `records`, no
//! HTTP status, no RESP (`tests/crate_graph.rs`).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
// No function over 80 lines of code (the threshold is in clippy.toml); one
// that must be says why next to a function-level `#[allow]`.
#![warn(clippy::too_many_lines)]

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod bootstrap;
pub mod error;
pub mod float_text;
pub mod keyspace;
pub mod limiter;
pub mod long_double;
pub mod policy;
mod records;
pub mod rekey;
pub mod results;
pub mod secrets;
pub mod strict_decimal;
pub mod unseal;
pub mod users;
pub mod work;

use accounts::{ApiKeyRecord, Role, UserRecord};
pub use error::{Kind, ServiceError, ServiceResult};
pub use records::SessionRecord;
use reddb_storage::crypto::password::PasswordCost;
use reddb_storage::database::{now_ms, Database};
use reddb_storage::pager::Pager;
use results::{Account, BootstrapOk, Finished, Health, LoggedOut, LoginOk, ShareCount};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use subtle::ConstantTimeEq;
use work::{Job, JobOutput, Then, Work, DUMMY_PHC};
use zeroize::Zeroizing;

pub(crate) const SESSION_PREFIX: &str = "session:";
pub(crate) const SESSION_TOKEN_PREFIX: &str = "rdb_s_";
pub(crate) const DEFAULT_SESSION_TTL_MS: u64 = 12 * 60 * 60 * 1000;

/// Whether `peer` is a loopback address (IPv4-mapped IPv6 included).
pub fn is_loopback(peer: IpAddr) -> bool {
    match peer {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

/// The "busy" refusal of a peer that has its share of password checks
/// queued already.
pub(crate) fn peer_busy() -> ServiceError {
    ServiceError::new(
        Kind::Busy,
        "busy",
        "too many password checks from this address in progress; retry shortly",
    )
    .retry_after(1)
}

/// The "rate limited" refusal with its retry time in the message.
pub(crate) fn rate_limited(what: &str, retry: std::time::Duration) -> ServiceError {
    let seconds = retry.as_secs().max(1);
    ServiceError::new(
        Kind::RateLimited,
        "rate_limited",
        format!("{what}; retry in {seconds} s"),
    )
    .retry_after(seconds)
}

/// What the file is in.
pub enum DbState {
    /// Not bootstrapped: only `/health` and `/auth/bootstrap` work.
    Fresh(Box<Pager>),
    /// Bootstrapped but started without a certificate.
    Sealed(Box<Pager>),
    Open(Box<Database>),
    /// Momentarily empty while a bootstrap swaps states.
    Swapping,
}

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub via: Via,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    AdminToken,
    ApiKey { id: String },
    Session { token_hash: String },
    Password,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub require_auth: bool,
    /// `POST /auth/bootstrap` from peers that are not loopback addresses.
    pub allow_remote_bootstrap: bool,
    pub min_password_len: usize,
    pub password_cost: PasswordCost,
    pub session_ttl_ms: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            require_auth: false,
            allow_remote_bootstrap: false,
            min_password_len: accounts::MIN_PASSWORD_LEN,
            password_cost: PasswordCost::DEFAULT,
            session_ttl_ms: DEFAULT_SESSION_TTL_MS,
        }
    }
}

pub struct Service {
    db: DbState,
    pub config: ServiceConfig,
    admin_token_hash: Option<[u8; 32]>,
    /// token hash → (key id, owner)
    api_keys: HashMap<String, (String, String)>,
    /// The owner index of sessions: username → token hash → expiry (ms).
    /// Revoking a user's sessions reads its entry, never scans the vault.
    sessions: HashMap<String, HashMap<String, u64>>,
    /// Bumped by every change that can end a credential: any commit that
    /// touches the vault namespace (users, keys, sessions), a new admin
    /// token, a rebuild. A wire connection re-checks its credential in
    /// full only when this moved since its last check.
    auth_generation: u64,
    limiter: limiter::LoginLimiter,
    policy_index: policy::PolicyIndex,
    audit_index: audit::AuditIndex,
    audit_max: usize,
    /// Throttled refusals being counted instead of written one by one.
    audit_throttled: audit::ThrottledRefusals,
    /// Where logical backups are written and read (`POST /admin/backup`).
    backup_dir: Option<std::path::PathBuf>,
    /// Certificate shares given to `POST /sys/unseal` so far.
    unseal: unseal::UnsealShares,
    /// A `POST /admin/rekey` between its start and its finish.
    rekey: rekey::InFlight,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(bytes)[..]);
    out
}

impl Service {
    pub fn new(db: DbState, config: ServiceConfig) -> Self {
        let mut s = Self {
            db,
            config,
            admin_token_hash: None,
            api_keys: HashMap::new(),
            sessions: HashMap::new(),
            auth_generation: 0,
            limiter: limiter::LoginLimiter::default(),
            policy_index: policy::PolicyIndex::default(),
            audit_index: audit::AuditIndex::default(),
            audit_max: audit::MAX_EVENTS,
            audit_throttled: audit::ThrottledRefusals::default(),
            backup_dir: None,
            unseal: unseal::UnsealShares::default(),
            rekey: rekey::InFlight::default(),
        };
        s.rebuild_indexes();
        s
    }

    /// Sets or clears the admin bearer token (start-up and SIGHUP).
    pub fn set_admin_token(&mut self, token: Option<&str>) {
        self.admin_token_hash = token
            .filter(|t| !t.is_empty())
            .map(|t| sha256(t.as_bytes()));
        self.auth_generation += 1;
    }

    /// See the field: moves whenever a credential may have ended.
    pub(crate) fn auth_generation(&self) -> u64 {
        self.auth_generation
    }

    pub fn has_admin_token(&self) -> bool {
        self.admin_token_hash.is_some()
    }

    fn rebuild_indexes(&mut self) {
        self.rebuild_policy_index();
        self.rebuild_audit_index();
        self.auth_generation += 1;
        self.api_keys.clear();
        self.sessions.clear();
        let DbState::Open(db) = &self.db else { return };
        let now = now_ms();
        for (k, entry) in db
            .store()
            .state()
            .iter(reddb_storage::store::record::Namespace::Vault, now)
        {
            let reddb_storage::store::record::ValueRef::Bytes(b) = entry.value else {
                continue;
            };
            if k.starts_with(accounts::API_KEY_PREFIX.as_bytes()) {
                if let Ok(rec) = accounts::decode_record::<ApiKeyRecord>(b) {
                    self.api_keys
                        .insert(rec.key_hash.clone(), (rec.id, rec.owner));
                }
            } else if let Some(hash) = k.strip_prefix(SESSION_PREFIX.as_bytes()) {
                let (Ok(hash), Ok(rec)) = (
                    std::str::from_utf8(hash),
                    accounts::decode_record::<SessionRecord>(b),
                ) else {
                    continue;
                };
                self.sessions
                    .entry(rec.username)
                    .or_default()
                    .insert(hash.to_string(), rec.expires_at_ms);
            }
        }
    }

    pub fn is_sealed(&self) -> bool {
        !matches!(self.db, DbState::Open(_))
    }

    pub fn is_bootstrapped(&self) -> bool {
        !matches!(self.db, DbState::Fresh(_))
    }

    pub fn database(&self) -> Option<&Database> {
        match &self.db {
            DbState::Open(db) => Some(db),
            _ => None,
        }
    }

    pub fn database_mut(&mut self) -> Option<&mut Database> {
        match &mut self.db {
            DbState::Open(db) => Some(db),
            _ => None,
        }
    }

    fn open_db(&self) -> ServiceResult<&Database> {
        match &self.db {
            DbState::Open(db) => Ok(db),
            DbState::Fresh(_) => Err(ServiceError::not_bootstrapped()),
            _ => Err(ServiceError::sealed()),
        }
    }

    fn open_db_mut(&mut self) -> ServiceResult<&mut Database> {
        match &mut self.db {
            DbState::Open(db) => Ok(db),
            DbState::Fresh(_) => Err(ServiceError::not_bootstrapped()),
            _ => Err(ServiceError::sealed()),
        }
    }

    /// `GET /health`: reveals nothing but these facts (and, while shares
    /// are being given to `POST /sys/unseal`, how many of how many).
    pub fn health(&self) -> Health {
        Health {
            sealed: self.is_sealed(),
            bootstrapped: self.is_bootstrapped(),
            unseal: self
                .unseal_progress()
                .map(|(have, threshold)| ShareCount { have, threshold }),
        }
    }

    /// Stages `mutations` as one commit (durable after the loop's flush).
    fn commit(
        &mut self,
        mutations: Vec<reddb_storage::store::record::Mutation>,
    ) -> ServiceResult<()> {
        use reddb_storage::store::record::{Mutation, Namespace};
        let touches_vault = mutations.iter().any(|m| match m {
            Mutation::Put { ns, .. }
            | Mutation::Delete { ns, .. }
            | Mutation::Clear { ns }
            | Mutation::Edit { ns, .. } => *ns == Namespace::Vault,
            Mutation::Swap { .. } => false,
        });
        let db = self.open_db_mut()?;
        db.store_mut().apply(mutations)?;
        if touches_vault {
            self.auth_generation += 1;
        }
        Ok(())
    }

    pub fn user(&self, username: &str) -> ServiceResult<Option<UserRecord>> {
        let db = self.open_db()?;
        match db.store().get(
            reddb_storage::store::record::Namespace::Vault,
            &accounts::user_key(username),
            now_ms(),
        ) {
            Some(entry) => match entry.value {
                reddb_storage::store::record::ValueRef::Bytes(b) => {
                    Ok(Some(accounts::decode_record(b)?))
                }
                _ => Err(ServiceError::internal("user record has the wrong type")),
            },
            None => Ok(None),
        }
    }

    pub(crate) fn active_user(&self, username: &str) -> ServiceResult<UserRecord> {
        match self.user(username)? {
            Some(u) if !u.disabled => Ok(u),
            _ => Err(ServiceError::unauthorized()),
        }
    }

    /// Resolves a bearer token: an API key (`rdb_k_…`), a session
    /// (`rdb_s_…`) or the admin token. Every comparison is on SHA-256
    /// digests, the admin one in constant time.
    pub fn authenticate(&self, token: Option<&str>) -> ServiceResult<Principal> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(ServiceError::unauthorized)?;
        if let Some(expected) = &self.admin_token_hash {
            let given = sha256(token.as_bytes());
            if bool::from(given.ct_eq(expected)) {
                return Ok(Principal {
                    name: "admin-token".into(),
                    role: Role::Admin,
                    via: Via::AdminToken,
                });
            }
        }
        let user_token = token.starts_with(accounts::API_KEY_TOKEN_PREFIX)
            || token.starts_with(SESSION_TOKEN_PREFIX);
        if self.is_sealed() && (user_token || self.admin_token_hash.is_none()) {
            // API keys and sessions live in the vault: without it they can
            // be neither accepted nor refused, so say why: while sealed,
            // reads answer `vault_sealed`, not "invalid credentials".
            return Err(self.open_db().err().unwrap_or_else(ServiceError::sealed));
        }
        if token.starts_with(accounts::API_KEY_TOKEN_PREFIX) {
            let hash = accounts::hash_token(token);
            let (id, owner) = self
                .api_keys
                .get(&hash)
                .cloned()
                .ok_or_else(ServiceError::unauthorized)?;
            let user = self.active_user(&owner)?;
            return Ok(Principal {
                name: user.username,
                role: user.role,
                via: Via::ApiKey { id },
            });
        }
        if token.starts_with(SESSION_TOKEN_PREFIX) {
            let hash = accounts::hash_token(token);
            let (user, _) = self.live_session(&hash)?;
            return Ok(Principal {
                name: user.username,
                role: user.role,
                via: Via::Session { token_hash: hash },
            });
        }
        Err(ServiceError::unauthorized())
    }

    /// [`Service::authenticate`] for a request from `peer`: a presented
    /// token that does not authenticate counts against the peer's token
    /// throttle, and past its limit the refusal is "rate limited" (429)
    /// with a retry time instead of "unauthorized". A valid token is never
    /// refused by the throttle (see [`limiter`]).
    pub fn authenticate_from(
        &mut self,
        token: Option<&str>,
        peer: IpAddr,
    ) -> ServiceResult<Principal> {
        let r = self.authenticate(token);
        match &r {
            Err(e) if e.kind == Kind::Unauthorized && token.is_some_and(|t| !t.is_empty()) => {
                match self.token_failed(peer) {
                    Some(throttled) => Err(throttled),
                    None => r,
                }
            }
            _ => r,
        }
    }

    /// A presented token (wire `AUTH <token>`) did not authenticate:
    /// `Some(error)` when the peer is past its token throttle (see
    /// [`Service::authenticate_from`]).
    pub fn token_failed(&mut self, peer: IpAddr) -> Option<ServiceError> {
        self.limiter
            .token_failure(peer, std::time::Instant::now())
            .map(|retry| {
                rate_limited(
                    "too many failed authentication attempts from this address",
                    retry,
                )
            })
    }

    /// A session that still holds: its record exists and has not expired,
    /// its user exists and is enabled, and the user's password is the one
    /// the session was made under (its stamp). Returns the user and the
    /// session's expiry.
    pub(crate) fn live_session(&self, token_hash: &str) -> ServiceResult<(UserRecord, u64)> {
        let db = self.open_db()?;
        let key = format!("{SESSION_PREFIX}{token_hash}");
        let entry = db
            .store()
            .get(
                reddb_storage::store::record::Namespace::Vault,
                key.as_bytes(),
                now_ms(),
            )
            .ok_or_else(ServiceError::unauthorized)?;
        let reddb_storage::store::record::ValueRef::Bytes(b) = entry.value else {
            return Err(ServiceError::unauthorized());
        };
        let session: SessionRecord = accounts::decode_record(b)?;
        let user = self.active_user(&session.username)?;
        if session.user_stamp.is_empty() || session.user_stamp != accounts::user_stamp(&user) {
            return Err(ServiceError::unauthorized());
        }
        Ok((user, session.expires_at_ms))
    }

    pub fn require_admin(&self, principal: &Principal) -> ServiceResult<()> {
        if principal.is_admin() {
            Ok(())
        } else {
            Err(ServiceError::forbidden("this needs an admin"))
        }
    }

    /// `POST /auth/bootstrap`: the CPU-heavy part goes to a worker.
    pub fn begin_bootstrap(
        &mut self,
        username: &str,
        password: &str,
        peer: IpAddr,
    ) -> ServiceResult<Work> {
        match &self.db {
            DbState::Fresh(_) => {}
            _ => {
                return Err(ServiceError::new(
                    Kind::Conflict,
                    "already_bootstrapped",
                    "this database is already bootstrapped",
                ))
            }
        }
        if !self.config.allow_remote_bootstrap && !is_loopback(peer) {
            return Err(ServiceError::forbidden(
                "POST /auth/bootstrap is accepted from loopback peers only (tunnel to the host, or start the server with --allow-remote-bootstrap)",
            ));
        }
        accounts::validate_new_username(username)?;
        accounts::validate_password(password.as_bytes(), self.config.min_password_len)?;
        Ok(Work {
            job: Job::Bootstrap {
                username: username.to_string(),
                password: Zeroizing::new(password.to_string()),
                cost: self.config.password_cost,
                min_password_len: self.config.min_password_len,
            },
            then: Then::Bootstrap { peer },
        })
    }

    /// `POST /auth/login`: refuses at once when rate limited, otherwise
    /// sends the password check to a worker (a dummy hash for an unknown
    /// user, so both cost the same).
    pub fn begin_login(
        &mut self,
        username: &str,
        password: &str,
        peer: IpAddr,
        wire: bool,
    ) -> ServiceResult<Work> {
        self.open_db()?;
        // The name's syntax first: nothing malformed reaches the limiter's
        // maps, a copy, or a worker.
        accounts::validate_username(username)?;
        if let Err(retry) = self
            .limiter
            .check(username, peer, std::time::Instant::now())
        {
            return Err(rate_limited("too many failed logins", retry));
        }
        if self.limiter.peer_busy(peer) {
            return Err(peer_busy());
        }
        let user = self.user(username)?.filter(|u| !u.disabled);
        self.limiter
            .begin(username, peer, std::time::Instant::now());
        let stamp = user.as_ref().map(accounts::user_stamp);
        let phc = user
            .map(|u| u.password_hash)
            .unwrap_or_else(|| DUMMY_PHC.to_string());
        let then = if wire {
            Then::WireAuth {
                username: username.to_string(),
                peer,
                stamp,
            }
        } else {
            Then::Login {
                username: username.to_string(),
                peer,
                stamp,
            }
        };
        Ok(Work {
            job: Job::Verify {
                phc,
                password: Zeroizing::new(password.to_string()),
            },
            then,
        })
    }

    /// Resumes a request after its worker job, records its audit event and
    /// returns what it produced (one [`Finished`] variant per [`Then`]).
    pub fn finish(&mut self, then: Then, output: JobOutput) -> ServiceResult<Finished> {
        let (actor, action, resource, peer) = match &then {
            Then::Bootstrap { peer } => (None, "auth.bootstrap", String::new(), Some(*peer)),
            Then::Login { username, peer, .. } => (
                Some(username.clone()),
                "auth.login",
                "http".to_string(),
                Some(*peer),
            ),
            Then::WireAuth { username, peer, .. } => (
                Some(username.clone()),
                "auth.login",
                "wire".to_string(),
                Some(*peer),
            ),
            Then::CreateUser {
                username,
                actor,
                peer,
                ..
            } => (
                Some(actor.clone()),
                "user.create",
                format!("user:{username}"),
                *peer,
            ),
            Then::SetPassword {
                username,
                actor,
                peer,
                ..
            } => (
                Some(actor.clone()),
                "user.password",
                format!("user:{username}"),
                *peer,
            ),
            Then::Rekey { actor, peer } => (
                Some(actor.clone()),
                rekey::ACTION,
                rekey::RESOURCE.to_string(),
                Some(*peer),
            ),
        };
        let r = self.finish_job(then, output);
        let actor = actor.unwrap_or_else(|| match &r {
            Ok(Finished::Bootstrapped(b)) => b.user.username.clone(),
            _ => audit::ANONYMOUS.to_string(),
        });
        let resource = if action == "auth.bootstrap" {
            format!("user:{actor}")
        } else {
            resource
        };
        self.audit_result(&actor, action, &resource, &r, peer);
        r
    }

    /// The verdict of a finished password check, for HTTP and wire logins
    /// alike: feeds the rate limiter and refuses unknown users and wrong
    /// passwords with one indistinguishable error.
    fn settle_password_check(
        &mut self,
        username: &str,
        peer: IpAddr,
        stamp: Option<&str>,
        ok: bool,
    ) -> ServiceResult<()> {
        // The password verified against the hash read when the check began;
        // it counts only if the user still has that password (no change,
        // deletion or re-creation meanwhile).
        let still_current = stamp.is_some_and(|s| {
            self.active_user(username)
                .is_ok_and(|u| accounts::user_stamp(&u) == s)
        });
        if ok && still_current {
            self.limiter.success(username, peer);
            return Ok(());
        }
        self.limiter
            .failure(username, peer, std::time::Instant::now());
        Err(ServiceError::new(
            Kind::Unauthorized,
            "invalid_credentials",
            "invalid username or password",
        ))
    }

    fn finish_job(&mut self, then: Then, output: JobOutput) -> ServiceResult<Finished> {
        match (then, output) {
            (Then::Bootstrap { .. }, JobOutput::Bootstrap(prepared)) => {
                self.finish_bootstrap(*prepared).map(Finished::Bootstrapped)
            }
            (Then::Rekey { .. }, JobOutput::Rekey(prepared)) => {
                self.finish_rekey(*prepared).map(Finished::Rekeyed)
            }
            (
                Then::Login {
                    username,
                    peer,
                    stamp,
                },
                JobOutput::Verified(ok),
            ) => {
                self.settle_password_check(&username, peer, stamp.as_deref(), ok)?;
                self.create_session(&username).map(Finished::LoggedIn)
            }
            (
                Then::WireAuth {
                    username,
                    peer,
                    stamp,
                },
                JobOutput::Verified(ok),
            ) => {
                self.settle_password_check(&username, peer, stamp.as_deref(), ok)?;
                let user = self.active_user(&username)?;
                Ok(Finished::WireAuthenticated(Principal {
                    name: user.username,
                    role: user.role,
                    via: Via::Password,
                }))
            }
            (Then::CreateUser { username, role, .. }, JobOutput::Hashed(hash)) => {
                let hash = hash.map_err(ServiceError::from)?;
                self.finish_create_user(&username, role, hash)
                    .map(Finished::UserCreated)
            }
            (
                Then::SetPassword {
                    username,
                    stamp,
                    own: None,
                    ..
                },
                JobOutput::Hashed(hash),
            ) => {
                let hash = hash.map_err(ServiceError::from)?;
                self.finish_set_password(&username, &stamp, hash)
                    .map(Finished::PasswordChanged)
            }
            (
                Then::SetPassword {
                    username,
                    stamp,
                    own: Some(peer),
                    ..
                },
                JobOutput::Rehashed(out),
            ) => self
                .finish_own_password(&username, peer, &stamp, out)
                .map(Finished::PasswordChanged),
            _ => Err(ServiceError::internal(
                "worker returned an unexpected result",
            )),
        }
    }

    /// A user's own password change after its worker job: the current
    /// password verified (the new one hashed) or not, which feeds the
    /// throttle like a login.
    fn finish_own_password(
        &mut self,
        username: &str,
        peer: IpAddr,
        stamp: &str,
        out: Option<reddb_storage::error::Result<String>>,
    ) -> ServiceResult<results::PasswordChanged> {
        let Some(hash) = out else {
            self.limiter
                .failure(username, peer, std::time::Instant::now());
            return Err(ServiceError::new(
                Kind::Unauthorized,
                "invalid_credentials",
                "the current password is wrong",
            ));
        };
        self.limiter.success(username, peer);
        let hash = hash.map_err(ServiceError::from)?;
        self.finish_set_password(username, stamp, hash)
    }

    /// A parked request whose job could not be queued: releases what
    /// `begin_*` reserved (the rate limiter's pending slot).
    pub fn cancel(&mut self, then: &Then) {
        match then {
            Then::Login { username, peer, .. }
            | Then::WireAuth { username, peer, .. }
            | Then::SetPassword {
                username,
                own: Some(peer),
                ..
            } => self.limiter.cancel(username, *peer),
            Then::Rekey { .. } => self.rekey.end(),
            _ => {}
        }
    }

    fn finish_bootstrap(
        &mut self,
        prepared: reddb_storage::error::Result<bootstrap::PreparedFirstAdmin>,
    ) -> ServiceResult<BootstrapOk> {
        let prepared = prepared.map_err(ServiceError::from)?;
        let pager = match std::mem::replace(&mut self.db, DbState::Swapping) {
            DbState::Fresh(p) => p,
            other => {
                self.db = other;
                return Err(ServiceError::new(
                    Kind::Conflict,
                    "already_bootstrapped",
                    "this database is already bootstrapped",
                ));
            }
        };
        match prepared.finish(*pager) {
            Ok((mut db, out)) => {
                if let Err(e) = db.complete_first_boot() {
                    self.db = DbState::Open(Box::new(db));
                    return Err(e.into());
                }
                self.db = DbState::Open(Box::new(db));
                self.rebuild_indexes();
                Ok(BootstrapOk {
                    user: Account {
                        username: out.username,
                        role: out.role,
                    },
                    api_key: out.api_key,
                    certificate: out.certificate_hex,
                })
            }
            Err(e) => {
                // The file is in an unknown state; it stays unusable until restart.
                Err(ServiceError::internal(format!("bootstrap failed: {e}")))
            }
        }
    }

    fn create_session(&mut self, username: &str) -> ServiceResult<LoginOk> {
        let user = self.active_user(username)?;
        let secret: [u8; 16] = reddb_storage::crypto::random::array()?;
        let token = Zeroizing::new(format!("{SESSION_TOKEN_PREFIX}{}", hex::encode(secret)));
        let hash = accounts::hash_token(&token);
        let now = now_ms();
        let expires = now + self.config.session_ttl_ms;
        let record = SessionRecord {
            username: user.username.clone(),
            created_at_ms: now,
            expires_at_ms: expires,
            user_stamp: accounts::user_stamp(&user),
        };
        let value = records::encode_record(&record)?;
        self.commit(vec![reddb_storage::store::record::Mutation::Put {
            ns: reddb_storage::store::record::Namespace::Vault,
            key: format!("{SESSION_PREFIX}{hash}").into_bytes(),
            value: reddb_storage::store::record::Value::Bytes(value),
            expires_at_ms: expires,
        }])?;
        let owned = self.sessions.entry(user.username.clone()).or_default();
        // Expired entries of this owner go as its index grows: the index
        // holds at most the owner's sessions of the last TTL.
        owned.retain(|_, exp| *exp > now);
        owned.insert(hash, expires);
        Ok(LoginOk {
            principal: Account {
                username: user.username,
                role: user.role,
            },
            token,
            expires_at_ms: expires,
        })
    }

    /// `POST /auth/logout`: revokes the session that made the request.
    pub fn logout(&mut self, principal: &Principal) -> ServiceResult<LoggedOut> {
        let Via::Session { token_hash } = &principal.via else {
            return Err(ServiceError::bad_request(
                "logout needs a session token (rdb_s_…)",
            ));
        };
        let key = format!("{SESSION_PREFIX}{token_hash}").into_bytes();
        self.commit(vec![reddb_storage::store::record::Mutation::Delete {
            ns: reddb_storage::store::record::Namespace::Vault,
            key,
        }])?;
        if let Some(owned) = self.sessions.get_mut(&principal.name) {
            owned.remove(token_hash);
            if owned.is_empty() {
                self.sessions.remove(&principal.name);
            }
        }
        Ok(LoggedOut)
    }

    /// Takes `owner`'s sessions out of the owner index and returns the
    /// deletes that end them (to go in the same commit as the change that
    /// revokes them) and how many of them had not yet expired.
    fn revoke_sessions(
        &mut self,
        owner: &str,
    ) -> (Vec<reddb_storage::store::record::Mutation>, usize) {
        let now = now_ms();
        let owned = self.sessions.remove(owner).unwrap_or_default();
        let live = owned.values().filter(|exp| **exp > now).count();
        let deletes = owned
            .into_keys()
            .map(|hash| reddb_storage::store::record::Mutation::Delete {
                ns: reddb_storage::store::record::Namespace::Vault,
                key: format!("{SESSION_PREFIX}{hash}").into_bytes(),
            })
            .collect();
        (deletes, live)
    }

    /// Reads without an `Authorization` header are allowed only for
    /// `red.config.*` and only without `--require-auth`.
    pub(crate) fn anonymous_config_reads(&self) -> bool {
        !self.config.require_auth
    }

    pub(crate) fn index_api_key(&mut self, rec: &ApiKeyRecord) {
        self.api_keys
            .insert(rec.key_hash.clone(), (rec.id.clone(), rec.owner.clone()));
    }

    pub(crate) fn unindex_api_key(&mut self, id: &str) {
        self.api_keys.retain(|_, (kid, _)| kid != id);
    }

    pub(crate) fn unindex_owner(&mut self, owner: &str) {
        self.api_keys.retain(|_, (_, o)| o != owner);
    }
}
