//! Certificate rotation in place: `POST /admin/rekey` on a running server,
//! and the commit-and-audit step the offline `red rekey` shares with it.
//!
//! The Argon2 half (a new master secret, its certificate, a new salt and
//! the vault key, [`Database::prepare_rekey`]) runs on the worker pool as
//! [`Job::Rekey`]; the writes ([`Database::commit_rekey`]: one vault page,
//! the two meta copies, the other vault page, each synced) run on the loop
//! when the job returns, before the reply. The order and the argument that
//! exactly one certificate opens the file at every instant are in
//! `docs/FORMAT.md` §9.6.
//!
//! What the running process replaces: the vault (master secret, salt, vault
//! key) and the header's certificate id. Everything derived from the data
//! key — page, meta and session keys, `red.secret.aes_key` — is unchanged,
//! which is why open connections, sessions and API keys keep working and no
//! data page is rewritten.
//!
//! One rekey at a time: a second one while the first is between its start
//! and its finish is refused with 409 `rekey_in_progress`. Only admins (a
//! user with the admin role, or the admin token) may rekey. The HTTP rekey
//! is audited as `admin.rekey` (resource `certificate`) by the route (a
//! refusal at the start) or when the job finishes; the offline one by
//! [`Service::rekey_offline`] under [`offline_principal`]. The new
//! certificate is never logged or audited: it is in the one reply only.

use super::results::RekeyDone;
use super::work::{Job, Then, Work};
use super::{Kind, Principal, Service, ServiceError, ServiceResult};
use reddb_storage::database::{PreparedRekey, RekeyFailure, RekeyReport};
use reddb_storage::error::{Error, Result};
use std::net::IpAddr;

/// The audit action of a rekey (HTTP and offline).
pub const ACTION: &str = "admin.rekey";
/// The audit resource of a rekey.
pub const RESOURCE: &str = "certificate";
/// Usernames starting with this are reserved for [`offline_principal`].
pub(crate) const OFFLINE_PRINCIPAL_PREFIX: &str = "cli@";

/// Whether a rekey is between [`Service::begin_rekey`] and its finish.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    running: bool,
}

impl InFlight {
    /// Claims the one slot; `false` when a rekey already holds it.
    fn begin(&mut self) -> bool {
        !std::mem::replace(&mut self.running, true)
    }

    pub(super) fn end(&mut self) {
        self.running = false;
    }
}

/// The audit principal of the offline `red rekey`: `cli@uid-<N>`, the
/// numeric user id of the process that held the file and the certificate.
/// It is not a vault user and no user can be given a name that starts with
/// `cli@` ([`crate::accounts::validate_new_username`]).
pub fn offline_principal() -> String {
    // SAFETY: getuid takes no arguments, cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() };
    format!("{OFFLINE_PRINCIPAL_PREFIX}uid-{uid}")
}

impl Service {
    /// `POST /admin/rekey`: refuses non-admins (403), a sealed or fresh
    /// database (503) and a second rekey in progress (409); otherwise sends
    /// the key derivation to a worker.
    pub fn begin_rekey(&mut self, p: &Principal, peer: IpAddr) -> ServiceResult<Work> {
        self.require_admin(p)?;
        self.open_db()?;
        if !self.rekey.begin() {
            return Err(ServiceError::new(
                Kind::Conflict,
                "rekey_in_progress",
                "a rekey is already in progress; wait for its answer (only its certificate will open the file)",
            ));
        }
        Ok(Work {
            job: Job::Rekey,
            then: Then::Rekey {
                actor: p.name.clone(),
                peer,
            },
        })
    }

    /// The worker's keys are back: commit the rekey and answer with the
    /// new certificate, once.
    pub(super) fn finish_rekey(
        &mut self,
        prepared: Result<PreparedRekey>,
    ) -> ServiceResult<RekeyDone> {
        self.rekey.end();
        let prepared = prepared.map_err(ServiceError::from)?;
        let cert = prepared.certificate_hex();
        let db = self.open_db_mut()?;
        match db.commit_rekey(prepared) {
            Ok(report) => {
                reddb_storage::log_notice!(
                    "certificate rotated (POST /admin/rekey): only the new certificate opens this database{}",
                    if report.old_vault_erased {
                        ""
                    } else {
                        "; writes are stopped after an I/O error, restart with the new certificate"
                    }
                );
                Ok(RekeyDone {
                    certificate: cert,
                    incomplete: None,
                })
            }
            Err(RekeyFailure::NotCommitted(e)) => {
                reddb_storage::log_error!(
                    "rekey not committed, the old certificate stays in force: {e}"
                );
                let stopped = db.store().check_writable().is_err();
                Err(ServiceError::internal(if stopped {
                    "the rekey was not committed (see the server log): the old certificate stays in force; writes are stopped after the I/O error, restart the server"
                } else {
                    "the rekey was not committed (see the server log): the old certificate stays in force"
                }))
            }
            Err(RekeyFailure::Undetermined(e)) => {
                reddb_storage::log_error!(
                    "rekey interrupted while the header was being switched ({e}): the file opens with exactly one of the old and the new certificate; writes are stopped"
                );
                // The new certificate may be the one in force: it must reach
                // the operator, error or not.
                Ok(RekeyDone {
                    certificate: cert,
                    incomplete: Some(ServiceError::internal(
                        "the disk failed while the header was being switched: the file now opens with exactly one of the old certificate and this one; keep both, restart and try this one first",
                    ).with_code("rekey_incomplete")),
                })
            }
        }
    }

    /// The offline `red rekey` after the certificate was delivered: commits
    /// the rekey, then records `admin.rekey` by `principal` and flushes it
    /// (the event follows the commit, so it never claims a rekey that did
    /// not happen; a crash between the two leaves the rekey unaudited).
    pub fn rekey_offline(
        &mut self,
        prepared: PreparedRekey,
        principal: &str,
    ) -> std::result::Result<RekeyReport, RekeyFailure> {
        let db = self
            .database_mut()
            .ok_or(RekeyFailure::NotCommitted(Error::NotBootstrapped))?;
        let report = db.commit_rekey(prepared)?;
        if report.old_vault_erased {
            self.audit(principal, ACTION, RESOURCE, ("ok", None), None);
            if let Some(db) = self.database_mut() {
                if let Err(e) = db.store_mut().flush() {
                    reddb_storage::log_warn!(
                        "the rekey is committed, but its audit event was not written: {e}"
                    );
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rekey_at_a_time() {
        let mut f = InFlight::default();
        assert!(f.begin());
        assert!(!f.begin());
        f.end();
        assert!(f.begin());
    }

    #[test]
    fn the_offline_principal_is_a_valid_but_reserved_name() {
        let p = offline_principal();
        assert!(p.starts_with("cli@uid-"));
        assert!(crate::accounts::validate_username(&p).is_ok());
        assert!(crate::accounts::validate_new_username(&p).is_err());
        assert!(crate::accounts::validate_new_username("CLI@uid-0").is_err());
        assert!(crate::accounts::validate_new_username("cli").is_ok());
    }
}
