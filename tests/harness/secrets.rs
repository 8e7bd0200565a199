//! Secrets in text: finding them in what the binary printed or wrote
//! ([`longest_hex_run`], [`contains`]) and keeping them out of failure
//! messages ([`redact`]).

/// Whether `needle` occurs in `hay` (an empty needle never does).
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Whether `s` is exactly `len` lowercase hex digits (the shape of a
/// certificate, or of an API key's random part).
pub fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Length of the longest run of ASCII hex digits in `text` (a certificate,
/// key or token is 32+ hex digits: output with such a run may quote one).
pub fn longest_hex_run(text: &[u8]) -> usize {
    let (mut best, mut cur) = (0, 0);
    for b in text {
        if b.is_ascii_hexdigit() {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// `text` safe to show in a failure message: every given secret and every
/// run of 16+ hex digits is replaced.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut s = text.to_string();
    for secret in secrets.iter().filter(|x| !x.is_empty()) {
        s = s.replace(secret, "[SECRET]");
    }
    let mut out = String::new();
    let mut run = String::new();
    for c in s.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() >= 16 { "[HEX]" } else { &run });
        run.clear();
        out.push(c);
    }
    out.push_str(if run.len() >= 16 { "[HEX]" } else { &run });
    out
}
