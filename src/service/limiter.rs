//! Failed-login rate limiting, per username and per peer address.
//!
//! A key (user or peer) that fails `limit` times inside `window` is refused
//! for the rest of that window without any Argon2 work. Memory is bounded:
//! past `MAX_TRACKED` keys, entries whose window has passed are dropped and
//! if that is not enough the oldest windows go first.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const MAX_TRACKED: usize = 10_000;
pub const USER_LIMIT: u32 = 5;
pub const PEER_LIMIT: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

#[derive(Debug)]
struct Counter<K: Hash + Eq + Clone> {
    map: HashMap<K, Window>,
    limit: u32,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    fn new(limit: u32) -> Self {
        Self {
            map: HashMap::new(),
            limit,
        }
    }

    fn blocked(&self, k: &K, now: Instant) -> Option<Duration> {
        let w = self.map.get(k)?;
        let elapsed = now.saturating_duration_since(w.start);
        (elapsed < WINDOW && w.failures >= self.limit).then(|| WINDOW - elapsed)
    }

    fn fail(&mut self, k: &K, now: Instant) {
        if self.map.len() >= MAX_TRACKED {
            self.map
                .retain(|_, w| now.saturating_duration_since(w.start) < WINDOW);
            if self.map.len() >= MAX_TRACKED {
                if let Some(oldest) = self
                    .map
                    .iter()
                    .min_by_key(|(_, w)| w.start)
                    .map(|(k, _)| k.clone())
                {
                    self.map.remove(&oldest);
                }
            }
        }
        let w = self.map.entry(k.clone()).or_insert(Window {
            start: now,
            failures: 0,
        });
        if now.saturating_duration_since(w.start) >= WINDOW {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures += 1;
    }

    fn clear(&mut self, k: &K) {
        self.map.remove(k);
    }
}

#[derive(Debug)]
pub struct LoginLimiter {
    users: Counter<String>,
    peers: Counter<IpAddr>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            users: Counter::new(USER_LIMIT),
            peers: Counter::new(PEER_LIMIT),
        }
    }
}

impl LoginLimiter {
    /// `Err(retry_after)` when this user or peer is currently refused.
    pub fn check(&self, user: &str, peer: IpAddr, now: Instant) -> Result<(), Duration> {
        let u = self.users.blocked(&user.to_string(), now);
        let p = self.peers.blocked(&peer, now);
        match (u, p) {
            (None, None) => Ok(()),
            (a, b) => Err(a.unwrap_or_default().max(b.unwrap_or_default())),
        }
    }

    pub fn failure(&mut self, user: &str, peer: IpAddr, now: Instant) {
        self.users.fail(&user.to_string(), now);
        self.peers.fail(&peer, now);
    }

    pub fn success(&mut self, user: &str, _peer: IpAddr) {
        self.users.clear(&user.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_peer_limits() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..USER_LIMIT {
            assert!(l.check("alice", ip, t0).is_ok());
            l.failure("alice", ip, t0);
        }
        assert!(l.check("alice", ip, t0).is_err());
        assert!(
            l.check("bob", ip, t0).is_ok(),
            "another user from the same peer is still allowed"
        );
        assert!(l.check("alice", ip, t0 + WINDOW).is_ok(), "window passes");
        for i in 0..PEER_LIMIT {
            l.failure(&format!("u{i}"), ip, t0);
        }
        assert!(l.check("carol", ip, t0).is_err(), "peer limit");
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(l.check("carol", other, t0).is_ok());
    }
}
