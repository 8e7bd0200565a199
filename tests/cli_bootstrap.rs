//! Proves the `red bootstrap` / `red check` command-line contract by running
//! the real binary: the exact output of bootstrap shown in
//! `docs/OPERATIONS.md` (and that its `grep | awk` extraction of the
//! certificate works), file modes, the
//! three password sources and `--certificate-out`, refusal of a second
//! bootstrap without touching a byte, the three certificate sources of
//! `check`, the stable exit code and single redacted stderr line of every
//! operator error (with the database file left byte-identical), and that no
//! secret, credential or key name is ever stored in plaintext in the file.
//!
//! Failure messages never quote a secret: anything that could be one is
//! passed through [`redact`] first.

mod harness;

use harness::cli::{self, red};
use harness::rng::Rng;
use harness::secrets::{contains, is_lower_hex, longest_hex_run, redact};
use reddb::crypto::keys::Certificate;
use reddb::crypto::password::verify_password;
use reddb::database::{now_ms, open_pager, Database};
use reddb::service::accounts::{self, UserRecord};
use reddb::store::record::{Mutation, Namespace, Value, ValueRef};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

const PASSWORD: &str = "change-me-now";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Opens `db` read-only through the library and returns the stored user.
fn stored_user(db: &Path, cert_hex: &str, username: &str) -> UserRecord {
    let pager = open_pager(db, false).expect("open_pager");
    let cert = Certificate::parse_hex(cert_hex).expect("certificate parses");
    let database = Database::unseal(pager, &cert, false).expect("unseal");
    let entry = database
        .store()
        .get(Namespace::Vault, &accounts::user_key(username), now_ms())
        .unwrap_or_else(|| panic!("user {username} is not stored"));
    let ValueRef::Bytes(bytes) = entry.value else {
        panic!("user record is not a byte value");
    };
    accounts::decode_record(bytes).expect("user record decodes")
}

/// The admin stored in `db` has exactly `password`, not the newline that
/// ended it in `source`.
fn assert_stored_password(db: &Path, cert: &str, password: &str, source: &str) {
    let user = stored_user(db, cert, "admin");
    assert!(
        verify_password(password.as_bytes(), &user.password_hash),
        "the password from {source} does not verify"
    );
    assert!(
        !verify_password(format!("{password}\n").as_bytes(), &user.password_hash),
        "the trailing newline of {source} was kept in the password"
    );
}

/// `red bootstrap` of `db` (user admin, [`PASSWORD`]) with
/// `--certificate-out OUT`.
fn bootstrap_writing_certificate_to(db: &Path, out: &Path) -> cli::Output {
    cli::bootstrap_cmd(db, "admin")
        .args(&["--password", PASSWORD, "--certificate-out"])
        .arg(out)
        .run()
}

/// `red check --path DB` with the one variable `var=value` (a certificate
/// source).
fn check_with(db: &Path, var: &str, value: &str) -> cli::Output {
    red(&["check", "--path"]).arg(db).env(var, value).run()
}

/// What follows `prefix` on line `n` (from 1) of the output `lines`,
/// asserted to be `len` lowercase hex digits; `shown` is the redacted
/// output for the failure message.
fn lower_hex_after<'a>(
    lines: &[&'a str],
    n: usize,
    prefix: &str,
    len: usize,
    shown: &str,
) -> &'a str {
    let value = lines[n - 1]
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("line {n} is not '{prefix}...':\n{shown}"));
    assert!(
        is_lower_hex(value, len),
        "line {n} is not '{prefix}' + {len} lowercase hex:\n{shown}"
    );
    value
}

#[test]
fn bootstrap_prints_exactly_the_documented_lines() {
    let dir = harness::tmp();
    let db = dir.path().join("data.rdb");
    let path = db.to_str().unwrap();
    let r = cli::bootstrap_cmd(path, "admin")
        .args(&["--password", PASSWORD, "--print-certificate"])
        .run();
    assert_eq!(r.code, 0, "stderr: {}", redact(&r.stderr, &[PASSWORD]));
    assert_eq!(r.stderr, "", "bootstrap wrote to stderr");
    assert!(r.stdout.ends_with('\n'), "stdout does not end in a newline");
    let lines: Vec<&str> = r.stdout.lines().collect();
    let shown = redact(&r.stdout, &[]);
    assert_eq!(lines.len(), 5, "expected 5 lines, got:\n{shown}");
    assert_eq!(lines[0], format!("vault initialized: {path}"), "{shown}");
    assert_eq!(lines[1], "admin user created: admin", "{shown}");
    lower_hex_after(&lines, 3, "api key: rdb_k_", 32, &shown);
    let cert = lower_hex_after(&lines, 4, "certificate: ", 64, &shown);
    assert_eq!(
        lines[4], "  ^^^^ store this offline + in your secret manager ^^^^",
        "{shown}"
    );
    assert_eq!(mode(&db), 0o600, "database file mode");

    // The documented extraction, run by a real shell over the real output.
    let extracted = cli::program("sh", &["-c", "grep '^certificate:' | awk '{print $2}'"])
        .stdin(r.stdout.as_bytes())
        .run();
    assert!(extracted.success(), "grep | awk failed");
    let extracted = extracted.stdout;
    assert!(
        extracted == format!("{cert}\n"),
        "grep | awk did not extract exactly the certificate (got {} bytes)",
        extracted.len()
    );

    // ... and what it extracted opens the file.
    let check = check_with(&db, "REDDB_CERTIFICATE", extracted.trim_end());
    assert_eq!(
        check.code,
        0,
        "check with the extracted certificate: {}",
        redact(&check.stderr, &[cert])
    );
}

#[test]
fn password_from_file_and_from_stdin() {
    let dir = harness::tmp();

    // --password-file: the trailing newline is not part of the password.
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, "pw-from-file-1234\n").unwrap();
    let db1 = dir.path().join("file.rdb");
    let r = cli::bootstrap_cmd(&db1, "admin")
        .args(&[
            "--password-file",
            pw_file.to_str().unwrap(),
            "--print-certificate",
        ])
        .run();
    assert_eq!(r.code, 0, "--password-file: {}", redact(&r.stderr, &[]));
    let cert1 = r.line_value("certificate: ");
    assert_stored_password(&db1, &cert1, "pw-from-file-1234", "--password-file");

    // Standard input (a pipe, not a terminal): one line, newline trimmed.
    let db2 = dir.path().join("stdin.rdb");
    let r = cli::bootstrap_cmd(&db2, "admin")
        .args(&["--print-certificate"])
        .stdin(b"pw-from-stdin-5678\n")
        .run();
    assert_eq!(r.code, 0, "stdin password: {}", redact(&r.stderr, &[]));
    assert_eq!(r.stderr, "", "no prompt is written when stdin is a pipe");
    let cert2 = r.line_value("certificate: ");
    assert_stored_password(&db2, &cert2, "pw-from-stdin-5678", "stdin");

    // Both explicit sources at once is a usage error that creates nothing.
    let db3 = dir.path().join("both.rdb");
    let r = cli::bootstrap_cmd(&db3, "admin")
        .args(&[
            "--password",
            PASSWORD,
            "--password-file",
            pw_file.to_str().unwrap(),
            "--print-certificate",
        ])
        .run();
    assert_eq!(r.code, 2, "{}", redact(&r.stderr, &[PASSWORD]));
    assert!(
        !db3.exists(),
        "a refused bootstrap created the database file"
    );
}

#[test]
fn certificate_out_writes_a_0400_file_and_refuses_an_existing_one() {
    let dir = harness::tmp();
    let db = dir.path().join("data.rdb");
    let out = dir.path().join("cert.txt");
    let r = bootstrap_writing_certificate_to(&db, &out);
    assert_eq!(r.code, 0, "{}", redact(&r.stderr, &[PASSWORD]));
    assert_eq!(mode(&out), 0o400, "certificate file mode");
    assert_eq!(mode(&db), 0o600, "database file mode");
    let text = std::fs::read_to_string(&out).unwrap();
    let cert = text.strip_suffix('\n').expect("file ends in a newline");
    assert!(
        is_lower_hex(cert, 64),
        "file does not hold 64 lowercase hex"
    );
    assert!(
        !r.stdout.contains(cert),
        "without --print-certificate the certificate must not reach stdout"
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l == format!("certificate written to: {}", out.display())),
        "stdout does not say where the certificate went:\n{}",
        redact(&r.stdout, &[cert])
    );
    // The file is usable as REDDB_CERTIFICATE_FILE as written.
    let check = check_with(&db, "REDDB_CERTIFICATE_FILE", &path_text(&out));
    assert_eq!(check.code, 0, "{}", redact(&check.stderr, &[cert]));

    // An existing target is refused before anything is created.
    let db2 = dir.path().join("second.rdb");
    let before = std::fs::read(&out).unwrap();
    let r = bootstrap_writing_certificate_to(&db2, &out);
    assert_eq!(r.code, 2, "{}", redact(&r.stderr, &[PASSWORD, cert]));
    assert!(
        r.stderr.contains("already exists"),
        "{}",
        redact(&r.stderr, &[cert])
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "certificate file changed"
    );
    assert!(
        !db2.exists(),
        "a refused bootstrap created the database file"
    );
}

#[test]
fn second_bootstrap_is_refused_and_changes_nothing() {
    let boot = cli::bootstrap_in_tmp("admin", PASSWORD);
    let before = std::fs::read(&boot.db).unwrap();
    for print in ["--print-certificate", "--certificate-out"] {
        let out = boot.dir.path().join("never.cert");
        let out = out.to_str().unwrap();
        let mut args = vec!["--password", "another-password", print];
        if print == "--certificate-out" {
            args.push(out);
        }
        let r = cli::bootstrap_cmd(&boot.db, "other").args(&args).run();
        let shown = redact(&r.stderr, &[boot.certificate.as_str(), "another-password"]);
        assert_eq!(r.code, 17, "{print}: {shown}");
        assert_eq!(
            r.stdout, "",
            "{print}: a refused bootstrap printed on stdout"
        );
        assert!(
            r.stderr.ends_with('\n') && r.stderr.lines().count() == 1,
            "{print}: stderr is not one line: {shown}"
        );
        assert!(
            r.stderr.contains("already bootstrapped"),
            "{print}: {shown}"
        );
        assert!(
            std::fs::read(&boot.db).unwrap() == before,
            "{print}: the database file changed"
        );
        assert!(
            !Path::new(out).exists(),
            "{print}: a certificate file was written"
        );
    }
    // The original certificate still opens it with its single user.
    let r = check_with(&boot.db, "REDDB_CERTIFICATE", &boot.certificate);
    assert_eq!(
        r.code,
        0,
        "{}",
        redact(&r.stderr, &[boot.certificate.as_str()])
    );
    assert!(r.stdout.contains("users: 1, api keys: 1,"));
}

#[test]
fn check_reads_the_certificate_from_each_source() {
    let boot = cli::bootstrap_in_tmp("admin", PASSWORD);
    let before = std::fs::read(&boot.db).unwrap();
    let cert_file = boot.dir.path().join("cert-file");
    std::fs::write(&cert_file, format!("{}\n", boot.certificate)).unwrap();
    let creds = boot.dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("certificate"), format!("{}\n", boot.certificate)).unwrap();

    let sources: [(&str, &str); 3] = [
        ("REDDB_CERTIFICATE", boot.certificate.as_str()),
        ("REDDB_CERTIFICATE_FILE", cert_file.to_str().unwrap()),
        ("CREDENTIALS_DIRECTORY", creds.to_str().unwrap()),
    ];
    for (var, value) in sources {
        let r = check_with(&boot.db, var, value);
        let secrets = [boot.certificate.as_str(), boot.api_key.as_str()];
        assert_eq!(r.code, 0, "{var}: {}", redact(&r.stderr, &secrets));
        assert!(
            r.stdout
                .lines()
                .any(|l| l.starts_with("users: 1, api keys: 1, ")),
            "{var}: no 'users: 1, api keys: 1' line in:\n{}",
            redact(&r.stdout, &secrets)
        );
        assert!(
            longest_hex_run(r.stdout.as_bytes()) < 40,
            "{var}: check printed a long hex run"
        );
        assert!(
            std::fs::read(&boot.db).unwrap() == before,
            "{var}: check changed the database file"
        );
    }
}

/// One row of the error table.
struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    code: i32,
    /// Substrings stderr must not contain (beyond the certificate).
    forbidden: Vec<String>,
    /// A file that must be byte-identical afterwards.
    unchanged: Option<PathBuf>,
}

impl Case {
    /// `red check --path PATH` with `env`, expected to exit `code` and to
    /// leave PATH byte-identical.
    fn check(name: &'static str, path: &Path, env: Vec<(&'static str, String)>, code: i32) -> Case {
        Case {
            name,
            args: vec!["check".into(), "--path".into(), path_text(path)],
            env,
            code,
            forbidden: vec![],
            unchanged: Some(path.to_path_buf()),
        }
    }

    /// Values stderr must not contain either.
    fn forbidding(mut self, values: &[&str]) -> Case {
        self.forbidden = values.iter().map(|v| v.to_string()).collect();
        self
    }

    /// PATH is no file whose bytes can be compared (a directory, a missing
    /// file).
    fn not_a_file(mut self) -> Case {
        self.unchanged = None;
        self
    }
}

/// A temporary path as text (for argument lists and environments).
fn path_text(path: &Path) -> String {
    path.to_str().expect("UTF-8 temp path").to_string()
}

#[test]
fn error_table() {
    let boot = cli::bootstrap_in_tmp("admin", PASSWORD);
    let d = boot.dir.path();
    let db = boot.path().to_string();
    let cert = boot.certificate.clone();
    let s = |x: &str| x.to_string();

    // A valid 64-hex certificate that is not ours.
    let wrong: String = cert
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    let non_hex = format!("{}zz", &cert[..62]);
    let empty_cert = d.join("empty-cert");
    std::fs::write(&empty_cert, "").unwrap();
    let cert_file = d.join("cert-file");
    std::fs::write(&cert_file, format!("{cert}\n")).unwrap();
    let no_creds_dir = d.join("creds-empty");
    std::fs::create_dir(&no_creds_dir).unwrap();

    let locked = d.join("locked.rdb");
    std::fs::copy(&boot.db, &locked).unwrap();
    let lock_holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&locked)
        .unwrap();
    // SAFETY: flock on a descriptor this test owns for the whole test.
    let rc = unsafe { libc::flock(lock_holder.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0, "the test could not take the lock itself");

    let random = d.join("random.rdb");
    std::fs::write(&random, Rng::new(0x9e37_79b9_7f4a_7c15).bytes(20_000)).unwrap();
    let truncated = d.join("truncated.rdb");
    let full = std::fs::read(&boot.db).unwrap();
    std::fs::write(&truncated, &full[..3000]).unwrap();
    let empty_dir = d.join("a-directory");
    std::fs::create_dir(&empty_dir).unwrap();
    let fresh = d.join("fresh.rdb");
    drop(open_pager(&fresh, true).expect("create a fresh file"));
    let missing = d.join("missing.rdb");

    let db_path = PathBuf::from(&db);
    let certificate = |value: &str| vec![("REDDB_CERTIFICATE", value.to_string())];
    let cases = vec![
        Case::check("wrong certificate", &db_path, certificate(&wrong), 10).forbidding(&[&wrong]),
        Case::check("63 hex characters", &db_path, certificate(&cert[..63]), 11),
        Case::check(
            "64 characters, not hex",
            &db_path,
            certificate(&non_hex),
            11,
        )
        .forbidding(&[&non_hex]),
        Case::check(
            "empty certificate file",
            &db_path,
            vec![("REDDB_CERTIFICATE_FILE", path_text(&empty_cert))],
            11,
        )
        .forbidding(&[&path_text(&empty_cert)]),
        Case::check("empty REDDB_CERTIFICATE", &db_path, certificate(""), 11),
        Case::check(
            "REDDB_CERTIFICATE and REDDB_CERTIFICATE_FILE",
            &db_path,
            vec![
                ("REDDB_CERTIFICATE", cert.clone()),
                ("REDDB_CERTIFICATE_FILE", path_text(&cert_file)),
            ],
            12,
        )
        .forbidding(&[&path_text(&cert_file)]),
        Case::check("no certificate at all", &db_path, vec![], 13),
        Case::check(
            "CREDENTIALS_DIRECTORY without a certificate",
            &db_path,
            vec![("CREDENTIALS_DIRECTORY", path_text(&no_creds_dir))],
            13,
        ),
        Case::check(
            "RED_S3_SECRET_KEY and RED_S3_SECRET_KEY_FILE",
            &db_path,
            vec![
                ("REDDB_CERTIFICATE", cert.clone()),
                ("RED_S3_SECRET_KEY", s("s3-secret-CANARY-value")),
                ("RED_S3_SECRET_KEY_FILE", s("/run/s3-secret-CANARY-path")),
            ],
            12,
        )
        .forbidding(&["s3-secret-CANARY"]),
        Case::check(
            "unreadable REDDB_CERTIFICATE_FILE",
            &db_path,
            vec![(
                "REDDB_CERTIFICATE_FILE",
                s("/nonexistent/secret-cert-location"),
            )],
            21,
        )
        .forbidding(&["/nonexistent", "secret-cert-location"]),
        Case::check(
            "file locked by another process",
            &locked,
            certificate(&cert),
            14,
        ),
        Case::check("file of random bytes", &random, certificate(&cert), 19),
        Case::check(
            "truncated file (first 3000 bytes)",
            &truncated,
            certificate(&cert),
            15,
        ),
        Case::check("a directory as --path", &empty_dir, certificate(&cert), 20).not_a_file(),
        Case::check("a missing file for check", &missing, certificate(&cert), 20).not_a_file(),
        Case {
            name: "bootstrap with a 3-character password",
            args: vec![
                s("bootstrap"),
                s("--path"),
                path_text(&fresh),
                s("--vault"),
                s("--username"),
                s("admin"),
                s("--password"),
                s("abc"),
                s("--print-certificate"),
            ],
            env: vec![],
            code: 22,
            forbidden: vec![],
            unchanged: Some(fresh.clone()),
        },
        Case {
            args: vec![s("check"), s("--path"), db.clone(), s("--frobnicate")],
            ..Case::check("unknown flag", &db_path, certificate(&cert), 2)
        },
        Case {
            args: vec![s("frobnicate"), s("--path"), db.clone()],
            ..Case::check("unknown command", &db_path, certificate(&cert), 2)
        },
    ];

    let mut failures = Vec::new();
    for case in &cases {
        let before = case.unchanged.as_ref().map(|p| std::fs::read(p).unwrap());
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = case.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = red(&args).envs(&env).run();
        let mut secrets: Vec<&str> = vec![cert.as_str(), boot.api_key.as_str(), PASSWORD];
        secrets.extend(case.forbidden.iter().map(String::as_str));
        let shown = redact(&r.stderr, &secrets);
        let mut problems = Vec::new();
        if r.code != case.code {
            problems.push(format!("exit code {} (expected {})", r.code, case.code));
        }
        if !(r.stderr.ends_with('\n') && r.stderr.lines().count() == 1) {
            problems.push("stderr is not exactly one line".to_string());
        }
        if !r.stderr.starts_with("red: ") {
            problems.push("stderr does not start with 'red: '".to_string());
        }
        if !r.stdout.is_empty() {
            problems.push("something was printed on stdout".to_string());
        }
        if r.stderr.contains(&cert) {
            problems.push("stderr contains the certificate".to_string());
        }
        if longest_hex_run(r.stderr.as_bytes()) >= 40 {
            problems.push("stderr contains a run of 40+ hex digits".to_string());
        }
        for f in &case.forbidden {
            if r.stderr.contains(f.as_str()) {
                problems.push("stderr contains a forbidden value".to_string());
            }
        }
        if let (Some(p), Some(before)) = (&case.unchanged, before) {
            if std::fs::read(p).unwrap() != before {
                problems.push(format!("{} changed", p.display()));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n    stderr: {}",
                case.name,
                problems.join("; "),
                shown.trim_end()
            ));
        }
    }
    assert!(
        std::fs::read_dir(&empty_dir).unwrap().next().is_none(),
        "check wrote into the directory given as --path"
    );
    assert!(!missing.exists(), "check created a missing database file");
    drop(lock_holder);
    harness::assert_no_failures(&failures, cases.len(), "error cases");
}

#[test]
fn version_prints_the_package_version() {
    let r = red(&["version"]).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = r.stdout.lines().next().unwrap_or("");
    assert!(
        first == "red 0.1.0" || first.starts_with("red 0.1.0 "),
        "first line is {first:?}"
    );
}

#[test]
fn nothing_is_stored_in_plaintext() {
    let username = "operator-zeta";
    let password = "Zeta-PLAINTEXT-password-42";
    let boot = cli::bootstrap_in_tmp(username, password);

    let secret_key = b"red.secret.stripe.api_key".to_vec();
    let secret_value = b"sk_live_PLAINTEXT_CANARY_123".to_vec();
    let secret_key2 = b"red.secret.github.deploy_token".to_vec();
    let secret_value2 = b"ghp_PLAINTEXT_CANARY_SECOND_456".to_vec();
    let config_key = b"red.config.canary.feature_flag".to_vec();
    let config_value = b"CONFIG_PLAINTEXT_CANARY_789".to_vec();
    let keyspace_key = b"oauth:token:CANARY".to_vec();
    let keyspace_value = b"KEYSPACE_PLAINTEXT_CANARY_VALUE_246".to_vec();
    let set_key = b"canary:set:PLAINTEXT".to_vec();
    let set_member = b"SET_MEMBER_PLAINTEXT_CANARY".to_vec();

    let write = || {
        let pager = open_pager(&boot.db, false).expect("open_pager");
        let cert = Certificate::parse_hex(&boot.certificate).expect("certificate parses");
        let mut db = Database::unseal(pager, &cert, true).expect("unseal writable");
        let sealed1 = db.seal_secret_value(&secret_key, 1, &secret_value).unwrap();
        let sealed2 = db
            .seal_secret_value(&secret_key2, 1, &secret_value2)
            .unwrap();
        let put = |ns, key: &[u8], value| Mutation::Put {
            ns,
            key: key.to_vec(),
            value,
            expires_at_ms: 0,
        };
        db.store_mut()
            .apply(vec![
                put(Namespace::Secrets, &secret_key, Value::Bytes(sealed1)),
                put(Namespace::Secrets, &secret_key2, Value::Bytes(sealed2)),
                put(
                    Namespace::Config,
                    &config_key,
                    Value::Bytes(config_value.clone()),
                ),
            ])
            .unwrap();
        db.store_mut()
            .apply(vec![
                put(
                    Namespace::Keyspace,
                    &keyspace_key,
                    Value::Bytes(keyspace_value.clone()),
                ),
                put(
                    Namespace::Keyspace,
                    &set_key,
                    Value::Set([set_member.clone()].into_iter().collect()),
                ),
            ])
            .unwrap();
        db.store_mut().flush().unwrap();
        db
    };

    let token_hash = accounts::hash_token(&boot.api_key);
    let raw_cert = hex::decode(&boot.certificate).unwrap();
    let api_key_hex = boot.api_key.strip_prefix("rdb_k_").unwrap().to_string();
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("the username", username.into()),
        ("the password", password.into()),
        ("the API key token", boot.api_key.clone().into_bytes()),
        ("the API key's random part", api_key_hex.into_bytes()),
        ("the API key prefix", b"rdb_k_".to_vec()),
        ("the stored API key hash", token_hash.into_bytes()),
        (
            "the certificate (hex)",
            boot.certificate.clone().into_bytes(),
        ),
        (
            "the certificate (upper-case hex)",
            boot.certificate.to_uppercase().into_bytes(),
        ),
        ("the certificate (raw bytes)", raw_cert),
        ("an Argon2 PHC string", b"$argon2id$".to_vec()),
        ("a user record key", b"user:".to_vec()),
        ("a secret key name", secret_key.clone()),
        ("a secret key name prefix", b"red.secret.".to_vec()),
        ("the first secret value", secret_value.clone()),
        ("the second secret key name", secret_key2.clone()),
        ("the second secret value", secret_value2.clone()),
        ("a config key name", config_key.clone()),
        ("a config value", config_value.clone()),
        ("a keyspace key", keyspace_key.clone()),
        ("a keyspace value", keyspace_value.clone()),
        ("a set key", set_key.clone()),
        ("a set member", set_member.clone()),
        ("a canary fragment", b"CANARY".to_vec()),
        ("a canary fragment", b"PLAINTEXT".to_vec()),
    ];
    let scan = |stage: &str| {
        let bytes = std::fs::read(&boot.db).unwrap();
        // Positive control: the scan does see the file's plaintext magic.
        assert!(contains(&bytes, b"REDDB\x1a\r\n"), "{stage}: no file magic");
        let found: Vec<&str> = needles
            .iter()
            .filter(|(_, n)| contains(&bytes, n))
            .map(|(label, _)| *label)
            .collect();
        assert!(
            found.is_empty(),
            "{stage}: the .rdb file holds in plaintext: {}",
            found.join(", ")
        );
    };

    scan("after bootstrap");
    let mut db = write();
    // Sanity: the values really are in the store (the scan is not vacuous).
    let now = now_ms();
    let Some(ValueRef::Bytes(sealed)) = db
        .store()
        .get(Namespace::Secrets, &secret_key, now)
        .map(|e| e.value)
    else {
        panic!("secret not stored");
    };
    assert!(
        db.open_secret_value(&secret_key, 1, sealed).unwrap()[..] == secret_value[..],
        "the secret does not open to what was written"
    );
    drop(db);
    scan("after writing secrets, config and keyspace entries");

    // Compaction rewrites everything as a snapshot chain: still nothing.
    let pager = open_pager(&boot.db, false).unwrap();
    let cert = Certificate::parse_hex(&boot.certificate).unwrap();
    db = Database::unseal(pager, &cert, true).unwrap();
    db.store_mut().compact(now_ms()).unwrap();
    assert_eq!(db.store_mut().stats().compactions, 1);
    drop(db);
    scan("after compaction");

    let r = check_with(&boot.db, "REDDB_CERTIFICATE", &boot.certificate);
    let secrets = [boot.certificate.as_str(), boot.api_key.as_str(), password];
    assert_eq!(r.code, 0, "{}", redact(&r.stderr, &secrets));
    assert!(
        r.stdout
            .contains("users: 1, api keys: 1, secrets: 2, config: 1, keyspace: 2"),
        "check does not see what was written:\n{}",
        redact(&r.stdout, &secrets)
    );
    let printed = r.stdout.as_bytes();
    for (label, n) in &needles[..] {
        if *label != "a canary fragment" && *label != "a user record key" {
            assert!(!contains(printed, n), "check printed {label}");
        }
    }
}

#[test]

fn failed_certificate_out_does_not_brick_the_file() {
    let dir = harness::tmp();
    let db = dir.path().join("data.rdb");
    let out = dir.path().join("no-such-dir").join("cert");
    let r = bootstrap_writing_certificate_to(&db, &out);
    assert_ne!(r.code, 0, "writing to a missing directory cannot succeed");
    // The certificate was never shown, so the file must not be bootstrapped:
    // a retry with a good --certificate-out must work.
    let good = dir.path().join("cert");
    let retry = bootstrap_writing_certificate_to(&db, &good);
    assert_eq!(
        retry.code,
        0,
        "the file was bootstrapped with a certificate nobody ever saw: {}",
        redact(&retry.stderr, &[])
    );
}

#[test]

fn check_writes_nothing_to_an_empty_file() {
    let dir = harness::tmp();
    let db = dir.path().join("empty.rdb");
    std::fs::write(&db, b"").unwrap();
    let r = red(&["check", "--path", db.to_str().unwrap()]).run();
    let len = std::fs::metadata(&db).unwrap().len();
    assert_eq!(len, 0, "check (exit {}) wrote {len} bytes", r.code);
}
