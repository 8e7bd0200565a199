//! Logical backup and restore (`docs/OPERATIONS.md`, "Certificate rotation,
//! backup and recovery"): what a snapshot holds, `POST /admin/backup`,
//! `POST /admin/restore`, and the two halves the offline `red backup` /
//! `red restore` commands share with them.
//!
//! A snapshot carries user data — the Redis-compatible keyspace and
//! `red.config.*` — and the vault's *contents* that can live in another
//! vault: users (with their Argon2id hashes), policies and their
//! attachments, and the versions of every `red.secret.*` value in clear
//! inside the sealed payload: every version, or only the latest one of each
//! secret on which the backing-up caller lacks `vault:unseal_history` (the
//! same rule as `GET /secrets/{key}?version=N`; a backup reveals what it
//! carries to whoever holds its key). It never carries vault *state*: the master
//! secret, the data key, `red.secret.aes_key`, API keys or sessions (API
//! keys are re-issued after a rotation by re-bootstrap and restore). The file
//! format and the backup key are in [`reddb_storage::backup`].

use super::accounts::{self, UserRecord, USER_PREFIX};
use super::policy::{Action, Target, POLICY_PREFIX};
use super::records::decode_policy;
use super::results::{BackupMade, Restored};
use super::secrets::{validate_key, CONFIG_PREFIX};
use super::{Principal, Service, ServiceError, ServiceResult};
use reddb_storage::backup::{self, BackupKey};
use reddb_storage::database::now_ms;
use reddb_storage::error::Error;
use reddb_storage::store::record::{Mutation, Namespace, Value, ValueRef};
use reddb_storage::store::State;
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

/// `POST /admin/backup`: the key to seal the snapshot under, or `None` to
/// generate one (answered once).
pub struct BackupRequest {
    pub backup_key: Option<BackupKey>,
}

/// `POST /admin/restore`: which snapshot of the backup directory, its key,
/// and whether to restore the keyspace and config only.
pub struct RestoreRequest {
    pub snapshot_id: [u8; 16],
    pub backup_key: BackupKey,
    pub skip_vault: bool,
}

/// How many entries of each kind a snapshot holds (or a restore wrote).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub keyspace: usize,
    pub config: usize,
    pub users: usize,
    pub policies: usize,
    pub attachments: usize,
    pub secrets: usize,
}

impl Counts {
    /// `keyspace 3, config 1, ...` for the command line.
    pub fn describe(self) -> String {
        format!(
            "keyspace {}, config {}, users {}, policies {}, attachments {}, secrets {}",
            self.keyspace, self.config, self.users, self.policies, self.attachments, self.secrets
        )
    }
}

/// What [`Service::restore_snapshot`] did.
#[derive(Debug, Default)]
pub struct RestoreReport {
    pub restored: Counts,
    /// Users in the backup that already exist here (kept as they are, e.g.
    /// the admin made by the new bootstrap).
    pub kept_users: Vec<String>,
}

/// A snapshot payload ready to seal, with its counts.
pub struct Snapshot {
    pub payload: Zeroizing<Vec<u8>>,
    pub counts: Counts,
    /// Secrets (among `counts.secrets`) whose older versions were left out
    /// because the caller lacks `vault:unseal_history` on them.
    pub latest_only: usize,
}

/// A backup whose contents cannot be restored (400 `backup_refused`).
pub(super) fn refused(why: impl Into<String>) -> ServiceError {
    ServiceError::from(Error::BackupRefused(why.into()))
}

fn is_attachment(key: &[u8]) -> bool {
    key.starts_with(super::policy::ATTACH_PREFIX.as_bytes())
}

/// What [`Service::snapshot_secrets`] left out: secrets the caller may not
/// read, and how many were carried without their older versions.
#[derive(Default)]
struct SecretsTaken {
    denied: Vec<String>,
    latest_only: usize,
}

/// Adds every live keyspace entry (all 16 databases) and config entry to
/// `muts`.
fn snapshot_keyspace_and_config(
    state: &State,
    now: u64,
    counts: &mut Counts,
    muts: &mut Vec<Mutation>,
) {
    let spaces = Namespace::KEYSPACES.into_iter().chain([Namespace::Config]);
    for ns in spaces {
        for (k, e) in state.iter(ns, now) {
            muts.push(Mutation::Put {
                ns,
                key: k.to_vec(),
                value: e.value.to_value(),
                expires_at_ms: e.expires_at_ms,
            });
            if ns.keyspace_db().is_some() {
                counts.keyspace += 1;
            } else {
                counts.config += 1;
            }
        }
    }
}

/// Adds the vault's users, policies and attachments to `muts`; API keys
/// and sessions are never carried.
fn snapshot_vault_contents(state: &State, now: u64, counts: &mut Counts, muts: &mut Vec<Mutation>) {
    for (k, e) in state.iter(Namespace::Vault, now) {
        let kind = if k.starts_with(USER_PREFIX.as_bytes()) {
            &mut counts.users
        } else if k.starts_with(POLICY_PREFIX.as_bytes()) {
            &mut counts.policies
        } else if is_attachment(k) {
            &mut counts.attachments
        } else {
            continue; // API keys, sessions: never carried.
        };
        *kind += 1;
        muts.push(Mutation::Put {
            ns: Namespace::Vault,
            key: k.to_vec(),
            value: e.value.to_value(),
            expires_at_ms: 0,
        });
    }
}

impl Service {
    /// Where `POST /admin/backup` writes and `POST /admin/restore` reads
    /// (the database file's directory).
    pub fn set_backup_dir(&mut self, dir: Option<PathBuf>) {
        self.backup_dir = dir;
    }

    /// Builds a snapshot of the open database. With `caller`, every secret
    /// must be readable by it under the policies (`vault:read`): a backup
    /// reveals every value to whoever holds its key, so an explicit deny
    /// refuses the backup instead of silently leaving secrets out. Older
    /// versions are carried only where the caller also has
    /// `vault:unseal_history` (evaluated per secret, exactly as a
    /// `?version=N` read is); elsewhere the latest version alone is, and
    /// [`Snapshot::latest_only`] counts those secrets. Without `caller`
    /// (the offline `red backup`, which holds the certificate) every
    /// version is carried.
    pub fn take_snapshot(&self, caller: Option<&Principal>) -> ServiceResult<Snapshot> {
        let db = self.open_db()?;
        let now = now_ms();
        let state = db.store().state();
        let mut counts = Counts::default();
        let mut muts = Vec::new();
        snapshot_keyspace_and_config(state, now, &mut counts, &mut muts);
        snapshot_vault_contents(state, now, &mut counts, &mut muts);
        let SecretsTaken {
            mut denied,
            latest_only,
        } = self.snapshot_secrets(state, now, caller, &mut counts, &mut muts)?;
        if !denied.is_empty() {
            wipe_secret_values(&mut muts);
            denied.sort();
            return Err(ServiceError::forbidden(format!(
                "{} on {} secret(s) (first: {}) is denied by policy; a backup must carry every secret: narrow the deny policy for the backup, or take it offline with 'red backup'",
                Action::Read.as_str(),
                denied.len(),
                super::policy::resource_of(denied.first().map_or("", String::as_str))
            )));
        }
        let payload = backup::encode_payload(&muts);
        wipe_secret_values(&mut muts);
        Ok(Snapshot {
            payload: payload?,
            counts,
            latest_only,
        })
    }

    /// Adds every secret `caller` may read to `muts`, in its portable form
    /// (every version, or the latest alone without `vault:unseal_history`).
    /// The names of the secrets `caller` may not read are returned instead.
    fn snapshot_secrets(
        &self,
        state: &State,
        now: u64,
        caller: Option<&Principal>,
        counts: &mut Counts,
        muts: &mut Vec<Mutation>,
    ) -> ServiceResult<SecretsTaken> {
        let mut taken = SecretsTaken::default();
        for (k, e) in state.iter(Namespace::Secrets, now) {
            let Ok(name) = std::str::from_utf8(k) else {
                continue;
            };
            if let Some(p) = caller {
                if self.authorize(p, Action::Read, name).is_err() {
                    taken.denied.push(name.to_string());
                    continue;
                }
            }
            let history = match caller {
                None => true,
                Some(p) => self.authorize(p, Action::UnsealHistory, name).is_ok(),
            };
            let ValueRef::Bytes(stored) = e.value else {
                return Err(ServiceError::internal("secret record has the wrong type"));
            };
            let (portable, cut) = self.export_secret(name, stored, history)?;
            if cut {
                taken.latest_only += 1;
            }
            muts.push(Mutation::Put {
                ns: Namespace::Secrets,
                key: k.to_vec(),
                value: Value::Bytes(portable.to_vec()),
                expires_at_ms: 0,
            });
            counts.secrets += 1;
        }
        Ok(taken)
    }

    /// Applies a snapshot payload as **one** commit. Refuses (changing
    /// nothing) when this database already holds keyspace keys, config,
    /// secrets or policies the snapshot would overwrite — restore goes into
    /// a freshly bootstrapped database. Users that already exist are kept
    /// and reported. With `skip_vault` only the keyspace and config are
    /// restored: the way back from a lost certificate (`docs/OPERATIONS.md`,
    /// "Lost certificate").
    pub fn restore_snapshot(
        &mut self,
        payload: &[u8],
        skip_vault: bool,
    ) -> ServiceResult<RestoreReport> {
        self.check_restore_target(skip_vault)?;
        let entries = backup::decode_payload(payload).map_err(Error::from)?;
        let now = now_ms();
        let mut report = RestoreReport::default();
        let mut muts = Vec::with_capacity(entries.len());
        let mut entries = entries;
        let result = self.plan_restore(&mut entries, skip_vault, now, &mut report, &mut muts);
        wipe_secret_values(&mut entries);
        result?;
        self.commit(muts)?;
        self.rebuild_indexes();
        report.kept_users.sort();
        Ok(report)
    }

    /// Refuses (with the reason) when this database already holds data a
    /// restore would overwrite: keyspace keys, config and — unless
    /// `skip_vault` — secrets or policies.
    pub fn check_restore_target(&self, skip_vault: bool) -> ServiceResult<()> {
        let now = now_ms();
        let db = self.open_db()?;
        let state = db.store().state();
        let mut held = vec![
            (
                "keyspace keys",
                Namespace::KEYSPACES
                    .iter()
                    .map(|&ns| state.count_live(ns, now))
                    .sum(),
            ),
            ("config entries", state.count_live(Namespace::Config, now)),
        ];
        if !skip_vault {
            // (`red.secret.aes_key` lives in the vault payload, never here.)
            let secrets = state.count_live(Namespace::Secrets, now);
            let policies = state
                .iter(Namespace::Vault, now)
                .filter(|(k, _)| k.starts_with(POLICY_PREFIX.as_bytes()))
                .count();
            held.push(("secrets", secrets));
            held.push(("policies", policies));
        }
        let held: Vec<String> = held
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(what, n)| format!("{n} {what}"))
            .collect();
        if !held.is_empty() {
            return Err(ServiceError::from(Error::RestoreConflict(format!(
                "this database already holds {}; restore into a freshly bootstrapped database (nothing was changed)",
                held.join(", ")
            ))));
        }
        Ok(())
    }

    /// Checks every entry of a snapshot and turns it into the mutation
    /// this database stores (secrets re-encrypted under its data key),
    /// counting what will be restored. Refuses the whole snapshot at the
    /// first entry it cannot restore.
    fn plan_restore(
        &mut self,
        entries: &mut [Mutation],
        skip_vault: bool,
        now: u64,
        report: &mut RestoreReport,
        out: &mut Vec<Mutation>,
    ) -> ServiceResult<()> {
        for m in entries.iter() {
            let Mutation::Put {
                ns,
                key,
                value,
                expires_at_ms,
            } = m
            else {
                return Err(refused(
                    "the backup holds a change that is not a stored entry",
                ));
            };
            let name = std::str::from_utf8(key)
                .map_err(|_| refused("the backup holds a key name that is not UTF-8"));
            match ns {
                ns if ns.keyspace_db().is_some() => {
                    if *expires_at_ms != 0 && *expires_at_ms <= now {
                        continue; // expired since the backup: restoring it would be invisible anyway
                    }
                    out.push(m.clone());
                    report.restored.keyspace += 1;
                }
                Namespace::Config => {
                    validate_key(name?, CONFIG_PREFIX)
                        .map_err(|_| refused("the backup holds an invalid config key"))?;
                    out.push(m.clone());
                    report.restored.config += 1;
                }
                _ if skip_vault => {}
                Namespace::Secrets => {
                    let name = name?;
                    let Value::Bytes(portable) = value else {
                        return Err(refused("the backup holds a secret of the wrong type"));
                    };
                    let record = self.import_secret(name, portable)?;
                    out.push(Mutation::Put {
                        ns: Namespace::Secrets,
                        key: key.clone(),
                        value: Value::Bytes(record),
                        expires_at_ms: 0,
                    });
                    report.restored.secrets += 1;
                }
                Namespace::Vault => {
                    let name = name?;
                    let Value::Bytes(bytes) = value else {
                        return Err(refused("the backup holds a vault entry of the wrong type"));
                    };
                    out.extend(self.plan_vault_entry(key, name, bytes, report)?);
                }
                Namespace::Audit => {
                    return Err(refused(
                        "the backup holds audit events, which backups never carry",
                    ))
                }
                _ => return Err(refused("the backup holds an entry of an unknown kind")),
            }
        }
        Ok(())
    }

    /// One vault entry of a snapshot: a user (kept as it is when it already
    /// exists here: `None`), a policy or a policy attachment, each checked
    /// to be readable and consistent with its key.
    fn plan_vault_entry(
        &self,
        key: &[u8],
        name: &str,
        bytes: &[u8],
        report: &mut RestoreReport,
    ) -> ServiceResult<Option<Mutation>> {
        if let Some(user) = name.strip_prefix(USER_PREFIX) {
            let rec: UserRecord = accounts::decode_record(bytes)
                .map_err(|_| refused("the backup holds an unreadable user record"))?;
            if rec.username != user || accounts::validate_username(user).is_err() {
                return Err(refused("the backup holds an inconsistent user record"));
            }
            if self.user(user)?.is_some() {
                report.kept_users.push(user.to_string());
                return Ok(None);
            }
            report.restored.users += 1;
        } else if let Some(id) = name.strip_prefix(POLICY_PREFIX) {
            let p = decode_policy(bytes)
                .map_err(|_| refused("the backup holds an unreadable policy"))?;
            if p.id != id {
                return Err(refused("the backup holds an inconsistent policy"));
            }
            report.restored.policies += 1;
        } else if Target::parse_storage_key(key).is_some() {
            report.restored.attachments += 1;
        } else {
            return Err(refused(
                "the backup holds a vault entry this red does not restore",
            ));
        }
        Ok(Some(Mutation::Put {
            ns: Namespace::Vault,
            key: key.to_vec(),
            value: Value::Bytes(bytes.to_vec()),
            expires_at_ms: 0,
        }))
    }

    fn backup_dir(&self) -> ServiceResult<&Path> {
        self.backup_dir
            .as_deref()
            .ok_or_else(|| ServiceError::internal("this server has no backup directory configured"))
    }

    /// `POST /admin/backup` (admins): writes a sealed snapshot next to the
    /// database and answers its id, file and — when the request brought no
    /// `backup_key` — the freshly generated key, shown this once.
    pub fn admin_backup(&mut self, p: &Principal, req: BackupRequest) -> ServiceResult<BackupMade> {
        self.require_admin(p)?;
        let (key, generated) = match req.backup_key {
            None => (BackupKey::generate()?, true),
            Some(k) => (k, false),
        };
        let dir = self.backup_dir()?.to_path_buf();
        let snap = self.take_snapshot(Some(p))?;
        let id: [u8; 16] = reddb_storage::crypto::random::array()?;
        let created = now_ms();
        let file_id = self.open_db()?.store().header().file_id;
        let bytes = backup::seal(&key, id, created, file_id, &snap.payload)?;
        let name = backup::file_name(&id);
        let path = dir.join(&name);
        backup::write_file(&path, &bytes).map_err(|e| {
            reddb_storage::log_error!("backup: {e}");
            ServiceError::internal("the backup file could not be written (see the server log)")
        })?;
        reddb_storage::log_notice!(
            "backup {} written: {} bytes, {}{}",
            hex::encode(id),
            bytes.len(),
            snap.counts.describe(),
            if snap.latest_only > 0 {
                format!(
                    " ({} secret(s) with their latest version only: the caller lacks {})",
                    snap.latest_only,
                    Action::UnsealHistory.as_str()
                )
            } else {
                String::new()
            }
        );
        Ok(BackupMade {
            snapshot_id: id,
            file: name,
            path,
            bytes: bytes.len(),
            created_at_ms: created,
            counts: snap.counts,
            secrets_latest_only: snap.latest_only,
            backup_key: generated.then(|| key.to_hex_for_operator()),
        })
    }

    /// `POST /admin/restore` (admins): the snapshot file must be in the
    /// backup directory.
    pub fn admin_restore(&mut self, p: &Principal, req: RestoreRequest) -> ServiceResult<Restored> {
        self.require_admin(p)?;
        let RestoreRequest {
            snapshot_id: id,
            backup_key: key,
            skip_vault,
        } = req;
        let id_text = hex::encode(id);
        self.open_db()?;
        let path = self.backup_dir()?.join(backup::file_name(&id));
        let bytes = match backup::read_file(&path) {
            Ok(b) => b,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(ServiceError::not_found(format!(
                    "no backup {id_text} in the server's data directory (copy {} there first)",
                    backup::file_name(&id)
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let (header, payload) = backup::open(&key, &bytes).map_err(Error::from)?;
        if header.snapshot_id != id {
            return Err(refused("the file's snapshot id does not match its name"));
        }
        let report = self.restore_snapshot(&payload, skip_vault)?;
        reddb_storage::log_notice!(
            "backup {id_text} restored{}: {}",
            if skip_vault { " (skip_vault)" } else { "" },
            report.restored.describe()
        );
        Ok(Restored {
            snapshot_id: id,
            skip_vault,
            backup_created_at_ms: header.created_at_ms,
            restored: report.restored,
            kept_users: report.kept_users,
        })
    }
}

/// Overwrites the clear secret values a list of snapshot entries holds.
fn wipe_secret_values(muts: &mut [Mutation]) {
    for m in muts {
        if let Mutation::Put {
            ns: Namespace::Secrets,
            value: Value::Bytes(b),
            ..
        } = m
        {
            b.zeroize();
        }
    }
}
