//! The audit log: one event per auth event, secret operation, policy change
//! and denied request, stored in [`Namespace::Audit`].
//!
//! An event is `{time_ms, principal, action, resource, outcome, code?,
//! peer}`: names, never a value, token or password. `outcome` is `ok`,
//! `denied` (403), `unauthorized` (401) or `error`; `code` is the error
//! code when it is not `ok`.
//!
//! Keys are `TTTTTTTTTTTTTTTT-SSSSSSSSSSSS` (zero-padded milliseconds, then
//! a sequence number), so they sort by time; the time is made monotonic
//! (never below the previous event's) so key order is commit order.
//! Retention: an event expires 30 days after it was written
//! ([`RETENTION_MS`], the store's expiry and sweep drop it) and at most the
//! newest [`MAX_EVENTS`] are kept — the write that adds one more deletes the
//! oldest in the same commit. An event is staged as its own commit in the
//! loop turn of the request, so group commit flushes it with the
//! operation's own commit, before the reply leaves; a denied request's
//! event is therefore durable before its 403 is sent. With the vault
//! sealed nothing is written, events included.

use super::{Principal, Service, ServiceError, ServiceResult};
use crate::database::now_ms;
use crate::store::record::{Mutation, Namespace, Value};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use std::collections::VecDeque;
use std::net::IpAddr;

pub const MAX_EVENTS: usize = 100_000;
pub const RETENTION_MS: u64 = 30 * 24 * 60 * 60 * 1000;
pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 10_000;
/// `principal` of a request whose credentials did not resolve.
pub const ANONYMOUS: &str = "anonymous";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub time_ms: u64,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default)]
    pub peer: Option<String>,
}

/// The in-memory index of stored event keys, oldest first.
#[derive(Debug, Default)]
pub struct AuditIndex {
    keys: VecDeque<Vec<u8>>,
    last_time_ms: u64,
    next_seq: u64,
}

pub fn event_key(time_ms: u64, seq: u64) -> Vec<u8> {
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
    /// Rebuilds from the stored keys (any order).
    pub fn from_keys(mut keys: Vec<Vec<u8>>) -> Self {
        keys.sort();
        let (last_time_ms, next_seq) = keys
            .last()
            .and_then(|k| parse_key(k))
            .map_or((0, 0), |(t, q)| (t, q + 1));
        Self {
            keys: keys.into(),
            last_time_ms,
            next_seq,
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Allocates the key of a new event at `now` (monotonic) and returns
    /// it with the keys to delete so at most `max` remain.
    pub fn push(&mut self, now: u64, max: usize) -> (u64, Vec<u8>, Vec<Vec<u8>>) {
        let time = now.max(self.last_time_ms);
        let key = event_key(time, self.next_seq);
        self.last_time_ms = time;
        self.next_seq += 1;
        self.keys.push_back(key.clone());
        let mut evicted = Vec::new();
        // Keys older than the retention window have expired in the store
        // already: forget them without a delete.
        while self
            .keys
            .front()
            .is_some_and(|k| time_of(k).saturating_add(RETENTION_MS) <= now)
        {
            self.keys.pop_front();
        }
        while self.keys.len() > max.max(1) {
            if let Some(k) = self.keys.pop_front() {
                evicted.push(k);
            }
        }
        (time, key, evicted)
    }

    /// Keys newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.keys.iter().rev()
    }
}

/// Parses `since`: a number then `s`, `m`, `h` or `d` (`90m`, `24h`, `7d`).
pub fn parse_since(s: &str) -> ServiceResult<u64> {
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
pub const THROTTLE_WINDOW_MS: u64 = 10_000;
/// Peers tracked at once; past this every pending summary is written.
const MAX_THROTTLED: usize = 4096;

/// Refusals that cost no work (rate limited, busy) arrive in floods. The
/// first one per (action, peer) in a window is recorded as usual; the rest
/// are counted and recorded as one summary event when the window ends. A
/// flood therefore writes a handful of events instead of thousands per
/// second, and cannot push real history out of the bounded log.
#[derive(Debug, Default)]
pub struct ThrottledRefusals {
    windows: std::collections::HashMap<(String, Option<IpAddr>), Window>,
}

#[derive(Debug, Clone)]
struct Window {
    started_ms: u64,
    suppressed: u64,
    principal: String,
    code: &'static str,
}

/// A summary to write: (action, peer, principal, code, suppressed count).
type Summary = (String, Option<IpAddr>, String, &'static str, u64);

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
        code: &'static str,
        now: u64,
    ) {
        self.windows.insert(
            (action.to_string(), peer),
            Window {
                started_ms: now,
                suppressed: 0,
                principal: principal.to_string(),
                code,
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
                out.push((
                    action.clone(),
                    *peer,
                    w.principal.clone(),
                    w.code,
                    w.suppressed,
                ));
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
        for (action, peer, principal, code, n) in summaries {
            let resource = format!("{n} more refused within {} s", THROTTLE_WINDOW_MS / 1000);
            self.write_event(&principal, &action, &resource, ("error", Some(code)), peer);
        }
    }

    /// Records one event (staged as its own commit; flushed with the
    /// request's). Does nothing while the vault is not open. A failure to
    /// stage is logged by code only: the request itself already has its
    /// answer. Rate-limited, busy and NOAUTH refusals are folded per peer (see
    /// [`ThrottledRefusals`]).
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
        if let Some(code) = outcome
            .1
            .and_then(|c| FOLDED_CODES.iter().copied().find(|f| *f == c))
        {
            let now = now_ms();
            if self.audit_throttled.fold(action, peer, now) {
                return;
            }
            if self.audit_throttled.windows.len() >= MAX_THROTTLED {
                let all = self.audit_throttled.close(now, true);
                self.write_summaries(all);
            }
            self.audit_throttled
                .open(action, peer, principal, code, now);
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
        let (time, key, evicted) = self.audit_index.push(now, self.audit_max);
        let event = AuditEvent {
            time_ms: time,
            principal: safe_name(principal),
            action: action.to_string(),
            resource: resource.to_string(),
            outcome: outcome.0.to_string(),
            code: outcome.1.map(str::to_string),
            peer: peer.map(|p| p.to_string()),
        };
        let Ok(bytes) = serde_json::to_vec(&event) else {
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
            crate::log_warn!("audit event not recorded: {}", e.code);
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
        let keys: Vec<Vec<u8>> = match self.database() {
            Some(db) => db
                .store()
                .state()
                .iter(Namespace::Audit, now_ms())
                .map(|(k, _)| k.clone())
                .collect(),
            None => Vec::new(),
        };
        self.audit_index = AuditIndex::from_keys(keys);
    }

    /// Caps the number of events kept (tests; default [`MAX_EVENTS`]).
    pub fn set_audit_max(&mut self, max: usize) {
        self.audit_max = max.max(1);
    }

    /// `GET /admin/audit`: admins and the admin token; newest first.
    pub fn query_audit(&self, p: &Principal, q: &AuditQuery) -> ServiceResult<Json> {
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
            let Value::Bytes(b) = &entry.value else {
                continue;
            };
            let Ok(ev) = serde_json::from_slice::<AuditEvent>(b) else {
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
                out.push(ev);
            }
        }
        Ok(json!({"ok": true, "events": out}))
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
        t.open("auth.login", peer, "x", "rate_limited", 1_000);
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
        assert_eq!(out[0].4, 500);
        assert!(
            !t.fold("auth.login", peer, 1_000 + THROTTLE_WINDOW_MS),
            "a new window opens"
        );
    }

    #[test]
    fn keys_sort_monotonic_and_retention_caps() {
        let mut ix = AuditIndex::default();
        let (t1, k1, e) = ix.push(1000, 3);
        assert!(e.is_empty());
        // A clock going back does not break key order.
        let (t2, k2, _) = ix.push(500, 3);
        assert_eq!(t1, 1000);
        assert_eq!(t2, 1000);
        assert!(k2 > k1);
        let (_, k3, _) = ix.push(2000, 3);
        let (_, _, e) = ix.push(2001, 3);
        assert_eq!(e, vec![k1.clone()]);
        assert_eq!(ix.len(), 3);
        // Rebuilt from stored keys, the sequence continues.
        let mut stored: Vec<Vec<u8>> = ix.newest_first().cloned().collect();
        stored.reverse();
        let mut ix2 = AuditIndex::from_keys(stored);
        let (_, k5, _) = ix2.push(2001, 3);
        assert!(k5 > k3);
        // Events past the window are forgotten without deletes.
        let (_, _, e) = ix2.push(2001 + RETENTION_MS + 1, 3);
        assert!(e.is_empty());
        assert_eq!(ix2.len(), 1);
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
