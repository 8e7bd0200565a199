//! `Certificate::parse_hex` on arbitrary UTF-8: never panics, accepts
//! exactly "64 hex digits, optionally surrounded by whitespace", and its
//! error text never quotes the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reddb::crypto::keys::Certificate;
use reddb::Error;

/// Longest run of consecutive ASCII hex digits in `s`.
fn longest_hex_run(s: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for b in s.bytes() {
        run = if b.is_ascii_hexdigit() { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let trimmed = text.trim();
    match Certificate::parse_hex(text) {
        Ok(cert) => {
            assert_eq!(trimmed.len(), 64);
            assert!(trimmed.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(cert.to_hex_for_operator().as_str(), trimmed.to_ascii_lowercase());
        }
        Err(e) => {
            assert!(matches!(e, Error::MalformedCertificate(_)), "unexpected error kind: {e:?}");
            assert!(
                !(trimmed.len() == 64 && trimmed.bytes().all(|b| b.is_ascii_hexdigit())),
                "refused a well-formed certificate"
            );
            // The message is static text: no run of 16+ hex digits, so no
            // piece of a certificate can appear in it.
            let msg = e.to_string();
            assert!(longest_hex_run(&msg) < 16, "error text quotes hex: {msg}");
        }
    }
});
