//! Errors a request can meet, independent of the protocol that carried it.
//! HTTP maps [`Kind`] to a status, the wire protocol to a Redis error line.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    TooLarge,
    RateLimited,
    /// The vault is sealed (or not bootstrapped): nothing can be decrypted.
    Sealed,
    /// The worker pool is full; retry later.
    Busy,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub kind: Kind,
    /// Stable machine-readable code, e.g. `vault_sealed`.
    pub code: &'static str,
    /// One human sentence; never contains a secret.
    pub message: String,
    /// Seconds after which a refused request may succeed (rate limited,
    /// busy); HTTP sends it as `Retry-After`.
    pub retry_after_s: Option<u64>,
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// The same error with another stable code.
    pub(crate) fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The same error with a retry time.
    pub(crate) fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds.max(1));
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, "bad_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            Kind::Unauthorized,
            "unauthorized",
            "missing or invalid credentials",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, "not_found", message)
    }

    pub fn sealed() -> Self {
        Self::new(
            Kind::Sealed,
            "vault_sealed",
            "the vault is sealed: start the server with its certificate",
        )
    }

    pub fn not_bootstrapped() -> Self {
        Self::new(
            Kind::Sealed,
            "not_bootstrapped",
            "the database is not bootstrapped: POST /auth/bootstrap first",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, "internal", message)
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<reddb_storage::error::Error> for ServiceError {
    fn from(e: reddb_storage::error::Error) -> Self {
        use reddb_storage::error::Error as E;
        match e {
            E::InvalidInput(m) => ServiceError::bad_request(m),
            E::AlreadyBootstrapped => {
                ServiceError::new(Kind::Conflict, "already_bootstrapped", e.to_string())
            }
            E::NotBootstrapped => ServiceError::not_bootstrapped(),
            E::BackupRefused(m) => ServiceError::new(Kind::BadRequest, "backup_refused", m),
            E::RestoreConflict(m) => ServiceError::new(Kind::Conflict, "restore_conflict", m),
            other => ServiceError::internal(other.to_string()),
        }
    }
}
