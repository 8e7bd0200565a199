//! The bad-input catalogue for **database files** (issue 8): a table of
//! damaged, foreign, missing, unreadable and locked files, each run through
//! the real binary twice — `red check` (read-only) and `red server` (the
//! daemon, with the right certificate) — and judged on:
//!
//! - the outcome: refused with the documented exit code (`crates/storage/src/error.rs`,
//!   `docs/OPERATIONS.md`) and a one-line `red: …` message naming the
//!   problem, or opened with all / a prefix of the data when the damage is
//!   one the format is designed to survive (one meta or vault copy, a torn
//!   log tail);
//! - no certificate, API key or long hex run in stderr;
//! - a refused file is byte-for-byte unchanged (and `red check` never
//!   changes any file);
//! - the pristine original next to the damaged copies still opens and serves
//!   every secret at the end.
//!
//! "No permission" runs the binary as uid/gid 65534 (std's `Command::uid`,
//! which also clears the supplementary groups), because root bypasses file
//! modes. The catalogue is indexed in `docs/BAD_INPUT.md`.

mod harness;

use harness::cli::red;
use harness::daemon::{Daemon, Options};
use harness::fixtures::{fix_meta_digest, PAGE as PS};
use harness::http::Conn;
use harness::rng::Rng;
use harness::secrets::longest_hex_run;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Secrets written by the fixture, one HTTP request (one commit, one log
/// group) each, so the log chain spans several pages.
const SECRETS: usize = 6;
/// How long one `red check` may take before it counts as hung.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

fn secret_name(i: usize) -> String {
    format!("red.secret.catalogue.s{i}")
}

fn secret_value(i: usize) -> String {
    format!("value-{i}-of-the-file-catalogue")
}

/// A bootstrapped database holding [`SECRETS`] secrets, stopped cleanly.
struct Fixture {
    dir: tempfile::TempDir,
    db: PathBuf,
    cert: String,
    api_key: String,
    bytes: Vec<u8>,
}

fn fixture() -> Fixture {
    let dir = harness::tmp();
    // Readable by uid 65534 (the no-permission cases run as that user).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod tempdir");
    let db = dir.path().join("original.rdb");
    let mut d = Daemon::start(&db, &Options::new());
    let boot = d.bootstrap();
    for i in 0..SECRETS {
        d.post(
            &format!("/secrets/{}", secret_name(i)),
            Some(&boot.api_key),
            &serde_json::json!({"value": secret_value(i)}),
        )
        .ok("write a fixture secret");
    }
    assert_eq!(d.stop(), 0, "fixture server stops cleanly");
    let bytes = std::fs::read(&db).expect("read the fixture");
    assert!(
        bytes.len() >= 6 * PS && bytes.len().is_multiple_of(PS),
        "fixture has meta, vault and several log pages ({} bytes)",
        bytes.len()
    );
    Fixture {
        dir,
        db,
        cert: boot.certificate,
        api_key: boot.api_key,
        bytes,
    }
}

/// The log pages of the fixture that hold a sealed page (not zeros), in
/// page order. The chain is written in allocation order, so the first and
/// last of these are the chain's first and last pages.
fn log_pages(bytes: &[u8]) -> Vec<usize> {
    (4..bytes.len() / PS)
        .filter(|p| bytes[p * PS..(p + 1) * PS].iter().any(|b| *b != 0))
        .collect()
}

fn flip(bytes: &mut [u8], at: usize) {
    bytes[at] ^= 0x5a;
}

/// What a case expects from one command.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exit with this code, one stderr line containing this text.
    Refused(i32, &'static str),
    /// Opens and holds every secret.
    All,
    /// Opens and holds a prefix of the secrets (a damaged log tail reads as
    /// a torn write: FORMAT.md §6.3, §12).
    Prefix,
    /// Not run for this command.
    Skip,
    /// (server) Starts on a fresh file and answers `/health`.
    Fresh,
}

/// How the case's `--path` is made.
enum Input {
    /// A regular file with these bytes.
    Bytes(Vec<u8>),
    Directory,
    /// A symlink to a copy of the original.
    Symlink,
    DanglingSymlink,
    Fifo,
    /// A copy of the original at mode 0600 owned by root, run as 65534.
    NoPermission,
    /// A copy inside a 0700 root directory, run as 65534.
    NoDirectoryPermission,
    /// A copy held by a running `red server`.
    LockedByServer,
    /// The original bytes, a certificate that is not this file's.
    WrongCertificate,
    /// A path that does not exist.
    Missing,
    /// An empty file, and no certificate in the environment.
    EmptyWithoutCertificate,
}

struct Case {
    name: String,
    input: Input,
    check: Expect,
    server: Expect,
}

fn damaged(
    name: &str,
    f: impl FnOnce(&mut Vec<u8>),
    base: &[u8],
    check: Expect,
    server: Expect,
) -> Case {
    let mut b = base.to_vec();
    f(&mut b);
    Case {
        name: name.to_string(),
        input: Input::Bytes(b),
        check,
        server,
    }
}

fn same(name: &str, input: Input, e: Expect) -> Case {
    Case {
        name: name.to_string(),
        input,
        check: e,
        server: e,
    }
}

/// Every case of the catalogue.
fn cases(fx: &Fixture) -> Vec<Case> {
    use Expect::*;
    let b = &fx.bytes;
    let len = b.len();
    let logs = log_pages(b);
    let first_log = logs[0];
    let last_log = *logs.last().expect("a log page");
    const CORRUPT: Expect = Refused(15, "corrupted");
    const TAMPERED: Expect = Refused(16, "failed authentication");
    const FOREIGN: Expect = Refused(19, "not a reddb database file");
    const IO_DENIED: Expect = Refused(20, "Permission denied");
    let mut v = Vec::new();

    // Truncated at several offsets. A bootstrapped file always holds its
    // bootstrap commit in a log page synced before the header said
    // "bootstrapped", so a log that is gone entirely is damage, not a tear.
    // (This was a bug until Store::replay refused a bootstrapped file
    // that replays no commit.)
    let truncated = Refused(15, "truncated");
    for (what, at, e) in [
        ("inside the meta prefix of copy 0 (1 byte)", 1, truncated),
        ("inside the meta prefix of copy 0 (8 bytes)", 8, truncated),
        ("inside the meta prefix of copy 0 (63 bytes)", 63, truncated),
        ("inside meta copy 0 (3000 bytes)", 3000, truncated),
        ("after meta copy 0 (4096 bytes)", PS, CORRUPT),
        ("inside meta copy 1", PS + 2000, CORRUPT),
        ("after the meta pages (no vault)", 2 * PS, CORRUPT),
        ("inside the live vault page", 2 * PS + 100, CORRUPT),
        ("after the live vault page", 3 * PS, CORRUPT),
        ("inside the mirror vault page", 3 * PS + 100, CORRUPT),
        ("after the vault pages (no log)", 4 * PS, CORRUPT),
        ("inside the first log page", first_log * PS + 2000, CORRUPT),
        ("inside the last log page", last_log * PS + 2000, Prefix),
        ("by one byte", len - 1, Prefix),
    ] {
        v.push(damaged(
            &format!("truncated {what}"),
            |x| x.truncate(at),
            b,
            e,
            e,
        ));
    }

    // Zeroed whole file and pages.
    let zero = |x: &mut Vec<u8>, pages: &[usize]| {
        for p in pages {
            x[p * PS..(p + 1) * PS].fill(0);
        }
    };
    v.push(damaged(
        "zeroed whole file",
        |x| x.fill(0),
        b,
        FOREIGN,
        FOREIGN,
    ));
    for (what, pages, e) in [
        ("meta copy 0", vec![0], All),
        ("meta copy 1", vec![1], All),
        ("both meta copies", vec![0, 1], FOREIGN),
        ("live vault page", vec![2], All),
        ("mirror vault page", vec![3], All),
        ("both vault pages", vec![2, 3], CORRUPT),
        ("first log page", vec![first_log], CORRUPT),
        ("last log page", vec![last_log], Prefix),
        ("every log page", logs, CORRUPT),
    ] {
        v.push(damaged(
            &format!("zeroed {what}"),
            |x| zero(x, &pages),
            b,
            e,
            e,
        ));
    }

    // One byte changed in each region.
    for (what, at, e) in [
        ("meta copy 0 magic", 0, All),
        ("meta copy 0 file id", 20, All),
        ("meta copy 0 digest", 70, All),
        ("meta copy 0 sealed state", 120, All),
        ("meta copy 1 generation", PS + 63, All),
        ("meta copy 1 sealed state", PS + 150, All),
        ("live vault ciphertext", 2 * PS + 60, All),
        ("live vault tag", 2 * PS + 150, All),
        ("mirror vault salt", 3 * PS + 10, All),
        ("first log page session id", first_log * PS + 3, CORRUPT),
        ("first log page nonce", first_log * PS + 20, CORRUPT),
        ("first log page ciphertext", first_log * PS + 500, CORRUPT),
        ("first log page tag", first_log * PS + PS - 1, CORRUPT),
        ("last log page ciphertext", last_log * PS + 100, Prefix),
    ] {
        v.push(damaged(
            &format!("one byte changed: {what}"),
            |x| flip(x, at),
            b,
            e,
            e,
        ));
    }
    // Same byte in both copies of a double-written structure.
    for (what, off, e) in [
        ("magic", 0, FOREIGN),
        ("file id", 20, CORRUPT),
        ("digest", 70, CORRUPT),
        ("sealed state", 120, CORRUPT),
    ] {
        v.push(damaged(
            &format!("one byte changed in both meta copies: {what}"),
            |x| {
                flip(x, off);
                flip(x, PS + off);
            },
            b,
            e,
            e,
        ));
    }
    for (what, off, e) in [
        ("magic", 0, TAMPERED),
        ("salt", 10, TAMPERED),
        ("payload length", 24, TAMPERED),
        ("ciphertext", 60, TAMPERED),
        ("tag", 150, TAMPERED),
        ("zero padding", 1000, TAMPERED),
    ] {
        v.push(damaged(
            &format!("one byte changed in both vault pages: {what}"),
            |x| {
                flip(x, 2 * PS + off);
                flip(x, 3 * PS + off);
            },
            b,
            e,
            e,
        ));
    }
    // An editor who recomputes the unkeyed digest of both copies.
    let resealed = |x: &mut Vec<u8>, off: usize| {
        flip(x, off);
        flip(x, PS + off);
        fix_meta_digest(x, 0);
        fix_meta_digest(x, 1);
    };
    v.push(damaged(
        "both meta copies edited, digest recomputed: sealed state",
        |x| resealed(x, 120),
        b,
        Refused(16, "does not authenticate"),
        Refused(16, "does not authenticate"),
    ));
    v.push(damaged(
        "both meta copies edited, digest recomputed: file id",
        |x| resealed(x, 20),
        b,
        TAMPERED,
        TAMPERED,
    ));
    v.push(damaged(
        "both meta copies edited, digest recomputed: certificate id",
        |x| resealed(x, 45),
        b,
        Refused(10, "wrong certificate"),
        Refused(10, "wrong certificate"),
    ));

    // Wrong format version and page size (both copies; digest recomputed,
    // and not).
    let set_u16 = |x: &mut Vec<u8>, off: usize, val: u16, fix: bool| {
        for c in 0..2 {
            x[c * PS + off..c * PS + off + 2].copy_from_slice(&val.to_be_bytes());
            if fix {
                fix_meta_digest(x, c);
            }
        }
    };
    let set_u32 = |x: &mut Vec<u8>, off: usize, val: u32, fix: bool| {
        for c in 0..2 {
            x[c * PS + off..c * PS + off + 4].copy_from_slice(&val.to_be_bytes());
            if fix {
                fix_meta_digest(x, c);
            }
        }
    };
    let version = Refused(19, "format version");
    let page_size = Refused(19, "page size");
    for (what, val, fix) in [
        ("2, digest recomputed", 2u16, true),
        ("2", 2, false),
        ("0, digest recomputed", 0, true),
        ("65535, digest recomputed", 0xffff, true),
    ] {
        v.push(damaged(
            &format!("format version {what}"),
            |x| set_u16(x, 8, val, fix),
            b,
            version,
            version,
        ));
    }
    v.push(damaged(
        "format version 2 in copy 0 only (copy 1 serves)",
        |x| {
            x[8..10].copy_from_slice(&2u16.to_be_bytes());
            fix_meta_digest(x, 0);
        },
        b,
        All,
        All,
    ));
    for (what, val, fix, e) in [
        ("1000, digest recomputed", 1000u32, true, page_size),
        ("2048, digest recomputed", 2048, true, page_size),
        ("1 MiB, digest recomputed", 1 << 20, true, page_size),
        ("0", 0, false, page_size),
        ("8192, digest recomputed", 8192, true, TAMPERED),
    ] {
        v.push(damaged(
            &format!("page size {what}"),
            |x| set_u32(x, 10, val, fix),
            b,
            e,
            e,
        ));
    }

    // Foreign files.
    let sqlite = {
        let mut s = vec![0u8; 2 * PS];
        s[..16].copy_from_slice(b"SQLite format 3\0");
        s[16..18].copy_from_slice(&4096u16.to_be_bytes());
        s
    };
    let elf = std::fs::read("/bin/true").unwrap_or_else(|_| {
        let mut e = vec![0u8; 3 * PS];
        e[..4].copy_from_slice(b"\x7fELF");
        e
    });
    let text = "# not a database\nkey = value\n".repeat(400).into_bytes();
    let mut redis_rdb = b"REDIS0011\xfa\x09redis-ver\x057.2.4".to_vec();
    redis_rdb.resize(3 * PS, 0);
    let mut magic_only = b"REDDB\x1a\r\n".to_vec();
    magic_only.resize(2 * PS, 0);
    for (what, bytes, e) in [
        (
            "random bytes",
            Rng::new(0x9e37_79b9_7f4a_7c15).bytes(16 * PS),
            FOREIGN,
        ),
        ("an ELF executable", elf, FOREIGN),
        ("a text file", text, FOREIGN),
        ("a SQLite-looking header", sqlite, FOREIGN),
        ("a Redis RDB dump", redis_rdb, FOREIGN),
        ("all 0xFF", vec![0xff; 8 * PS], FOREIGN),
        ("the reddb magic and zeros", magic_only, version),
        ("one byte", vec![b'R'], truncated),
    ] {
        v.push(Case {
            name: format!("foreign file: {what}"),
            input: Input::Bytes(bytes),
            check: e,
            server: e,
        });
    }
    v.push(Case {
        name: "empty file".into(),
        input: Input::EmptyWithoutCertificate,
        check: Refused(19, "is empty"),
        server: Fresh, // an empty file is how a server is given a fresh database
    });
    v.push(Case {
        name: "empty file, server given a certificate".into(),
        input: Input::Bytes(Vec::new()),
        check: Refused(19, "is empty"),
        server: Refused(19, "is empty"),
    });

    // Not a regular file, or not ours to read.
    v.push(same(
        "a directory as --path",
        Input::Directory,
        Refused(20, "directory"),
    ));
    v.push(same(
        "a symlink to a good copy",
        Input::Symlink,
        Refused(20, "symbolic link"),
    ));
    v.push(Case {
        name: "a dangling symlink".into(),
        input: Input::DanglingSymlink,
        check: Refused(20, "does not exist"),
        server: Refused(20, "symbolic link"),
    });
    v.push(same(
        "a FIFO",
        Input::Fifo,
        Refused(19, "not a regular file"),
    ));
    v.push(same(
        "no permission on the file (uid 65534)",
        Input::NoPermission,
        IO_DENIED,
    ));
    v.push(same(
        "no permission on its directory (uid 65534), server",
        Input::NoDirectoryPermission,
        IO_DENIED,
    ));
    v.last_mut().expect("just pushed").check = Skip;
    v.push(Case {
        name: "no permission on its directory (uid 65534), check".into(),
        input: Input::NoDirectoryPermission,
        check: IO_DENIED,
        server: Skip,
    });
    v.push(same(
        "locked by another running server",
        Input::LockedByServer,
        Refused(14, "locked by another process"),
    ));
    v.push(same(
        "a certificate that is not this file's",
        Input::WrongCertificate,
        Refused(10, "wrong certificate"),
    ));
    v.push(Case {
        name: "a missing file".into(),
        input: Input::Missing,
        check: Refused(20, "does not exist"),
        server: Skip, // without a certificate the server creates a fresh file
    });
    v.push(Case {
        name: "a missing file, server given a certificate".into(),
        input: Input::Missing,
        check: Skip,
        server: Refused(20, "does not exist"),
    });
    v
}

/// What one run of the binary produced.
struct Run {
    /// `None`: it did not exit (a started server, or a hung `red check`).
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// A server that started (killed on drop).
    server: Option<Daemon>,
}

/// `red check --path PATH` with exactly `env`, as uid 65534 when `nobody`.
fn run_check(path: &str, env: &[(&str, &str)], nobody: bool) -> Run {
    let mut cmd = red(&["check", "--path", path])
        .envs(env)
        .timeout(RUN_TIMEOUT);
    if nobody {
        cmd = cmd.run_as_nobody();
    }
    let out = cmd.run();
    Run {
        code: (!out.timed_out).then_some(out.code),
        stderr: if out.timed_out {
            format!("(hung for {RUN_TIMEOUT:?}) {}", out.stderr)
        } else {
            out.stderr
        },
        stdout: out.stdout,
        server: None,
    }
}

/// `red server --path PATH` with exactly `env`, as uid 65534 when
/// `nobody`: refused, or left running in the returned [`Run`].
fn run_server(path: &Path, env: &[(&str, &str)], nobody: bool) -> Run {
    let mut opts = env.iter().fold(Options::new(), |o, (k, v)| o.env(k, v));
    opts.nobody = nobody;
    match Daemon::try_start(path, &opts) {
        Ok(d) => Run {
            code: None,
            stdout: d.stdout(),
            stderr: d.stderr(),
            server: Some(d),
        },
        Err(e) => Run {
            code: Some(e.code),
            stdout: e.stdout,
            stderr: e.stderr,
            server: None,
        },
    }
}

/// The secrets a started server serves: `Some(v)` per index, `None` for 404.
fn served_secrets(port: u16, api_key: &str) -> Result<Vec<Option<String>>, String> {
    let mut c = Conn::try_open(port, Duration::from_secs(30)).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for i in 0..SECRETS {
        let auth = format!("Bearer {api_key}");
        let r = c
            .try_request(
                "GET",
                &format!("/secrets/{}", secret_name(i)),
                &[("Authorization", &auth)],
                None,
            )
            .map_err(|e| e.to_string())?;
        match r.status {
            200 => out.push(r.json()["value"].as_str().map(str::to_string)),
            404 => out.push(None),
            s => return Err(format!("GET secret {i}: status {s}: {}", r.text())),
        }
    }
    Ok(out)
}

/// Whether `served` is the first k secrets (all of them when `all`).
fn is_prefix(served: &[Option<String>], all: bool) -> bool {
    let k = served.iter().take_while(|s| s.is_some()).count();
    served.iter().skip(k).all(Option::is_none)
        && served
            .iter()
            .take(k)
            .enumerate()
            .all(|(i, s)| s.as_deref() == Some(secret_value(i).as_str()))
        && (!all || k == SECRETS)
}

/// The number after `secrets: ` in `red check` output.
fn checked_secrets(stdout: &str) -> Option<usize> {
    stdout
        .split("secrets: ")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn damaged_foreign_and_unreachable_files_are_refused_or_survived() {
    let fx = fixture();
    let cert = fx.cert.clone();
    let cases = cases(&fx);
    let wrong_cert: String = cert
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    let mut failures = Vec::new();
    let mut runs = 0;
    let started = Instant::now();

    for (n, case) in cases.iter().enumerate() {
        let work = fx.dir.path().join(format!("case-{n:03}"));
        std::fs::create_dir(&work).expect("case dir");
        std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut path = work.join("data.rdb");
        let mut nobody = false;
        let mut certificate = cert.clone();
        let mut _holder: Option<Daemon> = None;
        match &case.input {
            Input::Bytes(bytes) => std::fs::write(&path, bytes).expect("write damaged copy"),
            Input::Directory => std::fs::create_dir(&path).expect("mkdir"),
            Input::Symlink => {
                let target = work.join("target.rdb");
                std::fs::write(&target, &fx.bytes).expect("copy");
                std::os::unix::fs::symlink(&target, &path).expect("symlink");
            }
            Input::DanglingSymlink => {
                std::os::unix::fs::symlink(work.join("nowhere.rdb"), &path).expect("symlink")
            }
            Input::Fifo => {
                let c = std::ffi::CString::new(path.to_str().expect("utf-8")).expect("cstr");
                // SAFETY: mkfifo reads one NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
            }
            Input::NoPermission => {
                std::fs::write(&path, &fx.bytes).expect("copy");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
                nobody = true;
            }
            Input::NoDirectoryPermission => {
                let sub = work.join("private");
                std::fs::create_dir(&sub).expect("mkdir");
                path = sub.join("data.rdb");
                std::fs::write(&path, &fx.bytes).expect("copy");
                std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700))
                    .expect("chmod");
                nobody = true;
            }
            Input::LockedByServer => {
                std::fs::write(&path, &fx.bytes).expect("copy");
                _holder = Some(Daemon::start(&path, &Options::new().certificate(&cert)));
            }
            Input::WrongCertificate => {
                std::fs::write(&path, &fx.bytes).expect("copy");
                certificate = wrong_cert.clone();
            }
            Input::Missing => {}
            Input::EmptyWithoutCertificate => {
                std::fs::write(&path, b"").expect("create an empty file");
                certificate.clear();
            }
        }
        let p = path.to_str().expect("utf-8 path").to_string();
        let with_cert = [("REDDB_CERTIFICATE", certificate.as_str())];
        let env: &[(&str, &str)] = if certificate.is_empty() {
            &[]
        } else {
            &with_cert
        };
        let snapshot = || -> Option<Vec<u8>> {
            std::fs::symlink_metadata(&path)
                .ok()
                .filter(|m| m.is_file())
                .and_then(|_| std::fs::read(&path).ok())
        };

        for (cmd, expect) in [("check", case.check), ("server", case.server)] {
            if matches!(expect, Expect::Skip) {
                continue;
            }
            // A locked copy changes under its holder; every other input
            // must be unchanged by check and by a refusing server.
            let before = snapshot();
            runs += 1;
            let r = if cmd == "check" {
                run_check(&p, env, nobody)
            } else {
                run_server(&path, env, nobody)
            };
            let mut problems = Vec::new();
            if r.stderr.contains(&cert)
                || r.stdout.contains(&cert)
                || r.stderr.contains(&wrong_cert)
            {
                problems.push("output contains a certificate".to_string());
            }
            if r.stderr.contains(&fx.api_key) {
                problems.push("stderr contains the API key".to_string());
            }
            if longest_hex_run(r.stderr.as_bytes()) >= 40 {
                problems.push("stderr has a run of 40+ hex digits".to_string());
            }
            match expect {
                Expect::Refused(code, says) => {
                    if r.code != Some(code) {
                        problems.push(format!("exit {:?}, expected {code}", r.code));
                    }
                    let lines: Vec<&str> = r.stderr.lines().collect();
                    if lines.len() != 1 || !lines[0].starts_with("red: ") {
                        problems.push("stderr is not one 'red: ' line".to_string());
                    }
                    if !r.stderr.contains(says) {
                        problems.push(format!("message does not say {says:?}"));
                    }
                    if !r.stdout.is_empty() {
                        problems.push("stdout is not empty".to_string());
                    }
                    if !matches!(case.input, Input::LockedByServer) && snapshot() != before {
                        problems.push("the file changed".to_string());
                    }
                }
                Expect::Skip => {}
                Expect::Fresh => match &r.server {
                    None => problems.push(format!("server did not start (exit {:?})", r.code)),
                    Some(d) => {
                        let health = Conn::try_open(d.http_port, Duration::from_secs(30))
                            .and_then(|mut c| c.try_request("GET", "/health", &[], None));
                        if !matches!(&health, Ok(h) if h.status == 200) {
                            problems.push("a fresh server does not answer /health".to_string());
                        }
                    }
                },
                Expect::All | Expect::Prefix => {
                    let all = matches!(expect, Expect::All);
                    if cmd == "check" {
                        if r.code != Some(0) {
                            problems.push(format!("check exit {:?}, expected 0", r.code));
                        }
                        match checked_secrets(&r.stdout) {
                            Some(k) if k == SECRETS || (!all && k < SECRETS) => {}
                            other => problems.push(format!("check counts {other:?} secrets")),
                        }
                        if snapshot() != before {
                            problems.push("check changed the file".to_string());
                        }
                    } else {
                        match &r.server {
                            None => {
                                problems.push(format!("server did not start (exit {:?})", r.code))
                            }
                            Some(d) => match served_secrets(d.http_port, &fx.api_key) {
                                Ok(s) if is_prefix(&s, all) => {}
                                Ok(s) => problems.push(format!(
                                    "served {} of {SECRETS} secrets, not {}",
                                    s.iter().flatten().count(),
                                    if all { "all" } else { "a prefix" }
                                )),
                                Err(e) => problems.push(format!("server does not serve: {e}")),
                            },
                        }
                    }
                }
            }
            let shown = r
                .stderr
                .replace(&cert, "[CERT]")
                .replace(&fx.api_key, "[KEY]");
            let first_line = shown.lines().last().unwrap_or("").to_string();
            drop(r);
            if !problems.is_empty() {
                failures.push(format!(
                    "[{n}] {} / {cmd}: {}\n      stderr: {first_line}",
                    case.name,
                    problems.join("; ")
                ));
            }
        }
        drop(_holder);
        if matches!(case.input, Input::NoDirectoryPermission) {
            let _ = std::fs::set_permissions(
                path.parent().expect("parent"),
                std::fs::Permissions::from_mode(0o755),
            );
        }
    }

    // The original, beside every damaged copy, is untouched and serves.
    assert_eq!(
        std::fs::read(&fx.db).expect("read original"),
        fx.bytes,
        "the original file changed"
    );
    let d = Daemon::start(&fx.db, &Options::new().certificate(&cert));
    let served = served_secrets(d.http_port, &fx.api_key).expect("the original serves");
    assert!(is_prefix(&served, true), "the original holds every secret");
    drop(d);

    println!(
        "file catalogue: {} cases, {runs} runs of the binary, {} failures, {:.1} s",
        cases.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    harness::assert_no_failures(&failures, runs, "runs");
}
