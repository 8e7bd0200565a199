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
    /// Checks started and not finished: counted against the limit so a
    /// burst cannot queue more attempts than the limit allows.
    pending: u32,
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
        let failures = if elapsed < WINDOW { w.failures } else { 0 };
        (failures + w.pending >= self.limit)
            .then(|| WINDOW.saturating_sub(elapsed).max(Duration::from_secs(1)))
    }

    /// Keeps the map under `MAX_TRACKED` in amortised O(1): when full,
    /// one pass drops every entry that is neither blocking nor in flight
    /// (oldest windows first) down to half the cap. Scanning per insert
    /// would let a flood of unique usernames stall the event loop.
    fn make_room(&mut self, now: Instant) {
        if self.map.len() < MAX_TRACKED {
            return;
        }
        let limit = self.limit;
        let live = |w: &Window| {
            w.pending > 0
                || (now.saturating_duration_since(w.start) < WINDOW && w.failures >= limit)
        };
        self.map
            .retain(|_, w| live(w) || now.saturating_duration_since(w.start) < WINDOW);
        if self.map.len() >= MAX_TRACKED / 2 {
            let mut evictable: Vec<(Instant, K)> = self
                .map
                .iter()
                .filter(|(_, w)| !live(w))
                .map(|(k, w)| (w.start, k.clone()))
                .collect();
            evictable.sort_unstable_by_key(|(start, _)| *start);
            let excess = self.map.len().saturating_sub(MAX_TRACKED / 2);
            for (_, k) in evictable.into_iter().take(excess) {
                self.map.remove(&k);
            }
        }
    }

    fn begin(&mut self, k: &K, now: Instant) {
        self.make_room(now);
        let w = self.map.entry(k.clone()).or_insert(Window {
            start: now,
            failures: 0,
            pending: 0,
        });
        w.pending += 1;
    }

    fn end(&mut self, k: &K) {
        if let Some(w) = self.map.get_mut(k) {
            w.pending = w.pending.saturating_sub(1);
        }
    }

    fn fail(&mut self, k: &K, now: Instant) {
        self.make_room(now);
        let w = self.map.entry(k.clone()).or_insert(Window {
            start: now,
            failures: 0,
            pending: 0,
        });
        if now.saturating_duration_since(w.start) >= WINDOW {
            w.start = now;
            w.failures = 0;
        }
        w.failures += 1;
    }

    fn clear_failures(&mut self, k: &K) {
        if let Some(w) = self.map.get_mut(k) {
            w.failures = 0;
            if w.pending == 0 {
                self.map.remove(k);
            }
        }
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

    /// A password check was queued for this user and peer.
    pub fn begin(&mut self, user: &str, peer: IpAddr, now: Instant) {
        self.users.begin(&user.to_string(), now);
        self.peers.begin(&peer, now);
    }

    /// The check was never run (the worker pool was full).
    pub fn cancel(&mut self, user: &str, peer: IpAddr) {
        self.users.end(&user.to_string());
        self.peers.end(&peer);
    }

    /// The queued check failed.
    pub fn failure(&mut self, user: &str, peer: IpAddr, now: Instant) {
        self.users.end(&user.to_string());
        self.peers.end(&peer);
        self.users.fail(&user.to_string(), now);
        self.peers.fail(&peer, now);
    }

    /// The queued check succeeded.
    pub fn success(&mut self, user: &str, peer: IpAddr) {
        self.users.end(&user.to_string());
        self.peers.end(&peer);
        self.users.clear_failures(&user.to_string());
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
            l.begin("alice", ip, t0);
            l.failure("alice", ip, t0);
        }
        assert!(l.check("alice", ip, t0).is_err());
        assert!(
            l.check("bob", ip, t0).is_ok(),
            "another user from the same peer is still allowed"
        );
        assert!(l.check("alice", ip, t0 + WINDOW).is_ok(), "window passes");
        for i in 0..PEER_LIMIT {
            l.begin(&format!("u{i}"), ip, t0);
            l.failure(&format!("u{i}"), ip, t0);
        }
        assert!(l.check("carol", ip, t0).is_err(), "peer limit");
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(l.check("carol", other, t0).is_ok());
    }

    #[test]
    fn unique_usernames_cannot_grow_the_map_past_the_cap() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.4".parse().unwrap();
        for i in 0..(3 * MAX_TRACKED) {
            let u = format!("u{i}");
            l.begin(&u, ip, t0);
            l.failure(&u, ip, t0);
        }
        assert!(l.users.map.len() <= MAX_TRACKED);
        assert!(
            l.check("u-new", ip, t0).is_err(),
            "the peer limit still holds"
        );
    }

    #[test]
    fn queued_checks_count_against_the_limit() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..USER_LIMIT {
            assert!(l.check("dave", ip, t0).is_ok());
            l.begin("dave", ip, t0);
        }
        assert!(
            l.check("dave", ip, t0).is_err(),
            "a burst cannot queue past the limit"
        );
        l.success("dave", ip);
        assert!(
            l.check("dave", ip, t0).is_ok(),
            "a finished check frees its slot"
        );
    }
}
