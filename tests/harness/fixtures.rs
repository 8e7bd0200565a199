//! Checked-in fixtures (`tests/fixtures/`) and the one edit of a database
//! file the tests make the way an attacker would: a meta page changed and
//! its unkeyed digest recomputed, so the copy is not merely torn.

use sha2::{Digest, Sha256};

/// The seed's deny-everyone policy recipe, byte for byte.
pub const DENY_RECIPE: &str = include_str!("../fixtures/seed_policy_deny.json");

/// The seed's "one keeper may read" policy recipe, byte for byte.
pub const KEEPER_RECIPE: &str = include_str!("../fixtures/seed_policy_keeper.json");

/// The page size of the files the tests make.
pub const PAGE: usize = 4096;

/// Recomputes the unkeyed digest of meta copy `copy` (0 or 1) of `bytes`.
pub fn fix_meta_digest(bytes: &mut [u8], copy: usize) {
    let page = &bytes[copy * PAGE..(copy + 1) * PAGE];
    let n = u16::from_be_bytes([page[96], page[97]]) as usize;
    let mut h = Sha256::new();
    h.update(b"reddb-meta-digest-v1");
    h.update((copy as u64).to_be_bytes());
    h.update(&page[..64]);
    h.update(&page[96..98 + n]);
    let d = h.finalize();
    bytes[copy * PAGE + 64..copy * PAGE + 96].copy_from_slice(&d);
}
