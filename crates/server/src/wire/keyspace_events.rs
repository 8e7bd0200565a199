//! Keyspace notifications (`notify-keyspace-events`): Redis 7.0's flag
//! string (parsed, and printed back the way Redis normalises it), the
//! events each data command causes, worded and ordered as Redis words and
//! orders them, and their publication on `__keyspace@<db>__:<key>` and
//! `__keyevent@<db>__:<event>`.
//!
//! A command's events are worked out around it: before it runs, a
//! `Probe` notes which of its keys exist and how many writes its
//! transaction had staged; after it, the command's name, arguments, reply
//! and what changed give Redis's events (`Probe::after`). They are
//! published once the transaction is staged for commit, so they reach
//! subscribers in the same turn, after the group commit, never before the
//! write they report is durable. `expired` is told by the first command
//! that names a key whose time has passed (`LazyExpired`, as Redis's
//! lazy expiry), or else by the loop's sweep that drops it (`expired`).
//!
//! Must never publish an event naming a key under `red.secret.` (none can
//! be written through the wire protocol; this is checked again here).

use super::commands::lower;
use super::pubsub::PubSub;
use super::resp::Reply;
use super::table::{Spec, READONLY, WRITE};
use reddb_service::keyspace::{Txn, SECRET_KEY_PREFIX};
use reddb_storage::store::record::Namespace;
use reddb_storage::store::State;
use std::collections::HashSet;

/// Most keys remembered as announced by a command before the sweep drops
/// them (past it the memory is cleared: at worst an `expired` is told
/// twice).
const MAX_LAZY_EXPIRED: usize = 100_000;

/// `K`: publish on `__keyspace@<db>__:<key>`.
pub(crate) const KEYSPACE: u32 = 1;
/// `E`: publish on `__keyevent@<db>__:<event>`.
pub(crate) const KEYEVENT: u32 = 1 << 1;
const GENERIC: u32 = 1 << 2;
const STRING: u32 = 1 << 3;
const LIST: u32 = 1 << 4;
const SET: u32 = 1 << 5;
const HASH: u32 = 1 << 6;
const ZSET: u32 = 1 << 7;
const EXPIRED: u32 = 1 << 8;
const EVICTED: u32 = 1 << 9;
const STREAM: u32 = 1 << 10;
const KEY_MISS: u32 = 1 << 11;
const MODULE: u32 = 1 << 13;
const NEW: u32 = 1 << 14;
/// `A`: every class but `m` and `n`.
const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The class letters in the order Redis prints them (inside `A`).
const CLASS_LETTERS: &[(u32, char)] = &[
    (GENERIC, 'g'),
    (STRING, '$'),
    (LIST, 'l'),
    (SET, 's'),
    (HASH, 'h'),
    (ZSET, 'z'),
    (EXPIRED, 'x'),
    (EVICTED, 'e'),
    (STREAM, 't'),
    (MODULE, 'd'),
    (NEW, 'n'),
];

/// The flags a `notify-keyspace-events` string sets; `None` for a
/// character Redis does not know.
pub fn parse_flags(text: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for &c in text {
        flags |= match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// The flags as Redis prints them back (`KEA` reads back `AKE`).
pub(crate) fn flags_text(flags: u32) -> String {
    let mut out = String::new();
    if flags & ALL == ALL {
        out.push('A');
    } else {
        for &(bit, letter) in CLASS_LETTERS {
            if flags & bit != 0 {
                out.push(letter);
            }
        }
    }
    for (bit, letter) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            out.push(letter);
        }
    }
    out
}

/// One event: its class, Redis's name for it, and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyEvent {
    class: u32,
    name: &'static str,
    db: usize,
    key: Vec<u8>,
}

/// `key` in `db` expired (the loop's sweep dropped it).
pub(crate) fn expired(db: usize, key: &[u8]) -> KeyEvent {
    KeyEvent {
        class: EXPIRED,
        name: "expired",
        db,
        key: key.to_vec(),
    }
}

/// Whether `flags` publish `expired` events.
pub(crate) fn wants_expired(flags: u32) -> bool {
    flags & EXPIRED != 0 && flags & (KEYSPACE | KEYEVENT) != 0
}

/// Lazy expiry, as Redis's: a command that names a key whose time has
/// passed, before the sweep dropped it, announces its `expired` first; the
/// sweep then does not announce it again.
#[derive(Default)]
pub(crate) struct LazyExpired {
    announced: HashSet<(usize, Vec<u8>)>,
}

impl LazyExpired {
    /// `expired` (into `out`) for each key of `spec` in `args` that has
    /// expired in database `db` of the committed `state` at `now` and was
    /// not announced yet.
    pub(crate) fn check(
        &mut self,
        state: &State,
        db: usize,
        spec: &Spec,
        args: &[Vec<u8>],
        now: u64,
        out: &mut Vec<KeyEvent>,
    ) {
        let Some(ns) = Namespace::keyspace(db) else {
            return;
        };
        for (key, _) in spec.keys_and_flags(args).unwrap_or_default() {
            // Time 0: the entry whatever its expiry.
            let held = state.get(ns, key, 0).is_some();
            if !held || state.get(ns, key, now).is_some() {
                continue;
            }
            if self.announced.len() >= MAX_LAZY_EXPIRED {
                self.announced.clear();
            }
            if self.announced.insert((db, key.to_vec())) {
                out.push(expired(db, key));
            }
        }
    }

    /// A commit wrote `key` in `db`: a later expiry of it is new.
    pub(crate) fn written(&mut self, db: usize, key: &[u8]) {
        if !self.announced.is_empty() {
            self.announced.remove(&(db, key.to_vec()));
        }
    }

    /// A commit replaced databases wholesale (a flush, a swap).
    pub(crate) fn forget_all(&mut self) {
        self.announced.clear();
    }

    /// The sweep dropped `key` of `db`: whether its `expired` is still to
    /// be told.
    pub(crate) fn swept(&mut self, db: usize, key: &[u8]) -> bool {
        self.announced.is_empty() || !self.announced.remove(&(db, key.to_vec()))
    }
}

/// Publishes the events `flags` selects: the keyspace channel first, then
/// the keyevent channel, as Redis does.
pub(crate) fn publish(pubsub: &mut PubSub, flags: u32, events: &[KeyEvent]) {
    if flags & (KEYSPACE | KEYEVENT) == 0 {
        return;
    }
    for e in events {
        if flags & e.class == 0 || e.key.starts_with(SECRET_KEY_PREFIX) {
            continue;
        }
        if flags & KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{}__:", e.db).into_bytes();
            channel.extend_from_slice(&e.key);
            pubsub.publish(&channel, e.name.as_bytes());
        }
        if flags & KEYEVENT != 0 {
            let channel = format!("__keyevent@{}__:{}", e.db, e.name);
            pubsub.publish(channel.as_bytes(), &e.key);
        }
    }
}

impl super::Shared {
    /// Before a command of the running transaction (a client's, or one a
    /// script calls): `expired` for the expired keys it names, and what
    /// its write events need to know of its keys before it runs.
    pub(crate) fn events_before(
        &mut self,
        txn: Option<&Txn<'_>>,
        state: Option<&State>,
        spec: &Spec,
        args: &[Vec<u8>],
    ) -> Option<Probe> {
        let notify = self.settings.notify_keyspace_events;
        let t = txn?;
        if let Some(st) = state.filter(|_| wants_expired(notify)) {
            self.lazy_expired
                .check(st, t.db(), spec, args, t.now(), &mut self.pending_events);
        }
        (notify != 0 && spec.has(WRITE)).then(|| Probe::before(spec, args, t))
    }

    /// After that command answered `reply`: its events, and the keys it
    /// read for connection `id` if it tracks them.
    pub(crate) fn events_after(
        &mut self,
        probe: Option<Probe>,
        txn: Option<&Txn<'_>>,
        id: u64,
        spec: &Spec,
        args: &[Vec<u8>],
        reply: &Reply,
    ) {
        if let (Some(probe), Some(t)) = (probe, txn) {
            probe.after(spec, args, reply, t, &mut self.pending_events);
        }
        if spec.has(READONLY) && !matches!(reply, Reply::Error(_)) {
            self.track_read(id, spec, args);
        }
    }
}

/// What a command's keys were before it ran.
pub(crate) struct Probe {
    db: usize,
    writes: u64,
    existed: Vec<(Vec<u8>, bool)>,
    /// The length of the first key's string value (`SETBIT` reports a
    /// string it grows).
    first_len: Option<usize>,
}

fn int_of(reply: &Reply) -> Option<i64> {
    match reply {
        Reply::Int(n) => Some(*n),
        _ => None,
    }
}

fn is_nil(reply: &Reply) -> bool {
    match reply {
        Reply::Nil | Reply::NilArray => true,
        Reply::Array(items) | Reply::Set(items) => items.is_empty(),
        _ => false,
    }
}

fn arg(args: &[Vec<u8>], i: usize) -> &[u8] {
    args.get(i).map_or(&[][..], Vec::as_slice)
}

/// Whether an option among `args[from..]` is one of `names` (lower-case).
fn has_option(args: &[Vec<u8>], from: usize, names: &[&str]) -> bool {
    args.iter()
        .skip(from)
        .any(|a| names.contains(&lower(a).as_str()))
}

/// Where a command's events go while they are worked out.
struct Emitter<'p, 't, 'o> {
    probe: &'p Probe,
    txn: &'p Txn<'t>,
    out: &'o mut Vec<KeyEvent>,
    /// Keys the command created whose `new` is not out yet: it goes just
    /// before the first event of the key, as Redis adds keys one by one.
    created: Vec<&'p [u8]>,
}

impl Emitter<'_, '_, '_> {
    fn event(&mut self, class: u32, name: &'static str, key: &[u8]) {
        self.event_in(self.probe.db, class, name, key);
    }

    fn event_in(&mut self, db: usize, class: u32, name: &'static str, key: &[u8]) {
        if db == self.probe.db {
            self.announce_new(key);
        }
        self.out.push(KeyEvent {
            class,
            name,
            db,
            key: key.to_vec(),
        });
    }

    /// `new` for `key` if the command created it and it was not told yet.
    fn announce_new(&mut self, key: &[u8]) {
        if let Some(i) = self.created.iter().position(|k| *k == key) {
            self.created.remove(i);
            self.out.push(KeyEvent {
                class: NEW,
                name: "new",
                db: self.probe.db,
                key: key.to_vec(),
            });
        }
    }

    /// `key` is announced by the command's own rule.
    fn forget_new(&mut self, key: &[u8]) {
        self.created.retain(|k| *k != key);
    }

    fn existed(&self, key: &[u8]) -> bool {
        self.probe
            .existed
            .iter()
            .any(|(k, existed)| *existed && k == key)
    }

    fn exists(&self, key: &[u8]) -> bool {
        self.txn.exists_in(self.probe.db, key)
    }

    /// `del` for a key the command emptied (a collection popped to
    /// nothing).
    fn del_if_gone(&mut self, key: &[u8]) {
        if !self.exists(key) {
            self.event(GENERIC, "del", key);
        }
    }

    /// A `…STORE` command: its event on the destination, or `del` when
    /// the result was empty and replaced an existing key.
    fn stored(&mut self, class: u32, name: &'static str, dst: &[u8], reply: &Reply) {
        if int_of(reply).is_some_and(|n| n > 0) {
            self.event(class, name, dst);
        } else if self.existed(dst) {
            self.event(GENERIC, "del", dst);
        }
    }
}

impl Probe {
    /// Notes `spec`'s keys in `args` before it runs in `txn`.
    pub(crate) fn before(spec: &Spec, args: &[Vec<u8>], txn: &Txn<'_>) -> Probe {
        let db = txn.db();
        let existed: Vec<(Vec<u8>, bool)> = spec
            .keys_and_flags(args)
            .unwrap_or_default()
            .into_iter()
            .map(|(key, _)| (key.to_vec(), txn.exists_in(db, key)))
            .collect();
        let first_len = existed
            .first()
            .and_then(|(key, _)| txn.string_len_in(db, key));
        Probe {
            db,
            writes: txn.writes,
            existed,
            first_len,
        }
    }

    /// Appends the events of the command that just ran (`reply`) to `out`:
    /// `new` for each key it created, then Redis's events in Redis's order.
    pub(crate) fn after(
        &self,
        spec: &Spec,
        args: &[Vec<u8>],
        reply: &Reply,
        txn: &Txn<'_>,
        out: &mut Vec<KeyEvent>,
    ) {
        if matches!(reply, Reply::Error(_)) {
            return;
        }
        let wrote = txn.writes != self.writes;
        let mut created: Vec<&[u8]> = Vec::new();
        for (key, existed) in &self.existed {
            if !existed && txn.exists_in(self.db, key) && !created.contains(&key.as_slice()) {
                created.push(key);
            }
        }
        let mut e = Emitter {
            probe: self,
            txn,
            out,
            created,
        };
        let replaced = int_of(reply) == Some(1) || *reply == Reply::Ok;
        if matches!(spec.name, "rename" | "renamenx") && replaced && arg(args, 1) != arg(args, 2) {
            // Redis deletes the new name and adds it again before it
            // reports the rename: `new` even when it existed.
            e.forget_new(arg(args, 2));
            e.event(NEW, "new", arg(args, 2));
        }
        let done = string_events(spec.name, args, reply, wrote, &mut e)
            || generic_events(spec.name, args, reply, wrote, &mut e)
            || list_events(spec.name, args, reply, wrote, &mut e)
            || set_events(spec.name, args, reply, wrote, &mut e)
            || sorted_set_events(spec.name, args, reply, wrote, &mut e);
        if !done {
            hash_events(spec.name, args, reply, wrote, &mut e);
        }
        for key in std::mem::take(&mut e.created) {
            e.announce_new(key);
        }
    }
}

/// Whether `SET`'s options give the key a time to live.
fn sets_expiry(args: &[Vec<u8>]) -> bool {
    has_option(args, 3, &["ex", "px", "exat", "pxat"])
}

fn string_events(
    name: &str,
    args: &[Vec<u8>],
    reply: &Reply,
    wrote: bool,
    e: &mut Emitter<'_, '_, '_>,
) -> bool {
    let key = arg(args, 1);
    match name {
        "set" if wrote => {
            if !e.existed(key) && !e.exists(key) {
                // An expiry already past (`PXAT 1000`): Redis adds the key
                // all the same, then finds it expired when next touched.
                e.event(NEW, "new", key);
            }
            e.event(STRING, "set", key);
            if sets_expiry(args) {
                e.event(GENERIC, "expire", key);
            }
        }
        "setex" | "psetex" if wrote => {
            e.event(STRING, "set", key);
            e.event(GENERIC, "expire", key);
        }
        "setnx" | "getset" if wrote => e.event(STRING, "set", key),
        "mset" | "msetnx" if wrote => {
            for pair in args.get(1..).unwrap_or(&[]).chunks(2) {
                if let Some(k) = pair.first() {
                    e.event(STRING, "set", k);
                }
            }
        }
        "incr" | "incrby" | "decr" | "decrby" => e.event(STRING, "incrby", key),
        "incrbyfloat" => e.event(STRING, "incrbyfloat", key),
        "append" => e.event(STRING, "append", key),
        "setrange" if !arg(args, 3).is_empty() => e.event(STRING, "setrange", key),
        "setbit" => {
            // Redis reports a new key, a longer string or a changed bit.
            let set_to = i64::from(arg(args, 3) == b"1");
            let grew = e.txn.string_len_in(e.probe.db, key) > e.probe.first_len;
            if grew || int_of(reply).is_some_and(|old| old != set_to) {
                e.event(STRING, "setbit", key);
            }
        }
        "set" | "setex" | "psetex" | "setnx" | "getset" | "mset" | "msetnx" | "setrange" => {}
        _ => return false,
    }
    true
}

fn generic_events(
    name: &str,
    args: &[Vec<u8>],
    reply: &Reply,
    wrote: bool,
    e: &mut Emitter<'_, '_, '_>,
) -> bool {
    let key = arg(args, 1);
    let one = int_of(reply) == Some(1);
    match name {
        "getdel" if wrote => e.event(GENERIC, "del", key),
        "getex" if wrote => {
            if has_option(args, 2, &["persist"]) {
                e.event(GENERIC, "persist", key);
            } else if e.exists(key) {
                e.event(GENERIC, "expire", key);
            } else {
                e.event(GENERIC, "del", key);
            }
        }
        "del" | "unlink" => {
            let mut seen: Vec<&[u8]> = Vec::new();
            for k in args.get(1..).unwrap_or(&[]) {
                if e.existed(k) && !e.exists(k) && !seen.contains(&k.as_slice()) {
                    seen.push(k);
                    e.event(GENERIC, "del", k);
                }
            }
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" if one => {
            if e.exists(key) {
                e.event(GENERIC, "expire", key);
            } else {
                e.event(GENERIC, "del", key);
            }
        }
        "persist" if one => e.event(GENERIC, "persist", key),
        "rename" | "renamenx" if (one || *reply == Reply::Ok) && key != arg(args, 2) => {
            e.event(GENERIC, "rename_from", key);
            e.event(GENERIC, "rename_to", arg(args, 2));
        }
        "copy" if one => {
            // The last `DB n` wins, as Redis reads its options.
            let db = args
                .iter()
                .skip(3)
                .rposition(|a| lower(a) == "db")
                .map(|i| i + 3)
                .and_then(|i| args.get(i + 1))
                .and_then(|d| std::str::from_utf8(d).ok()?.parse().ok())
                .unwrap_or(e.probe.db);
            // The copy is always added anew (`REPLACE` deletes first).
            e.forget_new(arg(args, 2));
            e.event_in(db, NEW, "new", arg(args, 2));
            e.event_in(db, GENERIC, "copy_to", arg(args, 2));
        }
        "move" if one => {
            let to = std::str::from_utf8(arg(args, 2))
                .ok()
                .and_then(|d| d.parse().ok());
            if let Some(db) = to {
                e.event_in(db, NEW, "new", key);
            }
            e.event(GENERIC, "move_from", key);
            if let Some(db) = to {
                e.event_in(db, GENERIC, "move_to", key);
            }
        }
        "getdel" | "getex" | "expire" | "pexpire" | "expireat" | "pexpireat" | "persist"
        | "rename" | "renamenx" | "copy" | "move" => {}
        _ => return false,
    }
    true
}

/// The pop event of a side named `LEFT`/`RIGHT`.
fn pop_event(side: &[u8]) -> &'static str {
    if lower(side) == "left" {
        "lpop"
    } else {
        "rpop"
    }
}

/// The push event of a side named `LEFT`/`RIGHT`.
fn push_event(side: &[u8]) -> &'static str {
    if lower(side) == "left" {
        "lpush"
    } else {
        "rpush"
    }
}

/// The key an `LMPOP`/`BLMPOP`/`BLPOP` reply names (its first item).
fn popped_key(reply: &Reply) -> Option<&[u8]> {
    match reply {
        Reply::Array(items) => match items.first() {
            Some(Reply::Bulk(k)) => Some(k),
            _ => None,
        },
        _ => None,
    }
}

fn list_events(
    name: &str,
    args: &[Vec<u8>],
    reply: &Reply,
    wrote: bool,
    e: &mut Emitter<'_, '_, '_>,
) -> bool {
    let key = arg(args, 1);
    match name {
        "lpush" | "lpushx" if wrote => e.event(LIST, "lpush", key),
        "rpush" | "rpushx" if wrote => e.event(LIST, "rpush", key),
        "lpop" | "rpop" if wrote => {
            e.event(LIST, if name == "lpop" { "lpop" } else { "rpop" }, key);
            e.del_if_gone(key);
        }
        "lset" => e.event(LIST, "lset", key),
        "linsert" if int_of(reply).is_some_and(|n| n > 0) => e.event(LIST, "linsert", key),
        "lrem" if wrote => {
            e.event(LIST, "lrem", key);
            e.del_if_gone(key);
        }
        "ltrim" if e.existed(key) => {
            e.event(LIST, "ltrim", key);
            e.del_if_gone(key);
        }
        "lmove" | "blmove" | "rpoplpush" | "brpoplpush" if !is_nil(reply) => {
            let (from, to) = if name.ends_with("move") {
                (arg(args, 3), arg(args, 4))
            } else {
                (&b"right"[..], &b"left"[..])
            };
            e.event(LIST, push_event(to), arg(args, 2));
            e.event(LIST, pop_event(from), key);
            e.del_if_gone(key);
        }
        "blpop" | "brpop" | "lmpop" | "blmpop" => {
            if let Some(k) = popped_key(reply) {
                let event = match name {
                    "blpop" => "lpop",
                    "brpop" => "rpop",
                    _ if has_option(args, 2, &["left"]) => "lpop",
                    _ => "rpop",
                };
                e.event(LIST, event, k);
                e.del_if_gone(k);
            }
        }
        "lpush" | "lpushx" | "rpush" | "rpushx" | "lpop" | "rpop" | "linsert" | "lrem"
        | "ltrim" | "lmove" | "blmove" | "rpoplpush" | "brpoplpush" => {}
        _ => return false,
    }
    true
}

fn set_events(
    name: &str,
    args: &[Vec<u8>],
    reply: &Reply,
    wrote: bool,
    e: &mut Emitter<'_, '_, '_>,
) -> bool {
    let key = arg(args, 1);
    match name {
        "sadd" if wrote => e.event(SET, "sadd", key),
        "srem" | "spop" if wrote => {
            e.event(SET, if name == "srem" { "srem" } else { "spop" }, key);
            e.del_if_gone(key);
        }
        "smove" if int_of(reply) == Some(1) && key != arg(args, 2) => {
            e.event(SET, "srem", key);
            e.del_if_gone(key);
            e.event(SET, "sadd", arg(args, 2));
        }
        "sinterstore" => e.stored(SET, "sinterstore", key, reply),
        "sunionstore" => e.stored(SET, "sunionstore", key, reply),
        "sdiffstore" => e.stored(SET, "sdiffstore", key, reply),
        "sadd" | "srem" | "spop" | "smove" => {}
        _ => return false,
    }
    true
}

fn sorted_set_events(
    name: &str,
    args: &[Vec<u8>],
    reply: &Reply,
    wrote: bool,
    e: &mut Emitter<'_, '_, '_>,
) -> bool {
    let key = arg(args, 1);
    match name {
        "zadd" if wrote => {
            let incr = has_option(args, 2, &["incr"]);
            e.event(ZSET, if incr { "zincr" } else { "zadd" }, key);
        }
        "zincrby" if wrote => e.event(ZSET, "zincr", key),
        "zrem" | "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex" | "zpopmin"
        | "zpopmax"
            if wrote =>
        {
            let event = match name {
                "zrem" => "zrem",
                "zremrangebyscore" => "zremrangebyscore",
                "zremrangebyrank" => "zremrangebyrank",
                "zremrangebylex" => "zremrangebylex",
                "zpopmin" => "zpopmin",
                _ => "zpopmax",
            };
            e.event(ZSET, event, key);
            e.del_if_gone(key);
        }
        "zunionstore" => e.stored(ZSET, "zunionstore", key, reply),
        "zinterstore" => e.stored(ZSET, "zinterstore", key, reply),
        "zdiffstore" => e.stored(ZSET, "zdiffstore", key, reply),
        "zrangestore" => e.stored(ZSET, "zrangestore", key, reply),
        "zadd" | "zincrby" | "zrem" | "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex"
        | "zpopmin" | "zpopmax" => {}
        _ => return false,
    }
    true
}

fn hash_events(
    name: &str,
    args: &[Vec<u8>],
    reply: &Reply,
    wrote: bool,
    e: &mut Emitter<'_, '_, '_>,
) {
    let key = arg(args, 1);
    match name {
        "hset" | "hmset" => e.event(HASH, "hset", key),
        "hsetnx" if int_of(reply) == Some(1) => e.event(HASH, "hset", key),
        "hincrby" => e.event(HASH, "hincrby", key),
        "hincrbyfloat" => e.event(HASH, "hincrbyfloat", key),
        "hdel" if wrote => {
            e.event(HASH, "hdel", key);
            e.del_if_gone(key);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_back_as_redis_prints_them() {
        for (given, shown) in [
            ("KEA", "AKE"),
            ("gK", "gK"),
            ("Kg$lshzxetdmn", "AKm"),
            ("nA", "A"),
            ("Ex", "xE"),
            ("", ""),
            ("KEn", "nKE"),
            ("Am", "Am"),
            ("AKEmn", "AKEm"),
            ("g$lshzxetd", "A"),
        ] {
            let flags = parse_flags(given.as_bytes()).unwrap();
            assert_eq!(flags_text(flags), shown, "{given}");
        }
        assert_eq!(parse_flags(b"KEQ"), None);
        assert_eq!(parse_flags(b"a"), None);
    }

    #[test]
    fn secret_keys_are_never_published() {
        let mut p = PubSub::default();
        p.psubscribe_for_test(7, b"__key*");
        let flags = parse_flags(b"KEA").unwrap();
        publish(
            &mut p,
            flags,
            &[expired(0, b"red.secret.x"), expired(3, b"plain")],
        );
        let got: Vec<Vec<u8>> = p.take_outbox().iter().map(|d| d.bytes.to_vec()).collect();
        assert_eq!(got.len(), 2, "both channels of the plain key only");
        assert!(got.iter().all(|m| !m.windows(6).any(|w| w == b"secret")));
        assert!(got[0].ends_with(b"$20\r\n__keyspace@3__:plain\r\n$7\r\nexpired\r\n"));
        assert!(got[1].ends_with(b"$22\r\n__keyevent@3__:expired\r\n$5\r\nplain\r\n"));
        // Nothing is published when neither K nor E is set.
        publish(&mut p, parse_flags(b"A").unwrap(), &[expired(0, b"k")]);
        assert!(p.take_outbox().is_empty());
    }
}
