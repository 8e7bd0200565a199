//! Blocked clients of the blocking list commands (`BLPOP`, `BRPOP`,
//! `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`): the registry of who waits on which
//! key, the keys written since they were last looked at, serving a blocked
//! client from a key that now holds a list, and answering one whose
//! timeout passed.
//!
//! A blocking command first runs like its non-blocking form. When every
//! key it names is empty, its handler says where it would wait
//! ([`BlockOn`]) instead of answering, the session keeps the command
//! ([`Blocked`]) and the registry files the client under each of its keys,
//! in the order clients blocked. Inside `MULTI` no handler is allowed to
//! block: the command answers nil at once, as in Redis.
//!
//! After every commit, the keys that the transaction's write commands
//! name (every key, for a write without key arguments such as `SWAPDB`)
//! are noted when someone waits on them; the event loop then asks for
//! them one by one ([`Shared::next_ready_key`]) and serves the clients
//! waiting on each, first blocked first ([`Shared::serve_blocked`]): the
//! blocked command runs again, as a new transaction, on that key alone —
//! so `BLPOP a b` woken by a push to `b` pops from `b`, and what a served
//! `BLMOVE` pushes wakes the clients waiting on its destination in the
//! same pass. A key that no longer holds a list (it was deleted, or set to
//! another type) leaves its clients waiting, as Redis 7.0 does.
//!
//! `CLIENT UNBLOCK` only notes its request; the loop answers the client
//! right after that command ([`Shared::cancel_blocked`]).
//!
//! Must never wait itself (the event loop owns time: it answers expired
//! clients with [`Shared::time_out_blocked`]), serve the clients of a key
//! out of the order they blocked, or serve a client that has disconnected
//! ([`Shared::disconnect`] drops it).

use super::resp::Reply;
use super::table::{Runner, Spec};
use super::{emit, Queued, Session, Shared};
use reddb_service::keyspace::Txn;
use reddb_service::Service;
use reddb_storage::database::now_ms;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Instant;

/// Where a blocking command would wait, as its handler says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockOn {
    /// The keys are arguments `first_key..first_key + keys`.
    pub first_key: usize,
    pub keys: usize,
    /// The argument that counts the keys (`BLMPOP`'s numkeys), if any.
    pub numkeys_at: Option<usize>,
    /// When it gives up; `None` waits for ever (timeout 0).
    pub deadline: Option<Instant>,
}

/// A blocked command, kept by its session until it is answered.
pub(crate) struct Blocked {
    spec: &'static Spec,
    runner: Runner,
    args: Vec<Vec<u8>>,
    on: BlockOn,
    /// The database its keys are in.
    db: usize,
}

impl Blocked {
    /// The keys it waits on (each once).
    fn keys(&self) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = self
            .args
            .iter()
            .skip(self.on.first_key)
            .take(self.on.keys)
            .cloned()
            .collect();
        let mut seen = HashSet::new();
        keys.retain(|k| seen.insert(k.clone()));
        keys
    }

    /// Its arguments with `key` as its only key: what serves it from
    /// `key`.
    fn args_for(&self, key: &[u8]) -> Vec<Vec<u8>> {
        let mut args: Vec<Vec<u8>> = Vec::with_capacity(self.args.len());
        for (i, a) in self.args.iter().enumerate() {
            if i == self.on.first_key {
                args.push(key.to_vec());
            } else if i > self.on.first_key && i < self.on.first_key + self.on.keys {
                continue;
            } else if Some(i) == self.on.numkeys_at {
                args.push(b"1".to_vec());
            } else {
                args.push(a.clone());
            }
        }
        args
    }
}

/// Who waits on which key, and what was written since it was last looked
/// at. Bounded by the connections: a client blocks on one command at a
/// time.
#[derive(Default)]
pub(crate) struct Waiters {
    /// Key → (database, client id), in the order the clients blocked.
    by_key: HashMap<Vec<u8>, VecDeque<(usize, u64)>>,
    /// (deadline, client id) of the clients that wait with a timeout.
    deadlines: BTreeSet<(Instant, u64)>,
    /// Keys that someone waits on and that were written since the last
    /// look, oldest first, each once (`queued` holds the same keys).
    ready: VecDeque<Vec<u8>>,
    queued: HashSet<Vec<u8>>,
    /// A write without key arguments (`SWAPDB`) may have filled any key.
    ready_everywhere: bool,
    /// `CLIENT UNBLOCK` requests not carried out yet: client id, and
    /// whether it is answered with an error (else as by a timeout).
    cancelled: Vec<(u64, bool)>,
    /// Clients blocked now.
    blocked: usize,
}

impl Waiters {
    /// Files client `id` under each of `keys` (database `db`).
    fn add(&mut self, id: u64, db: usize, keys: &[Vec<u8>], deadline: Option<Instant>) {
        for k in keys {
            self.by_key
                .entry(k.clone())
                .or_default()
                .push_back((db, id));
        }
        if let Some(at) = deadline {
            self.deadlines.insert((at, id));
        }
        self.blocked += 1;
    }

    /// Takes client `id` out of the registry.
    fn remove(&mut self, id: u64, keys: &[Vec<u8>], deadline: Option<Instant>) {
        for k in keys {
            if let Some(q) = self.by_key.get_mut(k) {
                // Usually the first in line: the one being served.
                if q.front().is_some_and(|(_, c)| *c == id) {
                    q.pop_front();
                } else {
                    q.retain(|(_, c)| *c != id);
                }
                if q.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
        if let Some(at) = deadline {
            self.deadlines.remove(&(at, id));
        }
        self.blocked = self.blocked.saturating_sub(1);
    }

    /// `key` was written: its clients are to be looked at.
    fn written(&mut self, key: &[u8]) {
        if self.by_key.contains_key(key) && self.queued.insert(key.to_vec()) {
            self.ready.push_back(key.to_vec());
        }
    }

    fn next_ready(&mut self) -> Option<Vec<u8>> {
        if std::mem::take(&mut self.ready_everywhere) {
            let keys: Vec<Vec<u8>> = self.by_key.keys().cloned().collect();
            for k in keys {
                self.written(&k);
            }
        }
        let key = self.ready.pop_front()?;
        self.queued.remove(&key);
        Some(key)
    }

    /// The clients waiting on `key` in `db`, first blocked first.
    fn on(&self, key: &[u8]) -> Vec<(usize, u64)> {
        self.by_key
            .get(key)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }
}

/// What serving a blocked client from a key came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    /// It was answered (with what it waited for, or an error such as a
    /// `BLMOVE` destination of the wrong type): it runs again.
    Answered,
    /// The key holds no list in its database: it waits on.
    Waits,
}

impl Shared {
    /// Clients blocked now (`INFO clients`).
    pub(crate) fn blocked_clients(&self) -> usize {
        self.waiters.blocked
    }

    /// Blocked clients that wait with a timeout (`INFO clients`'
    /// `clients_in_timeout_table`).
    pub(crate) fn blocked_with_timeout(&self) -> usize {
        self.waiters.deadlines.len()
    }

    /// Blocks `s` on the command it just ran, which asked to wait `on`.
    pub(super) fn block(
        &mut self,
        s: &mut Session,
        spec: &'static Spec,
        runner: Runner,
        args: Vec<Vec<u8>>,
        on: BlockOn,
    ) {
        let blocked = Blocked {
            spec,
            runner,
            args,
            on,
            db: s.db,
        };
        self.waiters
            .add(s.id, blocked.db, &blocked.keys(), blocked.on.deadline);
        s.blocked = Some(blocked);
        if let Some(c) = self.clients.get_mut(&s.id) {
            c.blocked = true;
        }
    }

    /// Takes `s` out of the registry (answered, timed out or gone); its
    /// command is dropped.
    pub(crate) fn unblock(&mut self, s: &mut Session) {
        if let Some(b) = s.blocked.take() {
            self.waiters.remove(s.id, &b.keys(), b.on.deadline);
        }
        if let Some(c) = self.clients.get_mut(&s.id) {
            c.blocked = false;
        }
    }

    /// Notes what a committed transaction's commands wrote, for the
    /// clients waiting on those keys.
    pub(super) fn note_written(&mut self, cmds: &[Queued]) {
        if self.waiters.blocked == 0 {
            return;
        }
        for q in cmds.iter().filter(|q| q.spec.has(super::table::WRITE)) {
            match q.spec.key_args(&q.args) {
                Some(keys) if !keys.is_empty() => {
                    for k in keys {
                        self.waiters.written(k);
                    }
                }
                _ => self.waiters.ready_everywhere = true,
            }
        }
    }

    /// The next written key that clients wait on, if any.
    pub(crate) fn next_ready_key(&mut self) -> Option<Vec<u8>> {
        self.waiters.next_ready()
    }

    /// The clients waiting on `key`, first blocked first: (database,
    /// client id).
    pub(crate) fn waiting_on(&self, key: &[u8]) -> Vec<(usize, u64)> {
        self.waiters.on(key)
    }

    /// The earliest deadline of a blocked client.
    pub(crate) fn next_block_deadline(&self) -> Option<Instant> {
        self.waiters.deadlines.first().map(|(at, _)| *at)
    }

    /// The blocked clients whose deadline is at or before `now`.
    pub(crate) fn expired_blocks(&self, now: Instant) -> Vec<u64> {
        self.waiters
            .deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| *id)
            .collect()
    }

    /// `CLIENT UNBLOCK id`: whether client `id` is blocked (and not
    /// already asked to stop); the loop answers it right after this
    /// command ([`Shared::take_cancelled`]).
    pub(crate) fn request_unblock(&mut self, id: u64, error: bool) -> bool {
        let blocked = self.clients.get(&id).is_some_and(|c| c.blocked);
        if !blocked || self.waiters.cancelled.iter().any(|(c, _)| *c == id) {
            return false;
        }
        self.waiters.cancelled.push((id, error));
        true
    }

    /// The `CLIENT UNBLOCK` requests made since the last call.
    pub(crate) fn take_cancelled(&mut self) -> Vec<(u64, bool)> {
        std::mem::take(&mut self.waiters.cancelled)
    }

    /// Answers blocked `s` as `CLIENT UNBLOCK` asked: as a timeout, or
    /// with `-UNBLOCKED client unblocked via CLIENT UNBLOCK`.
    pub(crate) fn cancel_blocked(&mut self, s: &mut Session, error: bool, out: &mut Vec<u8>) {
        if s.blocked.is_none() {
            return;
        }
        self.unblock(s);
        let reply = if error {
            Reply::err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        } else {
            Reply::NilArray
        };
        answer(s, &reply, out);
    }

    /// Answers blocked `s` with the nil of a timeout (`*-1`, RESP3 `_`).
    pub(crate) fn time_out_blocked(&mut self, s: &mut Session, out: &mut Vec<u8>) {
        if s.blocked.is_none() {
            return;
        }
        self.unblock(s);
        answer(s, &Reply::NilArray, out);
    }

    /// Serves blocked `s` from `key` if `key` holds a list in its
    /// database: its command runs again on that key alone, as one new
    /// transaction, and its reply goes to `out`.
    pub(crate) fn serve_blocked(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        key: &[u8],
        out: &mut Vec<u8>,
    ) -> Served {
        let Some(b) = s.blocked.as_ref() else {
            return Served::Answered;
        };
        let holds_list = svc.keyspace_state().is_ok_and(|state| {
            let mut probe = Txn::new(state, now_ms());
            probe.select(b.db);
            probe.type_of(key) == Ok("list")
        });
        if !holds_list {
            return Served::Waits;
        }
        let (spec, runner, args) = (b.spec, b.runner, b.args_for(key));
        self.unblock(s);
        self.drop_ended_credential(s, svc);
        if s.principal.is_none() {
            answer(s, &Reply::err(super::errors::NOAUTH), out);
            return Served::Answered;
        }
        self.touch(s, spec.name);
        let batch = [Queued { spec, runner, args }];
        let reply = match self.run_one(s, svc, &batch, None) {
            Ok(reply) => reply.unwrap_or(Reply::NilArray),
            Err(e) => e,
        };
        answer(s, &reply, out);
        Served::Answered
    }
}

/// The reply of a blocked command, unless `CLIENT REPLY OFF|SKIP` was in
/// force when it ran.
fn answer(s: &mut Session, reply: &Reply, out: &mut Vec<u8>) {
    if !std::mem::take(&mut s.pending_silenced) {
        emit(s, reply, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    fn blocked(a: &[&str], on: BlockOn) -> Option<Blocked> {
        let spec = super::super::table::lookup(&a.first()?.to_lowercase())?;
        let super::super::table::Handler::Run(runner) = spec.handler else {
            return None;
        };
        Some(Blocked {
            spec,
            runner,
            args: args(a),
            on,
            db: 0,
        })
    }

    #[test]
    fn a_blocked_command_is_served_from_one_key() {
        let on = BlockOn {
            first_key: 1,
            keys: 3,
            numkeys_at: None,
            deadline: None,
        };
        let b = blocked(&["blpop", "a", "b", "a", "0"], on.clone());
        let b = b.unwrap_or_else(|| panic!("blpop is in the table"));
        assert_eq!(b.keys(), args(&["a", "b"]));
        assert_eq!(b.args_for(b"b"), args(&["blpop", "b", "0"]));
        let on = BlockOn {
            first_key: 3,
            keys: 2,
            numkeys_at: Some(2),
            ..on
        };
        let m = blocked(&["blmpop", "0", "2", "x", "y", "LEFT", "COUNT", "3"], on);
        let m = m.unwrap_or_else(|| panic!("blmpop is in the table"));
        assert_eq!(
            m.args_for(b"y"),
            args(&["blmpop", "0", "1", "y", "LEFT", "COUNT", "3"])
        );
    }

    #[test]
    fn waiters_come_in_the_order_they_blocked() {
        let mut w = Waiters::default();
        let later = Instant::now() + std::time::Duration::from_secs(5);
        w.add(1, 0, &args(&["k"]), None);
        w.add(2, 0, &args(&["k", "j"]), Some(later));
        w.add(3, 1, &args(&["k"]), None);
        assert_eq!(w.on(b"k"), vec![(0, 1), (0, 2), (1, 3)]);
        w.written(b"nobody");
        w.written(b"j");
        w.written(b"k");
        w.written(b"j");
        assert_eq!(w.next_ready(), Some(b"j".to_vec()));
        assert_eq!(w.next_ready(), Some(b"k".to_vec()));
        assert_eq!(w.next_ready(), None);
        w.remove(2, &args(&["k", "j"]), Some(later));
        assert_eq!(w.on(b"k"), vec![(0, 1), (1, 3)]);
        assert!(w.on(b"j").is_empty() && w.deadlines.is_empty());
        w.ready_everywhere = true;
        assert_eq!(w.next_ready(), Some(b"k".to_vec()));
        assert_eq!(w.blocked, 2);
    }
}
