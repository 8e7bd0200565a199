//! Throttling of failed credentials: password checks (HTTP login, wire
//! `AUTH user pass`, a user changing its own password) and bearer tokens
//! (HTTP `Authorization`, wire `AUTH <token>`).
//!
//! Passwords: a failure counts in three buckets, each a fixed window of
//! [`WINDOW`]: the (user, peer) pair ([`PAIR_LIMIT`]), the user from every
//! peer ([`USER_LIMIT`], against guessing spread over many addresses) and
//! the peer for every user ([`PEER_LIMIT`], against one address trying
//! many names). A check is refused, without any Argon2 work, while any of
//! its three buckets is full. The pair limit is the tight one; the other
//! two are generous ceilings, so other users' failures from the same
//! address (every client behind a local proxy is 127.0.0.1) do not refuse a
//! correct login until that address fails [`PEER_LIMIT`] times in a window.
//!
//! Password checks run on a small worker pool whose queue every peer shares.
//! So that one address cannot fill it (and make everyone else's login wait
//! behind its guesses), at most [`PEER_IN_FLIGHT`] checks from one peer are
//! queued or running at once; past that the peer is told to retry ("busy").
//!
//! Tokens carry 128 random bits (the admin token at least 32 characters):
//! a failed one costs one SHA-256 and cannot be guessed, so a valid token is
//! never refused. Past [`TOKEN_PEER_LIMIT`] failures from one peer in a
//! window, the peer's failures are answered "rate limited" with a retry
//! time instead of "unauthorized", which tells a misconfigured or hostile
//! client to back off and folds its audit events.
//!
//! Memory is bounded: each bucket map keeps at most [`MAX_TRACKED`] keys;
//! entries whose window has passed go first, then the oldest windows.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const MAX_TRACKED: usize = 10_000;
/// Failed password checks of one user from one peer per window.
pub(crate) const PAIR_LIMIT: u32 = 5;
/// Failed password checks of one user from all peers per window.
pub(crate) const USER_LIMIT: u32 = 50;
/// Failed password checks from one peer for all users per window.
pub(crate) const PEER_LIMIT: u32 = 100;
/// Password checks from one peer queued or running at once.
pub(crate) const PEER_IN_FLIGHT: u32 = 4;
/// Failed bearer tokens from one peer per window before its failures are
/// answered "rate limited".
pub(crate) const TOKEN_PEER_LIMIT: u32 = 100;
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

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

    fn pending(&self, k: &K) -> u32 {
        self.map.get(k).map_or(0, |w| w.pending)
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
pub(crate) struct LoginLimiter {
    pairs: Counter<(String, IpAddr)>,
    users: Counter<String>,
    peers: Counter<IpAddr>,
    tokens: Counter<IpAddr>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            pairs: Counter::new(PAIR_LIMIT),
            users: Counter::new(USER_LIMIT),
            peers: Counter::new(PEER_LIMIT),
            tokens: Counter::new(TOKEN_PEER_LIMIT),
        }
    }
}

impl LoginLimiter {
    /// `Err(retry_after)` when a password check for this user from this
    /// peer is currently refused.
    pub fn check(&self, user: &str, peer: IpAddr, now: Instant) -> Result<(), Duration> {
        let pair = self.pairs.blocked(&(user.to_string(), peer), now);
        let u = self.users.blocked(&user.to_string(), now);
        let p = self.peers.blocked(&peer, now);
        match [pair, u, p].into_iter().flatten().max() {
            None => Ok(()),
            Some(retry) => Err(retry),
        }
    }

    /// Whether `peer` already has [`PEER_IN_FLIGHT`] password checks queued
    /// or running (a new one would only wait behind them: "busy").
    pub(crate) fn peer_busy(&self, peer: IpAddr) -> bool {
        self.peers.pending(&peer) >= PEER_IN_FLIGHT
    }

    /// A password check was queued for this user and peer.
    pub(crate) fn begin(&mut self, user: &str, peer: IpAddr, now: Instant) {
        self.pairs.begin(&(user.to_string(), peer), now);
        self.users.begin(&user.to_string(), now);
        self.peers.begin(&peer, now);
    }

    /// The check was never run (the worker pool was full).
    pub fn cancel(&mut self, user: &str, peer: IpAddr) {
        self.pairs.end(&(user.to_string(), peer));
        self.users.end(&user.to_string());
        self.peers.end(&peer);
    }

    /// The queued check failed.
    pub fn failure(&mut self, user: &str, peer: IpAddr, now: Instant) {
        self.cancel(user, peer);
        self.pairs.fail(&(user.to_string(), peer), now);
        self.users.fail(&user.to_string(), now);
        self.peers.fail(&peer, now);
    }

    /// The queued check succeeded: the pair's failures are forgotten (the
    /// user's and the peer's ceilings keep counting).
    pub fn success(&mut self, user: &str, peer: IpAddr) {
        self.cancel(user, peer);
        self.pairs.clear_failures(&(user.to_string(), peer));
    }

    /// A bearer token from `peer` did not authenticate. `Some(retry)` when
    /// the peer is past [`TOKEN_PEER_LIMIT`] in this window: answer "rate
    /// limited" instead of "unauthorized".
    pub(crate) fn token_failure(&mut self, peer: IpAddr, now: Instant) -> Option<Duration> {
        self.tokens.fail(&peer, now);
        self.tokens.blocked(&peer, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_user_and_peer_limits() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..PAIR_LIMIT {
            assert!(l.check("alice", ip, t0).is_ok());
            l.begin("alice", ip, t0);
            l.failure("alice", ip, t0);
        }
        assert!(l.check("alice", ip, t0).is_err(), "the pair is full");
        assert!(
            l.check("bob", ip, t0).is_ok(),
            "another user from the same peer is still allowed"
        );
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(
            l.check("alice", other, t0).is_ok(),
            "the same user from another peer is still allowed"
        );
        assert!(l.check("alice", ip, t0 + WINDOW).is_ok(), "window passes");
        // Many users failing from one peer: nobody is refused until the
        // generous peer ceiling.
        for i in 0..(PEER_LIMIT - PAIR_LIMIT - 1) {
            let u = format!("u{i}");
            assert!(l.check("carol", ip, t0).is_ok(), "after {i} other users");
            l.begin(&u, ip, t0);
            l.failure(&u, ip, t0);
        }
        assert!(l.check("carol", ip, t0).is_ok(), "one below the ceiling");
        l.begin("u-last", ip, t0);
        l.failure("u-last", ip, t0);
        assert!(l.check("carol", ip, t0).is_err(), "peer ceiling");
        assert!(l.check("carol", other, t0).is_ok());
    }

    #[test]
    fn one_peer_cannot_queue_more_than_its_share_of_checks() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.7".parse().unwrap();
        for i in 0..PEER_IN_FLIGHT {
            assert!(!l.peer_busy(ip), "check {i}");
            l.begin(&format!("u{i}"), ip, t0);
        }
        assert!(l.peer_busy(ip));
        assert!(!l.peer_busy("127.0.0.8".parse().unwrap()), "per peer");
        l.failure("u0", ip, t0);
        assert!(!l.peer_busy(ip), "a finished check frees a slot");
    }

    #[test]
    fn a_user_guessed_from_many_peers_hits_its_ceiling() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..USER_LIMIT {
            let ip = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            assert!(l.check("dave", ip, t0).is_ok());
            l.begin("dave", ip, t0);
            l.failure("dave", ip, t0);
        }
        let fresh: IpAddr = "10.9.9.9".parse().unwrap();
        assert!(l.check("dave", fresh, t0).is_err(), "user ceiling");
        assert!(l.check("erin", fresh, t0).is_ok(), "only dave");
    }

    #[test]
    fn token_failures_are_throttled_per_peer() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.5".parse().unwrap();
        for i in 1..TOKEN_PEER_LIMIT {
            assert!(l.token_failure(ip, t0).is_none(), "failure {i}");
        }
        assert!(l.token_failure(ip, t0).is_some(), "at the limit");
        let other: IpAddr = "127.0.0.6".parse().unwrap();
        assert!(l.token_failure(other, t0).is_none(), "per peer");
        assert!(
            l.token_failure(ip, t0 + WINDOW).is_none(),
            "a new window starts"
        );
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
        assert!(l.pairs.map.len() <= MAX_TRACKED);
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
        for _ in 0..PAIR_LIMIT {
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
