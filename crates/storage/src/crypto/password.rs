//! Password hashing for vault users: Argon2id in PHC string form.
//!
//! Default cost is 64 MiB, 3 passes, 1 lane. The cost is stored in
//! each PHC string, so raising the default later does not break old hashes.
//! Verification is constant time inside argon2. These calls take ~150 ms
//! and tens of MiB: the server runs them on its bounded worker pool, never
//! on the event loop.

use crate::error::{Error, Result};
use argon2::{PasswordHasher, PasswordVerifier};

/// Argon2id cost parameters for password hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl PasswordCost {
    pub const DEFAULT: PasswordCost = PasswordCost {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };
}

/// Hashes `password` with a fresh random salt.
pub fn hash_password(password: &[u8], cost: PasswordCost) -> Result<String> {
    let params = argon2::Params::new(cost.m_kib, cost.t, cost.p, Some(32))
        .map_err(|e| Error::Internal(format!("argon2 params: {e}")))?;
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = crate::crypto::random::array::<16>()?;
    let phc = hasher
        .hash_password_with_salt(password, &salt)
        .map_err(|e| Error::Internal(format!("argon2: {e}")))?;
    Ok(phc.to_string())
}

/// Whether `password` matches the stored PHC string. A malformed stored
/// string verifies nothing.
pub fn verify_password(password: &[u8], phc: &str) -> bool {
    argon2::Argon2::default()
        .verify_password(password, phc)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let cost = PasswordCost {
            m_kib: 1024,
            t: 1,
            p: 1,
        };
        let phc = hash_password(b"correct horse", cost).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password(b"correct horse", &phc));
        assert!(!verify_password(b"wrong", &phc));
        assert!(!verify_password(b"correct horse", "not a phc string"));
    }
}
