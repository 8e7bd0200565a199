//! k-of-n Shamir secret sharing of the certificate (issue 14 item 3).
//!
//! The 32-byte certificate is split byte by byte over GF(2⁸), the AES field
//! (reduction polynomial x⁸ + x⁴ + x³ + x + 1, `0x11b`): for every byte a
//! polynomial `f(x) = c + a₁x + … + a_{K−1}x^{K−1}` whose constant term `c`
//! is that certificate byte and whose other coefficients are fresh random
//! bytes; share `x` (1..=N) carries the 32 values `f(x)`. Any K shares
//! determine the polynomials (Lagrange interpolation at 0 gives the
//! certificate); K−1 shares are consistent with every certificate through
//! exactly one choice of the random coefficients each, so they say nothing
//! about it. The coefficients are uniform, zero included: forcing a non-zero
//! leading coefficient (as some implementations do) would make that
//! argument slightly false.
//!
//! Constant time: field multiplication is shift-and-xor with masks and
//! inversion is exponentiation (`a²⁵⁴`), so no branch and no table index
//! depends on a certificate byte, a coefficient or a share value. The hex
//! digits of a share's value are encoded and decoded with arithmetic, not a
//! lookup table. (Public values — indexes, thresholds, set ids, checksums —
//! may be branched on.)
//!
//! Memory: the polynomial (certificate row included) lives in one
//! [`LockedBuf`]; a parsed [`Share`] keeps its value in a [`Locked`] array;
//! a [`ShareCollector`] keeps every value it holds in one guarded buffer,
//! dropped (wiped) by [`ShareCollector::clear`] and on drop. Share texts
//! are returned as `Zeroizing<String>`.
//!
//! Text format (`docs/FORMAT.md` §16), 116 characters, lowercase:
//!
//! ```text
//! rdbshare1-<set id: 16 hex>-k<K: 2 hex>-x<x: 2 hex>-<y: 64 hex>-<check: 16 hex>
//! check = SHA-256("reddb-share-check-v1" | 0x01 | set id | K | x | y)[0..8]
//! ```
//!
//! The checksum guards against typing and copying errors, not forgery (it
//! is keyless, and a forged share can only produce a *wrong* certificate,
//! which the file's certificate id refuses). It covers nothing of the
//! certificate itself: a share carries no check value of the secret.

use crate::crypto::keys::{Certificate, Key32};
use crate::crypto::locked::{Locked, LockedBuf};
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Bytes of the shared secret (the certificate).
pub(crate) const SECRET_LEN: usize = 32;
/// The smallest threshold: one share alone must never be the certificate.
pub const MIN_THRESHOLD: u8 = 2;
/// Share format version written and read by this build.
pub const FORMAT_VERSION: u8 = 1;
/// Every share text starts with this (the format name, then its version).
pub(crate) const SHARE_PREFIX: &str = "rdbshare1-";
/// Length of a share text, in characters (= bytes: it is ASCII).
pub const SHARE_TEXT_LEN: usize = 116;
/// Bytes of the checksum at the end of a share.
pub(crate) const CHECKSUM_LEN: usize = 8;
/// Longest text [`parse_share`] looks at (a share, its `share:` label and
/// generous whitespace); anything longer is refused unread.
pub(crate) const MAX_SHARE_INPUT_LEN: usize = 512;

/// The name of the format, without its version digit.
const FORMAT_NAME: &str = "rdbshare";
/// Domain label of the checksum hash.
const CHECKSUM_LABEL: &[u8] = b"reddb-share-check-v1";
/// The label `split` prints before each share and `parse_share` accepts.
const SHARE_LABEL: &str = "share:";
/// A collector holds at most one share per index 1..=255.
const MAX_SHARES: usize = 255;

// Character offsets of the fields in a share text.
const SET_ID_AT: usize = 10;
const THRESHOLD_AT: usize = 28;
const INDEX_AT: usize = 32;
const Y_AT: usize = 35;
const CHECK_AT: usize = 100;
/// `(offset, expected character)` of every fixed character after the prefix.
const FIXED_CHARACTERS: [(usize, u8); 6] = [
    (26, b'-'),
    (27, b'k'),
    (30, b'-'),
    (31, b'x'),
    (34, b'-'),
    (99, b'-'),
];

// ---------------------------------------------------------------------------
// GF(2⁸) arithmetic, constant time.

/// `a · b` in GF(2⁸) modulo `0x11b`, by shift-and-xor: eight rounds, each
/// adding `a` under a mask made from one bit of `b`, then multiplying `a`
/// by x and reducing under a mask made from its top bit. No branch or table
/// index depends on `a` or `b`.
pub(crate) fn gf_mul(a: u8, b: u8) -> u8 {
    let mut a = a;
    let mut b = b;
    let mut product = 0u8;
    for _ in 0..8 {
        product ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    product
}

/// `a⁻¹` in GF(2⁸) as `a²⁵⁴` (Fermat: `a²⁵⁵ = 1` for `a ≠ 0`), by a fixed
/// square-and-multiply chain: `254 = 2 + 4 + 8 + … + 128`. `0` maps to `0`
/// (callers never invert 0: indexes of a set are distinct).
pub(crate) fn gf_inv(a: u8) -> u8 {
    let mut power = gf_mul(a, a); // a^2
    let mut result = power;
    for _ in 0..6 {
        power = gf_mul(power, power); // a^4, a^8, …, a^128
        result = gf_mul(result, power);
    }
    result
}

/// The Lagrange weights of the points `xs` for the value at `at`:
/// `w_i = Π_{j≠i} (at − x_j) / (x_i − x_j)` (in GF(2⁸), `−` is `^`). The
/// points and `at` are public; the weights are public too.
fn lagrange_weights(xs: &[u8], at: u8) -> Vec<u8> {
    xs.iter()
        .enumerate()
        .map(|(i, &xi)| {
            xs.iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .fold(1u8, |weight, (_, &xj)| {
                    gf_mul(weight, gf_mul(at ^ xj, gf_inv(xi ^ xj)))
                })
        })
        .collect()
}

/// Writes into `out` the value at `at` of the polynomials through the
/// points `(xs[i], ys[i·32..i·32+32])`, byte by byte.
fn interpolate(xs: &[u8], ys: &[u8], at: u8, out: &mut [u8; SECRET_LEN]) {
    out.fill(0);
    let weights = lagrange_weights(xs, at);
    for (weight, y) in weights.iter().zip(ys.chunks_exact(SECRET_LEN)) {
        for (acc, &yb) in out.iter_mut().zip(y) {
            *acc ^= gf_mul(*weight, yb);
        }
    }
}

/// Writes into `out` the value at `x` of the polynomials whose coefficient
/// rows (32 bytes each, constant term first) are `rows`, by Horner's rule.
fn evaluate(rows: &[u8], x: u8, out: &mut [u8; SECRET_LEN]) {
    out.fill(0);
    for row in rows.chunks_exact(SECRET_LEN).rev() {
        for (acc, &coefficient) in out.iter_mut().zip(row) {
            *acc = gf_mul(*acc, x) ^ coefficient;
        }
    }
}

// ---------------------------------------------------------------------------
// Hex digits without tables or data-dependent branches.

/// The lowercase hex digit of the nibble `n` (0..=15): `'0' + n`, plus the
/// gap from `'9' + 1` to `'a'` under a mask when `n > 9`.
fn hex_digit(n: u8) -> u8 {
    let above_nine = 0u8.wrapping_sub(9u8.wrapping_sub(n) >> 7);
    n.wrapping_add(b'0')
        .wrapping_add(above_nine & (b'a' - b'0' - 10))
}

/// The value of the lowercase hex digit `c` and a validity mask (`0xff`
/// for `0-9a-f`, else `0`), by range tests in signed arithmetic.
fn hex_value(c: u8) -> (u8, u8) {
    let c = i16::from(c);
    // (lo - 1 - c) & (c - hi - 1) is negative exactly when lo <= c <= hi.
    let is_digit = ((0x2f - c) & (c - 0x3a)) >> 8;
    let is_letter = ((0x60 - c) & (c - 0x67)) >> 8;
    let value = ((c - 0x30) & is_digit) | ((c - 0x61 + 10) & is_letter);
    let valid = is_digit | is_letter;
    ((value & 0xff) as u8, (valid & 0xff) as u8)
}

/// Appends the lowercase hex of `bytes` to `out`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from(hex_digit(b >> 4)));
        out.push(char::from(hex_digit(b & 0x0f)));
    }
}

/// Decodes the lowercase hex `text` into `out` (exactly twice as long);
/// returns whether every character was a lowercase hex digit. Every
/// character is decoded whatever its neighbours hold.
fn decode_hex(text: &[u8], out: &mut [u8]) -> bool {
    let mut valid = 0xffu8;
    if text.len() != out.len() * 2 {
        return false;
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let (hi, hi_ok) = pair.first().copied().map_or((0, 0), hex_value);
        let (lo, lo_ok) = pair.get(1).copied().map_or((0, 0), hex_value);
        *byte = (hi << 4) | lo;
        valid &= hi_ok & lo_ok;
    }
    valid == 0xff
}

// ---------------------------------------------------------------------------
// Shares.

/// Why a share, or a collection of shares, was refused. The text never
/// quotes a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareError {
    /// Not a share of this format: wrong length, prefix, separator,
    /// character or field value. The reason never quotes the text.
    Malformed(&'static str),
    /// Well formed, but the checksum does not match: mistyped or damaged.
    Checksum,
    /// The share belongs to another set (another split, or another
    /// threshold) than the shares held; the collector was cleared.
    OtherSet,
    /// The same index was given twice with different values; the
    /// collector was cleared.
    Duplicate,
    /// More than K shares were given and they do not lie on one polynomial
    /// per byte: one of them is forged (its checksum is keyless).
    Inconsistent,
    /// Fewer shares than the threshold (`need` is 0 when none was given).
    NotEnough { have: u8, need: u8 },
    /// Guarded memory for a share could not be allocated.
    SecureMemory,
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareError::Malformed(why) => write!(f, "malformed share: {why}"),
            ShareError::Checksum => write!(
                f,
                "mistyped or damaged share: its checksum does not match (compare it with the original character by character)"
            ),
            ShareError::OtherSet => write!(
                f,
                "the share belongs to another set than the shares before it (another split or another certificate); the shares given so far were discarded"
            ),
            ShareError::Duplicate => write!(
                f,
                "two different shares carry the same index (one is forged or from another split with the same set id); the shares given so far were discarded"
            ),
            ShareError::Inconsistent => write!(
                f,
                "the shares do not fit together: at least one of them is forged"
            ),
            ShareError::NotEnough { have: 0, .. } => write!(f, "no share was given"),
            ShareError::NotEnough { have, need } => write!(
                f,
                "not enough shares: {have} given, {need} needed"
            ),
            ShareError::SecureMemory => write!(
                f,
                "guarded memory for a share could not be allocated"
            ),
        }
    }
}

impl std::error::Error for ShareError {}

impl From<ShareError> for Error {
    fn from(e: ShareError) -> Self {
        match e {
            ShareError::NotEnough { have, need } => Error::SharesInsufficient { have, need },
            ShareError::SecureMemory => Error::SecureMemory(e.to_string()),
            other => Error::ShareRefused(other.to_string()),
        }
    }
}

/// One parsed, checksum-verified share. Its value `y` lives in guarded
/// memory and is wiped on drop. `Debug` shows the public fields only.
pub struct Share {
    set_id: [u8; 8],
    threshold: u8,
    index: u8,
    y: Locked<[u8; SECRET_LEN]>,
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Share")
            .field("set_id", &hex::encode(self.set_id))
            .field("threshold", &self.threshold)
            .field("index", &self.index)
            .field("y", &"<redacted>")
            .finish()
    }
}

impl Share {
    /// The random identifier of the split this share came from.
    pub fn set_id(&self) -> [u8; 8] {
        self.set_id
    }

    /// How many shares of the set rebuild the certificate.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The share's x coordinate, 1..=255.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The canonical text of this share (what `split` printed).
    pub fn to_text(&self) -> Zeroizing<String> {
        encode_share(self.set_id, self.threshold, self.index, &self.y)
    }
}

/// `SHA-256("reddb-share-check-v1" | version | set id | K | x | y)[0..8]`.
fn checksum(set_id: &[u8; 8], threshold: u8, index: u8, y: &[u8; SECRET_LEN]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(CHECKSUM_LABEL);
    h.update([FORMAT_VERSION]);
    h.update(set_id);
    h.update([threshold, index]);
    h.update(y);
    let digest = h.finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    if let Some(head) = digest.first_chunk::<CHECKSUM_LEN>() {
        out = *head;
    }
    out
}

/// The text of one share, built in place in a string of exactly
/// [`SHARE_TEXT_LEN`] bytes' capacity (no reallocation leaves a copy).
fn encode_share(
    set_id: [u8; 8],
    threshold: u8,
    index: u8,
    y: &[u8; SECRET_LEN],
) -> Zeroizing<String> {
    let check = checksum(&set_id, threshold, index, y);
    let mut text = Zeroizing::new(String::with_capacity(SHARE_TEXT_LEN));
    text.push_str(SHARE_PREFIX);
    push_hex(&mut text, &set_id);
    text.push_str("-k");
    push_hex(&mut text, &[threshold]);
    text.push_str("-x");
    push_hex(&mut text, &[index]);
    text.push('-');
    push_hex(&mut text, y);
    text.push('-');
    push_hex(&mut text, &check);
    text
}

/// Whether the separators and field letters sit where the format puts them.
fn fixed_characters_match(text: &[u8]) -> bool {
    FIXED_CHARACTERS
        .iter()
        .all(|&(at, expected)| text.get(at) == Some(&expected))
}

/// Parses one share: optional surrounding whitespace and an optional
/// `share:` label are accepted; then exactly the 116-character format of
/// `docs/FORMAT.md` §16, lowercase, with a matching checksum, a threshold
/// of at least 2 and an index of at least 1. Total: any input returns a
/// value, never panics; errors never quote the input.
pub fn parse_share(text: &str) -> std::result::Result<Share, ShareError> {
    if text.len() > MAX_SHARE_INPUT_LEN {
        return Err(ShareError::Malformed("it is far longer than a share"));
    }
    let mut text = text.trim();
    if let Some(rest) = text.strip_prefix(SHARE_LABEL) {
        text = rest.trim_start();
    }
    if text.is_empty() {
        return Err(ShareError::Malformed("it is empty"));
    }
    let bytes = text.as_bytes();
    if !bytes.starts_with(FORMAT_NAME.as_bytes()) {
        return Err(ShareError::Malformed(
            "it does not start with 'rdbshare' (not a reddb certificate share)",
        ));
    }
    if !bytes.starts_with(SHARE_PREFIX.as_bytes()) {
        return Err(ShareError::Malformed(
            "it is of a share format version this build does not read (expected 'rdbshare1-')",
        ));
    }
    if bytes.len() != SHARE_TEXT_LEN {
        return Err(ShareError::Malformed(
            "it is not 116 characters long (a character is missing or extra)",
        ));
    }
    if !fixed_characters_match(bytes) {
        return Err(ShareError::Malformed(
            "a '-', 'k' or 'x' separator is missing or misplaced",
        ));
    }
    let field = |from: usize, len: usize| bytes.get(from..from + len).unwrap_or(&[]);
    let mut set_id = [0u8; 8];
    let mut threshold = [0u8; 1];
    let mut index = [0u8; 1];
    let mut check = [0u8; CHECKSUM_LEN];
    let mut y = Locked::<[u8; SECRET_LEN]>::zeroed().map_err(|_| ShareError::SecureMemory)?;
    let mut valid = decode_hex(field(SET_ID_AT, 16), &mut set_id);
    valid &= decode_hex(field(THRESHOLD_AT, 2), &mut threshold);
    valid &= decode_hex(field(INDEX_AT, 2), &mut index);
    valid &= decode_hex(field(Y_AT, 2 * SECRET_LEN), &mut y[..]);
    valid &= decode_hex(field(CHECK_AT, 2 * CHECKSUM_LEN), &mut check);
    if !valid {
        return Err(ShareError::Malformed(
            if bytes.iter().any(u8::is_ascii_uppercase) {
                "it contains uppercase letters (share texts are lowercase)"
            } else {
                "it contains a character that is not a hexadecimal digit"
            },
        ));
    }
    let [threshold] = threshold;
    let [index] = index;
    let expected = checksum(&set_id, threshold, index, &y);
    if !bool::from(expected.ct_eq(&check)) {
        return Err(ShareError::Checksum);
    }
    if threshold < MIN_THRESHOLD {
        return Err(ShareError::Malformed("its threshold is below 2"));
    }
    if index == 0 {
        return Err(ShareError::Malformed("its index is 0"));
    }
    Ok(Share {
        set_id,
        threshold,
        index,
        y,
    })
}

// ---------------------------------------------------------------------------
// Split.

/// Checks `2 ≤ threshold ≤ shares` (`shares ≤ 255` holds by type).
fn check_counts(shares: u8, threshold: u8) -> Result<()> {
    if threshold < MIN_THRESHOLD {
        return Err(Error::InvalidInput(
            "the threshold of a certificate split must be at least 2".into(),
        ));
    }
    if threshold > shares {
        return Err(Error::InvalidInput(
            "the threshold of a certificate split cannot exceed the number of shares".into(),
        ));
    }
    Ok(())
}

/// Evaluates the polynomial `rows` (K rows of 32 bytes, the certificate
/// first) at x = 1..=shares and encodes each share.
fn shares_of(
    rows: &LockedBuf,
    shares: u8,
    threshold: u8,
    set_id: [u8; 8],
) -> Result<Vec<Zeroizing<String>>> {
    let mut y = Key32::zeroed()?;
    let mut out = Vec::with_capacity(usize::from(shares));
    for index in 1..=shares {
        evaluate(rows, index, &mut y);
        out.push(encode_share(set_id, threshold, index, &y));
    }
    Ok(out)
}

/// A guarded buffer of `threshold` coefficient rows whose first row is
/// the certificate; the other rows are left zero for the caller to fill.
fn polynomial_with_constant(cert: &Certificate, threshold: u8) -> Result<LockedBuf> {
    let mut rows = LockedBuf::zeroed(usize::from(threshold) * SECRET_LEN)?;
    if let Some(first) = rows.get_mut(..SECRET_LEN) {
        first.copy_from_slice(cert.key_bytes());
    }
    Ok(rows)
}

/// Splits the certificate into `shares` share texts, any `threshold` of
/// which rebuild it (`2 ≤ threshold ≤ shares ≤ 255`). Every call draws a new
/// random set id and new random coefficients from the kernel CSPRNG, straight
/// into guarded memory; share `i` (1-based) has index `i`.
pub fn split(cert: &Certificate, shares: u8, threshold: u8) -> Result<Vec<Zeroizing<String>>> {
    check_counts(shares, threshold)?;
    let set_id = crate::crypto::random::array::<8>()?;
    let mut rows = polynomial_with_constant(cert, threshold)?;
    if let Some(random_rows) = rows.get_mut(SECRET_LEN..) {
        crate::crypto::random::fill(random_rows)?;
    }
    shares_of(&rows, shares, threshold, set_id)
}

/// [`split`] with a caller-chosen set id and coefficients instead of fresh
/// randomness — for known-answer tests and the fuzz seed corpus, **never**
/// for a real certificate (whoever knows the coefficients needs one share).
/// `coefficients` is `threshold − 1` rows of 32 bytes: row `j` holds the
/// coefficient of `x^(j+1)` for each certificate byte.
pub fn split_with_coefficients(
    cert: &Certificate,
    shares: u8,
    threshold: u8,
    set_id: [u8; 8],
    coefficients: &[u8],
) -> Result<Vec<Zeroizing<String>>> {
    check_counts(shares, threshold)?;
    let mut rows = polynomial_with_constant(cert, threshold)?;
    match rows.get_mut(SECRET_LEN..) {
        Some(rest) if rest.len() == coefficients.len() => rest.copy_from_slice(coefficients),
        _ => {
            return Err(Error::InvalidInput(
                "coefficients must be threshold - 1 rows of 32 bytes".into(),
            ))
        }
    }
    shares_of(&rows, shares, threshold, set_id)
}

// ---------------------------------------------------------------------------
// Collecting and combining.

/// How far a collection has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Distinct shares held.
    pub have: u8,
    /// Shares needed.
    pub threshold: u8,
    /// The set they belong to.
    pub set_id: [u8; 8],
}

/// The shares of one set held so far.
struct HeldSet {
    set_id: [u8; 8],
    threshold: u8,
    /// Index of each held share, in the order added.
    indexes: Vec<u8>,
    /// Their values: slot `i` (32 bytes) belongs to `indexes[i]`. Room for
    /// every index 1..=255, allocated once, wiped on drop.
    values: LockedBuf,
}

impl HeldSet {
    fn progress(&self) -> Progress {
        Progress {
            have: u8::try_from(self.indexes.len()).unwrap_or(u8::MAX),
            threshold: self.threshold,
            set_id: self.set_id,
        }
    }

    fn value(&self, slot: usize) -> &[u8] {
        self.values
            .get(slot * SECRET_LEN..(slot + 1) * SECRET_LEN)
            .unwrap_or(&[])
    }
}

/// Collects shares of one set; wipes them on drop and on [`clear`].
///
/// [`clear`]: ShareCollector::clear
#[derive(Default)]
pub struct ShareCollector {
    held: Option<HeldSet>,
}

impl ShareCollector {
    pub fn new() -> Self {
        Self { held: None }
    }

    /// Adds a share. A share of another set than the one held (another set
    /// id or threshold): `Err(OtherSet)` and the collector is cleared. The
    /// same index twice with the same value: ignored (`Ok`); with another
    /// value: `Err(Duplicate)` and the collector is cleared. The share is
    /// consumed: its guarded copy is wiped when this returns.
    pub fn add(&mut self, share: Share) -> std::result::Result<Progress, ShareError> {
        let held = match &mut self.held {
            Some(held) => held,
            None => self.held.insert(HeldSet {
                set_id: share.set_id,
                threshold: share.threshold,
                indexes: Vec::with_capacity(usize::from(share.threshold)),
                values: LockedBuf::zeroed(MAX_SHARES * SECRET_LEN)
                    .map_err(|_| ShareError::SecureMemory)?,
            }),
        };
        if held.set_id != share.set_id || held.threshold != share.threshold {
            self.clear();
            return Err(ShareError::OtherSet);
        }
        if let Some(slot) = held.indexes.iter().position(|&i| i == share.index) {
            if bool::from(held.value(slot).ct_eq(&share.y[..])) {
                return Ok(held.progress());
            }
            self.clear();
            return Err(ShareError::Duplicate);
        }
        let slot = held.indexes.len();
        let place = held
            .values
            .get_mut(slot * SECRET_LEN..(slot + 1) * SECRET_LEN)
            .ok_or(ShareError::Malformed("more shares than a set can have"))?;
        place.copy_from_slice(&share.y[..]);
        held.indexes.push(share.index);
        Ok(held.progress())
    }

    /// Where the collection stands; `None` when it is empty.
    pub fn progress(&self) -> Option<Progress> {
        self.held.as_ref().map(HeldSet::progress)
    }

    /// Whether at least `threshold` distinct shares are held.
    #[cfg(test)]
    pub(crate) fn is_complete(&self) -> bool {
        self.progress().is_some_and(|p| p.have >= p.threshold)
    }

    /// Rebuilds the certificate from the first `threshold` shares held.
    /// Below the threshold: `NotEnough`. Any share beyond the threshold
    /// must lie on the same polynomials (else `Inconsistent`), so a forged
    /// extra share is caught rather than silently ignored.
    pub fn combine(&self) -> std::result::Result<Certificate, ShareError> {
        let Some(held) = &self.held else {
            return Err(ShareError::NotEnough { have: 0, need: 0 });
        };
        let progress = held.progress();
        if progress.have < progress.threshold {
            return Err(ShareError::NotEnough {
                have: progress.have,
                need: progress.threshold,
            });
        }
        let k = usize::from(held.threshold);
        let (base_xs, extra_xs) = held.indexes.split_at(k.min(held.indexes.len()));
        let base_ys = held.values.get(..k * SECRET_LEN).unwrap_or(&[]);
        let mut point = Key32::zeroed().map_err(|_| ShareError::SecureMemory)?;
        for (offset, &x) in extra_xs.iter().enumerate() {
            interpolate(base_xs, base_ys, x, &mut point);
            if !bool::from(point.ct_eq(held.value(k + offset))) {
                return Err(ShareError::Inconsistent);
            }
        }
        let mut secret = Key32::zeroed().map_err(|_| ShareError::SecureMemory)?;
        interpolate(base_xs, base_ys, 0, &mut secret);
        Ok(Certificate::from_key(secret))
    }

    /// Drops every share held (their values are wiped).
    pub fn clear(&mut self) {
        self.held = None;
    }
}

#[cfg(test)]
mod tests;
