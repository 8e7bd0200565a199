//! Certificate shares: `crypto::shares::parse_share` on every line of the
//! input, each accepted share added to one `ShareCollector`, then
//! `combine` — the path of `red certificate combine` and `POST /sys/unseal`.
//!
//! Input: one mode byte, then text (lossily UTF-8), one share per line.
//! Mode bit 0 set: before parsing, a line with the shape of a share (after
//! whitespace and an optional `share:` label: 116 characters, the fixed
//! separators, lowercase hex fields) gets its checksum recomputed by this
//! target from `docs/FORMAT.md` §16, independently of the library. Random
//! text never carries a valid 64-bit checksum, so without that repair the
//! collector and combine would only ever see the seeds' shares.
//!
//! Checked: never panics; a parse refusal is `Malformed` or `Checksum`
//! (or `SecureMemory`) and its message contains no run of 16 or more hex
//! digits (it cannot quote a share); an accepted share has a threshold of
//! at least 2 and an index of at least 1, its fields are the ones in the
//! text, and `to_text()` gives back the text exactly (the format is
//! canonical); a repaired line is accepted exactly when its threshold is
//! at least 2 and its index at least 1 (so the library's checksum is the
//! documented one); `add` refuses only with `OtherSet` or `Duplicate`, and
//! then the collector is empty; progress never counts past the distinct
//! indexes given; `combine` refuses exactly below the threshold
//! (`NotEnough` with the collector's own counts) or, with more than K
//! shares, as `Inconsistent`; with exactly K it succeeds, and the same
//! shares added in reverse order rebuild the same certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reddb::crypto::shares::{parse_share, ShareCollector, ShareError, SHARE_TEXT_LEN};
use sha2::{Digest, Sha256};

/// Lines looked at per input (a set has at most 255 shares).
const MAX_LINES: usize = 300;

fn longest_hex_run(s: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for b in s.bytes() {
        run = if b.is_ascii_hexdigit() { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// The share text inside `line`: without surrounding whitespace and an
/// optional `share:` label (what `parse_share` reads).
fn canonical(line: &str) -> &str {
    let t = line.trim();
    match t.strip_prefix("share:") {
        Some(rest) => rest.trim_start(),
        None => t,
    }
}

/// The decoded fields of a text of the share shape with any checksum:
/// (set id, K, x, y). `None` unless every fixed character is in place and
/// every field is lowercase hex. Written from `docs/FORMAT.md` §16.
fn fields(text: &str) -> Option<([u8; 8], u8, u8, [u8; 32])> {
    let b = text.as_bytes();
    if b.len() != SHARE_TEXT_LEN || !text.starts_with("rdbshare1-") {
        return None;
    }
    for (at, c) in [
        (26, b'-'),
        (27, b'k'),
        (30, b'-'),
        (31, b'x'),
        (34, b'-'),
        (99, b'-'),
    ] {
        if b[at] != c {
            return None;
        }
    }
    let lower_hex = |r: std::ops::Range<usize>| {
        b[r.clone()]
            .iter()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
            .then(|| &text[r])
    };
    let mut set_id = [0u8; 8];
    let mut y = [0u8; 32];
    hex::decode_to_slice(lower_hex(10..26)?, &mut set_id).ok()?;
    let k = u8::from_str_radix(lower_hex(28..30)?, 16).ok()?;
    let x = u8::from_str_radix(lower_hex(32..34)?, 16).ok()?;
    hex::decode_to_slice(lower_hex(35..99)?, &mut y).ok()?;
    lower_hex(100..116)?;
    Some((set_id, k, x, y))
}

fn checksum(set_id: &[u8; 8], k: u8, x: u8, y: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"reddb-share-check-v1");
    h.update([1u8]);
    h.update(set_id);
    h.update([k, x]);
    h.update(y);
    hex::encode(&h.finalize()[..8])
}

/// `line`'s share with its checksum recomputed, if it has the shape.
fn repaired(line: &str) -> Option<String> {
    let text = canonical(line);
    let (set_id, k, x, y) = fields(text)?;
    Some(format!("{}{}", &text[..100], checksum(&set_id, k, x, &y)))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let repair = mode & 1 == 1;
    let text = String::from_utf8_lossy(rest);
    let mut collector = ShareCollector::new();
    // Texts of the shares the collector holds, in the order added.
    let mut held: Vec<String> = Vec::new();
    for line in text.lines().take(MAX_LINES) {
        let fixed = if repair { repaired(line) } else { None };
        let line = fixed.as_deref().unwrap_or(line);
        let share = match parse_share(line) {
            Ok(share) => share,
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        ShareError::Malformed(_) | ShareError::Checksum | ShareError::SecureMemory
                    ),
                    "parse refused with {e:?}"
                );
                let msg = e.to_string();
                assert!(longest_hex_run(&msg) < 16, "refusal quotes hex: {msg}");
                if let Some(repaired) = &fixed {
                    let (_, k, x, _) = fields(repaired).expect("a repaired line has the shape");
                    assert!(
                        k < 2 || x == 0 || matches!(e, ShareError::SecureMemory),
                        "a share with a recomputed checksum was refused: {e:?}"
                    );
                }
                continue;
            }
        };
        let text = canonical(line);
        let (set_id, k, x, _) = fields(text).expect("an accepted share has the shape");
        assert!(share.threshold() >= 2 && share.index() >= 1);
        assert_eq!(
            (share.set_id(), share.threshold(), share.index()),
            (set_id, k, x)
        );
        assert_eq!(share.to_text().as_str(), text, "not canonical");
        let before = collector.progress();
        let same_index_held = held.iter().any(|h| fields(h).map(|f| f.2) == Some(x));
        match collector.add(share) {
            Ok(progress) => {
                assert_eq!((progress.set_id, progress.threshold), (set_id, k));
                let had = before.map_or(0, |p| p.have);
                if same_index_held {
                    assert_eq!(progress.have, had, "a repeated share was counted");
                } else {
                    assert_eq!(progress.have, had + 1);
                    held.push(text.to_string());
                }
            }
            Err(e) => {
                assert!(
                    matches!(e, ShareError::OtherSet | ShareError::Duplicate),
                    "add refused with {e:?}"
                );
                if matches!(e, ShareError::OtherSet) {
                    let p = before.expect("OtherSet with nothing held");
                    assert!(p.set_id != set_id || p.threshold != k);
                } else {
                    assert!(same_index_held, "Duplicate for a new index");
                }
                assert_eq!(collector.progress(), None, "not cleared after {e:?}");
                held.clear();
            }
        }
    }
    let Some(progress) = collector.progress() else {
        assert_eq!(
            collector.combine().err(),
            Some(ShareError::NotEnough { have: 0, need: 0 })
        );
        return;
    };
    assert_eq!(usize::from(progress.have), held.len());
    match collector.combine() {
        Ok(cert) => {
            assert!(progress.have >= progress.threshold);
            // The same shares in reverse order give the same certificate.
            let mut reversed = ShareCollector::new();
            for t in held.iter().rev() {
                reversed
                    .add(parse_share(t).expect("held share parses"))
                    .expect("held share adds");
            }
            let again = reversed.combine().expect("the reversed set combines");
            assert_eq!(
                cert.to_hex_for_operator().as_str(),
                again.to_hex_for_operator().as_str(),
                "the order of the shares changed the certificate"
            );
        }
        Err(ShareError::NotEnough { have, need }) => {
            assert_eq!((have, need), (progress.have, progress.threshold));
            assert!(have < need);
        }
        Err(ShareError::Inconsistent) => assert!(progress.have > progress.threshold),
        Err(e) => panic!("combine refused with {e:?}"),
    }
});
