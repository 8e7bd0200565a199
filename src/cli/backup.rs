//! `red backup` and `red restore`: the offline halves of logical backup
//! (`docs/OPERATIONS.md`, "Certificate rotation, backup and recovery")
//! against a stopped database file. They share the
//! snapshot code of `POST /admin/backup` / `POST /admin/restore`
//! ([`crate::service::backup`]); whoever holds the certificate holds every
//! secret, so offline commands apply no policy.

use super::args::Flags;
use crate::backup::{self, BackupKey};
use crate::config::credentials::{Environment, BACKUP_KEY};
use crate::database::{now_ms, open_pager, Database};
use crate::error::{Error, Result};
use crate::service::{DbState, Service, ServiceConfig, ServiceError};
use std::path::{Path, PathBuf};

pub const BACKUP_HELP: &str = "red backup --path FILE [--out BACKUP]

Takes a logical backup of a stopped database: the keyspace, red.config.*,
users, policies and every version of every red.secret.* value, sealed under
a backup key (never the certificate). Needs the database's certificate
(REDDB_CERTIFICATE, REDDB_CERTIFICATE_FILE or $CREDENTIALS_DIRECTORY/certificate).

The backup key comes from REDDB_BACKUP_KEY, REDDB_BACKUP_KEY_FILE or
$CREDENTIALS_DIRECTORY/backup-key (64 hex digits); without one, a new key is
generated and printed once. Keep it apart from the backup file: restore
needs both. BACKUP defaults to reddb-backup-<snapshot id>.rdbk next to FILE;
an existing file is never overwritten.";

pub const RESTORE_HELP: &str = "red restore --path FILE --from BACKUP [--skip-vault]

Restores a logical backup into a stopped, freshly bootstrapped database
(a new certificate: see 'Rotating by re-bootstrap' in docs/OPERATIONS.md) as one
atomic commit. Needs FILE's certificate and the backup key (REDDB_BACKUP_KEY,
REDDB_BACKUP_KEY_FILE or $CREDENTIALS_DIRECTORY/backup-key). Refuses, changing
nothing, when FILE already holds keyspace keys, config, secrets or policies.
Users that already exist (the new admin) are kept. --skip-vault restores only
the keyspace and red.config.* (lost certificate: re-create users and secrets).";

fn from_service(e: ServiceError) -> Error {
    match e.code {
        "backup_refused" => Error::BackupRefused(e.message),
        "restore_conflict" => Error::RestoreConflict(e.message),
        "bad_request" => Error::InvalidInput(e.message),
        _ => Error::Internal(e.message),
    }
}

fn open_database(path: &Path, env: &Environment, writable: bool) -> Result<Service> {
    if !path.exists() {
        return Err(Error::io(
            format!("database file {} does not exist", path.display()),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let pager = open_pager(path, false)?;
    if !pager.header().bootstrapped {
        return Err(Error::NotBootstrapped);
    }
    let cert = super::load_certificate(env)?;
    let db = Database::unseal(pager, &cert, writable)?;
    Ok(Service::new(
        DbState::Open(Box::new(db)),
        ServiceConfig::default(),
    ))
}

fn backup_key(env: &Environment) -> Result<Option<BackupKey>> {
    match env.credential(&BACKUP_KEY)? {
        None => Ok(None),
        Some(c) => Ok(Some(BackupKey::parse_hex(&c.value).map_err(
            |e| match e {
                Error::InvalidInput(m) => {
                    Error::InvalidInput(format!("{m} ({})", c.origin.describe(&BACKUP_KEY)))
                }
                other => other,
            },
        )?)),
    }
}

/// `red backup`.
pub fn run_backup(args: &[String], env: &Environment) -> Result<i32> {
    let flags = Flags::parse(args, &["path", "out"], &[])?;
    let path = Path::new(flags.required("path")?);
    let given = backup_key(env)?;
    let svc = open_database(path, env, false)?;
    let snap = svc.take_snapshot(None).map_err(from_service)?;
    let id: [u8; 16] = crate::crypto::random::array()?;
    let (key, generated) = match given {
        Some(k) => (k, false),
        None => (BackupKey::generate()?, true),
    };
    let file_id = svc
        .database()
        .map(|db| db.store().header().file_id)
        .ok_or_else(|| Error::Internal("database not open".into()))?;
    let bytes = backup::seal(&key, id, now_ms(), file_id, &snap.payload)?;
    let out = match flags.value("out") {
        Some(o) => PathBuf::from(o),
        None => path
            .parent()
            .map_or_else(PathBuf::new, Path::to_path_buf)
            .join(backup::file_name(&id)),
    };
    backup::write_file(&out, &bytes)?;
    println!("backup written: {}", out.display());
    println!("snapshot id: {}", hex::encode(id));
    println!("contents: {}", snap.counts.describe());
    if generated {
        println!("backup key: {}", key.to_hex_for_operator().as_str());
        println!("^^^^ store this apart from the backup file: restore needs both ^^^^");
    }
    Ok(0)
}

/// `red restore`.
pub fn run_restore(args: &[String], env: &Environment) -> Result<i32> {
    let flags = Flags::parse(args, &["path", "from"], &["skip-vault"])?;
    let path = Path::new(flags.required("path")?);
    let from = Path::new(flags.required("from")?);
    let key = backup_key(env)?.ok_or_else(|| {
        Error::Usage(
            "restore needs the backup key: set REDDB_BACKUP_KEY, REDDB_BACKUP_KEY_FILE or the credential 'backup-key'"
                .into(),
        )
    })?;
    let bytes = backup::read_file(from)?;
    let (header, payload) = backup::open(&key, &bytes)?;
    drop(key);
    // Check the target read-only first: a refused restore writes nothing.
    open_database(path, env, false)?
        .check_restore_target(flags.on("skip-vault"))
        .map_err(from_service)?;
    let mut svc = open_database(path, env, true)?;
    let report = svc
        .restore_snapshot(&payload, flags.on("skip-vault"))
        .map_err(from_service)?;
    drop(payload);
    svc.database_mut()
        .ok_or_else(|| Error::Internal("database not open".into()))?
        .store_mut()
        .flush()?;
    println!(
        "restored: {} from snapshot {}{}",
        path.display(),
        header.snapshot_id_hex(),
        if flags.on("skip-vault") {
            " (skip-vault: keyspace and config only)"
        } else {
            ""
        }
    );
    println!("contents: {}", report.restored.describe());
    if !report.kept_users.is_empty() {
        println!("kept existing users: {}", report.kept_users.join(", "));
    }
    Ok(0)
}
