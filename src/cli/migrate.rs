//! `red migrate`: copies a live Redis (one logical database) into a
//! running reddb over the wire — see `HELP` and "Moving from Redis" in
//! docs/OPERATIONS.md.
//!
//! This module parses the command line and the credentials, and runs the
//! passes: a `SCAN` of the source with each batch committed on the target
//! and the cursor saved in the state file after it, then rounds that copy
//! again the keys the source reported changed meanwhile
//! ([`source_changes`]), until a round finds none. The copying itself is
//! [`key_copy`]; the wire client [`resp_client`]. It never prints a
//! credential, and the state file holds none.

mod key_copy;
mod progress_state;
mod resp_client;
mod server_url;
mod source_changes;

use super::args::Flags;
use crate::config::credentials::{
    CredentialSpec, Environment, MIGRATE_FROM_PASSWORD, MIGRATE_TO_KEY,
};
use crate::error::{exit_code, Error, Result};
use key_copy::{KeyCopier, Pass};
use progress_state::{MigrationState, KINDS};
use resp_client::{describe, RespConnection, Value};
use server_url::ServerUrl;
use source_changes::SourceChanges;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

pub const HELP: &str =
    "red migrate --from redis://[:PASS@]HOST:PORT[/DB] --to redis://[:KEY@]HOST:PORT[/DB]
            [--batch N] [--state FILE] [--resume] [--replace] [--skip-unsupported]

Copies every key of one logical database of a live Redis (--from) into a
running reddb (--to) over the wire: strings, lists, sets, hashes and sorted
sets with their expiry. Keys that change on the source during the copy are
copied again at the end (the source must support CLIENT TRACKING: Redis 6+).

Credentials: the source password from REDDB_MIGRATE_FROM_PASSWORD, its _FILE
companion or $CREDENTIALS_DIRECTORY/migrate-from-password; the target's API
key from REDDB_MIGRATE_TO_KEY, its _FILE companion or
$CREDENTIALS_DIRECTORY/migrate-to-key. A password in a URL works too, but
every local user can read it (ps, /proc/PID/cmdline): red warns.

  --batch N           keys per SCAN step and elements per chunk of a large
                      collection (default 1000, 1 to 10000)
  --state FILE        where the progress is saved after every committed batch
                      (default ./red-migrate.state; removed on success)
  --resume            continue from the state file after an interruption
  --replace           copy into a target database that already holds keys
  --skip-unsupported  count keys of types reddb lacks (stream, module types)
                      as skipped instead of refusing them

Exit 0: everything copied. Exit 33: a server could not be reached, refused
the credential or answered outside the protocol. Exit 34: keys were refused
and counted by type or reason, never named (types reddb lacks, red.secret.*,
too large); everything else was copied. Exit 35: interrupted (SIGINT/SIGTERM) after a committed
batch; run again with --resume.";

/// Where the source password goes, for the error when it is missing.
const SOURCE_CREDENTIAL_HINT: &str =
    "REDDB_MIGRATE_FROM_PASSWORD or REDDB_MIGRATE_FROM_PASSWORD_FILE";

/// Connect, read and write timeout of both connections.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of `--batch`.
const DEFAULT_BATCH: usize = 1000;
const MAX_BATCH: usize = 10_000;
/// Rounds of re-copying changed keys before giving up on a quiet source.
const MAX_ROUNDS: usize = 10;
/// Full passes after the first (a resume, or too many changes to track).
const MAX_EXTRA_PASSES: usize = 3;

/// `red migrate`.
pub fn run(args: &[String], env: &Environment) -> Result<i32> {
    let flags = Flags::parse(
        args,
        &["from", "to", "batch", "state"],
        &["resume", "replace", "skip-unsupported"],
    )?;
    let from = url_flag(&flags, "from")?;
    let to = url_flag(&flags, "to")?;
    if from.display_name() == to.display_name() {
        return Err(Error::Usage(format!(
            "--from and --to name the same database ({})",
            to.display_name()
        )));
    }
    let batch = match flags.value("batch") {
        None => DEFAULT_BATCH,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_BATCH).contains(&n) => n,
            _ => return Err(Error::Usage(format!("--batch '{v}': use 1 to {MAX_BATCH}"))),
        },
    };
    let state_path = PathBuf::from(flags.value("state").unwrap_or("red-migrate.state"));
    let from_password = credential(env, &from, "--from", &MIGRATE_FROM_PASSWORD)?;
    let to_key = credential(env, &to, "--to", &MIGRATE_TO_KEY)?;

    let state = prepare_state(&state_path, &from, &to, flags.on("resume"))?;
    let mut source = RespConnection::connect(&from, "source", IO_TIMEOUT)?;
    source.login(
        &from,
        from_password.as_deref().map(String::as_str),
        SOURCE_CREDENTIAL_HINT,
    )?;
    let mut target = RespConnection::connect(&to, "target", IO_TIMEOUT)?;
    target.login(
        &to,
        to_key.as_deref().map(String::as_str),
        "REDDB_MIGRATE_TO_KEY or REDDB_MIGRATE_TO_KEY_FILE (an API key of the target)",
    )?;
    drop(to_key);
    if !flags.on("resume") && !flags.on("replace") {
        let keys = dbsize(&mut target)?;
        if keys > 0 {
            return Err(Error::Usage(format!(
                "the target database {} already holds {keys} key(s): use --replace to overwrite the keys the source also has",
                to.display_name()
            )));
        }
    }
    // From here on a state file exists until the migration completes.
    state.save(&state_path)?;
    let stop = stop_on_signals()?;
    let changes = match SourceChanges::start(
        &from,
        from_password.as_deref().map(String::as_str),
        IO_TIMEOUT,
    )? {
        Ok(c) => Some(c),
        Err(reason) => {
            eprintln!(
                "red migrate: warning: the source cannot report changes ({reason}): keys written on the source during the copy may be missed; stop writers for an exact copy"
            );
            None
        }
    };
    drop(from_password);
    let total = dbsize(&mut source)?;
    let copier = KeyCopier::new(source, target, batch, flags.on("skip-unsupported"));
    let mut migration = Migration {
        copier,
        changes,
        state,
        state_path,
        stop,
        progress: Progress::new(total),
        resumed: flags.on("resume"),
    };
    let result = migration.run();
    // An error line must not land on the end of a progress bar.
    migration.progress.finish();
    result
}

/// The running migration.
struct Migration {
    copier: KeyCopier,
    changes: Option<SourceChanges>,
    state: MigrationState,
    state_path: PathBuf,
    stop: Arc<AtomicBool>,
    progress: Progress,
    resumed: bool,
}

/// How a pass ended.
enum PassEnd {
    Complete,
    Interrupted,
}

/// How a round of changed keys ended.
enum RoundEnd {
    /// No key changed since the last round: done.
    Quiet,
    Copied,
    Interrupted,
}

impl Migration {
    fn run(&mut self) -> Result<i32> {
        let first = if self.state.scan_complete {
            PassEnd::Complete
        } else {
            self.scan_pass(Pass::First)?
        };
        if let PassEnd::Interrupted = first {
            return self.interrupted();
        }
        // After a resume, the changes made while nothing tracked them are
        // unknown: look at every key again. Likewise after an overflow.
        let mut full_pass_due = self.resumed;
        let (mut extra_passes, mut rounds) = (0, 0);
        loop {
            if let Some(c) = self.changes.as_mut() {
                c.sync()?;
                full_pass_due |= c.overflowed();
            }
            if full_pass_due {
                if extra_passes == MAX_EXTRA_PASSES {
                    eprintln!(
                        "red migrate: warning: the source changed too much to track {MAX_EXTRA_PASSES} times in a row: stop writers and run red migrate again with --replace for an exact copy"
                    );
                    break;
                }
                extra_passes += 1;
                if let PassEnd::Interrupted = self.full_pass_again()? {
                    return self.interrupted();
                }
                full_pass_due = false;
                continue;
            }
            match self.changed_round(rounds + 1)? {
                RoundEnd::Quiet => break,
                RoundEnd::Interrupted => return self.interrupted(),
                RoundEnd::Copied => rounds += 1,
            }
            if rounds == MAX_ROUNDS {
                eprintln!(
                    "red migrate: warning: the source was still changing after {MAX_ROUNDS} rounds: keys written during the last round may differ; stop writers and run red migrate again with --replace for an exact copy"
                );
                break;
            }
        }
        self.progress.finish();
        self.print_summary();
        remove_state(&self.state_path)?;
        let c = &self.state.counts;
        let refused = c.refused_secret
            + c.refused_too_large
            + if self.copier.skip_unsupported {
                0
            } else {
                c.unsupported_total()
            };
        Ok(if refused > 0 {
            exit_code::MIGRATE_REFUSED
        } else {
            exit_code::OK
        })
    }

    /// One `SCAN` of the source from the saved cursor; the state is saved
    /// after every committed batch.
    fn scan_pass(&mut self, pass: Pass) -> Result<PassEnd> {
        let count = self.copier.batch.to_string();
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(PassEnd::Interrupted);
            }
            let cursor = self.state.cursor.to_string();
            let reply =
                self.copier
                    .source
                    .call(&["SCAN", cursor.as_str(), "COUNT", count.as_str()])?;
            let (next, keys) = scan_reply(reply).map_err(|e| self.copier.source.fail(e))?;
            let n = keys.len() as u64;
            self.copier.copy_keys(keys, pass, &mut self.state.counts)?;
            self.state.cursor = next;
            self.state.scan_complete = next == 0;
            self.state.save(&self.state_path)?;
            self.progress.advance(n);
            if let Some(c) = self.changes.as_mut() {
                c.poll()?;
            }
            if next == 0 {
                return Ok(PassEnd::Complete);
            }
        }
    }

    /// Every key again, from cursor 0 (the changes recorded so far are
    /// dropped: this pass reads every key after them).
    fn full_pass_again(&mut self) -> Result<PassEnd> {
        if let Some(c) = self.changes.as_mut() {
            c.take();
        }
        self.progress
            .note("a full pass again (changes while interrupted, or too many to track)");
        self.progress.restart();
        self.state.cursor = 0;
        self.state.scan_complete = false;
        self.scan_pass(Pass::Again)
    }

    /// Copies again the keys reported changed up to the sync point just
    /// passed.
    fn changed_round(&mut self, round: usize) -> Result<RoundEnd> {
        let Some(changes) = self.changes.as_mut() else {
            return Ok(RoundEnd::Quiet);
        };
        let changed = changes.take();
        if changed.is_empty() {
            return Ok(RoundEnd::Quiet);
        }
        self.progress.note(&format!(
            "round {round}: copying again {} key(s) changed on the source",
            changed.len()
        ));
        for group in changed.chunks(self.copier.batch) {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(RoundEnd::Interrupted);
            }
            self.copier
                .copy_keys(group.to_vec(), Pass::Again, &mut self.state.counts)?;
            self.state.save(&self.state_path)?;
        }
        Ok(RoundEnd::Copied)
    }

    fn interrupted(&mut self) -> Result<i32> {
        self.state.save(&self.state_path)?;
        self.progress.finish();
        self.print_summary();
        eprintln!(
            "red migrate: interrupted; progress saved in {} — run the same command with --resume to continue",
            self.state_path.display()
        );
        Ok(exit_code::MIGRATE_INTERRUPTED)
    }

    fn print_summary(&self) {
        let c = &self.state.counts;
        for (kind, n) in KINDS.iter().zip(c.copied) {
            println!("{kind}: {n}");
        }
        println!("copied: {}", c.copied_total());
        println!("copied again after a change: {}", c.recopied);
        println!(
            "gone from the source (deleted on the target): {}",
            c.vanished
        );
        let skipped = self.copier.skip_unsupported;
        for (t, n) in &c.unsupported {
            println!(
                "{} type {t}: {n}",
                if skipped { "skipped" } else { "refused" }
            );
        }
        if c.refused_secret > 0 {
            println!("refused red.secret.*: {}", c.refused_secret);
        }
        if c.refused_too_large > 0 {
            println!("refused too large: {}", c.refused_too_large);
        }
        // Keys are counted, never named: names like oauth:refresh:{token}
        // carry tokens. These say how to find them on the source.
        if !skipped && c.unsupported_total() > 0 {
            let types: Vec<&str> = c.unsupported.keys().map(String::as_str).collect();
            eprintln!(
                "red migrate: keys of types reddb lacks were not copied ({}); list them with 'redis-cli --scan --type TYPE'; --skip-unsupported counts them as skipped",
                types.join(", ")
            );
        }
        if c.refused_secret > 0 {
            eprintln!(
                "red migrate: keys in red.secret.* were not copied: that namespace is reddb's vault (POST /secrets/{{key}}); list them with \"redis-cli --scan --pattern 'red.secret.*'\""
            );
        }
        if c.refused_too_large > 0 {
            eprintln!(
                "red migrate: keys larger than reddb holds were not copied (keys up to 64 KiB, values up to 16 MiB per key); 'redis-cli --bigkeys' lists the largest"
            );
        }
    }
}

/// A flag SIGINT and SIGTERM set (the copy stops after the current
/// batch); a second signal ends the process at once (exit 130).
fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| Error::io("cannot install the signal handlers", e))?;
    }
    Ok(stop)
}

/// The cursor and keys of a `SCAN` reply.
fn scan_reply(reply: Value) -> std::result::Result<(u64, Vec<Vec<u8>>), String> {
    let Value::Array(parts) = reply else {
        return Err(format!("SCAN answered {}", describe(&reply)));
    };
    let mut parts = parts.into_iter();
    let cursor = parts
        .next()
        .as_ref()
        .and_then(Value::as_bytes)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse::<u64>().ok())
        .ok_or("SCAN answered a bad cursor")?;
    let Some(Value::Array(keys)) = parts.next() else {
        return Err("SCAN answered no key list".into());
    };
    let keys = keys
        .into_iter()
        .map(|k| match k {
            Value::Bulk(k) => Ok(k),
            other => Err(format!("SCAN answered a key that is {}", describe(&other))),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((cursor, keys))
}

fn dbsize(conn: &mut RespConnection) -> Result<u64> {
    match conn.call(&["DBSIZE"])? {
        Value::Integer(n) => Ok(n.unsigned_abs()),
        other => Err(conn.fail(format!("DBSIZE answered {}", describe(&other)))),
    }
}

fn url_flag(flags: &Flags, name: &str) -> Result<ServerUrl> {
    let text = flags.required(name)?;
    ServerUrl::parse(text).map_err(|e| Error::Usage(format!("--{name}: {e}")))
}

/// The password for `url`: from the URL (with a warning) or from `spec`'s
/// sources; both is a usage error.
fn credential(
    env: &Environment,
    url: &ServerUrl,
    flag: &str,
    spec: &CredentialSpec,
) -> Result<Option<Zeroizing<String>>> {
    let from_env = env.credential(spec)?;
    match (&url.password, from_env) {
        (Some(_), Some(c)) => Err(Error::Usage(format!(
            "{flag} holds a password and {} is set too: give it once",
            c.origin.describe(spec)
        ))),
        (Some(p), None) => {
            eprintln!(
                "red migrate: warning: the password in {flag} is visible to every local user (ps, /proc/PID/cmdline): use {} or {}_FILE instead",
                spec.inline,
                spec.inline
            );
            Ok(Some(p.clone()))
        }
        (None, Some(c)) => Ok(Some(c.value)),
        (None, None) => Ok(None),
    }
}

/// The state to start from: a fresh one (refused while an unfinished
/// one exists), or the saved one under `--resume` (for the same source and
/// target). Nothing is written here.
fn prepare_state(
    path: &Path,
    from: &ServerUrl,
    to: &ServerUrl,
    resume: bool,
) -> Result<MigrationState> {
    let (source, target) = (from.display_name(), to.display_name());
    if !resume {
        if path.exists() {
            return Err(Error::Usage(format!(
                "the state file {} of an earlier, unfinished migration exists: add --resume to continue it, or remove the file to start over",
                path.display()
            )));
        }
        return Ok(MigrationState::new(source, target));
    }
    if !path.exists() {
        return Err(Error::Usage(format!(
            "nothing to resume: no state file at {} (--state FILE names another)",
            path.display()
        )));
    }
    let state = MigrationState::load(path)?;
    if state.source != source || state.target != target {
        return Err(Error::Usage(format!(
            "the state file {} is for {} -> {}, not {source} -> {target}",
            path.display(),
            state.source,
            state.target
        )));
    }
    Ok(state)
}

fn remove_state(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("cannot remove {}", path.display()), e)),
    }
}

/// The progress display on stderr: a bar redrawn in place on a terminal,
/// a plain line every few seconds otherwise.
struct Progress {
    tty: bool,
    total: u64,
    done: u64,
    last: Instant,
    drawn: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            total,
            done: 0,
            last: Instant::now(),
            drawn: false,
        }
    }

    fn advance(&mut self, n: u64) {
        self.done += n;
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        if self.last.elapsed() < every {
            return;
        }
        self.last = Instant::now();
        self.show();
    }

    /// Draws the bar (terminal) or prints a line (otherwise).
    fn show(&mut self) {
        let total = self.total.max(self.done).max(1);
        let percent = self.done.saturating_mul(100) / total;
        if self.tty {
            let filled = usize::try_from(percent / 4).unwrap_or(25).min(25);
            eprint!(
                "\r[{}{}] {percent:>3}% {} of ~{} keys",
                "#".repeat(filled),
                ".".repeat(25 - filled),
                self.done,
                self.total
            );
            self.drawn = true;
        } else {
            eprintln!(
                "red migrate: {} of ~{} keys scanned ({percent}%)",
                self.done, self.total
            );
        }
    }

    /// A new pass: the count starts again.
    fn restart(&mut self) {
        self.done = 0;
    }

    fn note(&mut self, what: &str) {
        self.end_line();
        eprintln!("red migrate: {what}");
    }

    fn finish(&mut self) {
        self.end_line();
    }

    fn end_line(&mut self) {
        if self.drawn {
            // The last state, not the last one drawn (draws are spaced).
            self.show();
            eprintln!();
            self.drawn = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(b: &[u8]) -> Value {
        Value::Bulk(b.to_vec())
    }

    #[test]
    fn scan_replies() {
        let reply = Value::Array(vec![
            bulk(b"17"),
            Value::Array(vec![bulk(b"a"), bulk(b"\x00")]),
        ]);
        assert_eq!(
            scan_reply(reply).unwrap(),
            (17, vec![b"a".to_vec(), vec![0]])
        );
        for bad in [
            Value::Integer(1),
            Value::Array(vec![bulk(b"x"), Value::Array(vec![])]),
            Value::Array(vec![bulk(b"-1"), Value::Array(vec![])]),
            Value::Array(vec![bulk(b"0")]),
            Value::Array(vec![bulk(b"0"), Value::Array(vec![Value::Integer(3)])]),
        ] {
            assert!(scan_reply(bad).is_err());
        }
    }
}
