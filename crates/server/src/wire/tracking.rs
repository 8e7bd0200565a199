//! Client-side caching (`CLIENT TRACKING`), default mode only: which
//! connections track, the keys each has read since (Redis's tracking
//! table: key names, whatever the database, at most
//! [`MAX_TRACKED_KEYS`] — past it the oldest are invalidated, as Redis's
//! `tracking-table-max-keys` does), and the RESP3 `invalidate` pushes a
//! write, an expiry or a flush causes. The pushes go through the pub/sub
//! outbox ([`super::pubsub::PubSub::push_to`]) and reach the client with
//! the turn's replies (its own write's invalidation after its reply, as
//! Redis 7.0 orders them). A RESP2 connection may turn tracking on and is
//! sent nothing, as Redis without `REDIRECT`.
//!
//! Also `CLIENT TRACKINGINFO`, `CLIENT GETREDIR` and `CLIENT CACHING`.
//! `BCAST`, `OPTIN`, `OPTOUT`, `PREFIX` and `REDIRECT` are refused with a
//! clear error. Must never track a key for a connection that is not
//! tracking, nor grow past its bound.

use super::commands::{lower, syntax, Call, Ctx};
use super::pubsub::PubSub;
use super::resp::Reply;
use std::collections::{BTreeSet, HashMap, VecDeque};

/// Most keys remembered (Redis's `tracking-table-max-keys` default).
pub(crate) const MAX_TRACKED_KEYS: usize = 1_000_000;

/// What reddb answers to the modes it does not have.
const ONLY_DEFAULT_MODE: &str = "ERR reddb supports only the default CLIENT TRACKING mode (no BCAST, OPTIN, OPTOUT, PREFIX or REDIRECT)";

/// A tracking connection's options.
#[derive(Debug, Clone, Copy)]
struct Tracker {
    resp3: bool,
    /// `NOLOOP`: its own writes do not invalidate what it read.
    noloop: bool,
}

/// The tracking table.
#[derive(Default)]
pub(crate) struct Tracking {
    trackers: HashMap<u64, Tracker>,
    /// Key → the connections that read it since it last changed.
    keys: HashMap<Vec<u8>, BTreeSet<u64>>,
    /// Keys in the order they entered the table (eviction past the bound).
    order: VecDeque<Vec<u8>>,
    max_keys: usize,
}

/// The push `>2 invalidate [keys]` (or a null for a flush).
fn invalidation(keys: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let what = keys.map_or(Reply::Nil, |k| Reply::Array(vec![Reply::bulk(k)]));
    Reply::Push(vec![Reply::bulk("invalidate"), what]).encode(true, &mut out);
    out
}

impl Tracking {
    fn bound(&self) -> usize {
        if self.max_keys == 0 {
            MAX_TRACKED_KEYS
        } else {
            self.max_keys
        }
    }

    /// Whether no connection tracks (nothing to do on a write).
    pub(crate) fn is_empty(&self) -> bool {
        self.trackers.is_empty()
    }

    /// Connections that track (`INFO clients`).
    pub(crate) fn clients(&self) -> usize {
        self.trackers.len()
    }

    pub(crate) fn is_on(&self, id: u64) -> bool {
        self.trackers.contains_key(&id)
    }

    /// `id`'s protocol changed (`HELLO`).
    pub(crate) fn set_protocol(&mut self, id: u64, resp3: bool) {
        if let Some(t) = self.trackers.get_mut(&id) {
            t.resp3 = resp3;
        }
    }

    /// `id` stops tracking (`CLIENT TRACKING OFF`, `RESET`, disconnect);
    /// its keys leave the table when they next change.
    pub(crate) fn forget(&mut self, id: u64) {
        self.trackers.remove(&id);
    }

    /// `id` read `keys`: it is told when one changes.
    pub(crate) fn remember<'k>(
        &mut self,
        id: u64,
        keys: impl Iterator<Item = &'k [u8]>,
        pubsub: &mut PubSub,
    ) {
        if !self.is_on(id) {
            return;
        }
        for key in keys {
            let readers = self.keys.entry(key.to_vec()).or_default();
            if readers.is_empty() {
                self.order.push_back(key.to_vec());
            }
            readers.insert(id);
        }
        while self.keys.len() > self.bound() {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.invalidate_key(&oldest, None, pubsub);
        }
    }

    /// `key` changed (written by `writer`, if a connection wrote it): its
    /// readers are told, and it leaves the table.
    fn invalidate_key(&mut self, key: &[u8], writer: Option<u64>, pubsub: &mut PubSub) {
        let Some(readers) = self.keys.remove(key) else {
            return;
        };
        let mut push = None;
        for id in readers {
            let Some(t) = self.trackers.get(&id) else {
                continue;
            };
            if !t.resp3 || (t.noloop && writer == Some(id)) {
                continue;
            }
            let bytes = push.get_or_insert_with(|| invalidation(Some(key)).into());
            pubsub.push_to(id, std::rc::Rc::clone(bytes));
        }
    }

    /// A commit changed `keys` (and flushed databases when `flushed`).
    pub(crate) fn written<'k>(
        &mut self,
        keys: impl Iterator<Item = &'k [u8]>,
        flushed: bool,
        writer: Option<u64>,
        pubsub: &mut PubSub,
    ) {
        if self.keys.is_empty() && !flushed {
            return;
        }
        if flushed {
            // Redis tells every tracking connection with a null key list.
            self.keys.clear();
            self.order.clear();
            let push: std::rc::Rc<[u8]> = invalidation(None).into();
            for (&id, t) in &self.trackers {
                if t.resp3 {
                    pubsub.push_to(id, std::rc::Rc::clone(&push));
                }
            }
            return;
        }
        for key in keys {
            self.invalidate_key(key, writer, pubsub);
        }
        if self.order.len() > 2 * self.keys.len() + 64 {
            let keys = &self.keys;
            self.order.retain(|k| keys.contains_key(k));
        }
    }
}

/// `CLIENT TRACKING ON|OFF [NOLOOP]`.
fn tracking_command(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let on = match lower(c.arg(2)).as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(syntax()),
    };
    let mut noloop = false;
    for opt in c.args.get(3..).unwrap_or(&[]) {
        match lower(opt).as_str() {
            "noloop" => noloop = true,
            "bcast" | "optin" | "optout" | "prefix" | "redirect" => {
                return Err(Reply::err(ONLY_DEFAULT_MODE))
            }
            _ => return Err(syntax()),
        }
    }
    let id = cx.session.id;
    let tracking = &mut cx.shared.tracking;
    if on {
        tracking.trackers.insert(
            id,
            Tracker {
                resp3: cx.session.resp3,
                noloop,
            },
        );
    } else {
        tracking.forget(id);
    }
    Ok(Reply::Ok)
}

/// `CLIENT TRACKING|TRACKINGINFO|GETREDIR|CACHING` (`sub`, lower-case).
pub(crate) fn client_subcommand(
    sub: &str,
    c: &Call<'_>,
    cx: &mut Ctx<'_, '_>,
) -> Result<Reply, Reply> {
    let tracker = cx.shared.tracking.trackers.get(&cx.session.id).copied();
    match sub {
        "tracking" => tracking_command(c, cx),
        "trackinginfo" => {
            let mut flags = vec![Reply::bulk(if tracker.is_some() { "on" } else { "off" })];
            if tracker.is_some_and(|t| t.noloop) {
                flags.push(Reply::bulk("noloop"));
            }
            Ok(Reply::Map(vec![
                (Reply::bulk("flags"), Reply::Set(flags)),
                (
                    Reply::bulk("redirect"),
                    Reply::Int(if tracker.is_some() { 0 } else { -1 }),
                ),
                (Reply::bulk("prefixes"), Reply::Array(Vec::new())),
            ]))
        }
        "getredir" => Ok(Reply::Int(if tracker.is_some() { 0 } else { -1 })),
        _ if tracker.is_none() => Err(Reply::err(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        )),
        _ => match lower(c.arg(2)).as_str() {
            "yes" => Err(Reply::err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            )),
            "no" => Err(Reply::err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            )),
            _ => Err(syntax()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pushes(p: &mut PubSub) -> Vec<(u64, Vec<u8>)> {
        p.take_outbox()
            .into_iter()
            .map(|d| (d.to, d.bytes.to_vec()))
            .collect()
    }

    fn tracker(resp3: bool, noloop: bool) -> Tracker {
        Tracker { resp3, noloop }
    }

    #[test]
    fn a_write_invalidates_once_and_only_readers() {
        let mut t = Tracking::default();
        let mut p = PubSub::default();
        t.trackers.insert(1, tracker(true, false));
        t.trackers.insert(2, tracker(true, true));
        t.trackers.insert(3, tracker(false, false));
        t.remember(1, [&b"a"[..], b"b"].into_iter(), &mut p);
        t.remember(2, [&b"a"[..]].into_iter(), &mut p);
        t.remember(3, [&b"a"[..]].into_iter(), &mut p);
        t.remember(4, [&b"zz"[..]].into_iter(), &mut p);
        assert!(!t.keys.contains_key(&b"zz"[..]), "4 does not track");
        t.written([&b"a"[..]].into_iter(), false, Some(2), &mut p);
        let inv = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n".to_vec();
        // 2 wrote it with NOLOOP; 3 is RESP2.
        assert_eq!(pushes(&mut p), vec![(1, inv)]);
        t.written([&b"a"[..]].into_iter(), false, None, &mut p);
        assert!(pushes(&mut p).is_empty(), "a key is invalidated once");
        t.written(std::iter::empty(), true, None, &mut p);
        let got = pushes(&mut p);
        assert_eq!(got.len(), 2, "a flush tells every RESP3 tracker");
        assert!(got
            .iter()
            .all(|(_, b)| b == b">2\r\n$10\r\ninvalidate\r\n_\r\n"));
        assert!(t.keys.is_empty());
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Tracking {
            max_keys: 3,
            ..Tracking::default()
        };
        let mut p = PubSub::default();
        t.trackers.insert(1, tracker(true, false));
        let keys: Vec<Vec<u8>> = (0..10).map(|i| format!("k{i}").into_bytes()).collect();
        t.remember(1, keys.iter().map(Vec::as_slice), &mut p);
        assert_eq!(t.keys.len(), 3);
        assert_eq!(pushes(&mut p).len(), 7, "the evicted keys are invalidated");
    }
}
