//! Tests of certificate shares: the field against published vectors and an
//! independent table-based reference, Shamir against a naive reference
//! implementation, the text format against a hand-derived vector, and the
//! properties of issue 14 (any K of N rebuild, fewer fail, sets never mix, a
//! single mistyped character is refused, K−1 shares are consistent with every
//! certificate).

use super::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// An independent reference: GF(2⁸) by log/exp tables built the textbook way
// (powers of the generator 0x03 by "xtime and add"), as in HashiCorp
// Vault's `shamir/tables.go` (which uses generator 0xe5 of the same field).
// Table lookups are fine here: this is test code on test data.

struct Reference {
    exp: [u8; 255],
    log: [u8; 256],
}

impl Reference {
    fn new() -> Self {
        let mut exp = [0u8; 255];
        let mut log = [0u8; 256];
        let mut value = 1u8;
        for (power, slot) in exp.iter_mut().enumerate() {
            *slot = value;
            log[value as usize] = power as u8;
            // value * 3 = value * 2 + value, with xtime reducing by 0x11b.
            let doubled = if value & 0x80 != 0 {
                (value << 1) ^ 0x1b
            } else {
                value << 1
            };
            value ^= doubled;
        }
        assert_eq!(value, 1, "0x03 generates the multiplicative group");
        Self { exp, log }
    }

    fn mul(&self, a: u8, b: u8) -> u8 {
        if a == 0 || b == 0 {
            return 0;
        }
        let sum = (self.log[a as usize] as usize + self.log[b as usize] as usize) % 255;
        self.exp[sum]
    }

    fn div(&self, a: u8, b: u8) -> u8 {
        assert_ne!(b, 0, "division by zero in the reference");
        if a == 0 {
            return 0;
        }
        let diff = (255 + self.log[a as usize] as usize - self.log[b as usize] as usize) % 255;
        self.exp[diff]
    }

    fn pow(&self, a: u8, e: usize) -> u8 {
        (0..e).fold(1u8, |acc, _| self.mul(acc, a))
    }

    /// Σ coefficients[j] · x^j, term by term (no Horner).
    fn evaluate(&self, coefficients: &[u8], x: u8) -> u8 {
        coefficients
            .iter()
            .enumerate()
            .fold(0u8, |acc, (j, &c)| acc ^ self.mul(c, self.pow(x, j)))
    }

    /// Lagrange interpolation at 0, the way Vault's `interpolatePolynomial`
    /// does it (division by table).
    fn at_zero(&self, xs: &[u8], ys: &[u8]) -> u8 {
        let mut result = 0u8;
        for (i, (&xi, &yi)) in xs.iter().zip(ys).enumerate() {
            let mut basis = 1u8;
            for (j, &xj) in xs.iter().enumerate() {
                if i != j {
                    basis = self.mul(basis, self.div(xj, xi ^ xj));
                }
            }
            result ^= self.mul(yi, basis);
        }
        result
    }
}

fn cert_of(bytes: &[u8; 32]) -> Certificate {
    Certificate::parse_hex(&hex::encode(bytes)).unwrap()
}

fn hex_of(cert: &Certificate) -> String {
    cert.to_hex_for_operator().as_str().to_string()
}

/// Why `collector` refuses to combine (`Certificate` has no `Debug`).
fn refusal(collector: &ShareCollector) -> ShareError {
    match collector.combine() {
        Ok(_) => panic!("combine succeeded"),
        Err(e) => e,
    }
}

fn parse(text: &str) -> Share {
    parse_share(text).unwrap()
}

/// Simple deterministic bytes for test inputs.
fn bytes_from(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The field.

/// FIPS-197 (AES), §4.2 and §4.2.1: `{57} • {83} = {c1}`; `{57} • {02} =
/// {ae}`, `{57} • {04} = {47}`, `{57} • {08} = {8e}`, `{57} • {10} = {07}`,
/// hence `{57} • {13} = {fe}`.
#[test]
fn multiplication_matches_fips_197_examples() {
    assert_eq!(gf_mul(0x57, 0x83), 0xc1);
    assert_eq!(gf_mul(0x57, 0x02), 0xae);
    assert_eq!(gf_mul(0x57, 0x04), 0x47);
    assert_eq!(gf_mul(0x57, 0x08), 0x8e);
    assert_eq!(gf_mul(0x57, 0x10), 0x07);
    assert_eq!(gf_mul(0x57, 0x13), 0xfe);
    assert_eq!(gf_mul(0x83, 0x57), 0xc1, "commutes");
}

/// The multiplicative inverse pair of Rijndael's field quoted in the
/// literature (e.g. Wikipedia, "Finite field arithmetic", Rijndael's
/// field): `{53} • {ca} = {01}`.
#[test]
fn inverse_matches_the_rijndael_example() {
    assert_eq!(gf_mul(0x53, 0xca), 0x01);
    assert_eq!(gf_inv(0x53), 0xca);
    assert_eq!(gf_inv(0xca), 0x53);
    assert_eq!(gf_inv(0x01), 0x01);
    assert_eq!(gf_inv(0x00), 0x00, "0 maps to 0 by convention");
}

/// HashiCorp Vault, `shamir/shamir_test.go` (`TestField_Add`,
/// `TestField_Mult`, `TestField_Divide`): add(16,16)=0, add(3,4)=7,
/// mult(3,7)=9, mult(3,0)=mult(0,3)=0, div(0,7)=0, div(3,3)=1, div(6,3)=2.
#[test]
fn field_matches_vault_shamir_tests() {
    assert_eq!(16u8 ^ 16, 0);
    assert_eq!(3u8 ^ 4, 7);
    assert_eq!(gf_mul(3, 7), 9);
    assert_eq!(gf_mul(3, 0), 0);
    assert_eq!(gf_mul(0, 3), 0);
    let div = |a: u8, b: u8| gf_mul(a, gf_inv(b));
    assert_eq!(div(0, 7), 0);
    assert_eq!(div(3, 3), 1);
    assert_eq!(div(6, 3), 2);
}

/// The published exp/log tables of the same field with generator 0xe5
/// (www.samiam.org/galois.html, as copied into HashiCorp Vault's
/// `shamir/tables.go`): the first 16 powers of 0xe5, and two logarithms
/// (log 0x02 = 0xc8, log 0xff = 0x38 read from `logTable`).
#[test]
fn powers_of_e5_match_the_published_table() {
    let expected: [u8; 16] = [
        0x01, 0xe5, 0x4c, 0xb5, 0xfb, 0x9f, 0xfc, 0x12, 0x03, 0x34, 0xd4, 0xc4, 0x16, 0xba, 0x1f,
        0x36,
    ];
    let mut power = 1u8;
    for (e, want) in expected.iter().enumerate() {
        assert_eq!(power, *want, "0xe5^{e}");
        power = gf_mul(power, 0xe5);
    }
    let pow = |e: usize| (0..e).fold(1u8, |acc, _| gf_mul(acc, 0xe5));
    assert_eq!(pow(0xc8), 0x02);
    assert_eq!(pow(0x38), 0xff);
    assert_eq!(pow(255), 0x01);
}

/// Every product and every inverse against the table-based reference.
#[test]
fn multiplication_and_inverse_match_the_reference_exhaustively() {
    let r = Reference::new();
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            assert_eq!(gf_mul(a, b), r.mul(a, b), "{a:#04x} * {b:#04x}");
        }
        if a != 0 {
            assert_eq!(gf_inv(a), r.div(1, a), "inverse of {a:#04x}");
            assert_eq!(gf_mul(a, gf_inv(a)), 1);
        }
    }
}

#[test]
fn hex_helpers_agree_with_the_hex_crate_on_every_byte() {
    for b in 0..=255u8 {
        let mut mine = String::new();
        push_hex(&mut mine, &[b]);
        assert_eq!(mine, hex::encode([b]));
        let (value, valid) = hex_value(b);
        match b {
            b'0'..=b'9' => assert_eq!((value, valid), (b - b'0', 0xff)),
            b'a'..=b'f' => assert_eq!((value, valid), (b - b'a' + 10, 0xff)),
            _ => assert_eq!(valid, 0, "{b:#04x} accepted as a hex digit"),
        }
    }
}

// ---------------------------------------------------------------------------
// Shamir against the reference, and a hand-derived text vector.

/// A fixed certificate and fixed coefficients, split by the library and by
/// the naive reference: the same y for every index, and the reference
/// interpolation of any K library shares gives the certificate back.
#[test]
fn split_matches_the_reference_implementation() {
    let r = Reference::new();
    let cert_bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
    let cert = cert_of(&cert_bytes);
    for (k, n) in [(2u8, 2u8), (2, 5), (3, 5), (5, 9), (7, 7)] {
        let coefficients = bytes_from(u64::from(k) * 1000 + u64::from(n), (k as usize - 1) * 32);
        let texts =
            split_with_coefficients(&cert, n, k, [k, n, 0, 0, 0, 0, 0, 1], &coefficients).unwrap();
        assert_eq!(texts.len(), n as usize);
        let shares: Vec<Share> = texts.iter().map(|t| parse(t)).collect();
        for (i, share) in shares.iter().enumerate() {
            assert_eq!(share.index(), i as u8 + 1);
            assert_eq!(share.threshold(), k);
            for byte in 0..32 {
                let mut poly = vec![cert_bytes[byte]];
                poly.extend((0..k as usize - 1).map(|j| coefficients[j * 32 + byte]));
                assert_eq!(
                    share.y[byte],
                    r.evaluate(&poly, share.index()),
                    "k={k} n={n} x={} byte {byte}",
                    share.index()
                );
            }
        }
        // Reference reconstruction from the last K shares.
        let chosen = &shares[n as usize - k as usize..];
        let xs: Vec<u8> = chosen.iter().map(|s| s.index()).collect();
        for (byte, &expected) in cert_bytes.iter().enumerate() {
            let ys: Vec<u8> = chosen.iter().map(|s| s.y[byte]).collect();
            assert_eq!(r.at_zero(&xs, &ys), expected);
        }
    }
}

/// K = 2 with every x¹ coefficient 0x01 gives f(x) = c ⊕ x per byte, so
/// the shares can be written down by hand. The expected text is built here
/// with the `hex` crate and `sha2` directly, independent of the encoder.
#[test]
fn share_text_matches_a_hand_derived_vector() {
    let cert_bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
    let cert = cert_of(&cert_bytes);
    let set_id = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    let texts = split_with_coefficients(&cert, 3, 2, set_id, &[0x01; 32]).unwrap();
    for (i, text) in texts.iter().enumerate() {
        let x = i as u8 + 1;
        let y: Vec<u8> = cert_bytes.iter().map(|c| c ^ x).collect();
        let mut h = Sha256::new();
        h.update(b"reddb-share-check-v1");
        h.update([1u8]);
        h.update(set_id);
        h.update([2u8, x]);
        h.update(&y);
        let check = &h.finalize()[..8];
        let expected = format!(
            "rdbshare1-0123456789abcdef-k02-x{:02x}-{}-{}",
            x,
            hex::encode(&y),
            hex::encode(check)
        );
        assert_eq!(text.as_str(), expected);
        assert_eq!(text.len(), SHARE_TEXT_LEN);
    }
    // Share 1 spelled out: y = 00^01, 01^01, 02^01, ... = 01 00 03 02 ...
    assert!(texts[0].starts_with(
        "rdbshare1-0123456789abcdef-k02-x01-010003020504070609080b0a0d0c0f0e111013121514171619181b1a1d1c1f1e-"
    ));
    let mut collector = ShareCollector::new();
    collector.add(parse(&texts[2])).unwrap();
    collector.add(parse(&texts[0])).unwrap();
    assert_eq!(
        hex_of(&collector.combine().unwrap()),
        hex::encode(cert_bytes)
    );
}

// ---------------------------------------------------------------------------
// Split.

#[test]
fn split_refuses_thresholds_outside_two_to_n() {
    let cert = cert_of(&[7; 32]);
    for (n, k) in [(1u8, 1u8), (0, 0), (5, 1), (3, 4), (2, 0), (255, 0)] {
        assert!(
            matches!(split(&cert, n, k), Err(Error::InvalidInput(_))),
            "n={n} k={k} accepted"
        );
    }
    assert_eq!(split(&cert, 255, 255).unwrap().len(), 255);
    assert_eq!(split(&cert, 2, 2).unwrap().len(), 2);
    assert!(split_with_coefficients(&cert, 3, 2, [0; 8], &[1; 31]).is_err());
}

#[test]
fn every_split_draws_a_new_set_and_new_values() {
    let cert = cert_of(&[9; 32]);
    let a: Vec<Share> = split(&cert, 3, 2)
        .unwrap()
        .iter()
        .map(|t| parse(t))
        .collect();
    let b: Vec<Share> = split(&cert, 3, 2)
        .unwrap()
        .iter()
        .map(|t| parse(t))
        .collect();
    assert_ne!(a[0].set_id(), b[0].set_id());
    assert_ne!(a[0].y[..], b[0].y[..]);
    assert!(a.iter().all(|s| s.set_id() == a[0].set_id()));
    // No share is the certificate itself.
    assert!(a.iter().chain(&b).all(|s| s.y[..] != [9u8; 32]));
}

// ---------------------------------------------------------------------------
// Parsing.

fn sample_texts() -> Vec<Zeroizing<String>> {
    split(&cert_of(&[0x42; 32]), 3, 2).unwrap()
}

#[test]
fn parse_accepts_the_label_and_surrounding_whitespace() {
    let text = sample_texts().remove(1);
    for variant in [
        text.to_string(),
        format!("share: {}", text.as_str()),
        format!("  share:{}\r\n", text.as_str()),
        format!("\t{}\n", text.as_str()),
    ] {
        let share = parse(&variant);
        assert_eq!(share.index(), 2);
        assert_eq!(share.to_text().as_str(), text.as_str(), "round trip");
    }
}

#[test]
fn parse_refuses_each_malformed_shape_without_quoting_it() {
    let text = sample_texts().remove(0);
    let t = text.as_str();
    let cases: Vec<(String, ShareError)> = vec![
        (String::new(), ShareError::Malformed("it is empty")),
        ("share:   ".into(), ShareError::Malformed("it is empty")),
        (
            t.replacen("rdbshare", "rdbsharf", 1),
            ShareError::Malformed(
                "it does not start with 'rdbshare' (not a reddb certificate share)",
            ),
        ),
        (
            t.replacen("rdbshare1", "rdbshare2", 1),
            ShareError::Malformed(
                "it is of a share format version this build does not read (expected 'rdbshare1-')",
            ),
        ),
        (
            t[..115].to_string(),
            ShareError::Malformed(
                "it is not 116 characters long (a character is missing or extra)",
            ),
        ),
        (
            format!("{t}0"),
            ShareError::Malformed(
                "it is not 116 characters long (a character is missing or extra)",
            ),
        ),
        (
            t.to_uppercase().replacen("RDBSHARE", "rdbshare", 1),
            ShareError::Malformed("a '-', 'k' or 'x' separator is missing or misplaced"),
        ),
        (
            format!("{}A{}", &t[..40], &t[41..]),
            ShareError::Malformed("it contains uppercase letters (share texts are lowercase)"),
        ),
        (
            format!("{}g{}", &t[..40], &t[41..]),
            ShareError::Malformed("it contains a character that is not a hexadecimal digit"),
        ),
        (
            format!("{}:{}", &t[..26], &t[27..]),
            ShareError::Malformed("a '-', 'k' or 'x' separator is missing or misplaced"),
        ),
        (
            "x".repeat(MAX_SHARE_INPUT_LEN + 1),
            ShareError::Malformed("it is far longer than a share"),
        ),
    ];
    for (input, expected) in cases {
        let err = parse_share(&input).unwrap_err();
        assert_eq!(err, expected, "input of {} bytes", input.len());
        let message = err.to_string();
        assert!(!message.contains(&t[35..51]), "message quotes the share");
    }
}

/// A threshold below 2 or an index of 0 is refused even under a valid
/// checksum (only a forger or a bug could produce one).
#[test]
fn parse_refuses_threshold_one_and_index_zero_with_valid_checksums() {
    let y = [5u8; 32];
    let k1 = encode_share([1; 8], 1, 1, &y);
    assert_eq!(
        parse_share(&k1).unwrap_err(),
        ShareError::Malformed("its threshold is below 2")
    );
    let x0 = encode_share([1; 8], 2, 0, &y);
    assert_eq!(
        parse_share(&x0).unwrap_err(),
        ShareError::Malformed("its index is 0")
    );
    assert!(parse_share(&encode_share([1; 8], 2, 1, &y)).is_ok());
}

#[test]
fn dropping_a_share_wipes_its_value() {
    let share = parse(&sample_texts()[0]);
    assert_ne!(share.y[..], [0u8; 32]);
    drop(share);
    let wiped = crate::crypto::locked::LAST_WIPED.with(|w| w.borrow().clone());
    assert_eq!(wiped.len(), 32);
    assert!(wiped.iter().all(|b| *b == 0));
}

// ---------------------------------------------------------------------------
// The collector.

#[test]
fn the_same_share_twice_counts_once() {
    let texts = split(&cert_of(&[3; 32]), 5, 3).unwrap();
    let mut c = ShareCollector::new();
    assert_eq!(c.progress(), None);
    assert!(!c.is_complete());
    let p = c.add(parse(&texts[0])).unwrap();
    assert_eq!((p.have, p.threshold), (1, 3));
    let p = c.add(parse(&texts[0])).unwrap();
    assert_eq!(p.have, 1, "a repeated share was counted twice");
    c.add(parse(&texts[1])).unwrap();
    assert_eq!(refusal(&c), ShareError::NotEnough { have: 2, need: 3 });
    assert!(!c.is_complete());
    c.add(parse(&texts[4])).unwrap();
    assert!(c.is_complete());
    assert_eq!(hex_of(&c.combine().unwrap()), hex::encode([3u8; 32]));
}

#[test]
fn a_conflicting_duplicate_index_is_refused_and_clears() {
    let cert = cert_of(&[4; 32]);
    let a = split_with_coefficients(&cert, 3, 2, [8; 8], &[1; 32]).unwrap();
    let b = split_with_coefficients(&cert, 3, 2, [8; 8], &[2; 32]).unwrap();
    let mut c = ShareCollector::new();
    c.add(parse(&a[0])).unwrap();
    assert_eq!(c.add(parse(&b[0])).unwrap_err(), ShareError::Duplicate);
    assert_eq!(c.progress(), None, "not cleared");
    // Without the check, shares 1 of `a` and 2 of `b` would combine into a
    // wrong certificate; here b[0] after a[0] never gets that far.
    c.add(parse(&a[0])).unwrap();
    c.add(parse(&a[1])).unwrap();
    assert_eq!(hex_of(&c.combine().unwrap()), hex::encode([4u8; 32]));
}

#[test]
fn another_threshold_under_the_same_set_id_is_another_set() {
    let cert = cert_of(&[6; 32]);
    let k2 = split_with_coefficients(&cert, 3, 2, [9; 8], &[1; 32]).unwrap();
    let k3 = split_with_coefficients(&cert, 3, 3, [9; 8], &[1; 64]).unwrap();
    let mut c = ShareCollector::new();
    c.add(parse(&k2[0])).unwrap();
    assert_eq!(c.add(parse(&k3[1])).unwrap_err(), ShareError::OtherSet);
    assert_eq!(c.progress(), None);
}

/// A forged share beyond the threshold (valid checksum, wrong value) is
/// caught: every extra share must lie on the polynomials of the first K.
#[test]
fn a_forged_extra_share_is_inconsistent() {
    let cert = cert_of(&[0x11; 32]);
    let texts = split(&cert, 4, 2).unwrap();
    let genuine = parse(&texts[2]);
    let mut y = *genuine.y;
    y[17] ^= 0x40;
    let forged = encode_share(genuine.set_id(), 2, 3, &y);
    let mut c = ShareCollector::new();
    c.add(parse(&texts[0])).unwrap();
    c.add(parse(&texts[1])).unwrap();
    assert!(c.combine().is_ok());
    c.add(parse(&forged)).unwrap();
    assert_eq!(refusal(&c), ShareError::Inconsistent);
    let mut honest = ShareCollector::new();
    for t in &texts {
        honest.add(parse(t)).unwrap();
    }
    assert_eq!(
        hex_of(&honest.combine().unwrap()),
        hex::encode([0x11u8; 32])
    );
}

#[test]
fn clear_and_drop_wipe_the_values_held() {
    let texts = split(&cert_of(&[0x77; 32]), 3, 2).unwrap();
    let mut c = ShareCollector::new();
    c.add(parse(&texts[0])).unwrap();
    c.add(parse(&texts[1])).unwrap();
    c.clear();
    let wiped = crate::crypto::locked::LAST_WIPED.with(|w| w.borrow().clone());
    assert_eq!(wiped.len(), MAX_SHARES * SECRET_LEN);
    assert!(wiped.iter().all(|b| *b == 0));
    assert_eq!(c.progress(), None);
    assert_eq!(refusal(&c), ShareError::NotEnough { have: 0, need: 0 });
    c.add(parse(&texts[2])).unwrap();
    drop(c);
    let wiped = crate::crypto::locked::LAST_WIPED.with(|w| w.borrow().clone());
    assert_eq!(wiped.len(), MAX_SHARES * SECRET_LEN);
    assert!(wiped.iter().all(|b| *b == 0));
}

#[test]
fn error_messages_never_quote_a_share() {
    let errors = [
        ShareError::Malformed("it is empty"),
        ShareError::Checksum,
        ShareError::OtherSet,
        ShareError::Duplicate,
        ShareError::Inconsistent,
        ShareError::NotEnough { have: 2, need: 3 },
        ShareError::NotEnough { have: 0, need: 0 },
        ShareError::SecureMemory,
    ];
    for e in errors {
        let text = e.to_string();
        let longest_hex = text
            .split(|c: char| !c.is_ascii_hexdigit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest_hex < 8, "{text}");
        let as_error = Error::from(e);
        assert!(matches!(
            (e, as_error.exit_code()),
            (ShareError::NotEnough { .. }, 29)
                | (ShareError::SecureMemory, 23)
                | (
                    ShareError::Malformed(_)
                        | ShareError::Checksum
                        | ShareError::OtherSet
                        | ShareError::Duplicate
                        | ShareError::Inconsistent,
                    28
                )
        ));
    }
}

// ---------------------------------------------------------------------------
// "K−1 shares reveal nothing checkable", exhaustively: for K−1 observed
// share values at one byte position, count for every candidate certificate
// byte how many choices of the random coefficients produce exactly those
// observations. Every candidate must have the same count (one), so the
// observations are equally likely whatever the certificate is: nothing can
// be checked or ranked. Not a statistical test: a count over all choices.

#[test]
fn one_share_of_two_is_explained_by_every_certificate_byte_exactly_once() {
    let texts = split(&cert_of(&[0xa5; 32]), 3, 2).unwrap();
    let share = parse(&texts[1]);
    let (x, y) = (share.index(), share.y[0]);
    for candidate in 0..=255u8 {
        let explanations = (0..=255u8)
            .filter(|&a1| candidate ^ gf_mul(a1, x) == y)
            .count();
        assert_eq!(explanations, 1, "candidate {candidate:#04x}");
    }
}

#[test]
fn two_shares_of_three_are_explained_by_every_certificate_byte_exactly_once() {
    let texts = split(&cert_of(&[0x3c; 32]), 5, 3).unwrap();
    let (s1, s2) = (parse(&texts[1]), parse(&texts[4]));
    let (x1, y1, x2, y2) = (s1.index(), s1.y[5], s2.index(), s2.y[5]);
    let mut counts = [0u32; 256];
    for a1 in 0..=255u8 {
        for a2 in 0..=255u8 {
            // f(x) = c + a1 x + a2 x²; the observation at x1 fixes c:
            let c = y1 ^ gf_mul(a1, x1) ^ gf_mul(a2, gf_mul(x1, x1));
            if c ^ gf_mul(a1, x2) ^ gf_mul(a2, gf_mul(x2, x2)) == y2 {
                counts[c as usize] += 1;
            }
        }
    }
    assert!(counts.iter().all(|&n| n == 1), "{counts:?}");
}

// ---------------------------------------------------------------------------
// Properties.

fn shuffled(mut items: Vec<usize>, seed: u64) -> Vec<usize> {
    let noise = bytes_from(seed, items.len());
    for i in (1..items.len()).rev() {
        let j = noise[i] as usize % (i + 1);
        items.swap(i, j);
    }
    items
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any K or more shares of N, in any order, rebuild the certificate;
    /// any fewer than K are refused with NotEnough.
    #[test]
    fn any_k_of_n_rebuild_and_fewer_do_not(
        cert in proptest::array::uniform32(any::<u8>()),
        n in 2u8..=12,
        k_pick in any::<u8>(),
        take_pick in any::<u8>(),
        order in any::<u64>(),
    ) {
        let k = 2 + k_pick % (n - 1);
        let texts = split(&cert_of(&cert), n, k).unwrap();
        let order = shuffled((0..n as usize).collect(), order);
        let take = 1 + take_pick as usize % n as usize;
        let mut c = ShareCollector::new();
        for &i in &order[..take] {
            c.add(parse(&texts[i])).unwrap();
        }
        if take >= k as usize {
            prop_assert!(c.is_complete());
            prop_assert_eq!(hex_of(&c.combine().unwrap()), hex::encode(cert));
        } else {
            prop_assert!(!c.is_complete());
            prop_assert_eq!(
                refusal(&c),
                ShareError::NotEnough { have: take as u8, need: k }
            );
        }
    }

    /// Shares of two splits (even of the same certificate) never combine:
    /// the first share of the other set is refused and progress is reset.
    #[test]
    fn shares_of_two_splits_never_combine(
        cert in proptest::array::uniform32(any::<u8>()),
        same_certificate in any::<bool>(),
        held in 1usize..3,
    ) {
        let other = if same_certificate { cert } else { [cert[0] ^ 1; 32] };
        let a = split(&cert_of(&cert), 3, 3).unwrap();
        let b = split(&cert_of(&other), 3, 3).unwrap();
        let mut c = ShareCollector::new();
        for t in &a[..held] {
            c.add(parse(t)).unwrap();
        }
        prop_assert_eq!(c.add(parse(&b[held])).unwrap_err(), ShareError::OtherSet);
        prop_assert_eq!(c.progress(), None);
    }

    /// One character substituted, two neighbours swapped, one deleted or one
    /// inserted: `parse_share` refuses (by structure, or by the checksum with
    /// probability 1 − 2⁻⁶⁴).
    #[test]
    fn a_single_mistyped_character_is_refused(
        cert in proptest::array::uniform32(any::<u8>()),
        at in 0usize..SHARE_TEXT_LEN,
        replacement in proptest::sample::select(
            "0123456789abcdefABCDEFghkxz-_: O".chars().collect::<Vec<char>>()
        ),
        kind in 0u8..4,
    ) {
        let text = split(&cert_of(&cert), 2, 2).unwrap().remove(0);
        let mut chars: Vec<char> = text.chars().collect();
        match kind {
            0 => {
                prop_assume!(chars[at] != replacement);
                chars[at] = replacement;
            }
            1 => {
                let at = at.min(SHARE_TEXT_LEN - 2);
                prop_assume!(chars[at] != chars[at + 1]);
                chars.swap(at, at + 1);
            }
            2 => {
                chars.remove(at);
            }
            _ => {
                // Whitespace around a share is not part of it.
                prop_assume!(!(at == 0 && replacement == ' '));
                chars.insert(at, replacement);
            }
        }
        let mistyped: String = chars.into_iter().collect();
        prop_assert!(parse_share(&mistyped).is_err());
    }

    /// K−1 shares and ANY candidate certificate: interpolating the K−1
    /// points and (0, candidate) gives a polynomial whose value at a missing
    /// index is a valid K-th share; with it the collector rebuilds exactly
    /// the candidate. So every candidate is consistent with what K−1 shares
    /// show (and, by the exhaustive counts above, equally so).
    #[test]
    fn k_minus_one_shares_are_consistent_with_any_candidate(
        cert in proptest::array::uniform32(any::<u8>()),
        candidate in proptest::array::uniform32(any::<u8>()),
        k in 2u8..=6,
        extra in 0u8..3,
    ) {
        let n = k + extra;
        let texts = split(&cert_of(&cert), n, k).unwrap();
        let held: Vec<Share> = texts[..k as usize - 1].iter().map(|t| parse(t)).collect();
        let missing = n; // an index none of the held shares has
        let mut xs: Vec<u8> = held.iter().map(|s| s.index()).collect();
        let mut ys: Vec<u8> = held.iter().flat_map(|s| s.y.to_vec()).collect();
        xs.push(0);
        ys.extend_from_slice(&candidate);
        let mut completion = [0u8; 32];
        interpolate(&xs, &ys, missing, &mut completion);
        let forged = encode_share(held[0].set_id(), k, missing, &completion);
        let mut c = ShareCollector::new();
        for s in held {
            c.add(s).unwrap();
        }
        c.add(parse(&forged)).unwrap();
        prop_assert_eq!(hex_of(&c.combine().unwrap()), hex::encode(candidate));
    }
}
