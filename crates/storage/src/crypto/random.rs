//! The operating system's random number generator, and nothing else.
//!
//! Every nonce, salt, key and token in reddb comes from `getrandom(2)`
//! through [`fill`]. A failure is an error, never a fallback.

use crate::error::{Error, Result};

/// Fills `buf` from the kernel CSPRNG.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Internal(format!("getrandom failed: {e}")))
}

/// A fresh random array (for public values: salts, nonces, ids).
pub fn array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}
