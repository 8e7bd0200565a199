//! Secrets and settings from the environment: `config::credentials`
//! (`Environment::from_pairs`, `check_pairs`, `credential` for every used
//! secret, its `_FILE` companion and `$CREDENTIALS_DIRECTORY`, trailing
//! whitespace trimming) and `config::server` (`Preset::from_env`,
//! `Flags::parse` + `ServerConfig::resolve`: presets, booleans, bind
//! addresses, numbers), then `Certificate::parse_hex` on the certificate
//! read, as `red server` does.
//!
//! The input is text, one item per line (so seeds are readable):
//!
//! * `NAME=VALUE`: an environment pair. In a value, `@file` stands for the
//!   path of the per-input secret file, `@creds` for the per-input
//!   credentials directory, `@dir` for a directory. Any other value of a
//!   `*_FILE` or `CREDENTIALS_DIRECTORY` variable is turned into a path
//!   that does not exist, so the target never reads an arbitrary file.
//! * `arg:ARG`: one command-line argument of `red server`.
//! * `file:BYTES`: a line of the secret file (lines joined with `\n`; the
//!   bytes need not be UTF-8).
//! * `cred:N:BYTES`: the file of credential N (0 certificate, 1 username,
//!   2 password, 3 admin-token) in the credentials directory.
//!
//! The files are written under `/tmp/reddb-fuzz-credentials-PID/` for each
//! input and removed after it (the two empty directories stay).
//!
//! Checked: never panics; `check_pairs` refuses exactly when an inline
//! variable and its `_FILE` are both set; an inline value is returned
//! as is and a file's content trimmed of trailing whitespace only (and
//! refused when not UTF-8); a missing `_FILE` target is
//! `CredentialUnreadable`; no refusal names a `_FILE` path; and no
//! refusal quotes a secret: every input is run twice, the second time with
//! each secret (inline secret values, file and credential contents)
//! rotated letter by letter within its class (`rotated`: same length,
//! whitespace, UTF-8 validity and hex-ness), and the refusal messages
//! (`Display`, `parse_hex`'s on the certificate read included) must be
//! identical. This differential check has no false positives from wording
//! that happens to match a secret (three such stops of an earlier substring
//! check are the `regress-oracle-*` seeds); it cannot see a secret with no
//! ASCII letter or digit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reddb::cli::args::Flags;
use reddb::config::credentials::{Environment, Origin, IGNORED, USED};
use reddb::config::server::{Preset, ServerConfig, SWITCHES, VALUES};
use reddb::crypto::keys::Certificate;
use reddb::error::Error;
use std::path::PathBuf;

/// `bytes` with every ASCII letter and digit replaced by another of the
/// same class (hex digits stay hex digits, `g`-`z` stay there, case kept);
/// whitespace, punctuation and non-ASCII bytes unchanged. So UTF-8
/// validity, trimming, length and hex-ness are the same, and only text
/// that quotes the value can differ.
fn rotated(bytes: &[u8]) -> Vec<u8> {
    let rot = |b: u8, lo: u8, n: u8| lo + (b - lo + 1) % n;
    bytes
        .iter()
        .map(|&b| match b {
            b'0'..=b'9' => rot(b, b'0', 10),
            b'a'..=b'f' => rot(b, b'a', 6),
            b'A'..=b'F' => rot(b, b'A', 6),
            b'g'..=b'z' => rot(b, b'g', 20),
            b'G'..=b'Z' => rot(b, b'G', 20),
            _ => b,
        })
        .collect()
}

struct Scratch {
    dir: PathBuf,
    file: PathBuf,
    creds: PathBuf,
}

fn scratch() -> Scratch {
    let dir = std::env::temp_dir().join(format!("reddb-fuzz-credentials-{}", std::process::id()));
    Scratch {
        file: dir.join("secret"),
        creds: dir.join("creds"),
        dir,
    }
}

const CRED_NAMES: [&str; 4] = ["certificate", "username", "password", "admin-token"];

fn is_secret_name(name: &str) -> bool {
    let base = name.strip_suffix("_FILE").unwrap_or(name);
    USED.iter().any(|s| s.inline == base) || IGNORED.contains(&base)
}

fn run(data: &[u8], s: &Scratch, rotate: bool) -> Vec<String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut args: Vec<String> = Vec::new();
    let mut file: Option<Vec<u8>> = None;
    let mut creds: Vec<(usize, Vec<u8>)> = Vec::new();
    for line in data.split(|b| *b == b'\n').take(64) {
        if let Some(rest) = line.strip_prefix(b"file:") {
            let f = file.get_or_insert_with(Vec::new);
            if !f.is_empty() {
                f.push(b'\n');
            }
            f.extend_from_slice(rest);
        } else if let Some(rest) = line.strip_prefix(b"cred:") {
            let n = usize::from(rest.first().copied().unwrap_or(b'0')) % CRED_NAMES.len();
            creds.push((n, rest.get(2..).unwrap_or(&[]).to_vec()));
        } else if let Some(rest) = line.strip_prefix(b"arg:") {
            args.push(String::from_utf8_lossy(rest).into_owned());
        } else if let Ok(text) = std::str::from_utf8(line) {
            if let Some((k, v)) = text.split_once('=') {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
    }
    if rotate {
        for (k, v) in pairs.iter_mut() {
            if is_secret_name(k) && !k.ends_with("_FILE") {
                *v = String::from_utf8(rotated(v.as_bytes()))
                    .expect("ASCII-only changes keep UTF-8");
            }
        }
        if let Some(f) = file.as_mut() {
            *f = rotated(f);
        }
        for (_, c) in creds.iter_mut() {
            *c = rotated(c);
        }
    }
    // Substitute paths; never let a `_FILE` point anywhere else.
    for (k, v) in pairs.iter_mut() {
        let wants_path = k.ends_with("_FILE") || k == "CREDENTIALS_DIRECTORY";
        *v = match v.as_str() {
            "@file" => s.file.display().to_string(),
            "@creds" => s.creds.display().to_string(),
            "@dir" => s.dir.display().to_string(),
            other if wants_path => {
                let safe: String = other
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(64)
                    .collect();
                s.dir
                    .join("missing")
                    .join(format!("x{safe}"))
                    .display()
                    .to_string()
            }
            other => other.to_string(),
        };
    }
    if !s.creds.is_dir() {
        std::fs::create_dir_all(&s.creds).expect("create the scratch directory");
    }
    if let Some(f) = &file {
        std::fs::write(&s.file, f).expect("write the secret file");
    }
    for (n, c) in &creds {
        std::fs::write(s.creds.join(CRED_NAMES[*n]), c).expect("write a credential");
    }

    // The refusal messages, compared between this run and one with every
    // secret value rotated (see `rotated`): a message that quotes a secret
    // differs between the two, whatever the secret's length or wording.
    let messages = std::cell::RefCell::new(Vec::new());
    // Public text: the arguments, the variable names, and the values of
    // plain settings (a setting such as `RED_HTTP_BIND_ADDR=@dir` may hold
    // the same path as a `_FILE`, and quoting a setting's own value in its
    // refusal is right).
    let public: Vec<&String> = args
        .iter()
        .chain(pairs.iter().map(|(k, _)| k))
        .chain(
            pairs
                .iter()
                .filter(|(k, _)| {
                    !is_secret_name(k) && !k.ends_with("_FILE") && k != "CREDENTIALS_DIRECTORY"
                })
                .map(|(_, v)| v),
        )
        .collect();
    let paths: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k.ends_with("_FILE"))
        .map(|(_, v)| v.clone())
        .collect();
    let check = |what: &str, e: &Error| {
        let msg = e.to_string();
        // A `_FILE` path is never named either (unless it was typed as an
        // argument too, which makes it public).
        for p in &paths {
            if !public.iter().any(|x| x.contains(p.as_str())) {
                assert!(
                    !msg.contains(p.as_str()),
                    "{what} names a _FILE path: {msg}"
                );
            }
        }
        messages.borrow_mut().push(format!("{what}: {msg}"));
    };

    let env = Environment::from_pairs(pairs.clone());
    let get = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    let both = |name: &str| get(name).is_some() && get(&format!("{name}_FILE")).is_some();
    let expect_conflict = USED.iter().any(|u| both(u.inline)) || IGNORED.iter().any(|n| both(n));
    match env.check_pairs() {
        Ok(()) => assert!(!expect_conflict, "check_pairs missed a conflict"),
        Err(e) => {
            assert!(
                expect_conflict,
                "check_pairs refused without a conflict: {e}"
            );
            assert!(matches!(e, Error::ConflictingCredential(_)));
            check("check_pairs", &e);
        }
    }

    for spec in USED {
        let file_var = spec.file_var();
        match env.credential(&spec) {
            Ok(Some(c)) => match &c.origin {
                Origin::Inline => {
                    assert_eq!(Some(c.value.as_str()), get(spec.inline));
                    assert!(get(&file_var).is_none());
                }
                Origin::File(p) => {
                    assert!(get(spec.inline).is_none());
                    assert_eq!(Some(p.display().to_string().as_str()), get(&file_var));
                    assert_eq!(p, &s.file, "only the scratch file exists");
                    let raw = file.as_deref().expect("the file was written");
                    let text = std::str::from_utf8(raw).expect("accepted content is UTF-8");
                    assert_eq!(c.value.as_str(), text.trim_end(), "trimming rule");
                }
                Origin::SystemdCredential(p) => {
                    assert!(get(spec.inline).is_none() && get(&file_var).is_none());
                    assert_eq!(p, &s.creds.join(spec.credential));
                    assert!(!c.value.ends_with(char::is_whitespace));
                }
            },
            Ok(None) => {
                assert!(get(spec.inline).is_none() && get(&file_var).is_none());
            }
            Err(e) => {
                check(spec.inline, &e);
                let inline = get(spec.inline).is_some();
                match &e {
                    Error::ConflictingCredential(_) => {
                        assert!(inline && get(&file_var).is_some())
                    }
                    Error::CredentialUnreadable { .. } => assert!(!inline),
                    other => panic!("unexpected refusal {other:?}"),
                }
            }
        }
        if spec.inline == "REDDB_CERTIFICATE" {
            if let Ok(Some(c)) = env.credential(&spec) {
                if let Err(e) = Certificate::parse_hex(&c.value) {
                    assert!(matches!(e, Error::MalformedCertificate(_)));
                    check("parse_hex", &e);
                }
            }
        }
    }

    match Preset::from_env(&env) {
        Ok(p) => assert!(Preset::parse(p.as_str()).is_ok_and(|q| q == p)),
        Err(e) => check("preset", &e),
    }
    match Flags::parse(&args, &VALUES, &SWITCHES) {
        Err(e) => check("flags", &e),
        Ok(flags) => match ServerConfig::resolve(&flags, &env) {
            Err(e) => check("resolve", &e),
            Ok(c) => {
                let strict = c.preset != Preset::Simple;
                assert!(!(c.dev && strict), "--dev with a strict preset");
                assert_eq!(c.audit_required, c.preset == Preset::Regulated);
                assert_eq!(
                    c.min_password_len,
                    if c.preset == Preset::Regulated { 12 } else { 8 }
                );
                assert!(c.vault || !strict);
                assert!(c.require_mlock || !strict);
                let no_auth = flags.on("no-auth")
                    || matches!(env.setting("REDDB_NO_AUTH"), Some("true" | "1" | "yes"));
                if no_auth {
                    assert!(!c.require_auth);
                }
                assert!(
                    (1..=reddb::config::server::MAX_MAX_CONNECTIONS).contains(&c.max_connections)
                );
                assert!(c.workers.is_none_or(|w| (1..=64).contains(&w)));
            }
        },
    }
    messages.into_inner()
}

fn clean(s: &Scratch) {
    // Remove what an input wrote; the empty directories stay for the next.
    let _ = std::fs::remove_file(&s.file);
    for name in CRED_NAMES {
        let _ = std::fs::remove_file(s.creds.join(name));
    }
}

fuzz_target!(|data: &[u8]| {
    let s = scratch();
    let plain = run(data, &s, false);
    clean(&s);
    let other = run(data, &s, true);
    clean(&s);
    assert_eq!(
        plain, other,
        "a refusal depends on a secret's text: it quotes it"
    );
});
