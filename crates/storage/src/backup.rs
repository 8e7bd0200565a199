//! Logical backup files (`reddb-backup-<id>.rdbk`): their byte layout, the
//! backup key, and sealing/opening the payload. Pure: no I/O except
//! [`write_file`], which only puts finished bytes on disk atomically.
//!
//! A backup is sealed for a *new* database: not under the certificate or any
//! key of the vault it came from (those stay behind), but under a 32-byte
//! backup key shown once to whoever took it. Each file gets its own
//! AES-256-GCM key, `HMAC-SHA-256(backup_key, "reddb-backup-v1" ||
//! snapshot_id)`, with a random 16-byte snapshot id, so a key is never used
//! for two files even when an operator reuses one backup key
//! (`docs/FORMAT.md` §15 has every byte and the nonce argument).
//!
//! The payload is one snapshot frame of the commit-log record format
//! (`store::record`), so the same total, bounded decoder reads it.

use crate::crypto::keys::{decode_hex_key, hmac_sha256, HexKeyError, Key32};
use crate::crypto::seal::{AeadKey, NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::store::record::{self, FrameKind, Mutation};
use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub(crate) const MAGIC: &[u8; 4] = b"RDBK";
pub(crate) const VERSION: u8 = 1;
/// magic 4 | version 1 | reserved 3 | snapshot id 16 | created at 8 |
/// source file id 16 | key check 16 | payload length 8 | nonce 12.
pub const HEADER_LEN: usize = 4 + 1 + 3 + 16 + 8 + 16 + 16 + 8 + NONCE_LEN;
/// The largest payload: one frame of the largest commit the store takes,
/// so a restore always fits in one atomic commit.
pub(crate) const MAX_PAYLOAD: usize = record::FRAME_HEADER_LEN + record::MAX_FRAME_BODY;
/// The largest file [`open`] reads.
pub(crate) const MAX_FILE_LEN: usize = HEADER_LEN + MAX_PAYLOAD + TAG_LEN;
pub(crate) const FILE_PREFIX: &str = "reddb-backup-";
pub(crate) const FILE_SUFFIX: &str = ".rdbk";

const KEY_INFO: &[u8] = b"reddb-backup-v1";
const CHECK_INFO: &[u8] = b"reddb-backup-check-v1";

/// Why a backup file was refused. Messages never quote key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupError {
    NotABackup,
    UnsupportedVersion(u8),
    Truncated,
    WrongKey,
    Damaged,
    TooLarge,
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupError::NotABackup => write!(f, "the file is not a reddb backup (no RDBK header)"),
            BackupError::UnsupportedVersion(v) => {
                write!(f, "backup format version {v} is not supported by this red (it reads version {VERSION})")
            }
            BackupError::Truncated => write!(f, "the backup file is truncated"),
            BackupError::WrongKey => write!(
                f,
                "the backup key does not open this backup (it is the key printed when this backup was taken)"
            ),
            BackupError::Damaged => write!(
                f,
                "the backup failed authentication: the file was damaged or altered after it was written"
            ),
            BackupError::TooLarge => write!(
                f,
                "a backup may hold at most {} MiB of data",
                record::MAX_FRAME_BODY / (1024 * 1024)
            ),
        }
    }
}

impl From<BackupError> for Error {
    fn from(e: BackupError) -> Self {
        Error::BackupRefused(e.to_string())
    }
}

/// The 32-byte key a backup is sealed under, in guarded memory. No `Debug`.
pub struct BackupKey(Key32);

impl BackupKey {
    pub fn generate() -> Result<Self> {
        Ok(Self(Key32::random()?))
    }

    /// Parses 64 hex digits (see [`decode_hex_key`]); a malformed key is
    /// `InvalidInput` (HTTP 400, exit 22).
    pub fn parse_hex(text: &str) -> Result<Self> {
        match decode_hex_key(text) {
            Ok(key) => Ok(Self(key)),
            Err(HexKeyError::Malformed(why)) => Err(Error::InvalidInput(format!(
                "malformed backup key: {why} (expected exactly 64 hexadecimal characters)"
            ))),
            Err(HexKeyError::Memory(e)) => Err(e),
        }
    }

    /// The 64-hex text shown once to the operator.
    pub fn to_hex_for_operator(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(&self.0[..]))
    }

    fn file_key(&self, snapshot_id: &[u8; 16]) -> Result<AeadKey> {
        let mut msg = KEY_INFO.to_vec();
        msg.extend_from_slice(snapshot_id);
        AeadKey::new(&hmac_sha256(&self.0[..], &msg)?)
    }

    fn key_check(&self, snapshot_id: &[u8; 16]) -> Result<[u8; 16]> {
        let mut msg = CHECK_INFO.to_vec();
        msg.extend_from_slice(snapshot_id);
        let mac = hmac_sha256(&self.0[..], &msg)?;
        let mut out = [0u8; 16];
        out.copy_from_slice(mac.get(..16).unwrap_or(&[0u8; 16]));
        Ok(out)
    }
}

/// The clear header of a backup file (authenticated as AAD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupHeader {
    pub snapshot_id: [u8; 16],
    pub created_at_ms: u64,
    /// The `file_id` of the database the backup was taken from.
    pub source_file_id: [u8; 16],
    key_check: [u8; 16],
    pub payload_len: u64,
    nonce: [u8; NONCE_LEN],
}

impl BackupHeader {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&[0u8; 3]);
        out.extend_from_slice(&self.snapshot_id);
        out.extend_from_slice(&self.created_at_ms.to_be_bytes());
        out.extend_from_slice(&self.source_file_id);
        out.extend_from_slice(&self.key_check);
        out.extend_from_slice(&self.payload_len.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out
    }

    pub fn snapshot_id_hex(&self) -> String {
        hex::encode(self.snapshot_id)
    }
}

/// Reads the header of a backup file (nothing is decrypted).
pub(crate) fn parse_header(bytes: &[u8]) -> std::result::Result<BackupHeader, BackupError> {
    let mut r = crate::codec::Reader::new(bytes);
    if r.take(4) != Some(&MAGIC[..]) {
        return Err(if bytes.len() < 4 && MAGIC.starts_with(bytes) {
            BackupError::Truncated
        } else {
            BackupError::NotABackup
        });
    }
    let version = r.u8().ok_or(BackupError::Truncated)?;
    if version != VERSION {
        return Err(BackupError::UnsupportedVersion(version));
    }
    let reserved: [u8; 3] = r.array().ok_or(BackupError::Truncated)?;
    let header = BackupHeader {
        snapshot_id: r.array().ok_or(BackupError::Truncated)?,
        created_at_ms: r.u64().ok_or(BackupError::Truncated)?,
        source_file_id: r.array().ok_or(BackupError::Truncated)?,
        key_check: r.array().ok_or(BackupError::Truncated)?,
        payload_len: r.u64().ok_or(BackupError::Truncated)?,
        nonce: r.array().ok_or(BackupError::Truncated)?,
    };
    if reserved != [0u8; 3] {
        return Err(BackupError::Damaged);
    }
    if header.payload_len > MAX_PAYLOAD as u64 {
        return Err(BackupError::TooLarge);
    }
    Ok(header)
}

/// Seals `payload` into the bytes of a backup file.
pub fn seal(
    key: &BackupKey,
    snapshot_id: [u8; 16],
    created_at_ms: u64,
    source_file_id: [u8; 16],
    payload: &[u8],
) -> Result<Vec<u8>> {
    if payload.len() > MAX_PAYLOAD {
        return Err(BackupError::TooLarge.into());
    }
    let header = BackupHeader {
        snapshot_id,
        created_at_ms,
        source_file_id,
        key_check: key.key_check(&snapshot_id)?,
        payload_len: payload.len() as u64,
        nonce: crate::crypto::random::array()?,
    };
    let mut out = header.encode();
    out.reserve(payload.len() + TAG_LEN);
    out.extend_from_slice(payload);
    let file_key = key.file_key(&snapshot_id)?;
    let aad = header.encode();
    let tag = file_key.seal(
        &header.nonce,
        &aad,
        out.get_mut(HEADER_LEN..).unwrap_or(&mut []),
    )?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a backup file: checks the header, the key and the tag, and
/// returns the header and the plaintext payload (wiped on drop).
pub fn open(
    key: &BackupKey,
    bytes: &[u8],
) -> std::result::Result<(BackupHeader, Zeroizing<Vec<u8>>), BackupError> {
    let header = parse_header(bytes)?;
    let expected = key
        .key_check(&header.snapshot_id)
        .map_err(|_| BackupError::WrongKey)?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        &expected[..],
        &header.key_check[..],
    )) {
        return Err(BackupError::WrongKey);
    }
    let body_len = usize::try_from(header.payload_len).map_err(|_| BackupError::TooLarge)?;
    let rest = bytes.get(HEADER_LEN..).ok_or(BackupError::Truncated)?;
    if rest.len() < body_len + TAG_LEN {
        return Err(BackupError::Truncated);
    }
    if rest.len() > body_len + TAG_LEN {
        return Err(BackupError::Damaged);
    }
    let (body, tag) = rest.split_at(body_len);
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| BackupError::Truncated)?;
    let mut plain = Zeroizing::new(body.to_vec());
    let file_key = key
        .file_key(&header.snapshot_id)
        .map_err(|_| BackupError::Damaged)?;
    file_key
        .open(&header.nonce, &header.encode(), &mut plain, &tag)
        .map_err(|_| BackupError::Damaged)?;
    Ok((header, plain))
}

/// Encodes the snapshot payload: one snapshot frame of `mutations`.
pub fn encode_payload(mutations: &[Mutation]) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::new());
    record::encode_frame(&mut out, FrameKind::Snapshot, 0, mutations);
    if out.len() > MAX_PAYLOAD {
        return Err(BackupError::TooLarge.into());
    }
    Ok(out)
}

/// Decodes a payload written by [`encode_payload`]; anything else (another
/// frame kind, trailing bytes) is refused as damaged.
pub fn decode_payload(payload: &[u8]) -> std::result::Result<Vec<Mutation>, BackupError> {
    match record::decode_frame(payload) {
        Ok(Some((frame, used))) if used == payload.len() && frame.kind == FrameKind::Snapshot => {
            Ok(frame.mutations)
        }
        _ => Err(BackupError::Damaged),
    }
}

/// `reddb-backup-<32 hex>.rdbk`
pub fn file_name(snapshot_id: &[u8; 16]) -> String {
    format!("{FILE_PREFIX}{}{FILE_SUFFIX}", hex::encode(snapshot_id))
}

/// Parses a snapshot id as given to `POST /admin/restore`: exactly 32
/// lowercase hex digits (so it can never name a path outside the directory).
pub fn parse_snapshot_id(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut id = [0u8; 16];
    hex::decode_to_slice(text, &mut id).ok()?;
    Some(id)
}

/// Writes `bytes` as `path`, atomically and never over an existing file:
/// a `.partial` sibling is created exclusively (mode 0600, `O_NOFOLLOW`),
/// written and synced, then hard-linked to `path` (`link` fails if `path`
/// exists, so nothing is ever replaced) and unlinked, and the directory is
/// synced. A half-written backup never carries the final name.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{} is not a file path", path.display())))?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(name);
    partial_name.push(".partial");
    let partial = dir.join(partial_name);
    let failed = |e: std::io::Error| {
        let what = if e.kind() == std::io::ErrorKind::AlreadyExists {
            "backup file already exists (never overwritten)"
        } else {
            "writing backup file"
        };
        Error::io(format!("{what}: {}", path.display()), e)
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&partial)
        .map_err(failed)?;
    // From here the partial file is ours: it is removed whatever happens.
    let linked = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::hard_link(&partial, path));
    drop(f);
    let _ = std::fs::remove_file(&partial);
    linked.map_err(failed)?;
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(failed)
}

/// Reads a backup file (a regular file of at most [`MAX_FILE_LEN`] bytes;
/// a FIFO is refused without blocking: [`crate::small_file`]).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    use crate::small_file::{read_regular_file, SmallFileError};
    read_regular_file(path, MAX_FILE_LEN as u64).map_err(|e| match e {
        SmallFileError::TooLarge => BackupError::TooLarge.into(),
        other => Error::io(
            format!("reading backup file {}", path.display()),
            other.into_io(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{Namespace, Value};

    fn sample() -> Vec<Mutation> {
        vec![
            Mutation::Put {
                ns: Namespace::Keyspace,
                key: b"k".to_vec(),
                value: Value::Bytes(b"v".to_vec()),
                expires_at_ms: 0,
            },
            Mutation::Put {
                ns: Namespace::Config,
                key: b"red.config.a".to_vec(),
                value: Value::Bytes(b"\"1\"".to_vec()),
                expires_at_ms: 0,
            },
        ]
    }

    #[test]
    fn round_trip_and_every_refusal() {
        let key = BackupKey::generate().unwrap();
        let payload = encode_payload(&sample()).unwrap();
        let file = seal(&key, [1u8; 16], 42, [2u8; 16], &payload).unwrap();
        assert_eq!(file.len(), HEADER_LEN + payload.len() + TAG_LEN);
        let (h, plain) = open(&key, &file).unwrap();
        assert_eq!(h.created_at_ms, 42);
        assert_eq!(h.source_file_id, [2u8; 16]);
        assert_eq!(decode_payload(&plain).unwrap(), sample());

        let other = BackupKey::generate().unwrap();
        assert_eq!(open(&other, &file).unwrap_err(), BackupError::WrongKey);
        // Every single-byte change is refused; none opens.
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            assert!(open(&key, &bad).is_err(), "byte {i}");
        }
        for cut in [0, 3, 10, HEADER_LEN, file.len() - 1] {
            assert!(open(&key, &file[..cut]).is_err(), "cut {cut}");
        }
        let mut longer = file.clone();
        longer.push(0);
        assert_eq!(open(&key, &longer).unwrap_err(), BackupError::Damaged);
        assert_eq!(
            open(&key, b"SQLite format 3\0").unwrap_err(),
            BackupError::NotABackup
        );
        let mut v2 = file.clone();
        v2[4] = 2;
        assert_eq!(
            open(&key, &v2).unwrap_err(),
            BackupError::UnsupportedVersion(2)
        );
    }

    #[test]
    fn same_key_two_files_use_two_file_keys() {
        let key = BackupKey::generate().unwrap();
        let payload = encode_payload(&sample()).unwrap();
        let a = seal(&key, [1u8; 16], 1, [0u8; 16], &payload).unwrap();
        let b = seal(&key, [3u8; 16], 1, [0u8; 16], &payload).unwrap();
        assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
        // Splicing one file's body under the other's header fails.
        let mut spliced = b[..HEADER_LEN].to_vec();
        spliced.extend_from_slice(&a[HEADER_LEN..]);
        assert!(open(&key, &spliced).is_err());
    }

    #[test]
    fn key_and_id_parsing() {
        assert!(BackupKey::parse_hex(&"ab".repeat(32)).is_ok());
        for bad in ["", "xyz", &"a".repeat(63), &"a".repeat(65)] {
            let e = BackupKey::parse_hex(bad).err().unwrap();
            assert!(!e.to_string().contains("aaaaaaaaaaaaaaaa"));
        }
        assert!(parse_snapshot_id(&"0f".repeat(16)).is_some());
        for bad in ["", "../../etc/passwd", &"0F".repeat(16), &"0f".repeat(17)] {
            assert!(parse_snapshot_id(bad).is_none(), "{bad}");
        }
        assert_eq!(
            file_name(&[0xab; 16]),
            format!("reddb-backup-{}.rdbk", "ab".repeat(16))
        );
    }

    #[test]
    fn payload_must_be_one_snapshot_frame() {
        let mut commit = Vec::new();
        record::encode_frame(&mut commit, FrameKind::Commit, 0, &sample());
        assert_eq!(decode_payload(&commit).unwrap_err(), BackupError::Damaged);
        let mut two = encode_payload(&sample()).unwrap().to_vec();
        two.push(0);
        assert_eq!(decode_payload(&two).unwrap_err(), BackupError::Damaged);
    }
}
