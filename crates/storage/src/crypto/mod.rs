//! Cryptography: guarded key memory, the key hierarchy, AEAD sealing,
//! password hashing, randomness and k-of-n certificate shares. No other module touches a cipher or a
//! key byte directly.

pub mod keys;
// Public for its compile_fail doc tests (no Debug, no Clone), which name it.
pub mod locked;
pub mod password;
pub mod random;
pub mod seal;
pub mod shares;
