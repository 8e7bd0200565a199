//! The Redis error lines of the wire protocol: how a typed keyspace or
//! service error is worded for a Redis client (the text after `-`).
//!
//! Owns every error line that translates a service outcome (Redis's own
//! wording where Redis has one). It must never decide an outcome: the
//! service and the keyspace return typed errors, and this module only
//! words them.

use reddb_service::keyspace::{KsError, MAX_TXN_BYTES};
use reddb_service::{Kind, ServiceError};
use reddb_storage::store::record::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// A command refused before authentication.
pub const NOAUTH: &str = "NOAUTH Authentication required.";
/// Any failed authentication, whatever failed (no user, wrong password,
/// disabled user, unknown token): one answer for all.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// A keyspace error as a Redis error line.
pub(crate) fn keyspace_error_line(e: &KsError) -> String {
    match e {
        KsError::WrongType => {
            "WRONGTYPE Operation against a key holding the wrong kind of value".into()
        }
        KsError::NotInteger => "ERR value is not an integer or out of range".into(),
        KsError::HashValueNotInteger => "ERR hash value is not an integer".into(),
        KsError::Overflow => "ERR increment or decrement would overflow".into(),
        KsError::SecretKey => {
            "ERR red.secret.* keys live in the vault: use the HTTP secrets API".into()
        }
        KsError::KeyTooLong => format!("ERR key too long (max {MAX_KEY_LEN} bytes)"),
        KsError::ValueTooLarge => {
            format!("ERR value too large (max {MAX_VALUE_LEN} bytes per key)")
        }
        KsError::TxnTooLarge => format!(
            "ERR the command or transaction is too large for one commit (max {MAX_TXN_BYTES} bytes)"
        ),
        KsError::NoSuchKey => "ERR no such key".into(),
        KsError::IndexOutOfRange => "ERR index out of range".into(),
        KsError::NotFloat => "ERR value is not a valid float".into(),
        KsError::HashValueNotFloat => "ERR hash value is not a float".into(),
        KsError::NanOrInfinity => "ERR increment would produce NaN or Infinity".into(),
        KsError::ScoreNaN => "ERR resulting score is not a number (NaN)".into(),
        KsError::Service(e) => service_error_line(e),
    }
}

/// A service error as a Redis error line: the kind picks the prefix, the
/// message follows.
pub(crate) fn service_error_line(e: &ServiceError) -> String {
    let prefix = match e.kind {
        Kind::Unauthorized => "WRONGPASS",
        Kind::Forbidden => "NOPERM",
        Kind::Busy => "BUSY",
        _ => "ERR",
    };
    format!("{prefix} {}", e.message)
}

/// A service error met while authenticating a connection: an unauthorized
/// one is the one [`WRONGPASS`] line, whatever its message.
pub(crate) fn auth_error_line(e: &ServiceError) -> String {
    match e.kind {
        Kind::Unauthorized => WRONGPASS.to_string(),
        _ => service_error_line(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_redis_prefixes() {
        assert!(keyspace_error_line(&KsError::WrongType).starts_with("WRONGTYPE "));
        assert_eq!(
            service_error_line(&ServiceError::forbidden("no")),
            "NOPERM no"
        );
        assert_eq!(
            keyspace_error_line(&KsError::Service(ServiceError::unauthorized())),
            "WRONGPASS missing or invalid credentials"
        );
        assert_eq!(auth_error_line(&ServiceError::unauthorized()), WRONGPASS);
        assert_eq!(
            auth_error_line(&ServiceError::sealed()),
            format!("ERR {}", ServiceError::sealed().message)
        );
    }
}
