//! The audit log: one event per auth event, secret operation, policy change
//! and denied request, stored in [`Namespace::Audit`].
//!
//! An event is `{time_ms, principal, action, resource, outcome, code?,
//! peer, unauthenticated?}`: names, never a value, token or password.
//! `outcome` is `ok`, `denied` (403), `unauthorized` (401) or `error`;
//! `code` is the error code when it is not `ok`. `resource` is at most
//! [`MAX_RESOURCE_BYTES`] bytes with control characters replaced; a longer
//! one is cut at a character boundary and ends with [`CUT_MARK`].
//!
//! Keys are `TTTTTTTTTTTTTTTT-SSSSSSSSSSSS` (zero-padded milliseconds, then
//! a sequence number), so they sort by time; the time is made monotonic
//! (never below the previous event's) so key order is commit order.
//!
//! Two classes of events, with separate quotas. **Unauthenticated** events
//! are those of requests whose credentials did not resolve to a principal:
//! principal `anonymous`, outcome `unauthorized`, or a refused `auth.*`
//! attempt (a failed login, a throttled token). Anyone who can reach a port
//! can cause them, so they are kept apart: at most a tenth of the cap
//! ([`unauthenticated_quota`]), evicting only each other. Every other event
//! is **authenticated** history, of which the newest [`MAX_EVENTS`] are
//! kept; nothing unauthenticated can evict it.
//!
//! Retention: an event expires 30 days after it was written
//! ([`RETENTION_MS`], the store's expiry and sweep drop it), and the write
//! that adds one more event than its class may hold deletes that class's
//! oldest in the same commit. An event is staged as its own commit in the
//! loop turn of the request, so group commit flushes it with the
//! operation's own commit, before the reply leaves; a denied request's
//! event is therefore durable before its 403 is sent. With the vault
//! sealed nothing is written, events included.
//!
//! Folding: refusals a client can send at line rate — every
//! unauthenticated refusal, and `rate_limited`, `busy` and `noauth` — are
//! folded per (action, peer): the first in a [`THROTTLE_WINDOW_MS`] window
//! is written, the rest are counted and written as one summary event when
//! the window ends ([`ThrottledRefusals`]).

use super::records::{decode_record, encode_record, AuditRecord};
use super::results::AuditEvents;
use super::{Principal, Service, ServiceError, ServiceResult};
use reddb_storage::database::now_ms;
use reddb_storage::store::record::{Mutation, Namespace, Value, ValueRef};
use std::collections::VecDeque;
use std::net::IpAddr;

/// Authenticated events kept (the newest).
pub(crate) const MAX_EVENTS: usize = 100_000;
/// Longest `resource` stored, in bytes, [`CUT_MARK`] included.
pub(crate) const MAX_RESOURCE_BYTES: usize = 256;
/// The end of a `resource` that was cut to [`MAX_RESOURCE_BYTES`].
pub(crate) const CUT_MARK: &str = "…[cut]";
pub(crate) const RETENTION_MS: u64 = 30 * 24 * 60 * 60 * 1000;
pub(crate) const DEFAULT_LIMIT: usize = 1000;
pub(crate) const MAX_LIMIT: usize = 10_000;
/// `principal` of a request whose credentials did not resolve.
pub const ANONYMOUS: &str = "anonymous";

/// One recorded event (stored by the private `records` module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub time_ms: u64,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub outcome: String,
    /// The error code when the outcome is not `ok`.
    pub code: Option<String>,
    pub peer: Option<String>,
    /// The request's credentials did not resolve (see the module header).
    /// False in events written before the two classes existed, which are
    /// authenticated history.
    pub unauthenticated: bool,
}

impl From<AuditRecord> for AuditEvent {
    fn from(r: AuditRecord) -> Self {
        Self {
            time_ms: r.time_ms,
            principal: r.principal,
            action: r.action,
            resource: r.resource,
            outcome: r.outcome,
            code: r.code,
            peer: r.peer,
            unauthenticated: r.unauthenticated,
        }
    }
}

/// Unauthenticated events kept: a tenth of the authenticated cap (at least
/// one).
pub(crate) fn unauthenticated_quota(max: usize) -> usize {
    (max / 10).max(1)
}

/// Whether an event belongs to the unauthenticated class: its credentials
/// did not resolve (`anonymous`), it was refused as unauthorized, or it is
/// a refused attempt to authenticate (`auth.*` not `ok`: a failed login, a
/// throttled or malformed one).
pub(crate) fn is_unauthenticated(principal: &str, action: &str, outcome: &str) -> bool {
    principal == ANONYMOUS
        || outcome == "unauthorized"
        || (action.starts_with("auth.") && outcome != "ok")
}

/// `resource` as stored: control characters replaced by U+FFFD, and at most
/// [`MAX_RESOURCE_BYTES`] bytes — a longer one is cut at a character
/// boundary and marked with [`CUT_MARK`].
pub(crate) fn bounded_resource(resource: &str) -> String {
    let mut out = String::with_capacity(resource.len().min(MAX_RESOURCE_BYTES + 4));
    for c in resource.chars() {
        if out.len() > MAX_RESOURCE_BYTES {
            break;
        }
        out.push(if c.is_control() { '\u{fffd}' } else { c });
    }
    if out.len() <= MAX_RESOURCE_BYTES {
        return out;
    }
    let mut end = MAX_RESOURCE_BYTES - CUT_MARK.len();
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out.push_str(CUT_MARK);
    out
}

/// The in-memory index of stored event keys, oldest first, one queue per
/// class.
#[derive(Debug, Default)]
pub(crate) struct AuditIndex {
    authenticated: VecDeque<Vec<u8>>,
    unauthenticated: VecDeque<Vec<u8>>,
    last_time_ms: u64,
    next_seq: u64,
}

pub(crate) fn event_key(time_ms: u64, seq: u64) -> Vec<u8> {
    format!("{time_ms:016}-{seq:012}").into_bytes()
}

fn parse_key(k: &[u8]) -> Option<(u64, u64)> {
    let s = std::str::from_utf8(k).ok()?;
    let (t, q) = s.split_once('-')?;
    Some((t.parse().ok()?, q.parse().ok()?))
}

fn time_of(k: &[u8]) -> u64 {
    parse_key(k).map_or(0, |(t, _)| t)
}

impl AuditIndex {
    /// Rebuilds from the stored keys with their class (any order).
    pub(crate) fn from_entries(entries: Vec<(Vec<u8>, bool)>) -> Self {
        let mut authenticated = Vec::new();
        let mut unauthenticated = Vec::new();
        for (k, unauth) in entries {
            if unauth {
                unauthenticated.push(k);
            } else {
                authenticated.push(k);
            }
        }
        authenticated.sort();
        unauthenticated.sort();
        let newest = match (authenticated.last(), unauthenticated.last()) {
            (Some(a), Some(u)) => Some(a.max(u)),
            (a, u) => a.or(u),
        };
        let (last_time_ms, next_seq) = newest
            .and_then(|k| parse_key(k))
            .map_or((0, 0), |(t, q)| (t, q + 1));
        Self {
            authenticated: authenticated.into(),
            unauthenticated: unauthenticated.into(),
            last_time_ms,
            next_seq,
        }
    }

    /// Events indexed, both classes together (the tests check the quotas).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.authenticated.len() + self.unauthenticated.len()
    }

    /// Allocates the key of a new event at `now` (monotonic) in its class
    /// and returns it with the keys to delete so that the class holds at
    /// most `max` (authenticated) or [`unauthenticated_quota`]`(max)`.
    pub fn push(
        &mut self,
        now: u64,
        max: usize,
        unauthenticated: bool,
    ) -> (u64, Vec<u8>, Vec<Vec<u8>>) {
        let time = now.max(self.last_time_ms);
        let key = event_key(time, self.next_seq);
        self.last_time_ms = time;
        self.next_seq += 1;
        let (queue, cap) = if unauthenticated {
            (&mut self.unauthenticated, unauthenticated_quota(max))
        } else {
            (&mut self.authenticated, max.max(1))
        };
        queue.push_back(key.clone());
        let mut evicted = Vec::new();
        // Keys older than the retention window have expired in the store
        // already: forget them without a delete.
        for q in [&mut self.authenticated, &mut self.unauthenticated] {
            while q
                .front()
                .is_some_and(|k| time_of(k).saturating_add(RETENTION_MS) <= now)
            {
                q.pop_front();
            }
        }
        let queue = if unauthenticated {
            &mut self.unauthenticated
        } else {
            &mut self.authenticated
        };
        while queue.len() > cap {
            if let Some(k) = queue.pop_front() {
                evicted.push(k);
            }
        }
        (time, key, evicted)
    }

    /// Keys of both classes, newest first.
    pub(crate) fn newest_first(&self) -> NewestFirst<'_> {
        NewestFirst {
            a: self.authenticated.iter().rev().peekable(),
            u: self.unauthenticated.iter().rev().peekable(),
        }
    }
}

/// Both classes' keys merged, newest first (each queue is sorted).
pub(crate) struct NewestFirst<'a> {
    a: std::iter::Peekable<std::iter::Rev<std::collections::vec_deque::Iter<'a, Vec<u8>>>>,
    u: std::iter::Peekable<std::iter::Rev<std::collections::vec_deque::Iter<'a, Vec<u8>>>>,
}

impl<'a> Iterator for NewestFirst<'a> {
    type Item = &'a Vec<u8>;

    fn next(&mut self) -> Option<Self::Item> {
        match (self.a.peek(), self.u.peek()) {
            (Some(a), Some(u)) if u > a => self.u.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.u.next(),
        }
    }
}

/// Parses `since`: a number then `s`, `m`, `h` or `d` (`90m`, `24h`, `7d`).
pub(crate) fn parse_since(s: &str) -> ServiceResult<u64> {
    let bad = || {
        ServiceError::bad_request(
            "since must be a positive number followed by s, m, h or d (e.g. 90m, 24h, 7d)",
        )
    };
    let unit = s.chars().last().ok_or_else(bad)?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let mult: u64 = match unit {
        's' => 1000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(bad());
    }
    Ok(n.saturating_mul(mult))
}

/// Refusal codes a flood can produce at line rate: folded per (action,
/// peer) into one event plus one summary per window ([`ThrottledRefusals`]).
const FOLDED_CODES: [&str; 3] = ["rate_limited", "busy", "noauth"];

/// The outcome and code of a result.
pub fn outcome_of<T>(r: &ServiceResult<T>) -> (&'static str, Option<&'static str>) {
    use super::Kind;
    match r {
        Ok(_) => ("ok", None),
        Err(e) => match e.kind {
            Kind::Forbidden => ("denied", Some(e.code)),
            Kind::Unauthorized => ("unauthorized", Some(e.code)),
            _ => ("error", Some(e.code)),
        },
    }
}

/// A principal name as recorded: a name that is not a valid username (a
/// login attempt with garbage, or a password typed into the name field
/// that does not look like a name) is not stored as given.
fn safe_name(name: &str) -> String {
    if super::accounts::validate_username(name).is_ok() {
        name.to_string()
    } else {
        "<invalid-name>".to_string()
    }
}

/// Filters of `GET /admin/audit`.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery<'a> {
    pub since: Option<&'a str>,
    pub action: Option<&'a str>,
    pub principal: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub limit: Option<&'a str>,
}

/// How long refusals of one kind from one peer are folded into one event.
pub(crate) const THROTTLE_WINDOW_MS: u64 = 10_000;
/// Peers tracked at once; past this every pending summary is written.
const MAX_THROTTLED: usize = 4096;

/// Refusals a client can send at line rate arrive in floods. The first one
/// per (action, peer) in a window is recorded as usual; the rest are
/// counted and recorded as one summary event when the window ends. A flood
/// therefore writes a handful of events instead of thousands per second,
/// and (being unauthenticated, mostly) cannot push real history out.
#[derive(Debug, Default)]
pub(crate) struct ThrottledRefusals {
    windows: std::collections::HashMap<(String, Option<IpAddr>), Window>,
}

#[derive(Debug, Clone)]
struct Window {
    started_ms: u64,
    suppressed: u64,
    principal: String,
    outcome: String,
    code: String,
}

/// A summary to write.
struct Summary {
    action: String,
    peer: Option<IpAddr>,
    principal: String,
    outcome: String,
    code: String,
    suppressed: u64,
}

impl ThrottledRefusals {
    /// Whether this refusal is folded into its window (not written now).
    fn fold(&mut self, action: &str, peer: Option<IpAddr>, now: u64) -> bool {
        match self.windows.get_mut(&(action.to_string(), peer)) {
            Some(w) if now.saturating_sub(w.started_ms) < THROTTLE_WINDOW_MS => {
                w.suppressed += 1;
                true
            }
            _ => false,
        }
    }

    fn open(
        &mut self,
        action: &str,
        peer: Option<IpAddr>,
        principal: &str,
        outcome: (&str, &str),
        now: u64,
    ) {
        self.windows.insert(
            (action.to_string(), peer),
            Window {
                started_ms: now,
                suppressed: 0,
                principal: principal.to_string(),
                outcome: outcome.0.to_string(),
                code: outcome.1.to_string(),
            },
        );
    }

    /// Closes windows that ended (all of them with `all`), returning the
    /// summaries to write.
    fn close(&mut self, now: u64, all: bool) -> Vec<Summary> {
        let mut out = Vec::new();
        self.windows.retain(|(action, peer), w| {
            let ended = all || now.saturating_sub(w.started_ms) >= THROTTLE_WINDOW_MS;
            if ended && w.suppressed > 0 {
                out.push(Summary {
                    action: action.clone(),
                    peer: *peer,
                    principal: w.principal.clone(),
                    outcome: w.outcome.clone(),
                    code: w.code.clone(),
                    suppressed: w.suppressed,
                });
            }
            !ended
        });
        out
    }
}

impl Service {
    /// Writes the summaries of throttling windows that ended (the event
    /// loop calls this once a second).
    pub fn flush_audit_summaries(&mut self) {
        let summaries = self.audit_throttled.close(now_ms(), false);
        self.write_summaries(summaries);
    }

    fn write_summaries(&mut self, summaries: Vec<Summary>) {
        for s in summaries {
            let resource = format!(
                "{} more refused within {} s",
                s.suppressed,
                THROTTLE_WINDOW_MS / 1000
            );
            self.write_event(
                &s.principal,
                &s.action,
                &resource,
                (&s.outcome, Some(&s.code)),
                s.peer,
            );
        }
    }

    /// Records one event (staged as its own commit; flushed with the
    /// request's). Does nothing while the vault is not open. A failure to
    /// stage is logged by code only: the request itself already has its
    /// answer. Unauthenticated refusals and rate-limited, busy and NOAUTH
    /// ones are folded per (action, peer) (see [`ThrottledRefusals`]).
    pub fn audit(
        &mut self,
        principal: &str,
        action: &str,
        resource: &str,
        outcome: (&str, Option<&str>),
        peer: Option<IpAddr>,
    ) {
        if self.database().is_none() {
            return;
        }
        let folded = match outcome.1 {
            Some(code) => {
                FOLDED_CODES.contains(&code) || is_unauthenticated(principal, action, outcome.0)
            }
            None => false,
        };
        if folded {
            let now = now_ms();
            if self.audit_throttled.fold(action, peer, now) {
                return;
            }
            if self.audit_throttled.windows.len() >= MAX_THROTTLED {
                let all = self.audit_throttled.close(now, true);
                self.write_summaries(all);
            }
            self.audit_throttled.open(
                action,
                peer,
                principal,
                (outcome.0, outcome.1.unwrap_or("")),
                now,
            );
        }
        self.write_event(principal, action, resource, outcome, peer);
    }

    fn write_event(
        &mut self,
        principal: &str,
        action: &str,
        resource: &str,
        outcome: (&str, Option<&str>),
        peer: Option<IpAddr>,
    ) {
        let now = now_ms();
        let unauthenticated = is_unauthenticated(principal, action, outcome.0);
        let (time, key, evicted) = self.audit_index.push(now, self.audit_max, unauthenticated);
        let event = AuditRecord {
            time_ms: time,
            principal: safe_name(principal),
            action: action.to_string(),
            resource: bounded_resource(resource),
            outcome: outcome.0.to_string(),
            code: outcome.1.map(str::to_string),
            peer: peer.map(|p| p.to_string()),
            unauthenticated,
        };
        let Ok(bytes) = encode_record(&event) else {
            return;
        };
        let mut muts = vec![Mutation::Put {
            ns: Namespace::Audit,
            key,
            value: Value::Bytes(bytes),
            expires_at_ms: time.saturating_add(RETENTION_MS),
        }];
        muts.extend(evicted.into_iter().map(|key| Mutation::Delete {
            ns: Namespace::Audit,
            key,
        }));
        if let Err(e) = self.commit(muts) {
            reddb_storage::log_warn!("audit event not recorded: {}", e.code);
        }
    }

    /// Records the event of a request's result.
    pub fn audit_result<T>(
        &mut self,
        principal: &str,
        action: &str,
        resource: &str,
        r: &ServiceResult<T>,
        peer: Option<IpAddr>,
    ) {
        self.audit(principal, action, resource, outcome_of(r), peer);
    }

    pub(super) fn rebuild_audit_index(&mut self) {
        // One decode per stored event at start-up, to learn its class.
        let entries: Vec<(Vec<u8>, bool)> = match self.database() {
            Some(db) => db
                .store()
                .state()
                .iter(Namespace::Audit, now_ms())
                .map(|(k, e)| {
                    let unauth = match e.value {
                        ValueRef::Bytes(b) => {
                            decode_record::<AuditRecord>(b).is_ok_and(|ev| ev.unauthenticated)
                        }
                        _ => false,
                    };
                    (k.to_vec(), unauth)
                })
                .collect(),
            None => Vec::new(),
        };
        self.audit_index = AuditIndex::from_entries(entries);
    }

    /// Caps the number of authenticated events kept (unauthenticated ones:
    /// a tenth of it). Default [`MAX_EVENTS`]; tests set it lower.
    pub fn set_audit_max(&mut self, max: usize) {
        self.audit_max = max.max(1);
    }

    /// `GET /admin/audit`: admins and the admin token; newest first.
    pub fn query_audit(&self, p: &Principal, q: &AuditQuery) -> ServiceResult<AuditEvents> {
        self.require_admin(p)?;
        let db = self.open_db()?;
        let window = parse_since(q.since.unwrap_or("24h"))?;
        let limit = match q.limit {
            None => DEFAULT_LIMIT,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ServiceError::bad_request(format!(
                        "limit must be 1 to {MAX_LIMIT}"
                    )))
                }
            },
        };
        let now = now_ms();
        let cutoff = now.saturating_sub(window);
        let mut out = Vec::new();
        for k in self.audit_index.newest_first() {
            if time_of(k) < cutoff || out.len() >= limit {
                break;
            }
            let Some(entry) = db.store().get(Namespace::Audit, k, now) else {
                continue;
            };
            let ValueRef::Bytes(b) = entry.value else {
                continue;
            };
            let Ok(ev) = decode_record::<AuditRecord>(b) else {
                continue;
            };
            let action_ok = q.action.is_none_or(|a| match a.strip_suffix('*') {
                Some(prefix) => ev.action.starts_with(prefix),
                None => ev.action == a,
            });
            if action_ok
                && q.principal.is_none_or(|p| ev.principal == p)
                && q.outcome.is_none_or(|o| ev.outcome == o)
            {
                out.push(AuditEvent::from(ev));
            }
        }
        Ok(AuditEvents(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_parses() {
        assert_eq!(parse_since("24h").unwrap(), 86_400_000);
        assert_eq!(parse_since("90m").unwrap(), 5_400_000);
        assert_eq!(parse_since("7d").unwrap(), 604_800_000);
        assert_eq!(parse_since("30s").unwrap(), 30_000);
        for bad in ["", "h", "0h", "-1h", "24", "24x", "1.5h", "é"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn throttled_refusals_fold_into_one_summary_per_window() {
        let mut t = ThrottledRefusals::default();
        let peer = Some("127.0.0.9".parse().unwrap());
        assert!(!t.fold("auth.login", peer, 1_000));
        t.open("auth.login", peer, "x", ("error", "rate_limited"), 1_000);
        for i in 0..500 {
            assert!(t.fold("auth.login", peer, 1_001 + i));
        }
        assert!(
            !t.fold("auth.login", Some("127.0.0.8".parse().unwrap()), 1_100),
            "per peer"
        );
        assert!(t.close(5_000, false).is_empty(), "window still open");
        let out = t.close(1_000 + THROTTLE_WINDOW_MS, false);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].suppressed, 500);
        assert_eq!(out[0].code, "rate_limited");
        assert!(
            !t.fold("auth.login", peer, 1_000 + THROTTLE_WINDOW_MS),
            "a new window opens"
        );
    }

    #[test]
    fn keys_sort_monotonic_and_retention_caps() {
        let mut ix = AuditIndex::default();
        let (t1, k1, e) = ix.push(1000, 3, false);
        assert!(e.is_empty());
        // A clock going back does not break key order.
        let (t2, k2, _) = ix.push(500, 3, false);
        assert_eq!(t1, 1000);
        assert_eq!(t2, 1000);
        assert!(k2 > k1);
        let (_, k3, _) = ix.push(2000, 3, false);
        let (_, _, e) = ix.push(2001, 3, false);
        assert_eq!(e, vec![k1.clone()]);
        assert_eq!(ix.len(), 3);
        // Rebuilt from stored keys, the sequence continues.
        let stored: Vec<(Vec<u8>, bool)> = ix.newest_first().map(|k| (k.clone(), false)).collect();
        let mut ix2 = AuditIndex::from_entries(stored);
        let (_, k5, _) = ix2.push(2001, 3, false);
        assert!(k5 > k3);
        // Events past the window are forgotten without deletes.
        let (_, _, e) = ix2.push(2001 + RETENTION_MS + 1, 3, false);
        assert!(e.is_empty());
        assert_eq!(ix2.len(), 1);
    }

    #[test]
    fn unauthenticated_events_evict_only_each_other() {
        let mut ix = AuditIndex::default();
        let max = 20;
        let mut authed = Vec::new();
        for t in 0..max as u64 {
            let (_, k, e) = ix.push(1000 + t, max, false);
            assert!(e.is_empty());
            authed.push(k);
        }
        let mut evicted = Vec::new();
        for t in 0..1000 {
            let (_, _, e) = ix.push(2000 + t, max, true);
            evicted.extend(e);
        }
        assert!(evicted.iter().all(|k| !authed.contains(k)));
        assert_eq!(ix.len(), max + unauthenticated_quota(max));
        // Newest first merges both classes in key order.
        let keys: Vec<&Vec<u8>> = ix.newest_first().collect();
        assert!(keys.windows(2).all(|w| w[0] > w[1]));
        // Rebuilt with classes, the quotas still hold.
        let entries: Vec<(Vec<u8>, bool)> = ix
            .newest_first()
            .map(|k| (k.clone(), !authed.contains(k)))
            .collect();
        let mut ix2 = AuditIndex::from_entries(entries);
        let (_, _, e) = ix2.push(5000, max, true);
        assert_eq!(e.len(), 1);
        assert!(!authed.contains(&e[0]));
    }

    #[test]
    fn resources_are_bounded_and_marked() {
        assert_eq!(bounded_resource("vault:red.vault/a"), "vault:red.vault/a");
        let long = "é".repeat(1000);
        let b = bounded_resource(&long);
        assert!(b.len() <= MAX_RESOURCE_BYTES, "{}", b.len());
        assert!(b.ends_with(CUT_MARK));
        assert!(b.starts_with("éé"));
        let exact = "a".repeat(MAX_RESOURCE_BYTES);
        assert_eq!(bounded_resource(&exact), exact, "exactly the limit is kept");
        let over = "a".repeat(MAX_RESOURCE_BYTES + 1);
        assert!(bounded_resource(&over).ends_with(CUT_MARK));
        assert_eq!(bounded_resource("a\u{1}b\nc"), "a\u{fffd}b\u{fffd}c");
    }

    #[test]
    fn classes() {
        assert!(is_unauthenticated(ANONYMOUS, "secret.read", "unauthorized"));
        assert!(is_unauthenticated("alice", "auth.login", "unauthorized"));
        assert!(is_unauthenticated("alice", "auth.login", "error"));
        assert!(!is_unauthenticated("alice", "auth.login", "ok"));
        assert!(!is_unauthenticated("alice", "secret.read", "denied"));
        assert!(!is_unauthenticated("admin-token", "user.create", "ok"));
    }

    #[test]
    fn outcomes() {
        let ok: ServiceResult<()> = Ok(());
        assert_eq!(outcome_of(&ok), ("ok", None));
        let d: ServiceResult<()> = Err(ServiceError::forbidden("x"));
        assert_eq!(outcome_of(&d), ("denied", Some("forbidden")));
        let u: ServiceResult<()> = Err(ServiceError::unauthorized());
        assert_eq!(outcome_of(&u), ("unauthorized", Some("unauthorized")));
        let n: ServiceResult<()> = Err(ServiceError::not_found("x"));
        assert_eq!(outcome_of(&n), ("error", Some("not_found")));
    }
}
