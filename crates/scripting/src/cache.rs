//! The script cache: script bodies by their SHA1 (lower-case hex), as
//! `EVAL` and `SCRIPT LOAD` leave them for `EVALSHA`. In memory only, never
//! persisted (as in Redis); bounded in total bytes: past the bound the
//! oldest scripts are dropped first (a client's `EVALSHA` of one then gets
//! `NOSCRIPT` and sends the body again with `EVAL`, as clients do).

use sha1::{Digest, Sha1};
use std::collections::{HashMap, VecDeque};

/// Most bytes of script bodies kept (Redis keeps every script until
/// `SCRIPT FLUSH`; reddb drops the oldest past this).
pub const MAX_CACHED_BYTES: usize = 32 * 1024 * 1024;

/// Lower-case hex SHA1 of `body` (what `EVALSHA` names a script by).
pub fn sha1_hex(body: &[u8]) -> String {
    let digest = Sha1::digest(body);
    let mut out = String::with_capacity(40);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// Scripts by SHA1, oldest first for eviction.
#[derive(Debug, Default)]
pub struct ScriptCache {
    bodies: HashMap<String, Vec<u8>>,
    order: VecDeque<String>,
    bytes: usize,
    limit: usize,
}

impl ScriptCache {
    /// An empty cache holding at most `limit` bytes of bodies.
    pub fn new(limit: usize) -> Self {
        ScriptCache {
            limit,
            ..ScriptCache::default()
        }
    }

    /// Keeps `body` under `sha` (its SHA1), dropping the oldest scripts
    /// while the bound would be passed. A body larger than the whole bound
    /// is not kept.
    pub fn insert(&mut self, sha: &str, body: &[u8]) {
        if self.bodies.contains_key(sha) || body.len() > self.limit {
            return;
        }
        while self.bytes + body.len() > self.limit {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(b) = self.bodies.remove(&old) {
                self.bytes -= b.len();
            }
        }
        self.bytes += body.len();
        self.bodies.insert(sha.to_string(), body.to_vec());
        self.order.push_back(sha.to_string());
    }

    /// The body named by `sha` (any case, as Redis accepts).
    pub fn get(&self, sha: &[u8]) -> Option<&[u8]> {
        if sha.len() != 40 {
            return None;
        }
        let key = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.bodies.get(&key).map(Vec::as_slice)
    }

    /// `SCRIPT FLUSH`.
    pub fn clear(&mut self) {
        self.bodies.clear();
        self.order.clear();
        self.bytes = 0;
    }

    /// How many scripts are kept (`INFO memory`'s `number_of_cached_scripts`).
    pub fn len(&self) -> usize {
        self.bodies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }

    /// Bytes of bodies kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_is_redis_digest() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            sha1_hex(b"return 1"),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
    }

    #[test]
    fn bounded_oldest_first_any_case() {
        let mut c = ScriptCache::new(10);
        let (a, b) = (sha1_hex(b"aaaaaa"), sha1_hex(b"bbbbbb"));
        c.insert(&a, b"aaaaaa");
        assert_eq!(
            c.get(a.to_ascii_uppercase().as_bytes()),
            Some(&b"aaaaaa"[..])
        );
        c.insert(&b, b"bbbbbb");
        assert_eq!(c.get(a.as_bytes()), None, "the oldest went");
        assert_eq!(c.get(b.as_bytes()), Some(&b"bbbbbb"[..]));
        assert_eq!(c.bytes(), 6);
        c.insert("x", &[0; 11]);
        assert_eq!(c.len(), 1, "too large for the bound: not kept");
        c.clear();
        assert!(c.is_empty());
        assert_eq!(c.get(b"short"), None);
    }
}
