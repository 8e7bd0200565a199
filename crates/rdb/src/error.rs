//! What can go wrong reading an RDB file, always with the byte offset where
//! it was noticed.

use std::fmt;

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file does not start with `REDIS` and four digits.
    BadMagic,
    /// An RDB version this reader does not know (it reads 9 to 12).
    UnsupportedVersion(u32),
    /// The file ends in the middle of something.
    Truncated,
    /// A length that cannot be right: longer than the rest of the file, an
    /// encoded integer where a length belongs, an unknown string encoding.
    BadLength(&'static str),
    /// A string or value larger than the reader's [`crate::Limits`] allow.
    /// Not damage: the file may be fine, but it is refused.
    TooLarge {
        what: &'static str,
        len: u64,
        limit: u64,
    },
    /// An opcode or value type byte that no Redis version writes.
    UnknownType(u8),
    /// A type that can be neither read nor skipped (named).
    Unskippable(&'static str),
    /// A value's inner encoding (ziplist, listpack, intset, LZF, a score)
    /// does not parse.
    Malformed {
        encoding: &'static str,
        reason: &'static str,
    },
    /// The CRC-64 after the EOF opcode does not match the file.
    BadChecksum { stored: u64, computed: u64 },
    /// Bytes follow the checksum.
    TrailingBytes,
    /// Reading the input failed (not a property of the file's content).
    Io(String),
}

impl ErrorKind {
    /// Whether the error says the file is damaged (rather than too large
    /// for the limits, or unreadable).
    pub fn is_damage(&self) -> bool {
        !matches!(self, ErrorKind::TooLarge { .. } | ErrorKind::Io(_))
    }
}

/// An [`ErrorKind`] and the byte offset in the file where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    pub offset: u64,
    pub kind: ErrorKind,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::BadMagic => write!(f, "not an RDB file (no REDIS magic)"),
            ErrorKind::UnsupportedVersion(v) => {
                write!(f, "RDB version {v} is not supported (9 to 12 are)")
            }
            ErrorKind::Truncated => write!(f, "the file is truncated"),
            ErrorKind::BadLength(why) => write!(f, "bad length encoding: {why}"),
            ErrorKind::TooLarge { what, len, limit } => {
                write!(f, "{what} of {len} bytes is over the limit of {limit}")
            }
            ErrorKind::UnknownType(t) => write!(f, "unknown opcode or value type {t}"),
            ErrorKind::Unskippable(name) => write!(f, "{name} cannot be read or skipped"),
            ErrorKind::Malformed { encoding, reason } => {
                write!(f, "malformed {encoding}: {reason}")
            }
            ErrorKind::BadChecksum { stored, computed } => write!(
                f,
                "checksum mismatch: the file says {stored:016x}, its bytes give {computed:016x}"
            ),
            ErrorKind::TrailingBytes => write!(f, "bytes follow the end-of-file checksum"),
            ErrorKind::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for RdbError {}
