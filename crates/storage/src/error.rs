//! The one error type of the crate and its stable exit codes.
//!
//! Every failure an operator can meet maps to exactly one [`Error`] variant,
//! one exit code and one line of text. The text names the problem and the
//! thing to check; it never contains a secret value, a certificate or the
//! path of a credential file. Exit codes are part of the interface and are
//! listed in `docs/OPERATIONS.md`: never renumber them.

use std::fmt;

/// Stable process exit codes (documented in `docs/OPERATIONS.md`).
pub mod exit_code {
    pub const OK: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const WRONG_CERTIFICATE: i32 = 10;
    pub const MALFORMED_CERTIFICATE: i32 = 11;
    pub const CONFLICTING_CREDENTIAL: i32 = 12;
    pub const MISSING_CERTIFICATE: i32 = 13;
    pub const LOCKED: i32 = 14;
    pub const CORRUPTED: i32 = 15;
    pub const TAMPERED: i32 = 16;
    pub const ALREADY_BOOTSTRAPPED: i32 = 17;
    pub const NOT_BOOTSTRAPPED: i32 = 18;
    pub const UNSUPPORTED_FORMAT: i32 = 19;
    pub const IO: i32 = 20;
    pub const CREDENTIAL_UNREADABLE: i32 = 21;
    pub const INVALID_INPUT: i32 = 22;
    pub const SECURE_MEMORY: i32 = 23;
    /// `red doctor`: the server is not healthy.
    pub const UNHEALTHY: i32 = 24;
    /// A backup file was refused: wrong backup key, damaged, not a backup.
    pub const BACKUP_REFUSED: i32 = 25;
    /// `red restore`: the target already holds data the backup would replace.
    pub const RESTORE_CONFLICT: i32 = 26;
    /// `RED_ADMIN_TOKEN` (any source) is shorter than the minimum.
    pub const WEAK_ADMIN_TOKEN: i32 = 27;
    /// `red certificate combine`: a share was refused (malformed, mistyped,
    /// of another set, or the same index twice with different values).
    pub const SHARE_REFUSED: i32 = 28;
    /// `red certificate combine`: fewer shares than the set's threshold.
    pub const SHARES_INSUFFICIENT: i32 = 29;
    /// `red rekey`: the header write failed part-way; the file opens with
    /// exactly one of the old and the new certificate (keep both).
    pub const REKEY_INCOMPLETE: i32 = 30;
    /// `red migrate`: a server it copies from or to could not be reached,
    /// refused the credential, or answered outside the protocol.
    pub const MIGRATE_PEER: i32 = 33;
    /// `red migrate`: keys were refused by name and counted (types reddb
    /// lacks, `red.secret.*`); everything else was copied.
    pub const MIGRATE_REFUSED: i32 = 34;
    /// `red migrate`: stopped by SIGINT/SIGTERM after a committed batch;
    /// the state file is saved (`--resume` continues).
    pub const MIGRATE_INTERRUPTED: i32 = 35;
    /// `red import`: the RDB file is damaged (bad magic, unknown version,
    /// truncated, a bad length, a bad checksum); nothing was written.
    pub const RDB_DAMAGED: i32 = 31;
    /// `red import`: the RDB file holds content that is refused (keys in
    /// `red.secret.*`, existing keys without `--replace`, streams, modules
    /// or functions without `--skip-unsupported`, values over the limits);
    /// nothing was written.
    pub const IMPORT_REFUSED: i32 = 32;
}

#[derive(Debug)]
pub enum Error {
    /// Bad command-line usage.
    Usage(String),
    /// The certificate does not open this file's vault.
    WrongCertificate,
    /// The certificate is not 64 hexadecimal characters; the reason never
    /// quotes the value.
    MalformedCertificate(&'static str),
    /// Both the inline variable and its `_FILE` companion are set.
    ConflictingCredential(String),
    /// A vault file needs a certificate and none was given.
    MissingCertificate,
    /// A `_FILE` companion or credential could not be read (named by its
    /// variable, never by its path or content).
    CredentialUnreadable { name: String, reason: String },
    /// Another process holds the exclusive lock on the database file.
    Locked(String),
    /// The file is damaged in a way a crash cannot explain (both copies of
    /// a double-written structure unreadable, impossible values).
    Corrupted(String),
    /// Authenticated data failed its check: the bytes were changed.
    Tampered(String),
    /// `bootstrap` on a file that already holds a vault.
    AlreadyBootstrapped,
    /// An operation needs a bootstrapped vault and the file has none.
    NotBootstrapped,
    /// Not a reddb file, or a format version or page size this build does
    /// not read.
    UnsupportedFormat(String),
    /// An operating-system I/O error, with what was being done.
    Io {
        context: String,
        source: std::io::Error,
    },
    /// Input refused by a library call (too long, wrong namespace, ...).
    InvalidInput(String),
    /// Guarded key memory could not be allocated.
    SecureMemory(String),
    /// A bug or an impossible state; the message says where.
    Internal(String),
    /// A backup file cannot be used (the reason names which check failed).
    BackupRefused(String),
    /// A restore would overwrite data the target database already holds.
    RestoreConflict(String),
    /// The admin token is shorter than `min` bytes. `name` is its source
    /// (the variable or the credential), never its value, length or path.
    WeakAdminToken { name: String, min: usize },
    /// A certificate share was refused; the reason never quotes a share.
    ShareRefused(String),
    /// Fewer certificate shares than the threshold (`need` 0: none given).
    SharesInsufficient { have: u8, need: u8 },
    /// A rekey was interrupted while the header was being switched: the
    /// file opens with exactly one of the two certificates (the cause, an
    /// I/O error, in words; never a certificate).
    RekeyIncomplete(String),
    /// `red migrate`: the source or the target server failed (which one and
    /// why; never a credential).
    MigratePeer(String),
    /// `red import`: the RDB file is damaged (the reason names where).
    RdbDamaged(String),
    /// `red import`: the RDB file's content is refused (counts by reason).
    ImportRefused(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The documented process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        use exit_code::*;
        match self {
            Error::Usage(_) => USAGE,
            Error::WrongCertificate => WRONG_CERTIFICATE,
            Error::MalformedCertificate(_) => MALFORMED_CERTIFICATE,
            Error::ConflictingCredential(_) => CONFLICTING_CREDENTIAL,
            Error::MissingCertificate => MISSING_CERTIFICATE,
            Error::CredentialUnreadable { .. } => CREDENTIAL_UNREADABLE,
            Error::Locked(_) => LOCKED,
            Error::Corrupted(_) => CORRUPTED,
            Error::Tampered(_) => TAMPERED,
            Error::AlreadyBootstrapped => ALREADY_BOOTSTRAPPED,
            Error::NotBootstrapped => NOT_BOOTSTRAPPED,
            Error::UnsupportedFormat(_) => UNSUPPORTED_FORMAT,
            Error::Io { .. } => IO,
            Error::InvalidInput(_) => INVALID_INPUT,
            Error::SecureMemory(_) => SECURE_MEMORY,
            Error::Internal(_) => INTERNAL,
            Error::BackupRefused(_) => BACKUP_REFUSED,
            Error::RestoreConflict(_) => RESTORE_CONFLICT,
            Error::WeakAdminToken { .. } => WEAK_ADMIN_TOKEN,
            Error::ShareRefused(_) => SHARE_REFUSED,
            Error::SharesInsufficient { .. } => SHARES_INSUFFICIENT,
            Error::RekeyIncomplete(_) => REKEY_INCOMPLETE,
            Error::MigratePeer(_) => MIGRATE_PEER,
            Error::RdbDamaged(_) => RDB_DAMAGED,
            Error::ImportRefused(_) => IMPORT_REFUSED,
        }
    }

    /// A short stable machine-readable code (used in logs and JSON errors).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Usage(_) => "usage",
            Error::WrongCertificate => "wrong_certificate",
            Error::MalformedCertificate(_) => "malformed_certificate",
            Error::ConflictingCredential(_) => "conflicting_credential",
            Error::MissingCertificate => "missing_certificate",
            Error::CredentialUnreadable { .. } => "credential_unreadable",
            Error::Locked(_) => "file_locked",
            Error::Corrupted(_) => "file_corrupted",
            Error::Tampered(_) => "file_tampered",
            Error::AlreadyBootstrapped => "already_bootstrapped",
            Error::NotBootstrapped => "not_bootstrapped",
            Error::UnsupportedFormat(_) => "unsupported_format",
            Error::Io { .. } => "io_error",
            Error::InvalidInput(_) => "invalid_input",
            Error::SecureMemory(_) => "secure_memory",
            Error::Internal(_) => "internal",
            Error::BackupRefused(_) => "backup_refused",
            Error::RestoreConflict(_) => "restore_conflict",
            Error::WeakAdminToken { .. } => "weak_admin_token",
            Error::ShareRefused(_) => "share_refused",
            Error::SharesInsufficient { .. } => "shares_insufficient",
            Error::RekeyIncomplete(_) => "rekey_incomplete",
            Error::MigratePeer(_) => "migrate_peer",
            Error::RdbDamaged(_) => "rdb_damaged",
            Error::ImportRefused(_) => "import_refused",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "usage: {m}"),
            Error::WrongCertificate => write!(
                f,
                "wrong certificate: it does not unseal this database's vault (nothing was written)"
            ),
            Error::MalformedCertificate(why) => write!(
                f,
                "malformed certificate: {why} (expected exactly 64 hexadecimal characters)"
            ),
            Error::ConflictingCredential(name) => write!(
                f,
                "both {name} and {name}_FILE are set: set exactly one of them"
            ),
            Error::MissingCertificate => write!(
                f,
                "missing certificate: set REDDB_CERTIFICATE, REDDB_CERTIFICATE_FILE or the systemd credential 'certificate'"
            ),
            Error::CredentialUnreadable { name, reason } => {
                write!(f, "cannot read {name}: {reason}")
            }
            Error::Locked(path) => write!(
                f,
                "database file {path} is locked by another process (is another red server running on it?)"
            ),
            Error::Corrupted(what) => write!(f, "database file is corrupted: {what}"),
            Error::Tampered(what) => write!(
                f,
                "database file failed authentication (tampered or damaged): {what}"
            ),
            Error::AlreadyBootstrapped => write!(
                f,
                "already bootstrapped: this database already has a vault; nothing was changed"
            ),
            Error::NotBootstrapped => write!(
                f,
                "not bootstrapped: run 'red bootstrap' (or start with --dev) first"
            ),
            Error::UnsupportedFormat(what) => write!(f, "unsupported file: {what}"),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::SecureMemory(m) => write!(f, "secure memory: {m}"),
            Error::Internal(m) => write!(f, "internal error: {m}"),
            Error::BackupRefused(m) => write!(f, "backup refused: {m}"),
            Error::RestoreConflict(m) => write!(f, "restore refused: {m}"),
            Error::WeakAdminToken { name, min } => write!(
                f,
                "weak admin token: {name} is shorter than {min} characters (bytes, after a file's trailing whitespace is trimmed); use a random token of at least {min}, e.g. from 'openssl rand -hex 32'"
            ),
            Error::ShareRefused(m) => write!(f, "share refused: {m}"),
            Error::SharesInsufficient { have: 0, .. } => write!(
                f,
                "no certificate share was given"
            ),
            Error::SharesInsufficient { have, need } => write!(
                f,
                "not enough certificate shares: {have} given, {need} needed; nothing was combined"
            ),
            Error::RekeyIncomplete(cause) => write!(
                f,
                "rekey interrupted while the header was being switched ({cause}): the file now opens with exactly one of the old and the new certificate; keep both and try the new one first"
            ),
            Error::MigratePeer(m) => write!(f, "migrate: {m}"),
            Error::RdbDamaged(m) => write!(
                f,
                "damaged RDB file: {m}; nothing was imported, the database is unchanged"
            ),
            Error::ImportRefused(m) => write!(
                f,
                "import refused: {m}; nothing was imported, the database is unchanged"
            ),
        }
    }
}

impl std::error::Error for Error {}
