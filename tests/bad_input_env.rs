//! The bad-input catalogue for the **environment, credentials and flags**
//! of `red server` (issue 8; `docs/BAD_INPUT.md`): a table of operator
//! mistakes — an inline variable and its `_FILE` companion both set,
//! `_FILE` files that are missing, directories, empty, oversized, multi-line, not UTF-8 or
//! unreadable, malformed and wrong certificates, `CREDENTIALS_DIRECTORY`
//! entries, auto-bootstrap inputs, presets, bind addresses, socket
//! activation variables and malformed flags (including `--max-connections`)
//! — each run against the real binary and judged on: the documented exit
//! code, one `red: …` line on stderr naming the problem, nothing on stdout,
//! no secret value or credential path in the output, and the database file
//! byte-for-byte unchanged.
//!
//! [`sighup_with_a_broken_token_file_keeps_serving_with_the_old_token`]
//! extends `tests/daemon_signals.rs` (empty, whitespace-only and deleted
//! token files) with a directory, non-UTF-8 bytes and a dangling symlink.
//!
//! What `tests/cli_bootstrap.rs` (`error_table`, for `red check`) and
//! `tests/startup_modes.rs` already prove is not repeated here. The whole
//! catalogue is indexed in `docs/BAD_INPUT.md`.

mod harness;

use harness::cli::{self, red, Output};
use harness::daemon::{fresh_bootstrapped, Daemon, Options};
use harness::secrets::longest_hex_run;
use harness::{memlock_unlimited, wait_until, NOBODY};
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PASSWORD: &str = "catalogue-admin-password";
/// A run that has not exited by then counts as a started (or hung) server.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// A bootstrapped database and a fresh one, in a directory uid 65534 may
/// enter.
struct Fixture {
    dir: tempfile::TempDir,
    db: PathBuf,
    fresh: PathBuf,
    cert: String,
    api_key: String,
}

fn fixture() -> Fixture {
    let dir = harness::tmp();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let db = dir.path().join("data.rdb");
    let boot = cli::bootstrap(&db, "admin", PASSWORD);
    let cert = boot.certificate;
    // One start and stop, so the first-boot step (red.secret.aes_key) is
    // behind us and a later open rewrites nothing but the meta pages.
    let mut d = Daemon::start(&db, &Options::new().certificate(&cert));
    assert_eq!(d.stop(), 0, "the fixture server stops cleanly");
    let fresh = dir.path().join("fresh.rdb");
    drop(reddb::database::open_pager(&fresh, true).expect("create a fresh file"));
    Fixture {
        cert,
        api_key: boot.api_key,
        dir,
        db,
        fresh,
    }
}

/// Which file a case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Db {
    Bootstrapped,
    Fresh,
}

struct Case {
    name: String,
    /// `red` arguments after `server --path FILE` (the bind flags are added
    /// as `127.0.0.1:0` unless the case gives its own).
    args: Vec<String>,
    env: Vec<(String, String)>,
    db: Db,
    code: i32,
    /// Text the one stderr line must contain.
    says: String,
    /// Values that must appear in neither stdout nor stderr.
    secret: Vec<String>,
    /// Run as uid/gid 65534.
    nobody: bool,
    /// Run through `sh` so that `LISTEN_PID` names the server itself.
    listen_pid: bool,
    /// A file that must not exist afterwards.
    not_created: Option<PathBuf>,
}

fn case(name: &str, code: i32, says: &str) -> Case {
    Case {
        name: name.to_string(),
        args: Vec::new(),
        env: Vec::new(),
        db: Db::Bootstrapped,
        code,
        says: says.to_string(),
        secret: Vec::new(),
        nobody: false,
        listen_pid: false,
        not_created: None,
    }
}

impl Case {
    fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }
    fn env(mut self, k: &str, v: impl AsRef<str>) -> Self {
        self.env.push((k.to_string(), v.as_ref().to_string()));
        self
    }
    fn path_env(self, k: &str, p: &Path) -> Self {
        let v = p.to_str().expect("utf-8 path").to_string();
        self.env(k, &v).secret(&v)
    }
    fn secret(mut self, s: &str) -> Self {
        self.secret.push(s.to_string());
        self
    }
    fn fresh(mut self) -> Self {
        self.db = Db::Fresh;
        self
    }
}

/// `n` bytes of deterministic lowercase hex.
fn hex_of_len(n: usize) -> String {
    (0..n)
        .map(|i| b"0123456789abcdef"[(i * 7 + 3) % 16] as char)
        .collect()
}

/// Every case of the catalogue; files they need are made under `d`.
fn cases(fx: &Fixture, d: &Path) -> Vec<Case> {
    let cert = fx.cert.as_str();
    let mk = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = d.join(name);
        std::fs::write(&p, bytes).expect("write a case file");
        p
    };
    let mkdir = |name: &str| -> PathBuf {
        let p = d.join(name);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    };
    let good_cert = mk("good-cert-7f3a", format!("{cert}\n").as_bytes());
    let missing = d.join("no-such-secret-file-4b1d");
    let a_dir = mkdir("a-directory-9c2e");
    let empty = mk("empty-e5a0", b"");
    let blank = mk("blank-31d7", b"  \n\t\n");
    let oversized = mk("oversized-88aa", hex_of_len(1 << 20).as_bytes());
    let two_lines = mk(
        "two-lines-2f6b",
        format!("{}\n{}\n", &cert[..32], &cert[32..]).as_bytes(),
    );
    let not_utf8 = mk("not-utf8-0d9e", b"\xff\xfe\x00\x80secret\n");
    let under_a_file = good_cert.join("child");
    let unreadable = mk("unreadable-cert-6e21", format!("{cert}\n").as_bytes());
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let wrong: String = cert
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();

    // CREDENTIALS_DIRECTORY variants, one directory each.
    let creds = |name: &str, entries: &[(&str, Option<&[u8]>)]| -> PathBuf {
        let dir = mkdir(name);
        for (entry, content) in entries {
            match content {
                Some(bytes) => std::fs::write(dir.join(entry), bytes).expect("write credential"),
                None => std::fs::create_dir(dir.join(entry)).expect("mkdir credential"),
            }
        }
        dir
    };
    let creds_cert_dir = creds("creds-cert-dir", &[("certificate", None)]);
    let creds_cert_empty = creds("creds-cert-empty", &[("certificate", Some(b""))]);
    let creds_cert_short = creds("creds-cert-short", &[("certificate", Some(b"abc123\n"))]);
    let creds_cert_wrong = creds(
        "creds-cert-wrong",
        &[("certificate", Some(format!("{wrong}\n").as_bytes()))],
    );
    let creds_cert_binary = creds(
        "creds-cert-binary",
        &[("certificate", Some(b"\xc3\x28\xa0\xa1"))],
    );
    let creds_token_dir = creds(
        "creds-token-dir",
        &[
            ("certificate", Some(format!("{cert}\n").as_bytes())),
            ("admin-token", None),
        ],
    );
    let creds_file = mk("creds-is-a-file", b"x");
    let creds_missing = d.join("creds-missing");

    // Auto-bootstrap inputs on the fresh file.
    let out_exists = mk("cert-out-exists", b"keep me\n");
    let out_dir = mkdir("cert-out-dir");
    let out_short = out_dir.join("short-password.cert");
    let out_nodir = d.join("no-such-dir").join("out.cert");

    let mut v = Vec::new();

    // Inline + _FILE, for each pair the product reads or ignores (written
    // out here, not taken from the library's list, so a pair the library
    // forgets still fails here).
    for name in [
        "REDDB_CERTIFICATE",
        "REDDB_USERNAME",
        "REDDB_PASSWORD",
        "RED_ADMIN_TOKEN",
        "REDDB_BACKUP_KEY",
        "REDDB_MIGRATE_FROM_PASSWORD",
        "REDDB_MIGRATE_TO_KEY",
        "REDDB_CLOUD_HEAD_ADMIN_PASSWORD",
        "REDDB_CUSTOMER_ADMIN_PASSWORD",
        "RED_S3_ACCESS_KEY",
        "RED_S3_SECRET_KEY",
        "RED_TURSO_TOKEN",
        "RED_D1_TOKEN",
        "RED_BACKEND_HTTP_AUTH",
    ] {
        let value = format!("inline-{}-CANARY-value", name.to_lowercase());
        v.push(
            case(
                &format!("{name} and {name}_FILE both set"),
                12,
                &format!("both {name} and {name}_FILE"),
            )
            .env("REDDB_CERTIFICATE_FILE", good_cert.to_str().expect("utf-8"))
            .env(name, &value)
            .path_env(&format!("{name}_FILE"), &good_cert)
            .secret(&value),
        );
    }
    // (For REDDB_CERTIFICATE the pair above sets REDDB_CERTIFICATE_FILE twice;
    // the later value wins in the map, which is the same path.)

    // The certificate's _FILE.
    // A FIFO would block a plain read forever: refused without reading.
    let fifo = d.join("cert-fifo");
    {
        let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("cstr");
        // SAFETY: mkfifo reads one NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }
    let file_cases: [(&str, &Path, i32, &str); 11] = [
        (
            "a FIFO (would block a plain read)",
            &fifo,
            21,
            "not a regular file",
        ),
        (
            "missing",
            &missing,
            21,
            "cannot read REDDB_CERTIFICATE_FILE",
        ),
        (
            "a directory",
            &a_dir,
            21,
            "cannot read REDDB_CERTIFICATE_FILE",
        ),
        ("empty", &empty, 11, "it is empty"),
        ("whitespace only", &blank, 11, "it is empty"),
        (
            "oversized (1 MiB of hex)",
            &oversized,
            21,
            "larger than 64 KiB",
        ),
        (
            "two lines (interior newline)",
            &two_lines,
            11,
            "not hexadecimal",
        ),
        ("not UTF-8", &not_utf8, 21, "not UTF-8"),
        (
            "/dev/null",
            Path::new("/dev/null"),
            21,
            "not a regular file",
        ),
        (
            "a path under a regular file",
            &under_a_file,
            21,
            "cannot read REDDB_CERTIFICATE_FILE",
        ),
        (
            "a path under a directory that does not exist",
            &d.join("nope/cert"),
            21,
            "cannot read REDDB_CERTIFICATE_FILE",
        ),
    ];
    for (what, path, code, says) in file_cases {
        v.push(
            case(&format!("REDDB_CERTIFICATE_FILE: {what}"), code, says)
                .path_env("REDDB_CERTIFICATE_FILE", path),
        );
    }
    let mut c = case(
        "REDDB_CERTIFICATE_FILE: no read permission (uid 65534)",
        21,
        "permission denied",
    )
    .path_env("REDDB_CERTIFICATE_FILE", &unreadable);
    c.nobody = true;
    v.push(c);

    // Inline certificate values.
    for (what, value, code, says) in [
        (
            "63 characters",
            cert[..63].to_string(),
            11,
            "not 64 characters",
        ),
        ("65 characters", format!("{cert}0"), 11, "not 64 characters"),
        (
            "128 characters",
            format!("{cert}{cert}"),
            11,
            "not 64 characters",
        ),
        (
            "non-hex",
            format!("{}zz", &cert[..62]),
            11,
            "not hexadecimal",
        ),
        (
            "0x prefix",
            format!("0x{}", &cert[..62]),
            11,
            "not hexadecimal",
        ),
        (
            "inner space",
            format!("{} {}", &cert[..32], &cert[32..]),
            11,
            "not hexadecimal",
        ),
        ("short", "abc123".to_string(), 11, "not 64 characters"),
        ("only whitespace", "   ".to_string(), 11, "it is empty"),
        (
            "valid hex, not this file's",
            wrong.clone(),
            10,
            "wrong certificate",
        ),
        ("all zeros", "0".repeat(64), 10, "wrong certificate"),
    ] {
        v.push(
            case(&format!("REDDB_CERTIFICATE: {what}"), code, says)
                .env("REDDB_CERTIFICATE", &value)
                .secret(&value),
        );
    }

    // CREDENTIALS_DIRECTORY (systemd LoadCredential).
    for (what, dir, code, says, vault) in [
        (
            "certificate is a directory",
            &creds_cert_dir,
            21,
            "credential 'certificate'",
            false,
        ),
        (
            "certificate is empty",
            &creds_cert_empty,
            11,
            "it is empty",
            false,
        ),
        (
            "certificate is too short",
            &creds_cert_short,
            11,
            "not 64 characters",
            false,
        ),
        (
            "certificate is not this file's",
            &creds_cert_wrong,
            10,
            "wrong certificate",
            false,
        ),
        (
            "certificate is not UTF-8",
            &creds_cert_binary,
            21,
            "not UTF-8",
            false,
        ),
        (
            "admin-token is a directory",
            &creds_token_dir,
            21,
            "credential 'admin-token'",
            false,
        ),
        (
            "a regular file, --vault",
            &creds_file,
            13,
            "missing certificate",
            true,
        ),
        (
            "does not exist, --vault",
            &creds_missing,
            13,
            "missing certificate",
            true,
        ),
    ] {
        let mut c = case(&format!("CREDENTIALS_DIRECTORY: {what}"), code, says)
            .env("CREDENTIALS_DIRECTORY", dir.to_str().expect("utf-8"));
        if vault {
            c = c.arg("--vault");
        }
        v.push(c);
    }

    // The admin token's _FILE.
    for (what, path, says) in [
        ("missing", &missing, "cannot read RED_ADMIN_TOKEN_FILE"),
        ("a directory", &a_dir, "cannot read RED_ADMIN_TOKEN_FILE"),
        ("not UTF-8", &not_utf8, "not UTF-8"),
    ] {
        v.push(
            case(&format!("RED_ADMIN_TOKEN_FILE: {what}"), 21, says)
                .env("REDDB_CERTIFICATE", cert)
                .path_env("RED_ADMIN_TOKEN_FILE", path),
        );
    }

    // A weak admin token (issue 13 item 6): shorter than 32 bytes, counted
    // after the `_FILE`/credential trailing-whitespace trim, from each
    // source. Refused before the file is opened, with its own exit code and
    // a line naming the source and the rule, never the token.
    let weak = "weak-admin-token-CANARY-31chars";
    assert_eq!(weak.len(), 31);
    let weak_file = mk("weak-token-3a7f", format!("{weak}\n \t\n").as_bytes());
    let creds_weak = creds(
        "creds-token-weak",
        &[
            ("certificate", Some(format!("{cert}\n").as_bytes())),
            ("admin-token", Some(format!("{weak}\n").as_bytes())),
        ],
    );
    v.push(
        case(
            "RED_ADMIN_TOKEN: 31 characters",
            27,
            "weak admin token: RED_ADMIN_TOKEN is shorter than 32 characters",
        )
        .env("REDDB_CERTIFICATE", cert)
        .env("RED_ADMIN_TOKEN", weak)
        .secret(weak),
    );
    v.push(
        case(
            "RED_ADMIN_TOKEN_FILE: 31 characters after the trim",
            27,
            "weak admin token: RED_ADMIN_TOKEN_FILE is shorter than 32 characters",
        )
        .env("REDDB_CERTIFICATE", cert)
        .path_env("RED_ADMIN_TOKEN_FILE", &weak_file)
        .secret(weak),
    );
    v.push(
        case(
            "CREDENTIALS_DIRECTORY: admin-token of 31 characters",
            27,
            "weak admin token: credential 'admin-token' is shorter than 32 characters",
        )
        .env("CREDENTIALS_DIRECTORY", creds_weak.to_str().expect("utf-8"))
        .secret(creds_weak.to_str().expect("utf-8"))
        .secret(weak),
    );
    // On a fresh file too (no certificate): refused before it is created
    // or bootstrapped.
    v.push(
        case(
            "RED_ADMIN_TOKEN: 31 characters, fresh file",
            27,
            "weak admin token: RED_ADMIN_TOKEN is shorter than 32 characters",
        )
        .fresh()
        .env("RED_ADMIN_TOKEN", weak)
        .secret(weak),
    );

    // Certificates and auto-bootstrap inputs on the fresh file.
    v.push(
        case("a certificate for a fresh file", 18, "not bootstrapped")
            .fresh()
            .env("REDDB_CERTIFICATE", cert),
    );
    // `--vault` on a fresh file without credentials is not refused: it
    // waits for POST /auth/bootstrap (tests/vault_bootstrap.rs).
    v.push(
        case(
            "auto-bootstrap: REDDB_CERTIFICATE_OUT exists",
            2,
            "already exists",
        )
        .fresh()
        .env("REDDB_USERNAME", "admin")
        .env("REDDB_PASSWORD", PASSWORD)
        .env("REDDB_CERTIFICATE_OUT", out_exists.to_str().expect("utf-8"))
        .secret(PASSWORD),
    );
    let mut c = case(
        "auto-bootstrap: a 3-character password",
        22,
        "invalid input",
    )
    .fresh()
    .env("REDDB_USERNAME", "admin")
    .env("REDDB_PASSWORD", "abc")
    .env("REDDB_CERTIFICATE_OUT", out_short.to_str().expect("utf-8"));
    c.not_created = Some(out_short.clone());
    v.push(c);
    let mut c = case(
        "auto-bootstrap: REDDB_CERTIFICATE_OUT in a missing directory",
        20,
        "",
    )
    .fresh()
    .env("REDDB_USERNAME", "admin")
    .env("REDDB_PASSWORD", PASSWORD)
    .env("REDDB_CERTIFICATE_OUT", out_nodir.to_str().expect("utf-8"))
    .secret(PASSWORD);
    c.not_created = Some(out_nodir.clone());
    v.push(c);
    v.push(
        case(
            "auto-bootstrap: REDDB_PASSWORD_FILE missing",
            21,
            "REDDB_PASSWORD_FILE",
        )
        .fresh()
        .env("REDDB_USERNAME", "admin")
        .path_env("REDDB_PASSWORD_FILE", &missing),
    );
    v.push(
        case(
            "auto-bootstrap: REDDB_USERNAME_FILE is a directory",
            21,
            "REDDB_USERNAME_FILE",
        )
        .fresh()
        .path_env("REDDB_USERNAME_FILE", &a_dir)
        .env("REDDB_PASSWORD", PASSWORD)
        .secret(PASSWORD),
    );

    // Presets.
    for (what, var, value) in [
        ("unknown name", "REDDB_BOOTSTRAP_PRESET", "nope"),
        ("wrong case", "REDDB_BOOTSTRAP_PRESET", "Production"),
        ("trailing space", "REDDB_BOOTSTRAP_PRESET", "production "),
        ("legacy variable, unknown name", "REDDB_PRESET", "strict"),
    ] {
        v.push(
            case(&format!("preset: {what}"), 2, "unknown preset")
                .env("REDDB_CERTIFICATE", cert)
                .env(var, value),
        );
    }
    for preset in ["production", "cloud", "regulated"] {
        v.push(
            case(
                &format!("--dev with the {preset} preset"),
                2,
                "--dev is for development only",
            )
            .arg("--dev")
            .env("REDDB_BOOTSTRAP_PRESET", preset),
        );
    }
    if !memlock_unlimited() {
        v.push(
            case(
                "--require-mlock with a finite RLIMIT_MEMLOCK",
                23,
                "full memory locking is required",
            )
            .arg("--require-mlock")
            .env("REDDB_CERTIFICATE", cert),
        );
        v.push(
            case(
                "production preset with a finite RLIMIT_MEMLOCK",
                23,
                "full memory locking is required",
            )
            .env("REDDB_BOOTSTRAP_PRESET", "production")
            .env("REDDB_CERTIFICATE", cert),
        );
    }
    v.push(
        case("REDDB_NO_AUTH not a boolean", 2, "REDDB_NO_AUTH")
            .env("REDDB_NO_AUTH", "treu")
            .env("REDDB_CERTIFICATE", cert),
    );

    // Bind addresses.
    for (what, flag, value) in [
        ("not an address", "--http-bind", "nope"),
        ("no port", "--http-bind", "127.0.0.1"),
        ("port out of range", "--http-bind", "127.0.0.1:70000"),
        ("a host name", "--http-bind", "localhost:5000"),
        ("IPv6 without brackets", "--http-bind", "::1:5000"),
        ("empty", "--wire-bind", ""),
        (
            "not an address (wire)",
            "--wire-bind",
            "redis://127.0.0.1:6379",
        ),
    ] {
        v.push(
            case(&format!("{flag}: {what}"), 2, "is not an address")
                .env("REDDB_CERTIFICATE", cert)
                .arg(flag)
                .arg(value),
        );
    }
    for var in ["RED_HTTP_BIND_ADDR", "RED_WIRE_BIND_ADDR"] {
        v.push(
            case(&format!("{var} not an address"), 2, "is not an address")
                .env("REDDB_CERTIFICATE", cert)
                .env(var, "0.0.0.0"),
        );
    }
    v.push(
        case(
            "--http-bind on an address that is not local",
            20,
            "cannot listen",
        )
        .env("REDDB_CERTIFICATE", cert)
        .arg("--http-bind")
        .arg("192.0.2.1:5000"),
    );
    // Ports taken by the test itself (held for the whole run).
    let held = d.join("held-port");
    let port: u16 = std::fs::read_to_string(&held)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .expect("held port written by the test");
    for flag in ["--http-bind", "--wire-bind"] {
        v.push(
            case(&format!("{flag} on a port in use"), 20, "cannot listen")
                .env("REDDB_CERTIFICATE", cert)
                .arg(flag)
                .arg(&format!("127.0.0.1:{port}")),
        );
    }

    // Socket activation variables (LISTEN_PID names the server itself).
    for (what, fds, says) in [
        (
            "LISTEN_FDS not a number",
            "abc",
            "invalid socket activation variables",
        ),
        (
            "LISTEN_FDS=1 but fd 3 is not a socket",
            "1",
            "not a listening stream socket",
        ),
    ] {
        let mut c = case(&format!("socket activation: {what}"), 2, says)
            .env("REDDB_CERTIFICATE", cert)
            .env("LISTEN_FDS", fds);
        c.listen_pid = true;
        v.push(c);
    }

    // Flags.
    for (what, args, says) in [
        (
            "--fsync never",
            &["--fsync", "never"][..],
            "--fsync 'never'",
        ),
        ("--workers 0", &["--workers", "0"], "--workers '0'"),
        ("--workers 65", &["--workers", "65"], "--workers '65'"),
        ("--workers abc", &["--workers", "abc"], "--workers 'abc'"),
        (
            "--max-connections 0",
            &["--max-connections", "0"],
            "--max-connections",
        ),
        (
            "--max-connections -5",
            &["--max-connections", "-5"],
            "--max-connections",
        ),
        (
            "--max-connections 1000001",
            &["--max-connections", "1000001"],
            "--max-connections",
        ),
        (
            "--max-connections lots",
            &["--max-connections", "lots"],
            "--max-connections",
        ),
        (
            "--max-connections empty",
            &["--max-connections="],
            "--max-connections",
        ),
        (
            "--max-connections 1e3",
            &["--max-connections", "1e3"],
            "--max-connections",
        ),
        (
            "--max-buffer-memory 0",
            &["--max-buffer-memory", "0"],
            "--max-buffer-memory (or RED_MAX_BUFFER_MEMORY) '0': use a number of bytes from 65536",
        ),
        (
            "--max-buffer-memory 65535",
            &["--max-buffer-memory", "65535"],
            "--max-buffer-memory (or RED_MAX_BUFFER_MEMORY) '65535'",
        ),
        (
            "--max-buffer-memory 256M",
            &["--max-buffer-memory", "256M"],
            "--max-buffer-memory (or RED_MAX_BUFFER_MEMORY) '256M'",
        ),
        (
            "--max-buffer-memory over 1 TiB",
            &["--max-buffer-memory", "1099511627777"],
            "--max-buffer-memory",
        ),
        (
            "--max-buffer-memory empty",
            &["--max-buffer-memory="],
            "--max-buffer-memory",
        ),
        (
            "--path given twice",
            &["--path", "/tmp/other.rdb"],
            "--path given twice",
        ),
        (
            "a switch with a value",
            &["--vault=yes"],
            "--vault takes no value",
        ),
        (
            "a value flag without its value",
            &["--workers"],
            "--workers needs a value",
        ),
        (
            "an unknown flag",
            &["--frobnicate"],
            "unknown flag --frobnicate",
        ),
        (
            "a positional argument",
            &["extra"],
            "unexpected argument 'extra'",
        ),
        ("a short flag", &["-v"], "unexpected argument '-v'"),
    ] {
        let mut c = case(&format!("flag: {what}"), 2, says).env("REDDB_CERTIFICATE", cert);
        for a in args {
            c = c.arg(a);
        }
        v.push(c);
    }
    for value in ["0", "many", " 8"] {
        v.push(
            case(
                &format!("RED_MAX_CONNECTIONS={value:?}"),
                2,
                "RED_MAX_CONNECTIONS",
            )
            .env("REDDB_CERTIFICATE", cert)
            .env("RED_MAX_CONNECTIONS", value),
        );
    }
    for value in ["-1", "1e9", "268435456 "] {
        v.push(
            case(
                &format!("RED_MAX_BUFFER_MEMORY={value:?}"),
                2,
                "RED_MAX_BUFFER_MEMORY",
            )
            .env("REDDB_CERTIFICATE", cert)
            .env("RED_MAX_BUFFER_MEMORY", value),
        );
    }
    v.push(case("--vault without any certificate", 13, "missing certificate").arg("--vault"));
    v
}

/// Runs `red server --path db ARGS` with exactly the case's environment;
/// a server still up after [`RUN_TIMEOUT`] (it should have refused) is
/// killed and reported as timed out.
fn run_server(db: &Path, c: &Case) -> Output {
    let mut args: Vec<String> = vec![
        "server".into(),
        "--path".into(),
        db.to_str().expect("utf-8").into(),
    ];
    for (flag, var) in [
        ("--http-bind", "RED_HTTP_BIND_ADDR"),
        ("--wire-bind", "RED_WIRE_BIND_ADDR"),
    ] {
        let given = c
            .args
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
            || c.env.iter().any(|(k, _)| k == var);
        if !given {
            args.push(flag.into());
            args.push("127.0.0.1:0".into());
        }
    }
    args.extend(c.args.iter().cloned());
    let mut cmd = red(&args).envs(&c.env).timeout(RUN_TIMEOUT);
    if c.listen_pid {
        cmd = cmd.listen_pid_is_self();
    }
    if c.nobody {
        cmd = cmd.run_as_nobody();
    }
    cmd.run()
}

#[test]
fn bad_environment_credentials_and_flags_are_refused_clearly() {
    let fx = fixture();
    let d = fx.dir.path().join("inputs");
    std::fs::create_dir(&d).expect("mkdir inputs");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let holder = TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let held = holder.local_addr().expect("addr").port();
    std::fs::write(d.join("held-port"), held.to_string()).expect("write held port");
    // The no-permission case runs as 65534: its database must be its own.
    let nobody_db = fx.dir.path().join("nobody.rdb");
    std::fs::copy(&fx.db, &nobody_db).expect("copy for 65534");
    std::os::unix::fs::chown(&nobody_db, Some(NOBODY), Some(NOBODY)).expect("chown");

    let cases = cases(&fx, &d);
    let started = Instant::now();
    let mut failures = Vec::new();
    for (n, c) in cases.iter().enumerate() {
        let db = match (c.nobody, c.db) {
            (true, _) => nobody_db.clone(),
            (false, Db::Bootstrapped) => fx.db.clone(),
            (false, Db::Fresh) => fx.fresh.clone(),
        };
        let before = std::fs::read(&db).expect("read db");
        let r = run_server(&db, c);
        let mut problems = Vec::new();
        if r.timed_out {
            problems.push("the server started (or hung) instead of refusing".to_string());
        } else if r.code != c.code {
            problems.push(format!("exit {}, expected {}", r.code, c.code));
        }
        let lines: Vec<&str> = r.stderr.lines().collect();
        if lines.len() != 1 || !lines[0].starts_with("red: ") {
            problems.push(format!(
                "stderr is {} lines, not one 'red: ' line",
                lines.len()
            ));
        }
        if !r.stderr.contains(&c.says) {
            problems.push(format!("message does not say {:?}", c.says));
        }
        if !r.stdout.is_empty() {
            problems.push("stdout is not empty".to_string());
        }
        let both = format!("{}{}", r.stdout, r.stderr);
        let mut secrets: Vec<&str> = vec![&fx.cert, &fx.api_key, PASSWORD];
        secrets.extend(c.secret.iter().map(String::as_str));
        if secrets.iter().any(|s| !s.is_empty() && both.contains(s)) {
            problems.push("output contains a secret value or a credential path".to_string());
        }
        if longest_hex_run(both.as_bytes()) >= 40 {
            problems.push("output has a run of 40+ hex digits".to_string());
        }
        let after = std::fs::read(&db).expect("read db");
        if after != before {
            problems.push("the database file changed".to_string());
        }
        if let Some(p) = &c.not_created {
            if p.exists() {
                problems.push(format!("{} was created", p.display()));
            }
        }
        if !problems.is_empty() {
            let mut shown = r.stderr.trim_end().to_string();
            for s in &secrets {
                if !s.is_empty() {
                    shown = shown.replace(s, "[SECRET]");
                }
            }
            failures.push(format!(
                "[{n}] {}: {}\n      stderr: {shown}",
                c.name,
                problems.join("; ")
            ));
        }
    }
    drop(holder);
    println!(
        "environment catalogue: {} cases, {} failures, {:.1} s",
        cases.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    harness::assert_no_failures(&failures, cases.len(), "cases");
}

/// A non-UTF-8 argument cannot be put in the table's `String`s.
#[test]
fn a_non_utf8_argument_is_refused() {
    let out = red(&["server", "--path"])
        .arg(std::ffi::OsStr::from_bytes(b"/tmp/\xff.rdb"))
        .run();
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr, "red: usage: arguments must be valid UTF-8\n");
    assert!(out.stdout.is_empty());
}

/// SIGHUP with `RED_ADMIN_TOKEN_FILE` turned into something unreadable: the
/// server logs an error naming the variable (never the token or the path),
/// keeps the old token, and keeps serving; a good file afterwards rotates.
#[test]
fn sighup_with_a_broken_token_file_keeps_serving_with_the_old_token() {
    let dir = harness::tmp();
    let token_file = dir.path().join("admin-token-path-5c8e");
    let old = "tokOLD-6b1f9e2d4c7a8053e1f2a4b6c8";
    let new = "tokNEW-0a9b8c7d6e5f4a3b2c1d0e9f8a";
    std::fs::write(&token_file, format!("{old}\n")).expect("write token");
    let opts = Options::new().env("RED_ADMIN_TOKEN_FILE", token_file.to_str().expect("utf-8"));
    let (d, _boot) = fresh_bootstrapped(dir.path(), &opts);
    let status = |d: &Daemon, t: &str| d.get("/auth/users", Some(t)).status;
    assert_eq!(status(&d, old), 200, "the old token works at start");
    let errors = |d: &Daemon| {
        d.stderr()
            .lines()
            .filter(|l| l.starts_with("<3>") && l.contains("RED_ADMIN_TOKEN_FILE"))
            .count()
    };

    type Breakage<'a> = (&'a str, &'a dyn Fn(&Path));
    let breakages: [Breakage; 3] = [
        ("a directory", &|p: &Path| {
            std::fs::remove_file(p).expect("rm");
            std::fs::create_dir(p).expect("mkdir");
        }),
        ("not UTF-8", &|p: &Path| {
            std::fs::remove_dir(p).expect("rmdir");
            std::fs::write(p, b"\xff\xfe\xfd\n").expect("write");
        }),
        ("a dangling symlink", &|p: &Path| {
            std::fs::remove_file(p).expect("rm");
            std::os::unix::fs::symlink(p.with_extension("gone"), p).expect("symlink");
        }),
    ];
    for (what, breakit) in breakages {
        let before = errors(&d);
        breakit(&token_file);
        d.signal(libc::SIGHUP);
        assert!(
            wait_until(Duration::from_secs(10), || errors(&d) > before),
            "{what}: no error logged for RED_ADMIN_TOKEN_FILE"
        );
        d.assert_healthy(what);
        assert_eq!(status(&d, old), 200, "{what}: the old token still works");
        assert_eq!(status(&d, new), 401, "{what}: no other token works");
    }
    std::fs::remove_file(&token_file).expect("rm symlink");
    std::fs::write(&token_file, format!("{new}\n")).expect("write new token");
    d.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || status(&d, new) == 200),
        "a good file after the broken ones rotates the token"
    );
    assert_eq!(status(&d, old), 401, "the old token is gone after rotation");
    let log = d.stderr();
    for needle in [
        old,
        new,
        token_file.to_str().expect("utf-8"),
        "admin-token-path-5c8e",
    ] {
        assert!(
            !log.contains(needle),
            "the log shows a token or the token file path"
        );
    }
}
