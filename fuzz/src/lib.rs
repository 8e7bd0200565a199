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
    // Cannot fail on input: the key is the fixed 32-byte constant above; a
    // failed guarded allocation stops the fuzz run, which is what it should do.
    let k = Key32::from_slice(&TEST_KEY_BYTES).expect("32-byte test key");
    AeadKey::new(&k).expect("AES-256-GCM key schedule")
}

/// A database "file" in memory, for targets that need a pager.
#[derive(Clone, Default)]
pub struct MemFile(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl reddb::pager::PageIo for MemFile {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        let data = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        let mut data = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        let start = usize::try_from(offset).map_err(|_| std::io::Error::other("offset"))?;
        let end = start + buf.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(buf);
        Ok(())
    }
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn len(&mut self) -> std::io::Result<u64> {
        Ok(self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .len() as u64)
    }
    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        let mut data = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        data.resize(
            usize::try_from(len).map_err(|_| std::io::Error::other("len"))?,
            0,
        );
        Ok(())
    }
}

/// Names and strings the `json_body` target (and its seeds) steer towards:
/// the fields, values and path names the HTTP handlers look for.
pub mod json_fixtures {
    /// The admin bearer token of the target's service.
    pub const ADMIN_TOKEN: &str = "fuzz-admin-token-0123456789abcdef";
    /// A non-admin user with an API key.
    pub const PLAIN_USER: &str = "alice";

    /// Path names: policy ids, secret and config keys, usernames.
    pub const KNOWN_NAMES: &[&str] = &[
        "readers",
        "red.secret.db.password",
        "red.config.mode",
        "admin",
        "alice",
        "bob",
        "red.secret.aes_key",
        "red.secret.ai.openai",
        "deny-ai",
        "red.config.feature.flags",
        "",
        "..",
        "red.secret.",
        "a",
    ];

    /// JSON object fields (and query names).
    pub const KNOWN_FIELDS: &[&str] = &[
        "username",
        "password",
        "role",
        "owner",
        "label",
        "value",
        "id",
        "statements",
        "sid",
        "effect",
        "actions",
        "resources",
        "user",
        "group",
        "prefix",
        "version",
        "since",
        "action",
        "principal",
        "outcome",
        "limit",
    ];

    /// String values.
    pub const KNOWN_STRINGS: &[&str] = &[
        "admin",
        "user",
        "allow",
        "deny",
        "vault:read",
        "vault:write",
        "vault:read_metadata",
        "vault:unseal_history",
        "vault:purge",
        "vault:unseal",
        "vault:*",
        "vault:red.vault/red.secret.*",
        "vault:red.vault/red.secret.ai.*",
        "vault:red.vault/red.secret.*.password",
        "vault:red.vault/red.secret.db.pass*",
        "channel:publish",
        "channel:subscribe",
        "channel:*",
        "channel:news.*",
        "channel:__keyspace@0__:*",
        "everyone",
        "alice",
        "bob",
        "readers",
        "a-long-enough-password",
        "s3cr3t-value-that-must-not-leak",
        "1",
        "0",
        "red.secret.",
        "success",
        "denied",
        "auth.login",
    ];
}
