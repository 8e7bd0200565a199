//! The one event loop: it owns the listeners, every connection, the signal
//! pipe, the worker-result waker, the timers and the service (and through it
//! the store). This file holds the loop's state and its turn; each concern
//! of the turn lives in a file of its own:
//!
//! | file | owns |
//! |---|---|
//! | `accept.rs` | taking connections from both listeners, refusing past the limit or while stopping |
//! | `blocked.rs` | wire clients blocked in `BLPOP` & co: serving them after writes, their timeouts, resuming their input |
//! | `connection.rs` | the `Conn` slab: reading, writing, write interest, closing |
//! | `protocol.rs` | the protocol of a connection (`Protocol::Http` or `Protocol::Wire`) and the dispatch on it |
//! | `http_conn.rs` | running the HTTP requests of a connection |
//! | `wire_conn.rs` | running the wire commands of a connection |
//! | `pubsub_delivery.rs` | pub/sub messages and keyspace notifications copied to the subscribers, their output limit, the sweep's `expired` events |
//! | `wire_control.rs` | what a wire command asks of other connections: `CLIENT KILL`, the `MONITOR` feed, resuming what `CLIENT PAUSE` held |
//! | `jobs.rs` | parking work on the worker pool and resuming it when it returns |
//! | `budget.rs` | the global buffer budget and its waiting line |
//! | `commit.rs` | the group commit and its sync on the sync thread, which replies it holds until when, and the compaction trigger |
//! | `timers.rs` | idle and request timeouts, the expiry sweep, audit summaries, share expiry, the watchdog |
//! | `signals.rs` | SIGHUP reload, SIGTERM/SIGINT stop and the drain before exit |
//! | `scrape.rs` | `GET /metrics`, answered by the loop from the gauges only it knows |
//!
//! A turn: wait for events (at most one timer tick), read and parse what
//! arrived, run requests against the service (staging writes, parking
//! Argon2 work on the pool), collect finished work and the sync thread's
//! outcome, run the timers (and answer blocked wire clients whose timeout
//! passed), run the input of the blocked clients answered meanwhile, then
//! **the group commit** (the staged pages written, their sync handed to
//! the sync thread unless one runs) and the replies that may leave, then
//! run one step of a running checkpoint (`BGSAVE`), then read what the
//! buffer budget left unread. A reply never leaves before every commit it
//! could have seen is on disk (unless the operator chose `--fsync
//! everysec`, see `commit.rs`). Nothing in a turn blocks except an in-line
//! fsync (`everysec`, or a file without a barrier for the sync thread) and
//! `SAVE`, which compacts in one go as Redis's `SAVE` blocks (`BGSAVE` and
//! the automatic compaction run as checkpoint steps of bounded size).
//!
//! Two listeners feed the same loop: HTTP and the Redis-compatible wire
//! protocol. A connection knows its protocol from the listener that
//! accepted it, and both share the same output buffers, the same budget
//! and the same rule of held replies.
//!
//! This file must never hold the logic of a concern above: it only calls
//! them, in the order of the turn.

mod accept;
mod blocked;
mod budget;
mod busy_script;
mod commit;
mod connection;
mod heap_return;
mod http_conn;
mod jobs;
mod protocol;
mod pubsub_delivery;
mod scrape;
mod signals;
mod timers;
mod wire_conn;
mod wire_control;

use super::http::request::Limits;
use super::metrics::Metrics;
use super::notify;
use super::reload::CredentialReload;
use super::sync_thread::SyncThread;
use super::wire::Shared;
use super::workers::WorkerPool;
use crate::FsyncPolicy;
use budget::Budget;
use commit::Commit;
use connection::Conns;
use jobs::Jobs;
use mio::event::Event;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use protocol::Kind;
use reddb_service::Service;
use reddb_storage::error::{Error, Result};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use timers::Timers;

const HTTP_LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const WAKER: Token = Token(2);
const WIRE_LISTENER: Token = Token(3);
const FIRST_CONN: usize = 16;

/// The longest a turn waits for events.
const MAX_WAIT: Duration = Duration::from_millis(250);

/// Connection and timing limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    /// How long an incomplete request may take to arrive (slowloris).
    pub request_timeout: Duration,
    pub http: Limits,
    /// Stop parsing more pipelined requests past this much unsent output.
    pub max_pending_output: usize,
    /// `always`: flush, then reply. `everysec`: reply, flush each second.
    pub fsync: FsyncPolicy,
    /// `--metrics-loopback`: `/metrics` is open to loopback peers.
    pub metrics_loopback: bool,
    /// `--max-buffer-memory`: bytes buffered across all connections before
    /// reads pause.
    pub max_buffer_memory: usize,
    /// `--notify-keyspace-events`: keyspace notifications at start.
    pub notify_keyspace_events: u32,
    /// Lua scripting on (`--no-scripting` turns it off).
    pub scripting: bool,
    /// `--busy-script-time`: when a running script makes the loop answer
    /// other clients `-BUSY`.
    pub busy_script_time: Duration,
}

impl Default for LoopLimits {
    fn default() -> Self {
        Self {
            max_connections: super::limits::DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            http: Limits::default(),
            max_pending_output: 4 * 1024 * 1024,
            fsync: FsyncPolicy::Always,
            metrics_loopback: false,
            max_buffer_memory: super::limits::DEFAULT_MAX_BUFFER_MEMORY,
            notify_keyspace_events: 0,
            scripting: true,
            busy_script_time: Duration::from_millis(5000),
        }
    }
}

pub(crate) struct EventLoop {
    poll: Poll,
    http: Option<TcpListener>,
    wire_listener: Option<TcpListener>,
    /// What wire connections share (keyspace, `CLIENT LIST`, stats).
    wire: Shared,
    signals: signal_hook_mio::v1_0::Signals,
    jobs: Jobs,
    service: Service,
    reload: Box<dyn CredentialReload>,
    limits: LoopLimits,
    conns: Conns,
    /// Connections with output to write this turn (duplicates allowed).
    dirty: Vec<usize>,
    /// Connections whose stalled input may run again: their output drained.
    output_drained: Vec<usize>,
    /// SIGTERM or SIGINT arrived: no new connections or requests.
    stopping: bool,
    /// When the drain after a stop gives up on in-flight work.
    stop_deadline: Option<Instant>,
    /// The buffer every socket read lands in before it is appended to
    /// the connection's input: made (zeroed) once, not per read.
    read_buf: Box<[u8; connection::READ_CHUNK]>,
    timers: Timers,
    commit: Commit,
    metrics: Metrics,
    budget: Budget,
    /// The connections of the wire clients blocked in `BLPOP` & co.
    blocked: blocked::BlockedClients,
    /// Wire connections in `MONITOR` mode.
    monitor_slots: Vec<wire_control::SlotRef>,
    /// Wire connections whose next command a `CLIENT PAUSE` holds.
    postponed: Vec<wire_control::SlotRef>,
    /// Wire connections that may receive pub/sub messages.
    subscribers: pubsub_delivery::Subscribers,
}

fn io(c: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::io(c, e)
}

/// Registers the listeners with the loop; returns them with the wire
/// protocol's bound address (loopback port 0 when it has no listener).
fn register_listeners(
    poll: &Poll,
    http: std::net::TcpListener,
    wire: Option<std::net::TcpListener>,
) -> Result<(TcpListener, Option<TcpListener>, SocketAddr)> {
    http.set_nonblocking(true)
        .map_err(io("cannot configure the HTTP listener"))?;
    let mut http = TcpListener::from_std(http);
    poll.registry()
        .register(&mut http, HTTP_LISTENER, Interest::READABLE)
        .map_err(io("cannot register the HTTP listener"))?;
    let mut wire_bind = SocketAddr::from(([127, 0, 0, 1], 0));
    let wire = match wire {
        Some(l) => {
            l.set_nonblocking(true)
                .map_err(io("cannot configure the wire listener"))?;
            if let Ok(a) = l.local_addr() {
                wire_bind = a;
            }
            let mut l = TcpListener::from_std(l);
            poll.registry()
                .register(&mut l, WIRE_LISTENER, Interest::READABLE)
                .map_err(io("cannot register the wire listener"))?;
            Some(l)
        }
        None => None,
    };
    Ok((http, wire, wire_bind))
}

impl EventLoop {
    pub fn new(
        http: std::net::TcpListener,
        wire_listener: Option<std::net::TcpListener>,
        service: Service,
        reload: Box<dyn CredentialReload>,
        limits: LoopLimits,
        workers: usize,
    ) -> Result<Self> {
        let poll = Poll::new().map_err(io("cannot create the event loop"))?;
        let (http, wire_listener, wire_bind) = register_listeners(&poll, http, wire_listener)?;
        let mut wire = Shared::new(
            wire_bind,
            limits.fsync == FsyncPolicy::EverySec,
            limits.max_connections,
        );
        wire.settings.notify_keyspace_events = limits.notify_keyspace_events;
        let signals = signals::register(&poll)?;
        let waker =
            Arc::new(Waker::new(poll.registry(), WAKER).map_err(io("cannot create the waker"))?);
        let pool = WorkerPool::start(workers, 64, Arc::clone(&waker))
            .map_err(io("cannot start the worker pool"))?;
        // Only `--fsync always` syncs per group; `everysec` syncs in line
        // once a second.
        let syncer = match limits.fsync {
            FsyncPolicy::Always => {
                Some(SyncThread::start(waker).map_err(io("cannot start the sync thread"))?)
            }
            FsyncPolicy::EverySec => None,
        };
        Ok(Self {
            poll,
            http: Some(http),
            wire_listener,
            wire: wire.with_scripting(limits.scripting, limits.busy_script_time),
            signals,
            jobs: Jobs::new(pool),
            service,
            reload,
            limits,
            conns: Conns::default(),
            dirty: Vec::new(),
            output_drained: Vec::new(),
            stopping: false,
            stop_deadline: None,
            read_buf: Box::new([0u8; connection::READ_CHUNK]),
            timers: Timers::new(notify::watchdog_interval()),
            commit: Commit::new(syncer),
            metrics: Metrics::default(),
            budget: Budget::new(limits.max_buffer_memory),
            blocked: blocked::BlockedClients::default(),
            monitor_slots: Vec::new(),
            postponed: Vec::new(),
            subscribers: pubsub_delivery::Subscribers::default(),
        })
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Runs until SIGTERM/SIGINT; returns after in-flight work is answered.
    pub fn run(&mut self) -> Result<()> {
        let mut events = Events::with_capacity(1024);
        self.timers.restart(Instant::now());
        loop {
            self.wait(&mut events)?;
            self.wire.clock.resync();
            for event in events.iter() {
                self.dispatch(event);
            }
            self.collect_job_results();
            self.collect_synced()?;
            let now = Instant::now();
            self.resume_postponed(now);
            self.run_timers(now);
            self.resume_answered();
            self.commit_and_write(now)?;
            self.resume_drained_output();
            self.checkpoint_step()?;
            // Written replies free budget: read what was left unread.
            self.resume_reads();
            if self.drained(now) {
                break;
            }
        }
        self.jobs.shutdown();
        self.wait_for_sync()?;
        self.group_commit()?;
        Ok(())
    }

    /// Waits for events: at most one tick or until the next blocked wire
    /// client times out or a running checkpoint's next step is due, and
    /// not at all when paused reads may go ahead or the last turn's
    /// resumed reads left replies to write.
    fn wait(&mut self, events: &mut Events) -> Result<()> {
        let now = Instant::now();
        let wait = if self.reads_ready()
            || !self.dirty.is_empty()
            || self.postponed_ready(now)
            || self.gathering(now)
        {
            Duration::ZERO
        } else {
            // A pause that holds commands ends on time.
            let pause_left = self
                .wire
                .pause_until()
                .filter(|_| !self.postponed.is_empty())
                .map_or(MAX_WAIT, |until| until.saturating_duration_since(now));
            // So does a blocked client's timeout, and a running
            // checkpoint's next step comes when it is due.
            let step_due = self.checkpoint_due_in(now).unwrap_or(MAX_WAIT);
            self.until_block_deadline(now, MAX_WAIT.min(pause_left).min(step_due))
        };
        match self.poll.poll(events, Some(wait)) {
            Err(e) if e.kind() != ErrorKind::Interrupted => {
                Err(Error::io("event loop poll failed", e))
            }
            _ => Ok(()),
        }
    }

    /// Hands one event to the concern it belongs to.
    fn dispatch(&mut self, event: &Event) {
        match event.token() {
            HTTP_LISTENER => self.accept(Kind::Http),
            WIRE_LISTENER => self.accept(Kind::Wire),
            SIGNALS => self.handle_signals(),
            WAKER => {}
            Token(t) => {
                let Some(slot) = t.checked_sub(FIRST_CONN) else {
                    return;
                };
                if event.is_read_closed() {
                    if let Some(c) = self.conns.get_mut(slot) {
                        c.hup = true;
                    }
                }
                if event.is_readable() || event.is_read_closed() {
                    self.read_and_process(slot);
                }
                if event.is_writable() {
                    self.mark_dirty(slot);
                    self.resume_if_drained(slot);
                }
            }
        }
    }

    /// Consumes the loop, dropping the service (and every key) now.
    pub(crate) fn into_service(self) -> Service {
        self.service
    }

    fn status_line(&self) -> &'static str {
        if !self.service.is_bootstrapped() {
            "serving (not bootstrapped)"
        } else if self.service.is_sealed() {
            "serving (sealed)"
        } else {
            "serving (unsealed)"
        }
    }

    /// The status shown after start-up.
    pub fn ready(&self) {
        notify::ready(self.status_line());
    }
}
