//! `red rekey`: rotates the certificate of a stopped database file in place.
//!
//! Reads the current certificate from the usual sources, opens the file
//! with it, makes a new master secret and certificate (the vault key's
//! Argon2id), **delivers the new certificate first** — the one
//! `certificate:` line on stdout, or a new 0400 file with
//! `--certificate-out` (fsynced, its directory too, never overwriting) —
//! and only then commits ([`Service::rekey_offline`]: vault page, header,
//! vault page, then the audit event). A delivery that fails commits
//! nothing. After a failure the operator is told which certificate is in
//! force: the old one (the shown one is void, its file removed), or — when
//! the header write itself failed — exactly one of the two (exit 30; keep
//! both). No certificate is ever printed anywhere else.

use super::args::Flags;
use crate::config::credentials::Environment;
use crate::database::{open_pager, Database, RekeyFailure};
use crate::error::{Error, Result};
use crate::service::{rekey, DbState, Service, ServiceConfig};
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

pub const HELP: &str = "red rekey --path FILE [--certificate-out FILE]

Rotates the certificate of a stopped database in place: reads the current
certificate from REDDB_CERTIFICATE, REDDB_CERTIFICATE_FILE or
$CREDENTIALS_DIRECTORY/certificate, makes a new master secret and certificate,
and re-seals the vault root under it (no data page is rewritten). The new
certificate is printed once as 'certificate: <64 hex>', or written to a new
file of mode 0400 with --certificate-out (an existing file is refused before
the database is opened). Afterwards the old certificate is refused (exit 10);
every user, API key, session, secret, config and keyspace entry stays.
Old copies of the database file still open with the OLD certificate.
A running server does the same on POST /admin/rekey.";

pub fn run(args: &[String], env: &Environment) -> Result<i32> {
    let flags = Flags::parse(args, &["path", "certificate-out"], &[])?;
    let path = Path::new(flags.required("path")?);
    let cert_out = flags.value("certificate-out").map(Path::new);
    // Refusals that need neither the file nor the certificate come first.
    if let Some(out) = cert_out {
        if out.symlink_metadata().is_ok() {
            return Err(Error::Usage(format!(
                "--certificate-out {} already exists; refusing to overwrite it",
                out.display()
            )));
        }
    } else if !super::bootstrap::stdout_is_open() {
        return Err(Error::Usage(
            "standard output is closed: the new certificate would be lost".into(),
        ));
    }
    if let Err(e) = std::fs::symlink_metadata(path) {
        return Err(Error::io(
            format!("database file {} does not exist", path.display()),
            e,
        ));
    }
    let cert = super::load_certificate(env)?;
    let pager = open_pager(path, false)?;
    if !pager.header().bootstrapped {
        return Err(Error::NotBootstrapped);
    }
    let db = Database::unseal(pager, &cert, true)?;
    drop(cert);
    let prepared = Database::prepare_rekey()?;

    // Deliver the new certificate; commit only once it is out.
    let cert_hex = prepared.certificate_hex();
    let delivered = match cert_out {
        Some(out) => write_certificate_durably(out, &cert_hex),
        None => {
            let mut text = Zeroizing::new(String::new());
            text.push_str(&format!("certificate: {}\n", cert_hex.as_str()));
            text.push_str(
                "  ^^^^ the NEW certificate: store it offline + in your secret manager ^^^^\n",
            );
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|_| stdout.flush())
                .map_err(|e| Error::io("cannot write to standard output; nothing was changed", e))
        }
    };
    drop(cert_hex);
    delivered?;

    let mut svc = Service::new(DbState::Open(Box::new(db)), ServiceConfig::default());
    match svc.rekey_offline(prepared, &rekey::offline_principal()) {
        Ok(report) => {
            if !report.old_vault_erased {
                eprintln!(
                    "red: warning: the new certificate is in force, but the old vault copy could not be overwritten; it is replaced at the next start"
                );
            }
            if let Some(out) = cert_out {
                println!("certificate written to: {}", out.display());
            }
            println!(
                "rekeyed: {} (the old certificate no longer opens it)",
                path.display()
            );
            Ok(0)
        }
        Err(RekeyFailure::NotCommitted(e)) => {
            if let Some(out) = cert_out {
                let _ = std::fs::remove_file(out);
            }
            eprintln!(
                "red: rekey was not committed: the new certificate {} is void; the old certificate still opens {}",
                if cert_out.is_some() { "(its file removed)" } else { "shown above" },
                path.display()
            );
            Err(e)
        }
        Err(failure @ RekeyFailure::Undetermined(_)) => Err(failure.into_error()),
    }
}

/// The certificate in a new 0400 file, fsynced, and its directory entry
/// fsynced too: once the rekey commits, the file must survive a power cut.
fn write_certificate_durably(out: &Path, hex: &str) -> Result<()> {
    super::bootstrap::write_certificate_file(out, hex)?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Err(e) = crate::pager::file::sync_dir(dir) {
        let _ = std::fs::remove_file(out);
        return Err(e);
    }
    Ok(())
}
