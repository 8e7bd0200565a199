//! Fixtures shared by the fuzz targets and the seed generator
//! (`make_corpus`), so the committed seeds are always sealed with exactly
//! the key, file id and page number the targets open them with.
//!
//! Nothing here is a secret: the key is a fixed test value.

use reddb::crypto::keys::Key32;
use reddb::crypto::seal::AeadKey;

/// The fixed test key of every sealed seed and target: 32 bytes of 7.
pub const TEST_KEY_BYTES: [u8; 32] = [7u8; 32];
/// File id bound into the AAD of sealed log pages.
pub const TEST_FILE_ID: [u8; 16] = [0x11u8; 16];
/// Session id written in the clear prefix of test log pages.
pub const TEST_SESSION: [u8; 16] = [0x22u8; 16];
/// Page number the log-page seeds are sealed at (the first data page).
pub const TEST_LOG_PAGE_NO: u64 = reddb::pager::FIRST_DATA_PAGE;
/// Page size of the structure-aware log page variant and of most seeds.
pub const PAGE_SIZE: usize = 4096;

/// A fresh AES-256-GCM schedule of [`TEST_KEY_BYTES`].
///
/// Deliberately not cached in a `static`: the key schedule lives in a
/// `memsec` allocation, which `memsec` carves out of the ordinary heap and
/// brackets with `PROT_NONE` guard pages. LeakSanitizer (on by default under
/// cargo-fuzz's AddressSanitizer) scans every live heap chunk, reads the
/// guard pages and dies with SIGSEGV ("LeakSanitizer has encountered a fatal
/// error") at the exit leak check. So every guarded allocation must be gone
/// by the time an input returns; targets build the key per input (or only
/// when they need it) and drop it before returning.
pub fn test_key() -> AeadKey {
    let k = Key32::from_slice(&TEST_KEY_BYTES).expect("32-byte test key");
    AeadKey::new(&k).expect("AES-256-GCM key schedule")
}
