//! Pub/sub: who is subscribed to which channel and pattern, the handlers
//! of `SUBSCRIBE`, `UNSUBSCRIBE`, `PSUBSCRIBE`, `PUNSUBSCRIBE`, `PUBLISH`
//! and `PUBSUB`, and the messages waiting to be delivered.
//!
//! A published message is encoded here once per protocol (RESP2 arrays,
//! RESP3 pushes) and queued in the outbox, one [`Delivery`] per receiving
//! connection, in publish order; the event loop
//! (`event_loop/pubsub_delivery.rs`) copies the outbox to the receivers'
//! output buffers after each command, and those bytes leave after the
//! turn's group commit like every reply. Messages addressed to the
//! connection that published them go before its reply, as in Redis
//! ([`Shared::handle`](super::Shared)).
//!
//! Patterns use Redis's glob (the one `KEYS` and `SCAN` use). The keyspace
//! notifications ([`super::keyspace_events`]) are published here too.
//!
//! Must never write to a connection itself, block, or hold a message for
//! a connection that has no subscription.

use super::commands::{lower, Call, Ctx};
use super::resp::Reply;
use reddb_service::keyspace::glob_match;
use reddb_service::policy::Action;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

/// Redis 7.0's `PUBSUB HELP`.
const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// The commands a RESP2 connection may run while subscribed.
const ALLOWED_WHILE_SUBSCRIBED: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
    "ping",
    "quit",
    "reset",
];

/// Redis's refusal of a channel the principal may not use.
const NOPERM_CHANNEL: &str =
    "NOPERM this user has no permissions to access one of the channels used as arguments";

/// One message for one connection, already encoded for its protocol.
pub(crate) struct Delivery {
    pub to: u64,
    /// The channel it was published on (a governed subscriber's policy is
    /// checked against it before delivery); empty for an invalidation.
    pub channel: Rc<[u8]>,
    pub bytes: Rc<[u8]>,
    /// A message, which goes before the reply of the command that
    /// published it to its own connection (not an invalidation, which
    /// goes after).
    ahead: bool,
}

/// What one connection is subscribed to (sets: subscribing and
/// unsubscribing cost O(log n) however many it has).
#[derive(Default)]
struct Subscriber {
    channels: BTreeSet<Vec<u8>>,
    patterns: BTreeSet<Vec<u8>>,
    resp3: bool,
    /// A policy names channel actions for its principal: each message is
    /// checked against it before delivery.
    governed: bool,
}

impl Subscriber {
    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// What a subscription records of its connection.
#[derive(Debug, Clone, Copy, Default)]
struct Who {
    resp3: bool,
    governed: bool,
}

/// Channel or pattern subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
}

impl Kind {
    fn subscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
        }
    }
}

/// The registry of every connection's subscriptions and the outbox.
#[derive(Default)]
pub(crate) struct PubSub {
    /// Channel → subscribers.
    channels: HashMap<Vec<u8>, BTreeSet<u64>>,
    /// Pattern → subscribers.
    patterns: BTreeMap<Vec<u8>, BTreeSet<u64>>,
    subscribers: HashMap<u64, Subscriber>,
    outbox: Vec<Delivery>,
    /// Subscribers disconnected for leaving too much output unread.
    pub(crate) slow_disconnected: u64,
}

/// The two encodings of one message, made when first needed.
struct Encoded {
    items: Vec<Reply>,
    resp2: Option<Rc<[u8]>>,
    resp3: Option<Rc<[u8]>>,
}

impl Encoded {
    fn new(items: Vec<Reply>) -> Self {
        Self {
            items,
            resp2: None,
            resp3: None,
        }
    }

    fn bytes(&mut self, resp3: bool) -> Rc<[u8]> {
        let slot = if resp3 {
            &mut self.resp3
        } else {
            &mut self.resp2
        };
        let items = &self.items;
        slot.get_or_insert_with(|| {
            let mut out = Vec::new();
            Reply::Push(items.clone()).encode(resp3, &mut out);
            out.into()
        })
        .clone()
    }
}

impl Delivery {
    /// A pub/sub message (not a tracking invalidation): what channel
    /// policies govern.
    pub(crate) fn is_message(&self) -> bool {
        self.ahead
    }
}

impl PubSub {
    /// Channels and patterns `id` is subscribed to.
    pub(crate) fn count(&self, id: u64) -> usize {
        self.subscribers.get(&id).map_or(0, Subscriber::count)
    }

    /// `id`'s channel and pattern subscriptions (`CLIENT LIST`).
    pub(crate) fn counts(&self, id: u64) -> (usize, usize) {
        self.subscribers
            .get(&id)
            .map_or((0, 0), |s| (s.channels.len(), s.patterns.len()))
    }

    /// Channels with at least one subscriber (`INFO stats`).
    pub(crate) fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Patterns with at least one subscriber (`INFO stats`).
    pub(crate) fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Whether `id`'s messages are checked against its policies.
    pub(crate) fn is_governed(&self, id: u64) -> bool {
        self.subscribers.get(&id).is_some_and(|s| s.governed)
    }

    /// Whether `id` has a subscription (and so receives messages).
    pub(crate) fn is_subscriber(&self, id: u64) -> bool {
        self.count(id) > 0
    }

    /// `id`'s protocol changed (`HELLO`): later messages use it.
    pub(crate) fn set_protocol(&mut self, id: u64, resp3: bool) {
        if let Some(s) = self.subscribers.get_mut(&id) {
            s.resp3 = resp3;
        }
    }

    /// `id` leaves every channel and pattern (`RESET`, disconnect, its
    /// credential ended); what was queued for it is dropped.
    pub(crate) fn forget(&mut self, id: u64) {
        let Some(sub) = self.subscribers.remove(&id) else {
            return;
        };
        for ch in &sub.channels {
            remove_from(&mut self.channels, ch, id);
        }
        for p in &sub.patterns {
            remove_from_tree(&mut self.patterns, p, id);
        }
        self.outbox.retain(|d| d.to != id);
    }

    /// Subscribes `id` to `name`; the count of its subscriptions after.
    fn subscribe(&mut self, id: u64, who: Who, kind: Kind, name: &[u8]) -> usize {
        let sub = self.subscribers.entry(id).or_default();
        sub.resp3 = who.resp3;
        sub.governed = who.governed;
        let list = match kind {
            Kind::Channel => &mut sub.channels,
            Kind::Pattern => &mut sub.patterns,
        };
        if list.insert(name.to_vec()) {
            let ids = match kind {
                Kind::Channel => self.channels.entry(name.to_vec()).or_default(),
                Kind::Pattern => self.patterns.entry(name.to_vec()).or_default(),
            };
            ids.insert(id);
        }
        sub.count()
    }

    /// Unsubscribes `id` from `name` (if it was); the count after.
    fn unsubscribe(&mut self, id: u64, kind: Kind, name: &[u8]) -> usize {
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return 0;
        };
        let list = match kind {
            Kind::Channel => &mut sub.channels,
            Kind::Pattern => &mut sub.patterns,
        };
        let removed = list.remove(name);
        let count = sub.count();
        if count == 0 {
            self.subscribers.remove(&id);
        }
        if removed {
            match kind {
                Kind::Channel => remove_from(&mut self.channels, name, id),
                Kind::Pattern => remove_from_tree(&mut self.patterns, name, id),
            }
        }
        count
    }

    /// What `id` is subscribed to of `kind` (in byte order: Redis's
    /// order is its hash table's).
    fn names(&self, id: u64, kind: Kind) -> Vec<Vec<u8>> {
        self.subscribers
            .get(&id)
            .map_or_else(Vec::new, |s| match kind {
                Kind::Channel => s.channels.iter().cloned().collect(),
                Kind::Pattern => s.patterns.iter().cloned().collect(),
            })
    }

    /// Queues `message` for every subscriber of `channel` and of a
    /// pattern matching it; returns how many deliveries that made.
    pub(crate) fn publish(&mut self, channel: &[u8], message: &[u8]) -> usize {
        let mut count = 0;
        let on: Rc<[u8]> = channel.into();
        if let Some(ids) = self.channels.get(channel) {
            let msg = Encoded::new(vec![
                Reply::bulk("message"),
                Reply::bulk(channel),
                Reply::bulk(message),
            ]);
            count += queue(&self.subscribers, &mut self.outbox, ids, &on, msg);
        }
        for (pattern, ids) in &self.patterns {
            if !glob_match(pattern, channel) {
                continue;
            }
            let msg = Encoded::new(vec![
                Reply::bulk("pmessage"),
                Reply::bulk(pattern.as_slice()),
                Reply::bulk(channel),
                Reply::bulk(message),
            ]);
            count += queue(&self.subscribers, &mut self.outbox, ids, &on, msg);
        }
        count
    }

    /// A RESP2 pattern subscription, for the tests of other modules.
    #[cfg(test)]
    pub(crate) fn psubscribe_for_test(&mut self, id: u64, pattern: &[u8]) {
        self.subscribe(id, Who::default(), Kind::Pattern, pattern);
    }

    /// Queues a push that is not a message (a tracking invalidation) for
    /// `id`.
    pub(crate) fn push_to(&mut self, id: u64, bytes: Rc<[u8]>) {
        self.outbox.push(Delivery {
            to: id,
            channel: Rc::from(&[][..]),
            bytes,
            ahead: false,
        });
    }

    /// Takes every queued delivery, oldest first.
    pub(crate) fn take_outbox(&mut self) -> Vec<Delivery> {
        std::mem::take(&mut self.outbox)
    }

    /// Takes the deliveries queued for `id` only (its own connection
    /// writes them before its reply).
    pub(crate) fn take_own(&mut self, id: u64) -> Vec<u8> {
        let mut own = Vec::new();
        if self.outbox.iter().any(|d| d.to == id && d.ahead) {
            self.outbox.retain(|d| {
                if d.to == id && d.ahead {
                    own.extend_from_slice(&d.bytes);
                    false
                } else {
                    true
                }
            });
        }
        own
    }
}

fn remove_from(map: &mut HashMap<Vec<u8>, BTreeSet<u64>>, name: &[u8], id: u64) {
    if let Some(ids) = map.get_mut(name) {
        ids.remove(&id);
        if ids.is_empty() {
            map.remove(name);
        }
    }
}

fn remove_from_tree(map: &mut BTreeMap<Vec<u8>, BTreeSet<u64>>, name: &[u8], id: u64) {
    if let Some(ids) = map.get_mut(name) {
        ids.remove(&id);
        if ids.is_empty() {
            map.remove(name);
        }
    }
}

/// The refusal of a command a RESP2 connection may not run while
/// subscribed (`shown`: its name as Redis prints it, `pubsub|channels`);
/// `None` when it may run.
pub(crate) fn refused_while_subscribed(name: &str, shown: &str) -> Option<Reply> {
    if ALLOWED_WHILE_SUBSCRIBED.contains(&name) {
        return None;
    }
    Some(Reply::err(format!(
        "ERR Can't execute '{shown}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    )))
}

/// One confirmation: `[word, name, count]`.
fn confirmation(word: &str, name: Option<&[u8]>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(word),
        name.map_or(Reply::Nil, Reply::bulk),
        Reply::Int(i64::try_from(count).unwrap_or(i64::MAX)),
    ])
}

/// Whether the connection's principal may `action` every one of `names`
/// (`NOPERM` otherwise, as Redis refuses a channel its ACL denies).
fn channels_allowed(cx: &Ctx<'_, '_>, action: Action, names: &[Vec<u8>]) -> Result<(), Reply> {
    let Some(p) = cx.session.principal.as_ref() else {
        return Err(Reply::err(NOPERM_CHANNEL));
    };
    if names
        .iter()
        .all(|name| cx.svc.channel_allowed(p, action, name))
    {
        Ok(())
    } else {
        Err(Reply::err(NOPERM_CHANNEL))
    }
}

fn subscribe_to(c: &Call<'_>, cx: &mut Ctx<'_, '_>, kind: Kind) -> Result<Reply, Reply> {
    let names = c.args.get(1..).unwrap_or(&[]);
    channels_allowed(cx, Action::ChannelSubscribe, names)?;
    let who = Who {
        resp3: cx.session.resp3,
        governed: cx
            .session
            .principal
            .as_ref()
            .is_some_and(|p| cx.svc.channels_governed(p)),
    };
    let id = cx.session.id;
    let replies = names
        .iter()
        .map(|name| {
            let count = cx.shared.pubsub.subscribe(id, who, kind, name);
            confirmation(kind.subscribe_word(), Some(name), count)
        })
        .collect();
    Ok(Reply::Sequence(replies))
}

fn unsubscribe_from(c: &Call<'_>, cx: &mut Ctx<'_, '_>, kind: Kind) -> Result<Reply, Reply> {
    let id = cx.session.id;
    let pubsub = &mut cx.shared.pubsub;
    let names = match c.args.get(1..) {
        Some(given) if !given.is_empty() => given.to_vec(),
        _ => pubsub.names(id, kind),
    };
    if names.is_empty() {
        return Ok(confirmation(
            kind.unsubscribe_word(),
            None,
            pubsub.count(id),
        ));
    }
    let replies = names
        .iter()
        .map(|name| {
            let count = pubsub.unsubscribe(id, kind, name);
            confirmation(kind.unsubscribe_word(), Some(name), count)
        })
        .collect();
    Ok(Reply::Sequence(replies))
}

/// `SUBSCRIBE channel …`
pub(crate) fn subscribe(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    subscribe_to(c, cx, Kind::Channel)
}

/// `PSUBSCRIBE pattern …`
pub(crate) fn psubscribe(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    subscribe_to(c, cx, Kind::Pattern)
}

/// `UNSUBSCRIBE [channel …]`
pub(crate) fn unsubscribe(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    unsubscribe_from(c, cx, Kind::Channel)
}

/// `PUNSUBSCRIBE [pattern …]`
pub(crate) fn punsubscribe(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    unsubscribe_from(c, cx, Kind::Pattern)
}

/// `PUBLISH channel message`: how many subscriptions received it.
pub(crate) fn publish(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    channels_allowed(cx, Action::ChannelPublish, c.args.get(1..2).unwrap_or(&[]))?;
    let n = cx.shared.pubsub.publish(c.arg(1), c.arg(2));
    Ok(Reply::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn int(n: usize) -> Reply {
    Reply::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// `PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP` (the
/// subcommand and its arity were checked against the table). There are
/// no shard channels: a standalone server answers none.
pub(crate) fn pubsub(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let registry = &cx.shared.pubsub;
    let rest = c.args.get(2..).unwrap_or(&[]);
    match lower(c.arg(1)).as_str() {
        "channels" => {
            let pattern = rest.first();
            let mut names: Vec<&Vec<u8>> = registry
                .channels
                .keys()
                .filter(|ch| pattern.is_none_or(|p| glob_match(p, ch)))
                .collect();
            names.sort();
            Ok(Reply::Array(
                names
                    .into_iter()
                    .map(|n| Reply::bulk(n.as_slice()))
                    .collect(),
            ))
        }
        "numsub" => Ok(Reply::Array(
            rest.iter()
                .flat_map(|ch| {
                    let n = registry.channels.get(ch).map_or(0, BTreeSet::len);
                    [Reply::bulk(ch.as_slice()), int(n)]
                })
                .collect(),
        )),
        "numpat" => Ok(int(registry.patterns.len())),
        "shardchannels" => Ok(Reply::Array(Vec::new())),
        "shardnumsub" => Ok(Reply::Array(
            rest.iter()
                .flat_map(|ch| [Reply::bulk(ch.as_slice()), Reply::Int(0)])
                .collect(),
        )),
        _ => Ok(Reply::Array(
            HELP.iter().map(|line| Reply::simple(*line)).collect(),
        )),
    }
}

/// Queues one message (`msg`, encoded once per protocol) for each of
/// `ids`, in the protocol each speaks; returns how many.
fn queue(
    subscribers: &HashMap<u64, Subscriber>,
    outbox: &mut Vec<Delivery>,
    ids: &BTreeSet<u64>,
    on: &Rc<[u8]>,
    mut msg: Encoded,
) -> usize {
    for &id in ids {
        let resp3 = subscribers.get(&id).is_some_and(|s| s.resp3);
        outbox.push(Delivery {
            to: id,
            channel: on.clone(),
            bytes: msg.bytes(resp3),
            ahead: true,
        });
    }
    ids.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const R2: Who = Who {
        resp3: false,
        governed: false,
    };
    const R3: Who = Who {
        resp3: true,
        governed: false,
    };

    fn delivered(p: &mut PubSub) -> Vec<(u64, Vec<u8>)> {
        p.take_outbox()
            .into_iter()
            .map(|d| (d.to, d.bytes.to_vec()))
            .collect()
    }

    #[test]
    fn channels_and_patterns_receive_in_order() {
        let mut p = PubSub::default();
        assert_eq!(p.subscribe(1, R2, Kind::Channel, b"news"), 1);
        assert_eq!(p.subscribe(1, R2, Kind::Channel, b"news"), 1);
        assert_eq!(p.subscribe(2, R3, Kind::Pattern, b"n*"), 1);
        assert_eq!(p.subscribe(3, R2, Kind::Pattern, b"x*"), 1);
        assert_eq!(p.publish(b"news", b"hi"), 2);
        let got = delivered(&mut p);
        assert_eq!(
            got,
            vec![
                (
                    1,
                    b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n".to_vec()
                ),
                (
                    2,
                    b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n".to_vec()
                ),
            ]
        );
        assert_eq!(p.publish(b"other", b"x"), 0);
        assert!(p.take_outbox().is_empty());
    }

    #[test]
    fn unsubscribing_and_forgetting_leave_nothing_behind() {
        let mut p = PubSub::default();
        p.subscribe(1, R2, Kind::Channel, b"a");
        p.subscribe(1, R2, Kind::Pattern, b"a*");
        assert_eq!(p.count(1), 2);
        assert_eq!(p.unsubscribe(1, Kind::Channel, b"zz"), 2);
        assert_eq!(p.unsubscribe(1, Kind::Channel, b"a"), 1);
        assert!(p.channels.is_empty());
        p.publish(b"ab", b"m");
        p.forget(1);
        assert!(
            p.take_outbox().is_empty(),
            "a forgotten client's queue goes"
        );
        assert!(p.patterns.is_empty() && p.subscribers.is_empty());
        assert_eq!(p.publish(b"ab", b"m"), 0);
    }

    #[test]
    fn many_subscriptions_cost_no_more_than_log_n_each() {
        // Quadratic bookkeeping would take minutes here.
        let mut p = PubSub::default();
        let names: Vec<Vec<u8>> = (0..100_000)
            .map(|i| format!("ch{i}").into_bytes())
            .collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(p.subscribe(1, R2, Kind::Channel, n), i + 1);
            p.subscribe(2 + (i as u64 % 50), R2, Kind::Channel, b"shared");
        }
        for n in &names {
            p.unsubscribe(1, Kind::Channel, n);
        }
        for id in 2..52 {
            p.forget(id);
        }
        assert!(p.channels.is_empty() && p.subscribers.is_empty());
    }

    #[test]
    fn own_messages_are_taken_apart() {
        let mut p = PubSub::default();
        p.subscribe(1, R3, Kind::Channel, b"a");
        p.subscribe(2, R3, Kind::Channel, b"a");
        p.publish(b"a", b"m");
        let own = p.take_own(2);
        assert!(own.starts_with(b">3\r\n"));
        assert_eq!(delivered(&mut p).len(), 1);
    }

    #[test]
    fn subscribed_mode_allows_only_redis_list() {
        assert!(refused_while_subscribed("ping", "ping").is_none());
        assert!(refused_while_subscribed("reset", "reset").is_none());
        let r = refused_while_subscribed("pubsub", "pubsub|channels");
        assert_eq!(
            r,
            Some(Reply::err("ERR Can't execute 'pubsub|channels': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
        );
    }
}
