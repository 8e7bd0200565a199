//! `red check`: open a stopped database file read-only with the
//! certificate, verify every page of the log chain authenticates, and print
//! counts (never values). Useful to prove a backup copy and a certificate
//! belong together before you need them.

use super::args::Flags;
use crate::config::credentials::Environment;
use crate::database::{now_ms, open_pager, Database};
use crate::error::{Error, Result};
use crate::service::accounts::{API_KEY_PREFIX, USER_PREFIX};
use crate::store::record::Namespace;
use std::path::Path;

pub const HELP: &str = "red check --path FILE

Opens FILE read-only with the certificate from REDDB_CERTIFICATE,
REDDB_CERTIFICATE_FILE or $CREDENTIALS_DIRECTORY/certificate, replays the whole
log, and prints what it holds (counts only). Writes nothing.";

pub fn run(args: &[String], env: &Environment) -> Result<i32> {
    let flags = Flags::parse(args, &["path"], &[])?;
    let path = Path::new(flags.required("path")?);
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::io(
                format!("database file {} does not exist", path.display()),
                e,
            ))
        }
        Err(e) => {
            return Err(Error::io(
                format!("cannot open database file {}", path.display()),
                e,
            ))
        }
        Ok(_) => {}
    }
    let pager = open_pager(path, false)?;
    if !pager.header().bootstrapped {
        println!("fresh: {} (not bootstrapped)", path.display());
        return Ok(0);
    }
    let cert = super::load_certificate(env)?;
    let mut db = Database::unseal(pager, &cert, false)?;
    let now = now_ms();
    let state = db.store().state();
    let count_prefix = |prefix: &str| {
        state
            .iter(Namespace::Vault, now)
            .filter(|(k, _)| k.starts_with(prefix.as_bytes()))
            .count()
    };
    let users = count_prefix(USER_PREFIX);
    let keys = count_prefix(API_KEY_PREFIX);
    let secrets = state.count_live(Namespace::Secrets, now);
    let config = state.count_live(Namespace::Config, now);
    let keyspace: usize = Namespace::KEYSPACES
        .iter()
        .map(|&ns| state.count_live(ns, now))
        .sum();
    let page_size = db.store().header().page_size;
    let stats = db.store_mut().stats();
    println!("ok: {}", path.display());
    println!(
        "format: version {}, page size {page_size}",
        crate::pager::meta::FORMAT_VERSION
    );
    println!("users: {users}, api keys: {keys}, secrets: {secrets}, config: {config}, keyspace: {keyspace}");
    println!(
        "log: {} pages, {} free pages, {} file pages, {} commits replayed, next commit {}",
        stats.chain_pages,
        stats.free_pages,
        stats.file_pages,
        stats.commits_replayed,
        stats.next_commit_seq
    );
    Ok(0)
}
