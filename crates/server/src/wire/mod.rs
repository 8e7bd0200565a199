//! The Redis-compatible wire protocol (RESP2/RESP3) over the encrypted
//! keyspace.
//!
//! The event loop owns the sockets and one [`Session`] per wire
//! connection; it feeds each complete command to [`Shared::handle`], which
//! appends the encoded reply to the connection's output buffer. Like HTTP
//! replies, those bytes leave only after the loop's store flush of that
//! turn (group commit), so an acknowledged write is on disk.
//!
//! Authentication is required for every command but `AUTH`, `HELLO` and
//! `QUIT`. `AUTH <password>` takes an API key, a session token or the admin
//! token; `AUTH <user> <password>` (and `HELLO 3 AUTH …`) verifies a vault
//! user's password on the worker pool ([`Step::Defer`]); the loop hands the
//! result back to [`Shared::auth_done`]. A connection's credential is
//! re-checked before every command (cheaply: see
//! [`reddb_service::keyspace::Ticket`]): once its key is deleted, its user
//! deleted or disabled, its password changed, its session ended or the
//! admin token rotated, the connection is logged out and that command and
//! every later one answer `-NOAUTH Authentication required.` until it
//! authenticates again.
//!
//! Failed `AUTH <token>` attempts count against the peer's token throttle
//! (see [`reddb_service::limiter`]); past its limit they are answered
//! `-ERR too many failed authentication attempts …` instead of
//! `-WRONGPASS`.
//!
//! Every command, and every `MULTI`/`EXEC` block, runs in one keyspace
//! transaction and is staged as one store commit.
//!
//! What each command is — arity, flags, key positions, documentation and
//! handler — is one entry of [`table::TABLE`]; this module matches no
//! command name.
//!
//! Pub/sub (`pubsub.rs`), keyspace notifications (`keyspace_events.rs`)
//! and client tracking (`tracking.rs`) queue what other connections are
//! sent; the loop copies it to them after each command. A RESP2
//! connection with a subscription runs only what Redis allows it.
//!
//! A blocking list command (`BLPOP` …) that finds nothing to pop leaves
//! its connection blocked ([`Step::Block`]): nothing more of its input runs
//! until [`blocking`] answers it (served after another client's write, or
//! timed out).

mod access_control;
mod bit_and_float_handlers;
mod block_timeout;
mod blocking;
mod client_control;
mod command_clock;
#[cfg(test)]
mod command_path_bench;
pub(crate) mod commands;
mod config_command;
pub(crate) mod errors;
pub(crate) mod info;
mod introspect;
mod key_flags;
pub mod keyspace_events;
mod list_handlers;
mod monitor;
mod object_command;
pub(crate) mod pubsub;
pub mod resp;
mod scripting;
mod set_handlers;
mod sorted_set_handlers;
pub mod standalone;
mod string_and_hash_handlers;
pub(crate) mod table;
mod tracking;
mod watch;

pub(crate) use blocking::{BlockOn, Served};
use client_control::{ClientPause, ReplyMode};
use commands::Post;
use config_command::{RuntimeSettings, SLOWLOG_RETAINED};
use errors::{auth_error_line, NOAUTH, WRONGPASS};
use info::CommandName;
use reddb_service::keyspace::{Changes, Keyspace, Ticket, Txn};
use reddb_service::results::Finished;
use reddb_service::work::Work;
use reddb_service::{Kind, Principal, Service, ServiceError, ServiceResult};
use reddb_storage::database::now_ms;
use resp::{CommandParser, Limits, Reply};
pub(crate) use scripting::BusyResponder;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};
use table::{
    Handler, Runner, SessionCommand, Spec, ADMIN, IMMEDIATE, NO_AUTH, NO_MULTI, READONLY, WRITE,
};
use watch::{WatchedKey, Watches};

/// Most bytes one connection may buffer for one command once
/// authenticated (a 16 MiB value plus its command).
pub(crate) const MAX_QUERY: usize = 32 * 1024 * 1024;
/// Before authentication (10 arguments of at most 16 KiB, or one inline
/// line of at most 64 KiB, fit).
pub(crate) const MAX_QUERY_UNAUTH: usize = 256 * 1024;
/// Most bytes of commands queued by one `MULTI`.
pub(crate) const MAX_MULTI_BYTES: usize = reddb_service::keyspace::MAX_TXN_BYTES;
/// The Redis version this server speaks like (`INFO`, `HELLO`).
pub(crate) const REDIS_VERSION: &str = "7.0.0";

/// What the loop must do after a command.
pub enum Step {
    Continue,
    /// Run this on the worker pool, then call [`Shared::auth_done`]; read
    /// nothing more from the connection meanwhile.
    Defer(Work),
    /// Close once the output is written.
    Close,
    /// The command blocked (`BLPOP` on empty lists): read no more commands
    /// from the connection until [`Shared::serve_blocked`] or
    /// [`Shared::time_out_blocked`] answers it.
    Block,
    /// A `CLIENT PAUSE` holds the command (kept in the session): run
    /// nothing more of the connection until [`Shared::resume`] says so.
    Postpone,
}

/// The part of a connection's `CLIENT LIST` entry its every command
/// changes. The session and the entry share it, so a command updates it
/// without looking the entry up (that lookup was 2 % of a pipelined `GET`).
#[derive(Debug)]
pub(crate) struct Activity {
    /// When the last command started, and its name.
    pub last_command: Cell<Instant>,
    pub last_command_name: Cell<&'static str>,
    pub resp: Cell<u8>,
    /// Queued commands, -1 outside `MULTI`.
    pub multi: Cell<i64>,
    /// The selected database.
    pub db: Cell<usize>,
}

/// What `CLIENT LIST` shows of a connection.
#[derive(Debug, Clone)]
pub(crate) struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub created: Instant,
    /// What each command changes (shared with the connection's session).
    pub activity: Rc<Activity>,
    pub user: String,
    /// Waiting in a blocking command (`CLIENT LIST` flag `b`).
    pub blocked: bool,
}

/// One `SLOWLOG` entry. Holds the command name and its key, never values
/// or passwords.
#[derive(Debug, Clone)]
pub(crate) struct SlowEntry {
    pub id: u64,
    pub unix: u64,
    pub micros: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub connections: u64,
    pub rejected: u64,
    pub commands: u64,
    pub hits: u64,
    pub misses: u64,
    /// `INFO commandstats` and `INFO errorstats`.
    pub calls: info::CommandStats,
}

/// State shared by every wire connection.
pub(crate) struct Shared {
    pub keyspace: Keyspace,
    pub clients: BTreeMap<u64, ClientInfo>,
    pub slowlog: VecDeque<SlowEntry>,
    slowlog_next: u64,
    /// What `CONFIG SET` changed (the slow log's threshold and length).
    pub(crate) settings: RuntimeSettings,
    pub stats: Stats,
    next_id: u64,
    started: Instant,
    bind: SocketAddr,
    everysec: bool,
    max_clients: usize,
    /// Clients blocked in `BLPOP` and the like, by key.
    waiters: blocking::Waiters,
    /// `WATCH`ed keys and who watches them.
    pub(crate) watches: Watches,
    /// `CLIENT PAUSE` in force, if any.
    pub(crate) pause: Option<ClientPause>,
    /// Connections `CLIENT KILL` chose, for the loop to close.
    pub(crate) kills: Vec<u64>,
    /// Connections in `MONITOR` mode.
    pub(crate) monitors: BTreeSet<u64>,
    /// Monitor lines not yet copied to the monitoring connections.
    monitor_feed: Vec<u8>,
    /// Pub/sub subscriptions and the messages to deliver.
    pub(crate) pubsub: pubsub::PubSub,
    /// `CLIENT TRACKING`: who read which key.
    pub(crate) tracking: tracking::Tracking,
    /// Expired keys whose `expired` a command announced before the sweep.
    pub(crate) lazy_expired: keyspace_events::LazyExpired,
    /// The keyspace events of the transaction running now (its commands',
    /// and those of the commands its scripts call), published once it is
    /// staged for commit.
    pub(crate) pending_events: Vec<keyspace_events::KeyEvent>,
    /// Lua scripting: on or off, the script cache.
    pub(crate) scripting: scripting::Scripting,
    /// When the running command started and the Unix time it runs at.
    pub(crate) clock: command_clock::CommandClock,
    /// The reply vector of a lone command, kept between commands.
    one_reply: Vec<Reply>,
    /// A bulk reply's vector, back from the last lone command that
    /// answered one, for `GET` to fill (at most [`KEPT_BULK_BYTES`]).
    pub(crate) spare_bulk: Vec<u8>,
}

/// Largest bulk reply vector kept for the next `GET`.
const KEPT_BULK_BYTES: usize = 4096;

/// A command queued by `MULTI`: its entry, how it runs, its arguments.
struct Queued {
    spec: &'static Spec,
    runner: Runner,
    args: Vec<Vec<u8>>,
}

struct Multi {
    queue: Vec<Queued>,
    bytes: usize,
    dirty: bool,
}

/// What to answer once a deferred password check returns.
enum Pending {
    Auth,
    Hello { proto: u8, name: Option<Vec<u8>> },
}

/// One wire connection.
pub struct Session {
    pub id: u64,
    pub principal: Option<Principal>,
    ticket: Option<Ticket>,
    pub resp3: bool,
    /// The selected database (`SELECT`), 0 to 15; changed only through
    /// [`Session::select_db`].
    pub db: usize,
    multi: Option<Multi>,
    pub parser: CommandParser,
    pending: Option<Pending>,
    peer: SocketAddr,
    /// The blocking command this connection waits in, if any.
    blocked: Option<blocking::Blocked>,
    /// In `MONITOR` mode.
    pub monitor: bool,
    /// What `CLIENT REPLY` left.
    pub(crate) reply: ReplyMode,
    /// The command this connection ran last: a pipeline mostly repeats it.
    last_spec: Option<&'static Spec>,
    /// Whether the deferred command's reply is to be dropped.
    pending_silenced: bool,
    /// The command a `CLIENT PAUSE` holds.
    postponed: Option<Vec<Vec<u8>>>,
    /// Its `CLIENT LIST` entry's changing part.
    pub(crate) activity: Rc<Activity>,
}

impl Session {
    /// Makes `db` the connection's database, in its `CLIENT LIST` entry too
    /// (at once: another connection's `CLIENT LIST` shows it before this
    /// one runs anything more).
    pub(crate) fn select_db(&mut self, db: usize) {
        self.db = db;
        self.activity.db.set(db);
    }

    /// The table entry of command `name` (any letter case): the one this
    /// connection ran last when it is that one again, else looked up.
    fn command_spec(&mut self, name: &[u8]) -> Option<&'static Spec> {
        if let Some(spec) = self.last_spec {
            if spec.name.as_bytes().eq_ignore_ascii_case(name) {
                return Some(spec);
            }
        }
        let spec = table::lookup_name(name);
        if spec.is_some() {
            self.last_spec = spec;
        }
        spec
    }

    /// Parser limits: Redis's small pre-authentication ones until `AUTH`.
    pub fn limits(&self) -> Limits {
        if self.principal.is_some() {
            Limits::AUTHENTICATED
        } else {
            Limits::UNAUTHENTICATED
        }
    }

    /// Most bytes the connection may buffer.
    pub(crate) fn max_query(&self) -> usize {
        if self.principal.is_some() {
            MAX_QUERY
        } else {
            MAX_QUERY_UNAUTH
        }
    }

    pub(crate) fn is_authenticated(&self) -> bool {
        self.principal.is_some()
    }

    /// Whether the connection waits in a blocking command (its further
    /// input waits too).
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked.is_some()
    }

    /// Whether a `CLIENT PAUSE` holds a command of this connection (it
    /// runs nothing more until the pause ends).
    pub fn is_postponed(&self) -> bool {
        self.postponed.is_some()
    }

    /// The held command, to run again once the pause is over.
    pub fn take_postponed(&mut self) -> Option<Vec<Vec<u8>>> {
        self.postponed.take()
    }

    /// The key `WATCH` registers for `key` in this connection's database.
    fn watched(&self, key: &[u8]) -> WatchedKey {
        WatchedKey {
            db: self.db,
            key: key.to_vec(),
        }
    }
}

/// Encodes `r` for the session's protocol into `out`.
fn emit(s: &Session, r: &Reply, out: &mut Vec<u8>) {
    r.encode(s.resp3, out);
}

/// Answers `-NOAUTH` to a command sent before authentication. Audited like
/// any refused request; a flood of them from one peer folds into one
/// summary event per window.
fn refuse_unauthenticated(s: &Session, svc: &mut Service, shown_name: &str, out: &mut Vec<u8>) {
    svc.audit(
        reddb_service::audit::ANONYMOUS,
        "request",
        &format!("wire:{shown_name}"),
        ("unauthorized", Some("noauth")),
        Some(s.peer.ip()),
    );
    emit(s, &Reply::err(NOAUTH), out);
}

/// A refused command inside `MULTI` makes its `EXEC` fail.
fn mark_multi_failed(s: &mut Session) {
    if let Some(m) = s.multi.as_mut() {
        m.dirty = true;
    }
}

impl Multi {
    /// Queues one command for `EXEC`, or refuses it (and dooms the block)
    /// when it may not run inside `MULTI` or the block would grow too large.
    fn queue_command(&mut self, spec: &'static Spec, args: Vec<Vec<u8>>) -> Reply {
        let size: usize = args.iter().map(|a| a.len() + 16).sum();
        let runner = match spec.handler {
            Handler::Run(runner) if !spec.has(NO_MULTI) => Some(runner),
            Handler::Run(_) | Handler::Session(_) => None,
        };
        let Some(runner) = runner else {
            self.dirty = true;
            return Reply::err("ERR Command not allowed inside a transaction");
        };
        if self.bytes.saturating_add(size) > MAX_MULTI_BYTES {
            self.dirty = true;
            Reply::err(format!(
                "ERR the transaction is too large (max {MAX_MULTI_BYTES} bytes queued)"
            ))
        } else {
            self.bytes += size;
            self.queue.push(Queued { spec, runner, args });
            Reply::simple("QUEUED")
        }
    }
}

impl Shared {
    pub fn new(bind: SocketAddr, everysec: bool, max_clients: usize) -> Self {
        Self {
            keyspace: Keyspace::new(),
            clients: BTreeMap::new(),
            slowlog: VecDeque::new(),
            slowlog_next: 0,
            settings: RuntimeSettings::default(),
            stats: Stats::default(),
            next_id: 1,
            started: Instant::now(),
            bind,
            everysec,
            max_clients,
            waiters: blocking::Waiters::default(),
            watches: Watches::default(),
            pause: None,
            kills: Vec::new(),
            monitors: BTreeSet::new(),
            monitor_feed: Vec::new(),
            pubsub: pubsub::PubSub::default(),
            tracking: tracking::Tracking::default(),
            lazy_expired: keyspace_events::LazyExpired::default(),
            pending_events: Vec::new(),
            scripting: scripting::Scripting::default(),
            clock: command_clock::CommandClock::new(),
            one_reply: Vec::new(),
            spare_bulk: Vec::new(),
        }
    }

    /// Installs (or takes back) what answers other clients while a script
    /// runs past its busy time; the one installed before.
    pub(crate) fn set_busy_responder(
        &mut self,
        responder: Option<Box<dyn BusyResponder>>,
    ) -> Option<Box<dyn BusyResponder>> {
        std::mem::replace(&mut self.scripting.busy, responder)
    }

    /// Scripting on or off (`--no-scripting`) and its busy time
    /// (`--busy-script-time`).
    pub(crate) fn with_scripting(mut self, enabled: bool, busy_after: Duration) -> Self {
        self.scripting = scripting::Scripting::new(enabled, busy_after);
        self
    }

    /// A new connection from `peer`.
    pub fn connect(&mut self, peer: SocketAddr) -> Session {
        let id = self.next_id;
        self.next_id += 1;
        self.stats.connections += 1;
        let now = Instant::now();
        let activity = Rc::new(Activity {
            last_command: Cell::new(now),
            last_command_name: Cell::new("NULL"),
            resp: Cell::new(2),
            multi: Cell::new(-1),
            db: Cell::new(0),
        });
        self.clients.insert(
            id,
            ClientInfo {
                id,
                addr: peer.to_string(),
                laddr: self.bind.to_string(),
                name: Vec::new(),
                lib_name: Vec::new(),
                lib_ver: Vec::new(),
                created: now,
                activity: Rc::clone(&activity),
                user: "(none)".into(),
                blocked: false,
            },
        );
        Session {
            id,
            principal: None,
            ticket: None,
            resp3: false,
            db: 0,
            multi: None,
            parser: CommandParser::new(),
            pending: None,
            peer,
            monitor: false,
            reply: ReplyMode::default(),
            pending_silenced: false,
            postponed: None,
            blocked: None,
            last_spec: None,
            activity,
        }
    }

    /// A connection closed: it leaves `CLIENT LIST`, its watches, the
    /// monitors and, if it was blocked, the clients waiting on its keys.
    pub(crate) fn disconnect(&mut self, s: &mut Session) {
        self.unblock(s);
        self.clients.remove(&s.id);
        self.watches.unwatch(s.id);
        self.stop_monitoring(s);
        self.pubsub.forget(s.id);
        self.tracking.forget(s.id);
    }

    /// When the `CLIENT PAUSE` in force ends, if one is.
    pub(crate) fn pause_until(&self) -> Option<Instant> {
        self.pause.map(|p| p.until)
    }

    /// Whether held commands may run again (no pause, or its end passed);
    /// forgets an ended pause.
    pub(crate) fn resume(&mut self, now: Instant) -> bool {
        if self.pause.is_some_and(|p| now >= p.until) {
            self.pause = None;
        }
        self.pause.is_none()
    }

    /// A connection refused (too many clients, or shutting down).
    pub fn rejected(&mut self) {
        self.stats.rejected += 1;
    }

    /// `CONFIG RESETSTAT`: the counters start again (the slow log stays,
    /// as in Redis).
    pub(crate) fn reset_stats(&mut self) {
        self.stats = Stats {
            connections: 0,
            ..Stats::default()
        };
    }

    /// Records the command `s` is about to run in its `CLIENT LIST` entry
    /// (its name, the time, the `MULTI` queue and protocol; the database is
    /// written where it changes, [`Session::select_db`]). The user changes only where a connection logs in or out
    /// ([`Shared::touch_login`]), so it is not compared on every command.
    fn touch(&mut self, s: &Session, name: &'static str) {
        let a = &s.activity;
        a.last_command.set(self.clock.current());
        a.last_command_name.set(name);
        a.multi.set(
            s.multi
                .as_ref()
                .map_or(-1, |m| i64::try_from(m.queue.len()).unwrap_or(i64::MAX)),
        );
        a.resp.set(if s.resp3 { 3 } else { 2 });
    }

    /// [`Shared::touch`] after `s` logged in or out: its entry also shows
    /// the user it runs as now.
    fn touch_login(&mut self, s: &Session, name: &'static str) {
        let user = s.principal.as_ref().map_or("(none)", |p| p.name.as_str());
        if let Some(c) = self.clients.get_mut(&s.id) {
            if c.user != user {
                c.user.clear();
                c.user.push_str(user);
            }
        }
        self.touch(s, name);
    }

    /// Runs one complete command, appending its reply to `out`: the checks
    /// every command passes (bootstrapped, credential still live,
    /// authenticated, known, right arity), then queueing inside `MULTI` or
    /// running it.
    pub fn handle(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        args: Vec<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> Step {
        let mark = out.len();
        let step = self.handle_command(s, svc, args, out);
        self.clock.end_command();
        match step {
            // Not run yet: the reply mode moves on when it runs.
            Step::Postpone => return step,
            Step::Defer(_) | Step::Block => s.pending_silenced = s.reply.silenced(),
            Step::Continue | Step::Close => {
                if s.reply.silenced() {
                    out.truncate(mark);
                }
            }
        }
        // What the command published to its own connection goes first.
        let own = self.pubsub.take_own(s.id);
        if !own.is_empty() {
            let at = mark.min(out.len());
            out.splice(at..at, own);
        }
        s.reply.command_done();
        step
    }

    /// [`Shared::handle`] before `CLIENT REPLY` has its say.
    fn handle_command(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        args: Vec<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> Step {
        let Some(first) = args.first() else {
            return Step::Continue;
        };
        self.clock.start();
        self.stats.commands += 1;
        let spec = s.command_spec(first);
        let quits =
            spec.is_some_and(|sp| matches!(sp.handler, Handler::Session(SessionCommand::Quit)));
        if !svc.is_bootstrapped() && !quits {
            // Nothing to authenticate against and no keyspace yet: every
            // command is refused until POST /auth/bootstrap (over HTTP).
            let e = reddb_service::ServiceError::not_bootstrapped();
            emit(s, &Reply::err(auth_error_line(&e)), out);
            return Step::Continue;
        }
        self.drop_ended_credential(s, svc);
        if s.principal.is_none() && !spec.is_some_and(|sp| sp.has(NO_AUTH)) {
            let shown = spec.map_or("unknown", |sp| sp.name);
            let reply = Reply::err(NOAUTH);
            match spec {
                Some(spec) => self
                    .stats
                    .calls
                    .count_rejected(CommandName::of(spec, &args), &reply),
                None => self.stats.calls.count_reply(&reply),
            }
            refuse_unauthenticated(s, svc, shown, out);
            return Step::Continue;
        }
        let Some(spec) = spec else {
            mark_multi_failed(s);
            let reply = commands::unknown_command(&args);
            self.stats.calls.count_reply(&reply);
            emit(s, &reply, out);
            return Step::Continue;
        };
        if let Err(reply) = self.admit(s, spec, &args) {
            mark_multi_failed(s);
            emit(s, &reply, out);
            return Step::Continue;
        }
        if !s.resp3 && self.pubsub.is_subscriber(s.id) {
            let shown = CommandName::of(spec, &args).to_string();
            if let Some(reply) = pubsub::refused_while_subscribed(spec.name, &shown) {
                self.stats
                    .calls
                    .count_rejected(CommandName::of(spec, &args), &reply);
                emit(s, &reply, out);
                return Step::Continue;
            }
        }
        if self.held_by_pause(s, spec) {
            self.stats.commands -= 1;
            s.postponed = Some(args);
            return Step::Postpone;
        }
        if s.monitor && touches_keyspace(spec) {
            let reply = Reply::err("ERR Replica can't interact with the keyspace");
            self.stats
                .calls
                .count_rejected(CommandName::of(spec, &args), &reply);
            emit(s, &reply, out);
            return Step::Continue;
        }
        self.touch(s, spec.name);
        if let Some(m) = s.multi.as_mut() {
            if !spec.has(IMMEDIATE) {
                let name = CommandName::of(spec, &args);
                let reply = m.queue_command(spec, args);
                if matches!(reply, Reply::Error(_)) {
                    self.stats.calls.count_rejected(name, &reply);
                }
                emit(s, &reply, out);
                return Step::Continue;
            }
        }
        self.dispatch(s, svc, spec, args, out)
    }

    /// The checks Redis makes of a known command before it runs or is
    /// queued, in Redis's order: the arity, a container's subcommand and
    /// its arity, then the principal's permission (reddb's admin-only
    /// commands and subcommands). A refusal is counted as Redis counts it
    /// (an unknown subcommand in the error counts only).
    fn admit(&mut self, s: &Session, spec: &'static Spec, args: &[Vec<u8>]) -> Result<(), Reply> {
        let name = CommandName::of(spec, args);
        let refused = if !spec.arity_ok(args.len()) {
            commands::wrong_args(spec.name)
        } else if !spec.subcommands.is_empty() && args.len() > 1 && name.sub.is_none() {
            let reply =
                commands::unknown_subcommand(args.get(1).map_or(&[][..], Vec::as_slice), spec.name);
            self.stats.calls.count_reply(&reply);
            return Err(reply);
        } else if name
            .sub
            .and_then(|sub| spec.subcommand(sub))
            .is_some_and(|sub| !sub.arity_ok(args.len()))
        {
            commands::wrong_args(&name.to_string())
        } else {
            let admin_only = spec.has(ADMIN)
                || name
                    .sub
                    .and_then(|sub| spec.subcommand(sub))
                    .is_some_and(|sub| sub.admin);
            let admin = s.principal.as_ref().is_some_and(Principal::is_admin);
            if !admin_only || admin {
                return Ok(());
            }
            Reply::err(format!(
                "NOPERM this user has no permissions to run the '{name}' command"
            ))
        };
        self.stats.calls.count_rejected(name, &refused);
        Err(refused)
    }

    /// Whether the `CLIENT PAUSE` in force holds this command: every one
    /// in `ALL` mode; in `WRITE` mode a write, or an `EXEC` with one queued.
    fn held_by_pause(&self, s: &Session, spec: &Spec) -> bool {
        let Some(pause) = self.pause else {
            return false;
        };
        let exec = matches!(spec.handler, Handler::Session(SessionCommand::Exec));
        let writes_queued = exec
            && s.multi
                .as_ref()
                .is_some_and(|m| m.queue.iter().any(|q| q.spec.has(WRITE)));
        pause.holds(spec, writes_queued, Instant::now())
    }

    /// Logs the connection out when its credential has ended since the
    /// last command (key deleted, user deleted, disabled or re-passworded,
    /// session expired, admin token rotated).
    fn drop_ended_credential(&mut self, s: &mut Session, svc: &mut Service) {
        if s.principal.is_none() {
            return;
        }
        let live = s
            .ticket
            .as_mut()
            .is_some_and(|t| svc.ticket_valid(t, self.clock.command_unix_ms()));
        if !live {
            reddb_storage::log_notice!(
                "wire client {}: its credential ended (deleted, disabled, re-passworded or expired); logged out",
                s.id
            );
            s.principal = None;
            s.ticket = None;
            s.multi = None;
            self.watches.unwatch(s.id);
            self.stop_monitoring(s);
            self.pubsub.forget(s.id);
            self.tracking.forget(s.id);
            self.touch_login(s, "auth");
        }
    }

    /// `CLIENT TRACKING`: connection `id` read the keys of `args`.
    fn track_read(&mut self, id: u64, spec: &Spec, args: &[Vec<u8>]) {
        if !self.tracking.is_on(id) {
            return;
        }
        let keys = spec.keys_and_flags(args).unwrap_or_default();
        self.tracking
            .remember(id, keys.into_iter().map(|(k, _)| k), &mut self.pubsub);
    }

    /// Keys the expiry sweep dropped: their readers are told.
    pub(crate) fn expired_keys(&mut self, keys: &[Vec<u8>]) {
        self.tracking.written(
            keys.iter().map(Vec::as_slice),
            false,
            None,
            &mut self.pubsub,
        );
    }

    /// Whether some connection tracks keys.
    pub(crate) fn tracks_keys(&self) -> bool {
        !self.tracking.is_empty()
    }

    /// Whether connection `id` may be sent pushes (subscribed or
    /// tracking).
    pub(crate) fn receives_pushes(&self, id: u64) -> bool {
        self.pubsub.is_subscriber(id) || self.tracking.is_on(id)
    }

    /// Whether `s` is still logged in: a subscriber whose credential
    /// ended since its last command is logged out (and so unsubscribed)
    /// before it is sent anything more.
    pub(crate) fn still_authenticated(&mut self, s: &mut Session, svc: &mut Service) -> bool {
        self.drop_ended_credential(s, svc);
        s.principal.is_some()
    }

    /// Runs a known command of the right arity outside `MULTI` (or one of
    /// the `IMMEDIATE` ones inside it).
    fn dispatch(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        spec: &'static Spec,
        args: Vec<Vec<u8>>,
        out: &mut Vec<u8>,
    ) -> Step {
        let which = match spec.handler {
            Handler::Session(which) => which,
            Handler::Run(runner) => {
                let batch = [Queued { spec, runner, args }];
                let mut block = None;
                let reply = match self.run_one(s, svc, &batch, Some(&mut block)) {
                    Ok(reply) => reply.unwrap_or(Reply::Nil),
                    Err(e) => e,
                };
                let [Queued { args, .. }] = batch;
                if let Some(on) = block {
                    self.block(s, spec, runner, args, on);
                    return Step::Block;
                }
                s.parser.recycle(args);
                emit(s, &reply, out);
                if let Reply::Bulk(v) = reply {
                    if v.capacity() <= KEPT_BULK_BYTES {
                        self.spare_bulk = v;
                    }
                }
                return Step::Continue;
            }
        };
        // Shown before it runs: AUTH may finish on the pool, RESET and
        // QUIT end what the line would show.
        if !matches!(which, SessionCommand::Exec) {
            self.feed_monitors(s, spec, &args);
        }
        self.clock.start();
        let reply = match which {
            SessionCommand::Auth => return self.auth_command(s, svc, &args, out),
            SessionCommand::Hello => return self.hello_command(s, svc, &args, out),
            SessionCommand::Quit => {
                let took = self.clock.finish();
                self.stats
                    .calls
                    .count_call(CommandName::of(spec, &args), took, &Reply::Ok);
                emit(s, &Reply::Ok, out);
                return Step::Close;
            }
            SessionCommand::Reset => self.reset_session(s),
            SessionCommand::Multi => {
                if s.multi.is_some() {
                    Reply::err("ERR MULTI calls can not be nested")
                } else {
                    s.multi = Some(Multi {
                        queue: Vec::new(),
                        bytes: 0,
                        dirty: false,
                    });
                    Reply::Ok
                }
            }
            SessionCommand::Discard => match s.multi.take() {
                Some(_) => {
                    self.watches.unwatch(s.id);
                    Reply::Ok
                }
                None => Reply::err("ERR DISCARD without MULTI"),
            },
            SessionCommand::Exec => {
                let reply = self.exec(s, svc);
                self.feed_monitors(s, spec, &args);
                reply
            }
            SessionCommand::Watch => self.watch_command(s, svc, &args),
        };
        let took = self.clock.finish();
        self.stats
            .calls
            .count_call(CommandName::of(spec, &args), took, &reply);
        emit(s, &reply, out);
        Step::Continue
    }

    /// Answers `AUTH` or `HELLO` (`command`) with `reply`, counted as a
    /// call of it.
    fn answer_login(
        &mut self,
        s: &Session,
        command: &'static str,
        reply: &Reply,
        out: &mut Vec<u8>,
    ) {
        let name = CommandName { command, sub: None };
        self.stats.calls.count_call(name, Duration::ZERO, reply);
        emit(s, reply, out);
    }

    /// `EXEC`: the queued commands in one transaction, unless the block
    /// was refused (`EXECABORT`) or a watched key changed (a nil reply);
    /// the watches end either way.
    fn exec(&mut self, s: &mut Session, svc: &mut Service) -> Reply {
        let Some(m) = s.multi.take() else {
            return Reply::err("ERR EXEC without MULTI");
        };
        let changed = self.watch_failed(s, svc);
        self.watches.unwatch(s.id);
        if m.dirty {
            return Reply::err("EXECABORT Transaction discarded because of previous errors.");
        }
        if changed {
            return Reply::NilArray;
        }
        // Inside MULTI nothing blocks: BLPOP answers nil at once.
        match self.run(s, svc, &m.queue, true, None) {
            Ok(replies) => Reply::Array(replies),
            Err(e) => e,
        }
    }

    /// Whether a key `s` watches changed since (or, existing then, is gone
    /// now).
    fn watch_failed(&self, s: &Session, svc: &Service) -> bool {
        let Ok(state) = svc.keyspace_state() else {
            return false;
        };
        let mut txn = Txn::new(state, now_ms());
        self.watches
            .changed(s.id, |k| txn.exists(&k.key).unwrap_or(false))
    }

    /// `WATCH key…`: refused inside `MULTI` (without dooming it, as in
    /// Redis), for a vault key, or past the per-connection bound.
    fn watch_command(&mut self, s: &mut Session, svc: &Service, args: &[Vec<u8>]) -> Reply {
        if s.multi.is_some() {
            return Reply::err("ERR WATCH inside MULTI is not allowed");
        }
        let keys = args.get(1..).unwrap_or(&[]);
        for k in keys {
            if let Err(e) = reddb_service::keyspace::check_key(k) {
                return Reply::Error(errors::keyspace_error_line(&e));
            }
        }
        let Ok(state) = svc.keyspace_state() else {
            return Reply::err(
                "ERR the vault is sealed: start the server with its certificate to use the keyspace",
            );
        };
        let mut txn = Txn::new(state, now_ms());
        for k in keys {
            let exists = txn.exists(k).unwrap_or(false);
            if self.watches.watch(s.id, s.watched(k), exists).is_err() {
                return Reply::err(format!(
                    "ERR too many watched keys (at most {} bytes of keys per connection)",
                    watch::MAX_WATCHED_BYTES
                ));
            }
        }
        Reply::Ok
    }

    /// `RESET`: leaves `MULTI` and `MONITOR`, unwatches, replies again,
    /// RESP2, no name, logged out.
    fn reset_session(&mut self, s: &mut Session) -> Reply {
        s.multi = None;
        s.resp3 = false;
        s.select_db(0);
        s.principal = None;
        s.ticket = None;
        s.reply = ReplyMode::default();
        self.watches.unwatch(s.id);
        self.stop_monitoring(s);
        self.pubsub.forget(s.id);
        self.tracking.forget(s.id);
        if let Some(c) = self.clients.get_mut(&s.id) {
            c.name.clear();
        }
        self.touch_login(s, "reset");
        Reply::simple("RESET")
    }

    /// Runs `cmds` in one keyspace transaction and stages it as one
    /// commit. `Err` when the commit itself fails (nothing was applied).
    /// With `block`, a blocking command may leave where it would wait
    /// there instead of answering (its reply is then not sent).
    fn run(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        cmds: &[Queued],
        in_exec: bool,
        block: Option<&mut Option<BlockOn>>,
    ) -> Result<Vec<Reply>, Reply> {
        let mut replies = Vec::with_capacity(cmds.len());
        self.run_into(s, svc, cmds, in_exec, block, &mut replies)?;
        Ok(replies)
    }

    /// [`Shared::run`] of one command, its reply (a vector kept for it
    /// is reused: no allocation per command).
    fn run_one(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        cmd: &[Queued; 1],
        block: Option<&mut Option<BlockOn>>,
    ) -> Result<Option<Reply>, Reply> {
        let mut replies = std::mem::take(&mut self.one_reply);
        replies.clear();
        let ran = self.run_into(s, svc, cmd, false, block, &mut replies);
        let reply = replies.pop();
        self.one_reply = replies;
        ran.map(|()| reply)
    }

    /// [`Shared::run`], appending the replies to `replies`.
    fn run_into(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        cmds: &[Queued],
        in_exec: bool,
        mut block: Option<&mut Option<BlockOn>>,
        replies: &mut Vec<Reply>,
    ) -> Result<(), Reply> {
        let first = self.clock.start();
        let now = self.clock.unix_ms(first);
        let mut post = Vec::new();
        self.pending_events.clear();
        let (changes, hits, misses) = {
            let svc_ro: &Service = svc;
            let state = svc_ro.keyspace_state().ok();
            let mut txn = state.map(|st| Txn::new(st, now));
            if let Some(t) = txn.as_mut() {
                t.select(s.db);
            }
            for Queued { spec, runner, args } in cmds {
                self.clock.start();
                let probe = self.events_before(txn.as_ref(), state, spec, args);
                let mut cx = commands::Ctx {
                    txn: txn.as_mut(),
                    state,
                    svc: svc_ro,
                    session: s,
                    shared: self,
                    post: &mut post,
                    block: block.as_deref_mut(),
                    in_exec,
                };
                let reply = commands::execute(spec, *runner, args, &mut cx);
                self.feed_monitors(s, spec, args);
                let took = self.clock.finish();
                let blocked = block.as_deref().is_some_and(Option::is_some);
                if !blocked {
                    self.events_after(probe, txn.as_ref(), s.id, spec, args, &reply);
                }
                if blocked {
                    // Counted when it is answered.
                    replies.push(reply);
                    continue;
                }
                self.stats
                    .calls
                    .count_call(CommandName::of(spec, args), took, &reply);
                replies.push(reply);
                self.record_slow(s, spec, args, took);
            }
            match txn {
                Some(t) => {
                    let (hits, misses) = (t.hits, t.misses);
                    (Some(t.into_changes()), hits, misses)
                }
                None => (None, 0, 0),
            }
        };
        self.stats.hits += hits;
        self.stats.misses += misses;
        if let Some(changes) = changes {
            // A transaction that wrote nothing (every read) has nothing to
            // stage, tell or wake.
            if !changes.is_empty() {
                self.commit_and_tell(svc, changes, s.id)?;
                self.note_written(cmds);
            }
            let events = std::mem::take(&mut self.pending_events);
            let notify = self.settings.notify_keyspace_events;
            keyspace_events::publish(&mut self.pubsub, notify, &events);
        }
        self.pending_events.clear();
        for p in post {
            self.run_post(svc, p, cmds.len() == 1)?;
        }
        Ok(())
    }

    /// [`Shared::commit`], then the invalidations of the keys it wrote
    /// (or of everything, for a flush) for the tracking connections.
    fn commit_and_tell(
        &mut self,
        svc: &mut Service,
        changes: Changes,
        writer: u64,
    ) -> Result<(), Reply> {
        let tracking = !self.tracking.is_empty();
        let invalidated: Vec<Vec<u8>> = if tracking {
            changes.written_keys().map(|(_, k)| k.to_vec()).collect()
        } else {
            Vec::new()
        };
        let flushed = tracking
            && changes
                .mutations()
                .iter()
                .any(|m| matches!(m, reddb_storage::store::record::Mutation::Clear { .. }));
        for (db, key) in changes.written_keys() {
            self.lazy_expired.written(db, key);
        }
        if !changes.wholesale().is_empty() {
            self.lazy_expired.forget_all();
        }
        self.commit(svc, changes)?;
        self.tracking.written(
            invalidated.iter().map(Vec::as_slice),
            flushed,
            Some(writer),
            &mut self.pubsub,
        );
        Ok(())
    }

    /// What a command asked to run after its commit: `SAVE` (whose failure
    /// a lone `SAVE` reports) or the start of a `BGSAVE` checkpoint.
    fn run_post(&mut self, svc: &mut Service, post: Post, alone: bool) -> Result<(), Reply> {
        match post {
            Post::Save => {
                let started = Instant::now();
                match svc.keyspace_save() {
                    Ok(()) => {
                        self.keyspace.last_save_unix = now_ms() / 1000;
                        self.keyspace.changes_since_save = 0;
                        reddb_storage::log_info!(
                            "SAVE: store compacted in {} ms",
                            started.elapsed().as_millis()
                        );
                    }
                    Err(e) => {
                        reddb_storage::log_error!("SAVE failed: {e}");
                        if alone {
                            return Err(Reply::err(format!("ERR {}", e.message)));
                        }
                    }
                }
            }
            Post::BackgroundSave => match svc.keyspace_background_save() {
                Ok(true) => reddb_storage::log_info!("BGSAVE: checkpoint started"),
                Ok(false) => {}
                Err(e) => reddb_storage::log_error!("BGSAVE failed to start: {e}"),
            },
        }
        Ok(())
    }

    /// Stages `changes` as one commit; the connections watching a key it
    /// writes (or, for a flush, a watched key that existed) are told.
    fn commit(&mut self, svc: &mut Service, changes: Changes) -> Result<(), Reply> {
        let mut touched: Vec<WatchedKey> = Vec::new();
        if !self.watches.is_empty() {
            let wholesale = changes.wholesale();
            if !wholesale.is_empty() {
                if let Ok(state) = svc.keyspace_state() {
                    let before = Txn::new(state, now_ms());
                    for (db, other) in wholesale {
                        touched.extend(self.watches.keys_of(db).into_iter().filter(|k| {
                            before.exists_in(db, &k.key)
                                || other.is_some_and(|o| before.exists_in(o, &k.key))
                        }));
                    }
                }
            }
            touched.extend(changes.written_keys().map(|(db, key)| WatchedKey {
                db,
                key: key.to_vec(),
            }));
        }
        if let Err(e) = self.keyspace.commit(svc, changes) {
            reddb_storage::log_error!("wire commit refused: {e}");
            return Err(Reply::err(format!("ERR commit failed: {}", e.message)));
        }
        for k in &touched {
            self.watches.touch(k);
        }
        Ok(())
    }

    /// Adds the command to `SLOWLOG` when it took at least
    /// `slowlog-log-slower-than` (and that is not negative), then keeps the
    /// newest `slowlog-max-len` entries. An entry shows the command name
    /// as sent, a container's subcommand, and the first key — never a
    /// value or a password.
    fn record_slow(&mut self, s: &Session, spec: &'static Spec, args: &[Vec<u8>], took: Duration) {
        let threshold = self.settings.slowlog_log_slower_than;
        let micros = i64::try_from(took.as_micros()).unwrap_or(i64::MAX);
        if threshold < 0 || micros < threshold {
            return;
        }
        let shown = slow_entry_args(spec, args);
        let (addr, name) = self
            .clients
            .get(&s.id)
            .map(|c| (c.addr.clone(), c.name.clone()))
            .unwrap_or_default();
        self.slowlog.push_back(SlowEntry {
            id: self.slowlog_next,
            unix: now_ms() / 1000,
            micros: u64::try_from(micros).unwrap_or(0),
            args: shown,
            addr,
            name,
        });
        self.slowlog_next += 1;
        let keep = usize::try_from(self.settings.slowlog_max_len)
            .unwrap_or(usize::MAX)
            .min(SLOWLOG_RETAINED);
        while self.slowlog.len() > keep {
            self.slowlog.pop_front();
        }
    }

    fn authenticated(&mut self, s: &mut Session, p: Principal, t: Ticket) {
        s.principal = Some(p);
        s.ticket = Some(t);
        self.touch_login(s, "auth");
    }

    /// Starts authentication; `Ok(None)` when it finished at once.
    fn start_auth(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        user: Option<&[u8]>,
        pass: &[u8],
        then: Pending,
    ) -> Result<Option<Work>, Reply> {
        let pass = std::str::from_utf8(pass).map_err(|_| Reply::err(WRONGPASS))?;
        let user = match user {
            None => None,
            Some(u) => Some(std::str::from_utf8(u).map_err(|_| Reply::err(WRONGPASS))?),
        };
        let peer = s.peer.ip();
        if matches!(user, None | Some("default")) {
            match svc.wire_authenticate(pass) {
                Ok((p, t)) => {
                    svc.audit(&p.name, "auth.token", "wire", ("ok", None), Some(peer));
                    self.authenticated(s, p, t);
                    return Ok(None);
                }
                Err(e) if e.kind != Kind::Unauthorized => {
                    return Err(Reply::err(auth_error_line(&e)))
                }
                Err(_) => {}
            }
            let default_user = user.is_some() && matches!(svc.user("default"), Ok(Some(_)));
            if !default_user {
                return Err(match svc.token_failed(peer) {
                    None => {
                        svc.audit(
                            reddb_service::audit::ANONYMOUS,
                            "auth.token",
                            "wire",
                            ("unauthorized", Some("unauthorized")),
                            Some(peer),
                        );
                        Reply::err(WRONGPASS)
                    }
                    Some(e) => {
                        svc.audit(
                            reddb_service::audit::ANONYMOUS,
                            "auth.token",
                            "wire",
                            ("error", Some(e.code)),
                            Some(peer),
                        );
                        Reply::err(format!("ERR {}", e.message))
                    }
                });
            }
        }
        let user = user.unwrap_or("default");
        match svc.begin_login(user, pass, peer, true) {
            Ok(work) => {
                s.pending = Some(then);
                Ok(Some(work))
            }
            Err(e) => {
                svc.audit(
                    if reddb_service::accounts::validate_username(user).is_ok() {
                        user
                    } else {
                        reddb_service::audit::ANONYMOUS
                    },
                    "auth.login",
                    "wire",
                    reddb_service::audit::outcome_of::<()>(&Err(e.clone())),
                    Some(peer),
                );
                // A malformed name is a wrong name: one answer for both.
                Err(Reply::err(if e.kind == Kind::BadRequest {
                    WRONGPASS.to_string()
                } else {
                    auth_error_line(&e)
                }))
            }
        }
    }

    fn auth_command(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        args: &[Vec<u8>],
        out: &mut Vec<u8>,
    ) -> Step {
        let (user, pass) = match args {
            [_, pass] => (None, pass),
            [_, user, pass] => (Some(user.as_slice()), pass),
            _ => {
                self.answer_login(s, "auth", &commands::syntax(), out);
                return Step::Continue;
            }
        };
        match self.start_auth(s, svc, user, pass, Pending::Auth) {
            Ok(None) => self.answer_login(s, "auth", &Reply::Ok, out),
            Ok(Some(work)) => return Step::Defer(work),
            Err(r) => self.answer_login(s, "auth", &r, out),
        }
        Step::Continue
    }

    fn hello_command(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        args: &[Vec<u8>],
        out: &mut Vec<u8>,
    ) -> Step {
        let HelloRequest { proto, auth, name } = match parse_hello(args, s.resp3) {
            Ok(request) => request,
            Err(refused) => {
                self.answer_login(s, "hello", &refused, out);
                return Step::Continue;
            }
        };
        if let Some((u, p)) = auth {
            let then = Pending::Hello {
                proto,
                name: name.clone(),
            };
            match self.start_auth(s, svc, Some(&u), &p, then) {
                Ok(None) => {}
                Ok(Some(work)) => return Step::Defer(work),
                Err(r) => {
                    self.answer_login(s, "hello", &r, out);
                    return Step::Continue;
                }
            }
        } else if s.principal.is_none() {
            self.answer_login(s, "hello", &Reply::err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"), out);
            return Step::Continue;
        }
        self.finish_hello(s, proto, name, out);
        Step::Continue
    }

    fn finish_hello(
        &mut self,
        s: &mut Session,
        proto: u8,
        name: Option<Vec<u8>>,
        out: &mut Vec<u8>,
    ) {
        s.resp3 = proto == 3;
        self.pubsub.set_protocol(s.id, s.resp3);
        self.tracking.set_protocol(s.id, s.resp3);
        if let Some(n) = name {
            if let Some(c) = self.clients.get_mut(&s.id) {
                c.name = n;
            }
        }
        self.touch(s, "hello");
        let r = Reply::Map(vec![
            (Reply::bulk("server"), Reply::bulk("redis")),
            (Reply::bulk("version"), Reply::bulk(REDIS_VERSION)),
            (Reply::bulk("proto"), Reply::Int(i64::from(proto))),
            (
                Reply::bulk("id"),
                Reply::Int(i64::try_from(s.id).unwrap_or(i64::MAX)),
            ),
            (Reply::bulk("mode"), Reply::bulk("standalone")),
            (Reply::bulk("role"), Reply::bulk("master")),
            (Reply::bulk("modules"), Reply::Array(Vec::new())),
        ]);
        self.answer_login(s, "hello", &r, out);
    }

    /// The result of a deferred password check (`AUTH user pass`).
    pub(crate) fn auth_done(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        result: ServiceResult<Finished>,
        out: &mut Vec<u8>,
    ) {
        let mark = out.len();
        self.answer_auth(s, svc, result, out);
        if std::mem::take(&mut s.pending_silenced) {
            out.truncate(mark);
        }
    }

    fn answer_auth(
        &mut self,
        s: &mut Session,
        svc: &mut Service,
        result: ServiceResult<Finished>,
        out: &mut Vec<u8>,
    ) {
        let pending = s.pending.take().unwrap_or(Pending::Auth);
        let outcome = result.and_then(|finished| match finished {
            Finished::WireAuthenticated(principal) => svc.wire_user(&principal.name),
            _ => Err(ServiceError::internal(
                "a password check finished for another kind of request",
            )),
        });
        let command = match pending {
            Pending::Auth => "auth",
            Pending::Hello { .. } => "hello",
        };
        match outcome {
            Ok((p, t)) => {
                self.authenticated(s, p, t);
                match pending {
                    Pending::Auth => self.answer_login(s, command, &Reply::Ok, out),
                    Pending::Hello { proto, name } => self.finish_hello(s, proto, name, out),
                }
            }
            Err(e) => self.answer_login(s, command, &Reply::err(auth_error_line(&e)), out),
        }
    }

    /// The reply when the worker pool is full.
    pub fn busy(&mut self, s: &mut Session, out: &mut Vec<u8>) {
        s.pending = None;
        let reply = Reply::err("BUSY too many password checks in progress; retry shortly");
        self.stats.calls.count_reply(&reply);
        if std::mem::take(&mut s.pending_silenced) {
            return;
        }
        emit(s, &reply, out);
    }
}

/// What `HELLO [protover [AUTH user pass] [SETNAME name]]` asks for.
struct HelloRequest {
    proto: u8,
    auth: Option<(Vec<u8>, Vec<u8>)>,
    name: Option<Vec<u8>>,
}

/// Reads `HELLO`'s arguments with Redis's error lines (`resp3`: the
/// connection's protocol now, kept when no version is given).
fn parse_hello(args: &[Vec<u8>], resp3: bool) -> Result<HelloRequest, Reply> {
    let mut proto = if resp3 { 3 } else { 2 };
    if let Some(v) = args.get(1) {
        proto = match reddb_service::strict_decimal::parse_i64(v) {
            None => {
                return Err(Reply::err(
                    "ERR Protocol version is not an integer or out of range",
                ))
            }
            Some(2) => 2,
            Some(3) => 3,
            Some(_) => return Err(Reply::err("NOPROTO unsupported protocol version")),
        };
    }
    let mut auth = None;
    let mut name = None;
    let mut i = 2;
    while let Some(opt) = args.get(i) {
        let o = commands::lower(opt);
        match (o.as_str(), args.get(i + 1), args.get(i + 2)) {
            ("auth", Some(u), Some(p)) => {
                auth = Some((u.clone(), p.clone()));
                i += 3;
            }
            ("setname", Some(n), _) => {
                name = Some(n.clone());
                i += 2;
            }
            _ => {
                return Err(Reply::err(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    commands::printable(opt)
                )))
            }
        }
    }
    if let Some(n) = &name {
        if !n.iter().all(|&c| (0x21..0x7f).contains(&c)) {
            return Err(Reply::err(
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ));
        }
    }
    Ok(HelloRequest { proto, auth, name })
}

/// What `SLOWLOG` shows of a command line: the name as sent, a
/// container's subcommand, the first key (its first 128 bytes), and how
/// many arguments are left out.
fn slow_entry_args(spec: &'static Spec, args: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut shown = vec![args.first().cloned().unwrap_or_default()];
    let sub = CommandName::of(spec, args)
        .sub
        .and_then(|name| spec.subcommand(name));
    if sub.is_some() {
        shown.push(args.get(1).cloned().unwrap_or_default());
    }
    let key_at = match sub {
        Some(sub) if sub.keyed => Some(2),
        Some(_) => None,
        None => spec.keys.has_keys().then_some(usize::from(spec.keys.first)),
    };
    if let Some(key) = key_at.and_then(|i| args.get(i)) {
        let mut k = key.get(..128).unwrap_or(key).to_vec();
        if key.len() > 128 {
            k.extend_from_slice(b"...");
        }
        shown.push(k);
    }
    let hidden = args.len().saturating_sub(shown.len());
    if hidden > 0 {
        shown.push(format!("... ({hidden} more arguments)").into_bytes());
    }
    shown
}

/// Whether a command reads or writes keys (a monitoring connection may
/// not run it, as a Redis replica may not).
fn touches_keyspace(spec: &Spec) -> bool {
    spec.has(WRITE) || spec.has(READONLY) || spec.subcommands.iter().any(|s| s.keyed)
}
