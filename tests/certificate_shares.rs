//! `red certificate split` / `red certificate combine` with the real binary
//! (issue 14 item 3): any K of N shares give back the certificate that
//! unseals a real bootstrapped file; every refusal has its own stable exit
//! code (28 a share refused, 29 too few shares, 10 not this file's
//! certificate, 2 bad counts, 13 no certificate) and each test below would
//! pass a wrong certificate with exit 0, or the wrong code, if its check
//! were removed; no output ever carries the certificate except combine's
//! one `certificate:` line, and no refusal quotes a share.
//!
//! Failure messages never print a secret: outputs go through
//! [`harness::secrets::redact`].

mod harness;

use harness::cli::{self, red, BootstrappedDir, Cmd, Output};
use harness::secrets::{longest_hex_run, redact};
use reddb::crypto::keys::Certificate;
use reddb::crypto::shares::{split_with_coefficients, SHARE_TEXT_LEN};
use std::path::Path;
use std::sync::OnceLock;

const PASSWORD: &str = "change-me-now";

const SHARE_REFUSED: i32 = 28;
const SHARES_INSUFFICIENT: i32 = 29;
const WRONG_CERTIFICATE: i32 = 10;
const USAGE: i32 = 2;
const MISSING_CERTIFICATE: i32 = 13;

/// Two bootstrapped files shared by the tests (bootstrap costs two Argon2
/// runs; the tests only read them).
fn boots() -> &'static (BootstrappedDir, BootstrappedDir) {
    static BOOTS: OnceLock<(BootstrappedDir, BootstrappedDir)> = OnceLock::new();
    BOOTS.get_or_init(|| {
        (
            cli::bootstrap_in_tmp("admin", PASSWORD),
            cli::bootstrap_in_tmp("admin", PASSWORD),
        )
    })
}

/// `red certificate split --shares N --threshold K`.
fn split_cmd(n: &str, k: &str) -> Cmd {
    red(&["certificate", "split", "--shares", n, "--threshold", k])
}

/// `red certificate split` of 3 shares with `env`, refused with `code` and
/// nothing on stdout.
fn split_refused(env: &[(&str, &str)], code: i32) -> Output {
    let r = split_cmd("3", "2").envs(env).run();
    assert_eq!(r.code, code, "{}", redact(&r.stderr, &[]));
    assert_eq!(r.stdout, "");
    r
}

/// `red certificate split` with the certificate inline; returns the share
/// texts (without their `share: ` label) after checking the output shape.
fn split(cert: &str, n: usize, k: usize) -> Vec<String> {
    let r = split_cmd(&n.to_string(), &k.to_string())
        .env("REDDB_CERTIFICATE", cert)
        .run();
    assert_eq!(r.code, 0, "split failed: {}", redact(&r.stderr, &[]));
    assert_eq!(r.stderr, "", "split wrote to stderr");
    assert!(!r.stdout.contains(cert), "split printed the certificate");
    let shares: Vec<String> = r
        .stdout
        .lines()
        .map(|l| {
            l.strip_prefix("share: ")
                .unwrap_or_else(|| panic!("not a share line: {}", redact(l, &[])))
                .to_string()
        })
        .collect();
    assert_eq!(shares.len(), n);
    for s in &shares {
        assert_eq!(s.len(), SHARE_TEXT_LEN);
    }
    shares
}

/// Runs combine on `lines` (joined by newlines) with optional `--path`.
fn combine(lines: &[&str], path: Option<&str>) -> Output {
    let mut input = lines.join("\n");
    input.push('\n');
    combine_bytes(input.as_bytes(), path)
}

fn combine_bytes(input: &[u8], path: Option<&str>) -> Output {
    let mut args = vec!["certificate", "combine"];
    if let Some(p) = path {
        args.extend(["--path", p]);
    }
    red(&args).stdin(input).run()
}

/// A refused combine: the expected code, nothing on stdout, one stderr line
/// that quotes neither a share nor the certificate.
fn assert_refused(r: &Output, code: i32, mentions: &str, shares: &[String], cert: &str) {
    assert_eq!(
        r.code,
        code,
        "stdout: {} stderr: {}",
        redact(&r.stdout, &[]),
        redact(&r.stderr, &[])
    );
    assert_eq!(r.stdout, "", "a refused combine printed something");
    assert_eq!(r.stderr.lines().count(), 1, "{}", redact(&r.stderr, &[]));
    assert!(
        r.stderr.contains(mentions),
        "stderr does not say '{mentions}': {}",
        redact(&r.stderr, &[])
    );
    assert!(!r.stderr.contains(cert));
    for s in shares {
        assert!(!r.stderr.contains(&s[35..51]), "stderr quotes a share");
    }
    assert!(
        longest_hex_run(r.stderr.as_bytes()) < 16,
        "{}",
        redact(&r.stderr, &[])
    );
}

/// A successful combine: exactly the one line `certificate: <cert>`.
fn assert_combined(r: &Output, cert: &str) {
    assert_eq!(r.code, 0, "combine failed: {}", redact(&r.stderr, &[]));
    assert_eq!(r.stdout, format!("certificate: {cert}\n"), "wrong output");
    assert_eq!(r.stderr, "");
}

/// Every 3-subset of 0..5, in an order that varies from subset to subset.
fn three_of_five() -> Vec<[usize; 3]> {
    let mut out = Vec::new();
    for a in 0..5 {
        for b in a + 1..5 {
            for c in b + 1..5 {
                out.push(match out.len() % 3 {
                    0 => [a, b, c],
                    1 => [c, a, b],
                    _ => [b, c, a],
                });
            }
        }
    }
    out
}

#[test]
fn any_three_of_five_shares_give_the_certificate_that_unseals_the_file() {
    let (boot, _) = boots();
    let shares = split(&boot.certificate, 5, 3);
    let subsets = three_of_five();
    assert_eq!(subsets.len(), 10);
    for subset in subsets {
        let lines: Vec<&str> = subset.iter().map(|&i| shares[i].as_str()).collect();
        assert_combined(&combine(&lines, Some(boot.path())), &boot.certificate);
    }
    // The combined certificate, taken from combine's output, unseals the
    // file: `red check` replays it.
    let r = combine(&[&shares[4], &shares[0], &shares[2]], None);
    assert_combined(&r, &boot.certificate);
    let combined = r.stdout.trim_end().strip_prefix("certificate: ").unwrap();
    let check = red(&["check", "--path", boot.path()])
        .envs(&[("REDDB_CERTIFICATE", combined)])
        .run();
    assert_eq!(
        check.code,
        0,
        "check failed: {}",
        redact(&check.stderr, &[])
    );
    assert!(check.stdout.starts_with("ok: "));
}

#[test]
fn split_reads_the_certificate_from_every_source() {
    let (boot, _) = boots();
    let dir = harness::tmp();
    let file = dir.path().join("certificate");
    std::fs::write(&file, format!("{}\n", boot.certificate)).unwrap();
    let file = file.to_str().unwrap();
    let dir_path = dir.path().to_str().unwrap();
    for env in [
        vec![("REDDB_CERTIFICATE_FILE", file)],
        vec![("CREDENTIALS_DIRECTORY", dir_path)],
    ] {
        let r = red(&["certificate", "split", "--shares", "2", "--threshold=2"])
            .envs(&env)
            .run();
        assert_eq!(r.code, 0, "{}", redact(&r.stderr, &[]));
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(!r.stdout.contains(&boot.certificate));
        assert_combined(&combine(&lines, Some(boot.path())), &boot.certificate);
    }
    // The pair rule holds for split as for every command.
    split_refused(
        &[
            ("REDDB_CERTIFICATE", &boot.certificate),
            ("REDDB_CERTIFICATE_FILE", file),
        ],
        12,
    );
}

#[test]
fn fewer_than_k_shares_exit_29() {
    let (boot, _) = boots();
    let shares = split(&boot.certificate, 5, 3);
    let insufficient = |r: &Output, says: &str| {
        assert_refused(r, SHARES_INSUFFICIENT, says, &shares, &boot.certificate)
    };
    for pair in [[0, 1], [4, 2], [3, 0]] {
        let r = combine(&[&shares[pair[0]], &shares[pair[1]]], None);
        insufficient(&r, "2 given, 3 needed");
    }
    // A share given twice counts once.
    let r = combine(&[&shares[1], &shares[3], &shares[1]], Some(boot.path()));
    insufficient(&r, "2 given, 3 needed");
    // Nothing at all.
    insufficient(&combine_bytes(b"\n  \n", None), "no certificate share");
}

#[test]
fn shares_of_two_splits_exit_28() {
    let (boot, other) = boots();
    let a = split(&boot.certificate, 3, 2);
    let same_cert = split(&boot.certificate, 3, 2);
    let other_cert = split(&other.certificate, 3, 2);
    let all: Vec<String> = a
        .iter()
        .chain(&same_cert)
        .chain(&other_cert)
        .cloned()
        .collect();
    for mixed in [[&a[0], &same_cert[1]], [&a[2], &other_cert[0]]] {
        let r = combine(&[mixed[0], mixed[1]], None);
        assert_refused(
            &r,
            SHARE_REFUSED,
            "line 2: the share belongs to another set",
            &all,
            &boot.certificate,
        );
    }
    // Enough of one set and a stray share of another: still refused.
    let r = combine(&[&a[0], &a[1], &other_cert[2]], None);
    assert_refused(&r, SHARE_REFUSED, "line 3", &all, &boot.certificate);
}

#[test]
fn a_mistyped_share_exit_28() {
    let (boot, _) = boots();
    let shares = split(&boot.certificate, 3, 2);
    let good = &shares[1];
    let flip = |at: usize| {
        let mut b = good.clone().into_bytes();
        b[at] = if b[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).unwrap()
    };
    let swapped = {
        // Two neighbouring characters that differ, in the value.
        let at = (40..98)
            .find(|&i| good.as_bytes()[i] != good.as_bytes()[i + 1])
            .unwrap();
        let mut b = good.clone().into_bytes();
        b.swap(at, at + 1);
        String::from_utf8(b).unwrap()
    };
    let mistyped = [
        (flip(50), "checksum does not match"),  // in the value
        (flip(12), "checksum does not match"),  // in the set id
        (flip(33), "checksum does not match"),  // in the index
        (flip(110), "checksum does not match"), // in the checksum
        (swapped, "checksum does not match"),   // a transposition
        (
            format!("{}{}", &good[..60], &good[61..]),
            "not 116 characters",
        ), // a deletion
        (good.to_uppercase(), "does not start with 'rdbshare'"),
    ];
    for (bad, why) in &mistyped {
        let r = combine(&[&shares[0], bad], Some(boot.path()));
        assert_refused(&r, SHARE_REFUSED, "line 2: ", &shares, &boot.certificate);
        assert!(r.stderr.contains(why), "{}", redact(&r.stderr, &[]));
    }
    // Not a share at all, and input that is not UTF-8.
    let r = combine(&[&shares[0], "certificate: 0123"], None);
    assert_refused(
        &r,
        SHARE_REFUSED,
        "line 2: malformed share",
        &shares,
        &boot.certificate,
    );
    let r = combine_bytes(b"\xff\xfe\n", None);
    assert_refused(&r, SHARE_REFUSED, "not UTF-8", &shares, &boot.certificate);
}

/// Two "splits" with the same set id but different polynomials (only a
/// forger, or a broken random source, makes them): the same index with
/// another value is refused instead of combined.
#[test]
fn the_same_index_with_another_value_exit_28() {
    let (boot, _) = boots();
    let cert = Certificate::parse_hex(&boot.certificate).unwrap();
    let a = split_with_coefficients(&cert, 3, 2, [7; 8], &[1; 32]).unwrap();
    let b = split_with_coefficients(&cert, 3, 2, [7; 8], &[2; 32]).unwrap();
    let all: Vec<String> = a.iter().chain(&b).map(|s| s.to_string()).collect();
    let r = combine(&[&a[0], &b[0], &a[1]], None);
    assert_refused(
        &r,
        SHARE_REFUSED,
        "line 2: two different shares carry the same index",
        &all,
        &boot.certificate,
    );
    // The honest shares of either combine.
    assert_combined(&combine(&[&a[0], &a[2]], None), &boot.certificate);
    assert_combined(
        &combine(&[&b[1], &b[0]], Some(boot.path())),
        &boot.certificate,
    );
}

#[test]
fn combine_with_path_of_another_file_exits_10_and_leaves_it_unchanged() {
    let (boot, other) = boots();
    let shares = split(&boot.certificate, 3, 2);
    let before = std::fs::read(&other.db).unwrap();
    let r = combine(&[&shares[0], &shares[2]], Some(other.path()));
    assert_refused(
        &r,
        WRONG_CERTIFICATE,
        "wrong certificate",
        &shares,
        &boot.certificate,
    );
    assert_eq!(
        std::fs::read(&other.db).unwrap(),
        before,
        "the file changed"
    );
    assert_combined(
        &combine(&[&shares[0], &shares[2]], Some(boot.path())),
        &boot.certificate,
    );

    // A fresh (not bootstrapped) file has no certificate to match: 18.
    let dir = harness::tmp();
    let fresh = dir.path().join("fresh.rdb");
    make_fresh_file(&fresh);
    let r = combine(&[&shares[0], &shares[2]], Some(fresh.to_str().unwrap()));
    assert_refused(&r, 18, "not bootstrapped", &shares, &boot.certificate);
    // A file that does not exist: 20, before stdin is read.
    let missing = dir.path().join("nothing.rdb");
    let r = combine(&[&shares[0], &shares[2]], Some(missing.to_str().unwrap()));
    assert_refused(&r, 20, "does not exist", &shares, &boot.certificate);
}

/// A fresh database file, as `red server` or `red bootstrap` create one
/// before anything is written into it.
fn make_fresh_file(path: &Path) {
    let pager = reddb::database::open_pager(path, true).expect("create a fresh file");
    assert!(!pager.header().bootstrapped);
}

#[test]
fn split_with_bad_counts_is_a_usage_error() {
    let (boot, _) = boots();
    let cases: [&[&str]; 11] = [
        &["--shares", "1", "--threshold", "1"],
        &["--shares", "0", "--threshold", "0"],
        &["--shares", "3", "--threshold", "4"],
        &["--shares", "256", "--threshold", "2"],
        &["--shares", "5", "--threshold", "256"],
        &["--shares", "5", "--threshold", "1"],
        &["--shares", "five", "--threshold", "2"],
        &["--shares", "-3", "--threshold", "2"],
        &["--shares", "5"],
        &["--threshold", "2"],
        &["--shares", "5", "--threshold", "2", "--vault"],
    ];
    for flags in cases {
        let mut args = vec!["certificate", "split"];
        args.extend_from_slice(flags);
        let r = red(&args)
            .envs(&[("REDDB_CERTIFICATE", &boot.certificate)])
            .run();
        assert_eq!(r.code, USAGE, "{flags:?}: {}", redact(&r.stderr, &[]));
        assert_eq!(r.stdout, "", "{flags:?} printed shares");
        assert!(
            r.stderr.starts_with("red: usage: "),
            "{}",
            redact(&r.stderr, &[])
        );
        assert!(!r.stderr.contains(&boot.certificate));
    }
    // The edges that are allowed.
    for (n, k) in [("2", "2"), ("255", "255"), ("255", "2")] {
        let r = split_cmd(n, k)
            .envs(&[("REDDB_CERTIFICATE", &boot.certificate)])
            .run();
        assert_eq!(r.code, 0, "{n}/{k}: {}", redact(&r.stderr, &[]));
        assert_eq!(r.stdout.lines().count(), n.parse::<usize>().unwrap());
    }
    for args in [&["certificate"][..], &["certificate", "rotate"]] {
        let r = red(args)
            .envs(&[("REDDB_CERTIFICATE", &boot.certificate)])
            .run();
        assert_eq!(r.code, USAGE, "{args:?}");
    }
}

#[test]
fn split_without_a_certificate_exits_13_and_a_malformed_one_11() {
    let r = split_refused(&[], MISSING_CERTIFICATE);
    assert!(r.stderr.contains("missing certificate"));
    split_refused(&[("REDDB_CERTIFICATE", "0123")], 11);
}

#[test]
fn combine_bounds_its_input_and_ignores_labels_and_blank_lines() {
    let (boot, _) = boots();
    let shares = split(&boot.certificate, 4, 2);
    // Bare texts, labels, indentation, CRLF and blank lines.
    let input = format!("\n  share: {}\r\n\n\t{}  \n\n", shares[3], shares[1]);
    assert_combined(
        &combine_bytes(input.as_bytes(), Some(boot.path())),
        &boot.certificate,
    );
    // More than 64 KiB: refused as invalid input (22), nothing combined.
    let mut big = format!("{}\n{}\n", shares[0], shares[2]).into_bytes();
    big.resize(64 * 1024 + 1, b'\n');
    let r = combine_bytes(&big, None);
    assert_refused(&r, 22, "larger than 64 KiB", &shares, &boot.certificate);
    big.truncate(64 * 1024);
    assert_combined(&combine_bytes(&big, None), &boot.certificate);
}

#[test]
fn help_names_both_actions_and_the_exit_codes() {
    for args in [
        &["help", "certificate"][..],
        &["certificate", "--help"],
        &["certificate", "split", "--help"],
    ] {
        let r = red(args).run();
        assert_eq!(r.code, 0);
        for word in [
            "certificate split --shares N --threshold K",
            "certificate combine [--path FILE]",
            "28",
            "29",
        ] {
            assert!(r.stdout.contains(word), "{args:?} help lacks {word}");
        }
    }
    let r = red(&["help"]).run();
    assert!(r.stdout.contains("red certificate split"));
    assert!(r.stdout.contains("red certificate combine"));
}
