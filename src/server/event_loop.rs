//! The one event loop: it owns the listeners, every connection, the signal
//! pipe, the worker-result waker, the timers and the service (and through it
//! the store).
//!
//! A turn: wait for events (at most one timer tick), read and parse what
//! arrived, run requests against the service (staging writes, parking
//! Argon2 work on the pool), then **flush the store once (group commit)**
//! and only then write replies. A reply therefore never leaves before the
//! commit it reports is on disk. Nothing in a turn blocks except that one
//! fsync.
//!
//! Two listeners feed the same loop: HTTP and the Redis-compatible wire
//! protocol. A connection knows its protocol from the listener that
//! accepted it; wire connections carry a [`Session`] and are parsed and
//! answered by [`super::wire`], through the same output buffers and the
//! same flush-then-write order.
//!
//! Reading is bounded three ways. Each connection has its own cap (the
//! HTTP head and body limits, the wire query buffer). Each read is parsed
//! at once by a resumable parser, so a request that trickles in one byte
//! per read costs linear time, and an HTTP head is vetted before its body
//! is buffered (a body over 16 KiB needs credentials that authenticate).
//! And every connection's buffered bytes (input, pending output, parsed
//! parts of an incomplete request) count against one global budget
//! (`--max-buffer-memory`): past it the loop stops reading sockets, keeps
//! answering what it already holds, and remembers each connection it
//! skipped in a first-in, first-out line. A connection with no request in
//! progress may still read one chunk, so small requests keep being served;
//! one with part of a request buffered waits in line. When the budget
//! frees, the line is read in order; while it stays spent, the connection
//! at the head of the line alone may read past the budget (up to its own
//! cap) until one of its requests is complete, so every connection makes
//! progress in turn and the total stays within the budget, plus one chunk
//! per connection, plus one connection's cap. The connection at the head
//! is closed if it sends nothing for the request timeout.
//!
//! With `--fsync everysec` the order is relaxed: replies are written first
//! and the store is flushed once a second (or sooner when many commands
//! are pending), so up to about a second of acknowledged writes can be lost
//! in a crash (see docs/OPERATIONS.md).

use super::http::request::{self, Limits};
use super::http::response::Response;
use super::http::routes::{self, Routed};
use super::metrics::{self, Gauges, Metrics};
use super::notify;
use super::reload::Reloadable;
use super::wire::{Session, Shared, Step};
use super::workers::WorkerPool;
use crate::config::server::FsyncPolicy;
use crate::database::now_ms;
use crate::service::work::{JobOutput, Then};
use crate::service::{Kind, Service, ServiceError};
use crate::store::record::Namespace;
use crate::{log_error, log_info, log_notice, log_warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HTTP_LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const WAKER: Token = Token(2);
const WIRE_LISTENER: Token = Token(3);
const FIRST_CONN: usize = 16;

/// Connection and timing limits.
#[derive(Debug, Clone, Copy)]
pub struct LoopLimits {
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
}

/// File descriptors kept aside for everything that is not a client
/// connection (stdio, listeners, epoll, signal pipe, waker, the database
/// file, worker threads, a margin).
pub const RESERVED_FDS: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` toward the hard limit (as far as
/// `wanted` connections plus [`RESERVED_FDS`] need) and returns how many
/// connections the resulting limit allows: `wanted`, or less when the hard
/// limit is lower. Call at start-up, before the seccomp filter is
/// installed. A failure to raise keeps the current limit.
pub fn fit_connections_to_fd_limit(wanted: usize) -> usize {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return wanted;
    }
    let need = (wanted as u64).saturating_add(RESERVED_FDS);
    if r.rlim_cur != libc::RLIM_INFINITY && r.rlim_cur < need {
        let target = if r.rlim_max == libc::RLIM_INFINITY {
            need
        } else {
            need.min(r.rlim_max)
        };
        if target > r.rlim_cur {
            let raised = libc::rlimit {
                rlim_cur: target,
                rlim_max: r.rlim_max,
            };
            // SAFETY: setrlimit reads one rlimit struct we own; raising the
            // soft limit up to the hard limit needs no privilege.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                r.rlim_cur = target;
            }
        }
    }
    if r.rlim_cur == libc::RLIM_INFINITY {
        return wanted;
    }
    let fit = r.rlim_cur.saturating_sub(RESERVED_FDS).max(1);
    usize::try_from(fit).map_or(wanted, |fit| wanted.min(fit))
}

/// Under `--fsync everysec`, flush early once this many wire commands are
/// waiting for a flush.
const EVERYSEC_MAX_UNFLUSHED: u64 = 100_000;

/// Bytes read from a socket at a time; each read is parsed before the next.
const READ_CHUNK: usize = 16 * 1024;

/// An empty buffer holding more capacity than this gives it back, so idle
/// connections hold (and count against the budget) next to nothing.
const KEEP_EMPTY: usize = 4 * 1024;

/// A buffer larger than this that is three-quarters unused is shrunk.
const KEEP_PARTIAL: usize = 64 * 1024;

impl Default for LoopLimits {
    fn default() -> Self {
        Self {
            max_connections: crate::config::server::DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            http: Limits::default(),
            max_pending_output: 4 * 1024 * 1024,
            fsync: FsyncPolicy::Always,
            metrics_loopback: false,
            max_buffer_memory: crate::config::server::DEFAULT_MAX_BUFFER_MEMORY,
        }
    }
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    generation: u64,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    written: usize,
    /// A worker job is running for the request at the head of the pipe.
    waiting: Option<(u64, bool)>,
    close_after_write: bool,
    peer_closed: bool,
    writable_interest: bool,
    last_activity: Instant,
    partial_since: Option<Instant>,
    /// Set on connections accepted by the wire listener.
    wire: Option<Box<Session>>,
    /// The peer's FIN was reported with an event: read to EOF.
    hup: bool,
    /// Route family and start of the HTTP request parked on a worker.
    pending: Option<(&'static str, Instant)>,
    /// Progress on the HTTP request at the front of `inbuf`.
    http: request::Parser,
    /// The last read stopped before the socket was drained (its own cap or
    /// the global budget): no edge will announce what is left, so read
    /// again when there is room.
    unread: bool,
    /// Since when the connection waits in the loop's line for the buffer
    /// budget (its request timeout does not run meanwhile).
    queued: Option<Instant>,
    /// Bytes this connection counts in the loop's buffer budget.
    accounted: usize,
}

impl Conn {
    /// Bytes held for this connection: buffer capacities and what the
    /// parsers keep of an incomplete request.
    fn usage(&self) -> usize {
        self.inbuf.capacity()
            + self.outbuf.capacity()
            + self.http.held_bytes()
            + self.wire.as_ref().map_or(0, |s| s.parser.held_bytes())
    }
}

/// Gives back the capacity of a buffer that no longer needs it.
fn trim(buf: &mut Vec<u8>) {
    if buf.is_empty() {
        if buf.capacity() > KEEP_EMPTY {
            *buf = Vec::new();
        }
    } else if buf.capacity() > KEEP_PARTIAL && buf.len() < buf.capacity() / 4 {
        buf.shrink_to(buf.len().saturating_mul(2));
    }
}

/// Whether an HTTP head may be followed by its body: one over
/// [`request::UNAUTHENTICATED_MAX_BODY`] needs credentials that
/// authenticate (a hash lookup; nothing is audited here — the request is
/// refused before it reaches the router).
fn vet_head(service: &Service, head: &request::Head) -> Result<(), request::ParseError> {
    if head.body_len <= request::UNAUTHENTICATED_MAX_BODY
        || service.authenticate(head.bearer.as_deref()).is_ok()
    {
        Ok(())
    } else {
        Err(request::ParseError::UnauthenticatedBodyTooLarge)
    }
}

/// What a connection may do about its socket now.
enum Admit {
    Read,
    /// Nothing to read for now (closing, its own cap reached, waiting in
    /// line).
    Stop,
    /// The budget is spent: join the line.
    Pause,
}

/// The one connection allowed to read past a spent budget.
#[derive(Debug, Clone, Copy)]
struct Reserve {
    slot: usize,
    generation: u64,
    since: Instant,
}

pub struct EventLoop {
    poll: Poll,
    http: Option<TcpListener>,
    wire_listener: Option<TcpListener>,
    wire: Shared,
    last_flush: Instant,
    unflushed: u64,
    signals: signal_hook_mio::v1_0::Signals,
    pool: WorkerPool,
    service: Service,
    reload: Reloadable,
    limits: LoopLimits,
    conns: Vec<Option<Conn>>,
    free_slots: Vec<usize>,
    live: usize,
    next_generation: u64,
    next_job: u64,
    jobs: HashMap<u64, (usize, u64, Then)>,
    dirty: Vec<usize>,
    stopping: bool,
    watchdog: Option<Duration>,
    metrics: Metrics,
    /// Bytes held by all connections (the sum of their `accounted`).
    buffered: usize,
    /// Connections whose reads the budget paused, oldest first (slot and
    /// generation; entries of closed connections are skipped).
    stalled: VecDeque<(usize, u64)>,
    /// Who may read past the spent budget.
    reserve: Option<Reserve>,
    /// Connections whose own cap stopped a read and that now have room.
    reread: Vec<usize>,
    /// Connections in `stalled` that still wait.
    waiting_reads: usize,
    /// The connection taken from the line and being read now.
    resuming: Option<usize>,
}

impl EventLoop {
    pub fn new(
        http: std::net::TcpListener,
        wire_listener: Option<std::net::TcpListener>,
        service: Service,
        reload: Reloadable,
        limits: LoopLimits,
        workers: usize,
    ) -> crate::error::Result<Self> {
        fn io(c: &'static str) -> impl Fn(std::io::Error) -> crate::error::Error {
            move |e| crate::error::Error::io(c, e)
        }
        let poll = Poll::new().map_err(io("cannot create the event loop"))?;
        http.set_nonblocking(true)
            .map_err(io("cannot configure the HTTP listener"))?;
        let mut http = TcpListener::from_std(http);
        poll.registry()
            .register(&mut http, HTTP_LISTENER, Interest::READABLE)
            .map_err(io("cannot register the HTTP listener"))?;
        let mut wire_bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let wire_listener = match wire_listener {
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
        let mut signals = signal_hook_mio::v1_0::Signals::new([
            signal_hook::consts::SIGHUP,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGINT,
        ])
        .map_err(io("cannot install signal handlers"))?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(io("cannot register signals"))?;
        let waker =
            Arc::new(Waker::new(poll.registry(), WAKER).map_err(io("cannot create the waker"))?);
        let pool =
            WorkerPool::start(workers, 64, waker).map_err(io("cannot start the worker pool"))?;
        Ok(Self {
            poll,
            http: Some(http),
            wire_listener,
            wire: Shared::new(
                wire_bind,
                limits.fsync == FsyncPolicy::EverySec,
                limits.max_connections,
            ),
            last_flush: Instant::now(),
            unflushed: 0,
            signals,
            pool,
            service,
            reload,
            limits,
            conns: Vec::new(),
            free_slots: Vec::new(),
            live: 0,
            next_generation: 1,
            next_job: 1,
            jobs: HashMap::new(),
            dirty: Vec::new(),
            stopping: false,
            watchdog: notify::watchdog_interval(),
            metrics: Metrics::default(),
            buffered: 0,
            stalled: VecDeque::new(),
            reserve: None,
            reread: Vec::new(),
            waiting_reads: 0,
            resuming: None,
        })
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Runs until SIGTERM/SIGINT; returns after in-flight work is answered.
    pub fn run(&mut self) -> crate::error::Result<()> {
        let mut events = Events::with_capacity(1024);
        let tick = Duration::from_millis(250);
        let mut last_tick = Instant::now();
        let mut last_watchdog = Instant::now();
        let mut stop_deadline: Option<Instant> = None;
        loop {
            // Paused reads that may go ahead, and replies to what the last
            // turn's resumed reads brought, are taken at once.
            let wait = if self.reads_ready() || !self.dirty.is_empty() {
                Duration::ZERO
            } else {
                tick
            };
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() != ErrorKind::Interrupted {
                    return Err(crate::error::Error::io("event loop poll failed", e));
                }
            }
            for event in events.iter() {
                match event.token() {
                    HTTP_LISTENER => self.accept(false),
                    WIRE_LISTENER => self.accept(true),
                    SIGNALS => self.handle_signals(),
                    WAKER => {}
                    Token(t) => {
                        let slot = t - FIRST_CONN;
                        if event.is_read_closed() {
                            if let Some(c) = self.conn(slot) {
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
            self.collect_job_results();
            let now = Instant::now();
            if now.duration_since(last_tick) >= Duration::from_secs(1) {
                last_tick = now;
                self.timers(now);
            }
            if let Some(w) = self.watchdog {
                if now.duration_since(last_watchdog) >= w / 2 {
                    notify::watchdog();
                    last_watchdog = now;
                }
            }
            if self.limits.fsync == FsyncPolicy::EverySec {
                // Replies first; the flush follows at least once a second.
                self.write_dirty();
                if self.stopping
                    || self.unflushed >= EVERYSEC_MAX_UNFLUSHED
                    || now.duration_since(self.last_flush) >= Duration::from_secs(1)
                {
                    self.group_commit()?;
                }
            } else {
                self.group_commit()?;
                self.write_dirty();
            }
            // Written replies free budget: read what was left unread.
            self.resume_reads();
            if self.stopping {
                let deadline = *stop_deadline.get_or_insert_with(|| now + Duration::from_secs(10));
                let pending_output = self
                    .conns
                    .iter()
                    .flatten()
                    .any(|c| c.written < c.outbuf.len());
                if (self.jobs.is_empty() && !pending_output) || now >= deadline {
                    break;
                }
            }
        }
        self.pool.shutdown();
        self.group_commit()?;
        Ok(())
    }

    /// Consumes the loop, dropping the service (and every key) now.
    pub fn into_service(self) -> Service {
        self.service
    }

    fn group_commit(&mut self) -> crate::error::Result<()> {
        self.last_flush = Instant::now();
        self.unflushed = 0;
        let Some(db) = self.service.database_mut() else {
            return Ok(());
        };
        let store = db.store_mut();
        if store.has_pending() {
            let started = Instant::now();
            if let Err(e) = store.flush() {
                log_error!("commit failed, stopping without acknowledging it: {e}");
                return Err(e);
            }
            self.metrics.commit(started.elapsed());
        }
        if store.should_compact() {
            let started = Instant::now();
            store.compact(now_ms())?;
            log_info!("compaction done in {} ms", started.elapsed().as_millis());
        }
        Ok(())
    }

    fn accept(&mut self, wire: bool) {
        loop {
            let listener = if wire {
                &self.wire_listener
            } else {
                &self.http
            };
            let Some(listener) = listener else { return };
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    if self.live >= self.limits.max_connections || self.stopping {
                        if wire {
                            self.wire.rejected();
                            let _ = stream.write(if self.stopping {
                                &b"-ERR the server is shutting down\r\n"[..]
                            } else {
                                &b"-ERR max number of clients reached\r\n"[..]
                            });
                        } else {
                            let _ = stream.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        }
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let slot = self.free_slots.pop().unwrap_or_else(|| {
                        self.conns.push(None);
                        self.conns.len() - 1
                    });
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, Token(FIRST_CONN + slot), Interest::READABLE)
                        .is_err()
                    {
                        self.free_slots.push(slot);
                        continue;
                    }
                    let generation = self.next_generation;
                    self.next_generation += 1;
                    let session = wire.then(|| Box::new(self.wire.connect(peer)));
                    if let Some(s) = self.conns.get_mut(slot) {
                        *s = Some(Conn {
                            stream,
                            peer,
                            generation,
                            inbuf: Vec::new(),
                            outbuf: Vec::new(),
                            written: 0,
                            waiting: None,
                            close_after_write: false,
                            peer_closed: false,
                            writable_interest: false,
                            last_activity: Instant::now(),
                            partial_since: None,
                            wire: session,
                            hup: false,
                            pending: None,
                            http: request::Parser::new(),
                            unread: false,
                            queued: None,
                            accounted: 0,
                        });
                        self.live += 1;
                    }
                    self.read_and_process(slot);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log_warn!("accept failed: {e}");
                    return;
                }
            }
        }
    }

    fn conn(&mut self, slot: usize) -> Option<&mut Conn> {
        self.conns.get_mut(slot).and_then(Option::as_mut)
    }

    fn mark_dirty(&mut self, slot: usize) {
        self.dirty.push(slot);
    }

    /// The most bytes `c` may hold in its input buffer.
    fn input_cap(&self, c: &Conn) -> usize {
        let http = &self.limits.http;
        c.wire
            .as_ref()
            .map_or(http.max_head + http.max_body + READ_CHUNK, |s| {
                s.max_query()
            })
    }

    /// The holder of the reserve, if it is still connected.
    fn reserve_holder(&mut self) -> Option<usize> {
        let r = self.reserve?;
        let live = self
            .conns
            .get(r.slot)
            .and_then(Option::as_ref)
            .is_some_and(|c| c.generation == r.generation);
        if live {
            Some(r.slot)
        } else {
            self.reserve = None;
            None
        }
    }

    fn release_reserve(&mut self, slot: usize) {
        if self.reserve.is_some_and(|r| r.slot == slot) {
            self.reserve = None;
        }
    }

    /// Whether `slot` may read from its socket now. While the budget is
    /// spent, or others wait in line for it, a connection with part of a
    /// request buffered joins the line unless it holds the reserve.
    fn admit(&mut self, slot: usize) -> Admit {
        let over = self.buffered >= self.limits.max_buffer_memory
            || (self.waiting_reads > 0 && self.resuming != Some(slot));
        let holder = self.reserve_holder() == Some(slot);
        let Some(c) = self.conns.get(slot).and_then(Option::as_ref) else {
            return Admit::Stop;
        };
        // A closing connection's input is never needed: leave it unread.
        if c.close_after_write || c.peer_closed || c.queued.is_some() {
            return Admit::Stop;
        }
        if c.inbuf.len() >= self.input_cap(c) {
            if let Some(c) = self.conn(slot) {
                c.unread = true;
            }
            return Admit::Stop;
        }
        // A connection with no request in progress may always read one
        // chunk: small requests (a PING, a login, a health check) are
        // served at once, complete, and give their bytes back; only an
        // incomplete one waits in line for more.
        if over && !holder && !c.inbuf.is_empty() {
            return Admit::Pause;
        }
        Admit::Read
    }

    /// The budget is spent: `slot` waits in line, its socket unread.
    fn pause(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        c.unread = true;
        if c.queued.is_none() {
            c.queued = Some(Instant::now());
            self.stalled.push_back((slot, c.generation));
            self.waiting_reads += 1;
            self.metrics.read_paused();
        }
    }

    /// Takes `slot` out of the line; the time it waited does not count
    /// against its request timeout.
    fn unqueue(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if let Some(since) = c.queued.take() {
            let waited = since.elapsed();
            c.partial_since = c.partial_since.map(|t| t.checked_add(waited).unwrap_or(t));
            self.waiting_reads = self.waiting_reads.saturating_sub(1);
        }
    }

    /// Whether [`EventLoop::resume_reads`] has a read to make now.
    fn reads_ready(&mut self) -> bool {
        if !self.reread.is_empty() {
            return true;
        }
        if self.waiting_reads == 0 {
            return false;
        }
        self.buffered < self.limits.max_buffer_memory || self.reserve_holder().is_none()
    }

    /// Reads what the per-connection caps and the budget left unread:
    /// connections with room again below their own cap, then the line in
    /// order — every waiting connection while the budget allows, else the
    /// head of the line alone, with the reserve.
    fn resume_reads(&mut self) {
        for slot in std::mem::take(&mut self.reread) {
            if self
                .conns
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.unread && c.queued.is_none())
            {
                self.read_and_process(slot);
            }
        }
        // Each waiting connection is taken at most once per turn.
        let mut turns = self.stalled.len();
        while turns > 0 {
            turns -= 1;
            let Some(&(slot, generation)) = self.stalled.front() else {
                break;
            };
            let waiting = self
                .conns
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.generation == generation && c.queued.is_some());
            if !waiting {
                self.stalled.pop_front();
                continue;
            }
            if self.buffered >= self.limits.max_buffer_memory {
                if self.reserve_holder().is_some() {
                    break;
                }
                self.reserve = Some(Reserve {
                    slot,
                    generation,
                    since: Instant::now(),
                });
            }
            self.stalled.pop_front();
            self.unqueue(slot);
            self.resuming = Some(slot);
            self.read_and_process(slot);
            self.resuming = None;
        }
    }

    /// Brings the budget up to date with what `slot` holds now.
    fn account(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let now = c.usage();
        self.buffered = self
            .buffered
            .saturating_sub(c.accounted)
            .saturating_add(now);
        c.accounted = now;
    }

    /// Reads the socket one chunk at a time, parsing and running each
    /// chunk before the next is read, until it is drained or a cap, the
    /// budget or a decision to close stops it.
    fn read_and_process(&mut self, slot: usize) {
        let mut buf = [0u8; READ_CHUNK];
        // Whether the connection changed since it was last processed
        // (nothing read yet in this call, an EOF, a read error).
        let mut unprocessed = true;
        loop {
            match self.admit(slot) {
                Admit::Read => {}
                Admit::Stop => break,
                Admit::Pause => {
                    self.pause(slot);
                    break;
                }
            }
            let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            let n = match c.stream.read(&mut buf) {
                Ok(0) => {
                    c.peer_closed = true;
                    c.unread = false;
                    unprocessed = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    c.unread = false;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    c.peer_closed = true;
                    c.unread = false;
                    unprocessed = true;
                    c.inbuf.clear();
                    c.http.reset();
                    if let Some(session) = c.wire.as_mut() {
                        session.parser.reset();
                    }
                    break;
                }
            };
            c.inbuf.extend_from_slice(buf.get(..n).unwrap_or(&[]));
            c.last_activity = Instant::now();
            // A short read emptied the socket's receive queue; with
            // edge-triggered epoll, later bytes (or a FIN) raise a new
            // event, so skip the read that would only say EAGAIN. Unless a
            // FIN was already reported: then read on to see the EOF.
            let drained = n < buf.len() && !c.hup && c.wire.is_some();
            if drained {
                c.unread = false;
            }
            self.account(slot);
            self.process(slot);
            unprocessed = false;
            if drained {
                break;
            }
        }
        if unprocessed {
            self.process(slot);
        }
        // Nothing of a request left to complete: the reserve moves on.
        if self.conn(slot).is_none_or(|c| c.inbuf.is_empty()) {
            self.release_reserve(slot);
        }
        self.mark_dirty(slot);
    }

    /// After a connection's input was consumed: give back unused capacity,
    /// update the budget, and read again if its own cap had stopped a read.
    fn after_process(&mut self, slot: usize) {
        let cap = match self.conns.get(slot).and_then(Option::as_ref) {
            Some(c) => self.input_cap(c),
            None => return,
        };
        if let Some(c) = self.conn(slot) {
            trim(&mut c.inbuf);
            let room =
                c.unread && c.queued.is_none() && !c.close_after_write && c.inbuf.len() < cap;
            if room {
                self.reread.push(slot);
            }
        }
        self.account(slot);
    }

    /// Parses and runs as many pipelined requests as allowed.
    fn process(&mut self, slot: usize) {
        if self.conn(slot).is_some_and(|c| c.wire.is_some()) {
            self.process_wire(slot);
        } else {
            self.process_http(slot);
        }
        self.after_process(slot);
    }

    /// The HTTP side of [`EventLoop::process`]. Bytes are dropped from the
    /// input once per call, not once per request, so a deep pipeline costs
    /// linear time; the parser resumes where the previous call stopped.
    fn process_http(&mut self, slot: usize) {
        let limits = self.limits;
        let mut off = 0;
        loop {
            let service = &self.service;
            let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            if c.waiting.is_some()
                || c.close_after_write
                || c.outbuf.len() - c.written > limits.max_pending_output
            {
                break;
            }
            let rest = c.inbuf.get(off..).unwrap_or(&[]);
            let parsed = c
                .http
                .parse_with(rest, &limits.http, |head| vet_head(service, head));
            match parsed {
                Ok(None) => {
                    c.partial_since = if rest.is_empty() {
                        None
                    } else {
                        c.partial_since.or(Some(Instant::now()))
                    };
                    if c.peer_closed && c.waiting.is_none() {
                        c.close_after_write = true;
                    }
                    break;
                }
                Err(e) => {
                    let code = match e.status() {
                        431 => "header_too_large",
                        413 => "payload_too_large",
                        501 => "not_implemented",
                        _ => "bad_request",
                    };
                    Response::error(e.status(), code, e.message())
                        .closing()
                        .encode_into(&mut c.outbuf, false);
                    self.metrics.request("other", e.status(), None);
                    c.close_after_write = true;
                    c.partial_since = None;
                    off = c.inbuf.len();
                    break;
                }
                Ok(Some((req, used))) => {
                    off += used;
                    c.partial_since = None;
                    let peer = c.peer.ip();
                    let generation = c.generation;
                    let keep_alive = req.keep_alive;
                    let started = Instant::now();
                    let route = metrics::route_family(&req.segments);
                    // A whole request arrived: the reserve moves on.
                    self.release_reserve(slot);
                    if self.stopping {
                        self.metrics.request(route, 503, None);
                        if let Some(c) = self.conn(slot) {
                            Response::error(503, "stopping", "the server is shutting down")
                                .closing()
                                .encode_into(&mut c.outbuf, false);
                            c.close_after_write = true;
                        }
                        break;
                    }
                    if req.segments.len() == 1 && route == "metrics" {
                        let resp = self.metrics_reply(&req, peer);
                        self.metrics
                            .request(route, resp.status, Some(started.elapsed()));
                        self.push_response(slot, resp, keep_alive);
                        continue;
                    }
                    match routes::route(&req, &mut self.service, peer) {
                        Routed::Reply(resp) => {
                            self.metrics
                                .request(route, resp.status, Some(started.elapsed()));
                            self.push_response(slot, resp, keep_alive);
                        }
                        Routed::Defer(work) => {
                            let id = self.next_job;
                            self.next_job += 1;
                            match self.pool.submit(id, work.job) {
                                Ok(()) => {
                                    self.jobs.insert(id, (slot, generation, work.then));
                                    if let Some(c) = self.conn(slot) {
                                        c.waiting = Some((id, keep_alive));
                                        c.pending = Some((route, started));
                                    }
                                }
                                Err(_) => {
                                    self.service.cancel(&work.then);
                                    let e = ServiceError::new(
                                        Kind::Busy,
                                        "busy",
                                        "too many password checks in progress; retry shortly",
                                    );
                                    let resp = Response::from_service_error(&e);
                                    self.metrics.request(
                                        route,
                                        resp.status,
                                        Some(started.elapsed()),
                                    );
                                    self.push_response(slot, resp, keep_alive);
                                }
                            }
                        }
                    }
                }
            }
        }
        if let Some(c) = self.conn(slot) {
            let off = off.min(c.inbuf.len());
            c.inbuf.drain(..off);
            if c.close_after_write {
                // Whatever else arrived is never parsed.
                c.inbuf.clear();
                c.http.reset();
            }
        }
    }

    /// Parses and runs as many pipelined wire commands as allowed. Bytes
    /// are dropped from the input once per call, not once per command, so
    /// a deep pipeline costs linear time.
    fn process_wire(&mut self, slot: usize) {
        let max_pending = self.limits.max_pending_output;
        let stopping = self.stopping;
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let Some(session) = c.wire.as_mut() else {
            return;
        };
        let mut off = 0;
        loop {
            if c.waiting.is_some()
                || c.close_after_write
                || c.outbuf.len() - c.written > max_pending
            {
                break;
            }
            let rest = c.inbuf.get(off..).unwrap_or(&[]);
            let rest_len = rest.len();
            let limits = session.limits();
            match session.parser.parse(rest, &limits) {
                Ok(None) => {
                    if rest_len >= session.max_query() {
                        c.outbuf.extend_from_slice(
                            b"-ERR Protocol error: command larger than the query buffer limit\r\n",
                        );
                        c.close_after_write = true;
                        off = c.inbuf.len();
                        break;
                    }
                    c.partial_since = if rest_len == 0 {
                        None
                    } else {
                        c.partial_since.or(Some(Instant::now()))
                    };
                    if c.peer_closed {
                        c.close_after_write = true;
                    }
                    break;
                }
                Err(e) => {
                    c.outbuf
                        .extend_from_slice(format!("-ERR Protocol error: {e}\r\n").as_bytes());
                    c.close_after_write = true;
                    off = c.inbuf.len();
                    break;
                }
                Ok(Some((args, used))) => {
                    off += used;
                    c.partial_since = None;
                    // A whole command arrived: the reserve moves on.
                    if self.reserve.is_some_and(|r| r.slot == slot) {
                        self.reserve = None;
                    }
                    if args.is_empty() {
                        continue;
                    }
                    if stopping {
                        c.outbuf
                            .extend_from_slice(b"-ERR the server is shutting down\r\n");
                        c.close_after_write = true;
                        off = c.inbuf.len();
                        break;
                    }
                    self.unflushed += 1;
                    self.metrics.wire_command();
                    match self
                        .wire
                        .handle(session, &mut self.service, args, &mut c.outbuf)
                    {
                        Step::Continue => {}
                        Step::Close => {
                            c.close_after_write = true;
                            off = c.inbuf.len();
                            break;
                        }
                        Step::Defer(work) => {
                            let id = self.next_job;
                            self.next_job += 1;
                            match self.pool.submit(id, work.job) {
                                Ok(()) => {
                                    self.jobs.insert(id, (slot, c.generation, work.then));
                                    c.waiting = Some((id, true));
                                }
                                Err(_) => {
                                    self.service.cancel(&work.then);
                                    self.wire.busy(session, &mut c.outbuf);
                                }
                            }
                        }
                    }
                }
            }
        }
        let off = off.min(c.inbuf.len());
        c.inbuf.drain(..off);
        self.dirty.push(slot);
    }

    fn push_response(&mut self, slot: usize, resp: Response, keep_alive: bool) {
        if let Some(c) = self.conn(slot) {
            resp.encode_into(&mut c.outbuf, keep_alive);
            if !keep_alive || resp.close {
                c.close_after_write = true;
            }
        }
        self.mark_dirty(slot);
    }

    fn collect_job_results(&mut self) {
        while let Some((id, output)) = self.pool.try_result() {
            let Some((slot, generation, then)) = self.jobs.remove(&id) else {
                continue;
            };
            let alive = self
                .conn(slot)
                .is_some_and(|c| c.generation == generation && c.waiting.map(|w| w.0) == Some(id));
            // A peer that closed its side (a client that timed out) may
            // still be writable for a moment, but nobody reads the reply.
            let listening = alive && self.conn(slot).is_some_and(|c| !c.peer_closed && !c.hup);
            if !listening && then.delivered_only_in_the_reply() {
                // Its certificate could reach nobody: nothing is committed.
                log_warn!(
                    "the client left before its bootstrap or rekey finished; nothing was changed"
                );
                self.service.cancel(&then);
                continue;
            }
            let result = self.finish_job(then, output);
            if !alive {
                continue; // the client left; the work (e.g. a session) stands
            }
            if let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) {
                if let Some(session) = c.wire.as_mut() {
                    c.waiting = None;
                    self.wire
                        .auth_done(session, &mut self.service, result, &mut c.outbuf);
                    self.mark_dirty(slot);
                    self.process(slot);
                    self.read_and_process(slot);
                    continue;
                }
            }
            let keep_alive = self
                .conn(slot)
                .and_then(|c| c.waiting.map(|w| w.1))
                .unwrap_or(false);
            let mut pending = None;
            if let Some(c) = self.conn(slot) {
                c.waiting = None;
                pending = c.pending.take();
            }
            let resp = routes::finished_response(result);
            if let Some((route, started)) = pending {
                self.metrics
                    .request(route, resp.status, Some(started.elapsed()));
            }
            self.push_response(slot, resp, keep_alive);
            self.process(slot);
            self.read_and_process(slot);
        }
    }

    fn finish_job(
        &mut self,
        then: Then,
        output: JobOutput,
    ) -> Result<crate::service::results::Finished, ServiceError> {
        let was_fresh = !self.service.is_bootstrapped();
        let r = self.service.finish(then, output);
        if was_fresh && self.service.is_bootstrapped() {
            log_notice!("bootstrapped over HTTP; vault unsealed");
            notify::status("serving (unsealed)");
        }
        r
    }

    /// Re-reads writable sockets after a backpressure stall.
    fn resume_if_drained(&mut self, slot: usize) {
        let limit = self.limits.max_pending_output;
        if self
            .conn(slot)
            .is_some_and(|c| c.outbuf.len() - c.written <= limit && !c.inbuf.is_empty())
        {
            self.process(slot);
        }
    }

    fn write_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for slot in dirty {
            self.write_conn(slot);
        }
    }

    fn write_conn(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let mut failed = false;
        while c.written < c.outbuf.len() {
            match c.stream.write(c.outbuf.get(c.written..).unwrap_or(&[])) {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(n) => {
                    c.written += n;
                    c.last_activity = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if c.written == c.outbuf.len() {
            c.outbuf.clear();
            c.written = 0;
        } else if c.written > 64 * 1024 {
            c.outbuf.drain(..c.written);
            c.written = 0;
        }
        trim(&mut c.outbuf);
        let drained = c.outbuf.is_empty();
        let done = failed
            || (drained
                && c.waiting.is_none()
                && (c.close_after_write || (c.peer_closed && c.inbuf.is_empty())));
        if done {
            self.close(slot);
            return;
        }
        let want_write = !drained;
        // Written replies give budget back.
        let now = c.usage();
        self.buffered = self
            .buffered
            .saturating_sub(c.accounted)
            .saturating_add(now);
        c.accounted = now;
        if want_write != c.writable_interest {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ =
                self.poll
                    .registry()
                    .reregister(&mut c.stream, Token(FIRST_CONN + slot), interest);
            c.writable_interest = want_write;
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut c) = self.conns.get_mut(slot).and_then(Option::take) {
            if let Some(session) = &c.wire {
                self.wire.disconnect(session);
            }
            self.buffered = self.buffered.saturating_sub(c.accounted);
            if c.queued.is_some() {
                self.waiting_reads = self.waiting_reads.saturating_sub(1);
            }
            if self.reserve.is_some_and(|r| r.slot == slot) {
                self.reserve = None;
            }
            let _ = self.poll.registry().deregister(&mut c.stream);
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
            self.free_slots.push(slot);
            self.live -= 1;
        }
    }

    fn timers(&mut self, now: Instant) {
        let limits = self.limits;
        let mut to_close = Vec::new();
        let mut timed_out = Vec::new();
        let holder = self
            .reserve_holder()
            .and_then(|slot| self.reserve.map(|r| (slot, r.since)));
        for (slot, c) in self.conns.iter().enumerate() {
            let Some(c) = c else { continue };
            if c.waiting.is_some() {
                continue;
            }
            // Waiting in line for the buffer budget is the server's doing:
            // no timeout runs meanwhile.
            if c.queued.is_some() {
                continue;
            }
            // The connection reading past a spent budget holds what everyone
            // else waits for: if it sends nothing for the request timeout,
            // it goes, authenticated or not.
            if let Some((_, since)) = holder.filter(|(h, _)| *h == slot) {
                let quiet = now.duration_since(c.last_activity.max(since));
                if quiet > limits.request_timeout {
                    if c.wire.is_some() {
                        to_close.push(slot);
                    } else {
                        timed_out.push(slot);
                    }
                    continue;
                }
            }
            // Authenticated wire clients (pools) may stay idle and upload
            // large values slowly, as with Redis's default `timeout 0`;
            // anonymous ones get the HTTP limits.
            let exempt = c.wire.as_ref().is_some_and(|s| s.is_authenticated());
            if exempt {
                continue;
            }
            if c.partial_since
                .is_some_and(|t| now.duration_since(t) > limits.request_timeout)
            {
                if c.wire.is_some() {
                    to_close.push(slot);
                } else {
                    timed_out.push(slot);
                }
            } else if c.inbuf.is_empty()
                && c.outbuf.is_empty()
                && now.duration_since(c.last_activity) > limits.idle_timeout
            {
                to_close.push(slot);
            } else if c.written < c.outbuf.len()
                && now.duration_since(c.last_activity) > limits.idle_timeout
            {
                // Replies the peer has not read for the idle timeout: it
                // would hold its buffers (and budget) for ever.
                to_close.push(slot);
            }
        }
        for slot in timed_out {
            self.metrics.request("other", 408, None);
            if let Some(c) = self.conn(slot) {
                c.inbuf.clear();
                c.http.reset();
                c.partial_since = None;
            }
            self.push_response(
                slot,
                Response::error(408, "request_timeout", "the request did not arrive in time")
                    .closing(),
                false,
            );
        }
        for slot in to_close {
            self.close(slot);
        }
        if let Some(db) = self.service.database_mut() {
            db.store_mut().sweep_expired(now_ms(), 1000);
        }
        self.service.flush_audit_summaries();
        self.service.expire_unseal_shares(now);
    }

    fn handle_signals(&mut self) {
        let pending: Vec<i32> = self.signals.pending().collect();
        for sig in pending {
            match sig {
                signal_hook::consts::SIGHUP => self.reload(),
                signal_hook::consts::SIGTERM | signal_hook::consts::SIGINT if !self.stopping => {
                    log_notice!("stopping: no new connections; finishing in-flight requests");
                    notify::stopping();
                    self.stopping = true;
                    if let Some(mut l) = self.http.take() {
                        let _ = self.poll.registry().deregister(&mut l);
                    }
                    if let Some(mut l) = self.wire_listener.take() {
                        let _ = self.poll.registry().deregister(&mut l);
                    }
                }
                _ => {}
            }
        }
    }

    fn reload(&mut self) {
        notify::reloading();
        self.metrics.reload();
        let outcome = self.reload.reload();
        if let Some(token) = &outcome.admin_token {
            self.service.set_admin_token(Some(token));
        }
        for c in &outcome.changed {
            log_notice!("reload: {c}");
        }
        for e in &outcome.errors {
            log_error!("reload: {e}");
        }
        if outcome.changed.is_empty() && outcome.errors.is_empty() {
            log_info!("reload: nothing changed");
        }
        notify::ready(self.status_line());
    }

    /// `GET /metrics`: the access check, then the exposition text. Every
    /// gauge is O(1) to read (namespace sizes, free-list length, one fstat).
    fn metrics_reply(&mut self, req: &request::Request, peer: IpAddr) -> Response {
        if let Err(r) =
            routes::metrics_access(req, &mut self.service, peer, self.limits.metrics_loopback)
        {
            return r;
        }
        let mut g = Gauges {
            sealed: self.service.is_sealed(),
            bootstrapped: self.service.is_bootstrapped(),
            open_connections: self.live,
            buffered_bytes: self.buffered,
            buffer_budget_bytes: self.limits.max_buffer_memory,
            reads_waiting: self.waiting_reads,
            ..Gauges::default()
        };
        if let Some(db) = self.service.database_mut() {
            let store = db.store_mut();
            g.keys = Namespace::ALL
                .iter()
                .map(|ns| (namespace_label(*ns), store.state().held(*ns)))
                .collect();
            g.store = Some(store.stats());
        }
        Response::text(200, metrics::CONTENT_TYPE, self.metrics.render(&g))
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

/// The metrics label of a namespace.
fn namespace_label(ns: Namespace) -> &'static str {
    match ns {
        Namespace::Vault => "vault",
        Namespace::Secrets => "secrets",
        Namespace::Config => "config",
        Namespace::Keyspace => "keyspace",
        Namespace::Audit => "audit",
    }
}
