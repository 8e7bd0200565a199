//! `red import`: loads a Redis RDB file into the keyspace of a stopped
//! database, all of it or nothing.
//!
//! Two passes over the RDB file ([`reddb_rdb::RdbReader`], streaming: the
//! memory of a pass is bounded by the largest single value):
//!
//! 1. **Check**, on a read-only open: parse to the end and verify the
//!    CRC-64, and decide every key (imported, expired, empty, refused, or
//!    unsupported). A damaged file (exit 31) or refused content (exit 32)
//!    stops here, before anything is written — the file's bytes are
//!    unchanged.
//! 2. **Apply**, on a writable open: the same pass again (the same
//!    decisions, re-checked against the file as it is now), each key
//!    applied to memory only ([`Store::put_for_snapshot`]), then one
//!    compaction writes the whole state as a new snapshot chain and
//!    switches the meta to it. A power cut before that switch leaves the
//!    old state, after it the whole import (docs/FORMAT.md §9.7).
//!
//! Then the import is audited (`keyspace.import`, its own commit, as `red
//! rekey` does). Key names are never printed: a Redis keyspace often has
//! tokens in its key names (`oauth:refresh:{token}`); only counts are.
//!
//! [`Store::put_for_snapshot`]: crate::store::Store::put_for_snapshot

use super::args::Flags;
use crate::config::credentials::Environment;
use crate::database::{now_ms, open_pager, Database};
use crate::error::{Error, Result};
use crate::service::keyspace::check_key;
use crate::service::{rekey, DbState, Service, ServiceConfig};
use crate::store::record::{self, Mutation, Namespace, Value, DATABASES, MAX_VALUE_LEN};
use crate::store::sorted_set::{Score, SortedSet};
use reddb_rdb::{Checksum, ErrorKind, Limits, RdbReader, RdbValue, Record, UnsupportedKind};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

pub const HELP: &str = "red import --path FILE --rdb DUMP [--db N] [--replace] [--skip-unsupported]

Loads the Redis RDB file DUMP (a dump.rdb from SAVE or BGSAVE; RDB versions
9 to 12: Redis 6.x, 7.0, 7.2, 7.4, Valkey 7 and 8) into the keyspace of the
stopped database FILE. The certificate comes from REDDB_CERTIFICATE,
REDDB_CERTIFICATE_FILE or $CREDENTIALS_DIRECTORY/certificate.

Strings, lists, sets, sorted sets and hashes are read in every encoding
Redis writes. Each key goes to the logical database of its RDB database
(SELECT n), or all of them to --db N (0 to 15), with its absolute expiry
time; keys already expired are skipped and counted.

The whole file is read and its CRC-64 verified before anything is written;
then the import is committed in one step: a crash or power cut leaves all
of it or none of it. Nothing is written, and the command fails, when:
  exit 31  the RDB file is damaged: bad magic, unknown version, truncated,
           a bad length, a bad checksum, a malformed value encoding;
  exit 32  the RDB file holds refused content: keys in red.secret.*, keys
           that already exist (--replace overwrites them), streams, module
           values or function libraries (--skip-unsupported skips and counts
           them), a value over the store's limits, an RDB database above 15
           (use --db);
  exit 14  a running server holds FILE (stop it first).
Prints one line per type and a total (counts only, never key names). The
import is audited as keyspace.import.";

/// What the import does with what it reads.
struct Options {
    /// All keys into this logical database instead of their own.
    into_db: Option<usize>,
    replace: bool,
    skip_unsupported: bool,
}

/// Why keys were refused, with counts.
#[derive(Default)]
struct Refusals {
    secret: u64,
    existing: u64,
    too_large: u64,
    database: u64,
    unsupported: BTreeMap<UnsupportedKind, u64>,
}

impl Refusals {
    fn any(&self) -> bool {
        self.secret + self.existing + self.too_large + self.database > 0
            || !self.unsupported.is_empty()
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.secret > 0 {
            parts.push(format!(
                "{} key(s) in red.secret.* (secrets go through /secrets)",
                self.secret
            ));
        }
        if self.existing > 0 {
            parts.push(format!(
                "{} key(s) already exist (--replace overwrites them)",
                self.existing
            ));
        }
        if self.too_large > 0 {
            parts.push(format!(
                "{} key(s) over the limits (keys up to {} bytes, values up to {} bytes)",
                self.too_large,
                record::MAX_KEY_LEN,
                MAX_VALUE_LEN
            ));
        }
        if self.database > 0 {
            parts.push(format!(
                "{} key(s) in RDB databases above {} (--db N puts every key in one)",
                self.database,
                DATABASES - 1
            ));
        }
        for (kind, n) in &self.unsupported {
            parts.push(format!(
                "{n} {}(s) (not carried over; --skip-unsupported skips them)",
                kind.name()
            ));
        }
        parts.join(", ")
    }
}

/// What one pass found.
#[derive(Default)]
struct Tally {
    /// Imported keys per Redis type name.
    imported: BTreeMap<&'static str, u64>,
    expired: u64,
    empty: u64,
    skipped: BTreeMap<UnsupportedKind, u64>,
    refused: Refusals,
    checksum: Option<Checksum>,
    version: u32,
    /// The `redis-ver` (or `valkey-ver`) AUX field, when it reads as a
    /// version number.
    written_by: Option<String>,
}

impl Tally {
    fn total(&self) -> u64 {
        self.imported.values().sum()
    }
}

/// Where a pass sends the keys it accepts.
trait Target {
    fn exists(&self, ns: Namespace, key: &[u8], now: u64) -> bool;
    fn put(&mut self, m: Mutation) -> Result<()>;
}

/// Pass 1: decisions only.
struct CheckOnly<'a>(&'a Database);

impl Target for CheckOnly<'_> {
    fn exists(&self, ns: Namespace, key: &[u8], now: u64) -> bool {
        self.0.store().get(ns, key, now).is_some()
    }
    fn put(&mut self, _: Mutation) -> Result<()> {
        Ok(())
    }
}

/// Pass 2: keys into memory, for the one compaction that commits them.
struct Apply<'a>(&'a mut Database);

impl Target for Apply<'_> {
    fn exists(&self, ns: Namespace, key: &[u8], now: u64) -> bool {
        self.0.store().get(ns, key, now).is_some()
    }
    fn put(&mut self, m: Mutation) -> Result<()> {
        self.0.store_mut().put_for_snapshot(m)
    }
}

pub fn run(args: &[String], env: &Environment) -> Result<i32> {
    let flags = Flags::parse(
        args,
        &["path", "rdb", "db"],
        &["replace", "skip-unsupported"],
    )?;
    let path = Path::new(flags.required("path")?);
    let rdb = Path::new(flags.required("rdb")?);
    let into_db = match flags.value("db") {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n < DATABASES => Some(n),
            _ => {
                return Err(Error::Usage(format!(
                    "--db takes a database number from 0 to {}",
                    DATABASES - 1
                )))
            }
        },
    };
    let options = Options {
        into_db,
        replace: flags.on("replace"),
        skip_unsupported: flags.on("skip-unsupported"),
    };
    if let Err(e) = std::fs::symlink_metadata(path) {
        return Err(Error::io(
            format!("database file {} does not exist", path.display()),
            e,
        ));
    }
    // The RDB file must open before the database is touched.
    std::fs::File::open(rdb)
        .map_err(|e| Error::io(format!("cannot open RDB file {}", rdb.display()), e))?;
    let cert = super::load_certificate(env)?;

    // Pass 1: read-only; any refusal leaves the file byte for byte as it was.
    let pager = open_pager(path, false)?;
    if !pager.header().bootstrapped {
        return Err(Error::NotBootstrapped);
    }
    let checked = {
        let db = Database::unseal(pager, &cert, false)?;
        pass(rdb, &options, now_ms(), &mut CheckOnly(&db))?
    };
    if checked.refused.any() {
        return Err(Error::ImportRefused(checked.refused.describe()));
    }

    // Pass 2: writable; memory only, then one compaction commits it all.
    let pager = open_pager(path, false)?;
    let mut db = Database::unseal(pager, &cert, true)?;
    drop(cert);
    // Whatever the open itself staged is logged first: from here on only
    // the compaction may write.
    db.store_mut().flush()?;
    let now = now_ms();
    let applied = pass(rdb, &options, now, &mut Apply(&mut db))?;
    if applied.refused.any() {
        // The RDB file or the database changed between the passes; the
        // puts in memory are dropped with `db`, nothing was written.
        return Err(Error::ImportRefused(applied.refused.describe()));
    }
    db.store_mut().compact(now)?;

    let mut svc = Service::new(DbState::Open(Box::new(db)), ServiceConfig::default());
    svc.audit(
        &rekey::offline_principal(),
        "keyspace.import",
        &format!("keyspace ({} keys from an RDB file)", applied.total()),
        ("ok", None),
        None,
    );
    if let Some(db) = svc.database_mut() {
        if let Err(e) = db.store_mut().flush() {
            eprintln!(
                "red: warning: the import is committed, but its audit event was not written: {e}"
            );
        }
    }
    print_summary(&applied, path);
    Ok(0)
}

/// One pass over the RDB file, deciding every record against `target`.
fn pass(rdb: &Path, options: &Options, now: u64, target: &mut dyn Target) -> Result<Tally> {
    let file = std::fs::File::open(rdb)
        .map_err(|e| Error::io(format!("cannot open RDB file {}", rdb.display()), e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(format!("cannot stat RDB file {}", rdb.display()), e))?
        .len();
    let limits = Limits {
        max_string: MAX_VALUE_LEN as u64,
        // The reader's own accounting is coarser than the store's; the
        // exact check is `record::validate` on each put.
        max_value_bytes: 4 * MAX_VALUE_LEN as u64,
    };
    let rdb_error = |e: reddb_rdb::RdbError| match &e.kind {
        ErrorKind::TooLarge { .. } => Error::ImportRefused(format!("{}: {e}", rdb.display())),
        ErrorKind::Io(_) => Error::Io {
            context: format!("cannot read RDB file {}", rdb.display()),
            source: std::io::Error::other(e.to_string()),
        },
        _ => Error::RdbDamaged(format!("{}: {e}", rdb.display())),
    };
    let mut reader = RdbReader::new(file, Some(len), limits).map_err(rdb_error)?;
    let mut tally = Tally {
        version: reader.version(),
        ..Tally::default()
    };
    while let Some(record) = reader.next_record().map_err(rdb_error)? {
        tally.take(record, options, now, target)?;
    }
    tally.checksum = reader.checksum();
    // Valkey also writes `redis-ver` (as 255.255.255): its own field wins.
    // Only a plain version number is echoed (the field is file content).
    let version_of = |field: &[u8]| {
        reader.aux().iter().find_map(|(k, v)| {
            let plain = k.as_slice() == field
                && !v.is_empty()
                && v.len() <= 32
                && v.iter().all(|c| c.is_ascii_digit() || *c == b'.');
            plain.then(|| String::from_utf8_lossy(v).into_owned())
        })
    };
    tally.written_by = version_of(b"valkey-ver")
        .map(|v| format!("valkey {v}"))
        .or_else(|| version_of(b"redis-ver").map(|v| format!("redis {v}")));
    Ok(tally)
}

impl Tally {
    /// Decides one record: imported (and sent to `target` while nothing
    /// has been refused), skipped, or refused; counts it either way.
    fn take(
        &mut self,
        record: Record,
        options: &Options,
        now: u64,
        target: &mut dyn Target,
    ) -> Result<()> {
        let item = match record {
            Record::Item(item) => item,
            Record::Unsupported { kind, .. } => {
                if options.skip_unsupported {
                    *self.skipped.entry(kind).or_default() += 1;
                } else {
                    *self.refused.unsupported.entry(kind).or_default() += 1;
                }
                return Ok(());
            }
        };
        let db = match options.into_db {
            Some(n) => n,
            None => match usize::try_from(item.db).ok().filter(|&n| n < DATABASES) {
                Some(n) => n,
                None => {
                    self.refused.database += 1;
                    return Ok(());
                }
            },
        };
        let Some(ns) = Namespace::keyspace(db) else {
            self.refused.database += 1;
            return Ok(());
        };
        if let Err(e) = check_key(&item.key) {
            match e {
                crate::service::keyspace::KsError::SecretKey => self.refused.secret += 1,
                _ => self.refused.too_large += 1,
            }
            return Ok(());
        }
        let expires_at_ms = match item.expires_at_ms {
            // 0 means "never" in the store: an expiry at the epoch is long past.
            Some(t) if t <= now => {
                self.expired += 1;
                return Ok(());
            }
            Some(t) => t,
            None => 0,
        };
        if item.value.is_empty_collection() {
            self.empty += 1;
            return Ok(());
        }
        if !options.replace && target.exists(ns, &item.key, now) {
            self.refused.existing += 1;
            return Ok(());
        }
        let type_name = item.value.type_name();
        let put = Mutation::Put {
            ns,
            key: item.key,
            value: store_value(item.value),
            expires_at_ms,
        };
        if record::validate(&put).is_err() {
            self.refused.too_large += 1;
            return Ok(());
        }
        if !self.refused.any() {
            target.put(put)?;
        }
        *self.imported.entry(type_name).or_default() += 1;
        Ok(())
    }
}

/// A value as the store holds it (a NaN score cannot come from the
/// reader, which refuses the file; one would be dropped here).
fn store_value(value: RdbValue) -> Value {
    match value {
        RdbValue::String(s) => Value::Bytes(s),
        RdbValue::List(items) => Value::List(VecDeque::from(items)),
        RdbValue::Set(items) => Value::Set(items.into_iter().collect::<BTreeSet<_>>()),
        RdbValue::Hash(pairs) => Value::Hash(pairs.into_iter().collect::<BTreeMap<_, _>>()),
        RdbValue::SortedSet(members) => {
            let mut z = SortedSet::new();
            for (member, score) in members {
                if let Some(score) = Score::new(score) {
                    z.insert(member, score);
                }
            }
            Value::SortedSet(Box::new(z))
        }
    }
}

fn print_summary(tally: &Tally, path: &Path) {
    if tally.checksum == Some(Checksum::Disabled) {
        println!(
            "warning: the RDB file carries no checksum (saved with 'rdbchecksum no'): its structure was checked, its bytes could not be"
        );
    }
    for name in ["string", "list", "set", "zset", "hash"] {
        println!("{name}: {}", tally.imported.get(name).copied().unwrap_or(0));
    }
    println!("skipped (already expired): {}", tally.expired);
    if tally.empty > 0 {
        println!("skipped (empty collection): {}", tally.empty);
    }
    for (kind, n) in &tally.skipped {
        println!("skipped ({}, not carried over): {n}", kind.name());
    }
    println!(
        "total: {} keys imported into {} (RDB version {}{}, checksum {})",
        tally.total(),
        path.display(),
        tally.version,
        tally
            .written_by
            .as_ref()
            .map(|w| format!(", written by {w}"))
            .unwrap_or_default(),
        match tally.checksum {
            Some(Checksum::Verified(_)) => "verified",
            _ => "absent",
        }
    );
}
