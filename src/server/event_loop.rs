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

use super::http::request::{self, Limits};
use super::http::response::Response;
use super::http::routes::{self, Routed};
use super::notify;
use super::reload::Reloadable;
use super::workers::WorkerPool;
use crate::database::now_ms;
use crate::service::work::{JobOutput, Then};
use crate::service::{Kind, Service, ServiceError};
use crate::{log_error, log_info, log_notice, log_warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const HTTP_LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const WAKER: Token = Token(2);
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
}

impl Default for LoopLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            http: Limits::default(),
            max_pending_output: 4 * 1024 * 1024,
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
}

pub struct EventLoop {
    poll: Poll,
    http: Option<TcpListener>,
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
}

impl EventLoop {
    pub fn new(
        http: std::net::TcpListener,
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
            if let Err(e) = self.poll.poll(&mut events, Some(tick)) {
                if e.kind() != ErrorKind::Interrupted {
                    return Err(crate::error::Error::io("event loop poll failed", e));
                }
            }
            for event in events.iter() {
                match event.token() {
                    HTTP_LISTENER => self.accept(),
                    SIGNALS => self.handle_signals(),
                    WAKER => {}
                    Token(t) => {
                        let slot = t - FIRST_CONN;
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
            self.group_commit()?;
            self.write_dirty();
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
        let Some(db) = self.service.database_mut() else {
            return Ok(());
        };
        let store = db.store_mut();
        if store.has_pending() {
            if let Err(e) = store.flush() {
                log_error!("commit failed, stopping without acknowledging it: {e}");
                return Err(e);
            }
        }
        if store.should_compact() {
            let started = Instant::now();
            store.compact(now_ms())?;
            log_info!("compaction done in {} ms", started.elapsed().as_millis());
        }
        Ok(())
    }

    fn accept(&mut self) {
        loop {
            let Some(listener) = &self.http else { return };
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    if self.live >= self.limits.max_connections || self.stopping {
                        let _ = stream.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
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

    fn read_and_process(&mut self, slot: usize) {
        let cap = self.limits.http.max_head + self.limits.http.max_body + 16 * 1024;
        let Some(c) = self.conn(slot) else { return };
        let mut buf = [0u8; 16 * 1024];
        while c.inbuf.len() < cap {
            match c.stream.read(&mut buf) {
                Ok(0) => {
                    c.peer_closed = true;
                    break;
                }
                Ok(n) => {
                    c.inbuf.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                    c.last_activity = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    c.peer_closed = true;
                    c.inbuf.clear();
                    break;
                }
            }
        }
        self.process(slot);
        self.mark_dirty(slot);
    }

    /// Parses and runs as many pipelined requests as allowed.
    fn process(&mut self, slot: usize) {
        let limits = self.limits;
        loop {
            let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            if c.waiting.is_some()
                || c.close_after_write
                || c.outbuf.len() - c.written > limits.max_pending_output
            {
                return;
            }
            let parsed = request::parse(&c.inbuf, &limits.http);
            match parsed {
                Ok(None) => {
                    c.partial_since = if c.inbuf.is_empty() {
                        None
                    } else {
                        c.partial_since.or(Some(Instant::now()))
                    };
                    if c.peer_closed && c.waiting.is_none() {
                        c.close_after_write = true;
                    }
                    return;
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
                    c.close_after_write = true;
                    c.inbuf.clear();
                    return;
                }
                Ok(Some((req, used))) => {
                    c.inbuf.drain(..used);
                    c.partial_since = None;
                    let peer = c.peer.ip();
                    let generation = c.generation;
                    let keep_alive = req.keep_alive;
                    if self.stopping {
                        let c = self.conns.get_mut(slot).and_then(Option::as_mut);
                        if let Some(c) = c {
                            Response::error(503, "stopping", "the server is shutting down")
                                .closing()
                                .encode_into(&mut c.outbuf, false);
                            c.close_after_write = true;
                        }
                        return;
                    }
                    match routes::route(&req, &mut self.service, peer) {
                        Routed::Reply(resp) => self.push_response(slot, resp, keep_alive),
                        Routed::Defer(work) => {
                            let id = self.next_job;
                            self.next_job += 1;
                            match self.pool.submit(id, work.job) {
                                Ok(()) => {
                                    self.jobs.insert(id, (slot, generation, work.then));
                                    if let Some(c) = self.conn(slot) {
                                        c.waiting = Some((id, keep_alive));
                                    }
                                }
                                Err(_) => {
                                    let e = ServiceError::new(
                                        Kind::Busy,
                                        "busy",
                                        "too many password checks in progress; retry shortly",
                                    );
                                    self.push_response(
                                        slot,
                                        Response::from_service_error(&e),
                                        keep_alive,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
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
            let result = self.finish_job(then, output);
            let alive = self
                .conn(slot)
                .is_some_and(|c| c.generation == generation && c.waiting.map(|w| w.0) == Some(id));
            if !alive {
                continue; // the client left; the work (e.g. a session) stands
            }
            let keep_alive = self
                .conn(slot)
                .and_then(|c| c.waiting.map(|w| w.1))
                .unwrap_or(false);
            if let Some(c) = self.conn(slot) {
                c.waiting = None;
            }
            let resp = match result {
                Ok(j) => Response::ok(&j),
                Err(e) => Response::from_service_error(&e),
            };
            self.push_response(slot, resp, keep_alive);
            self.process(slot);
            self.read_and_process(slot);
        }
    }

    fn finish_job(
        &mut self,
        then: Then,
        output: JobOutput,
    ) -> Result<serde_json::Value, ServiceError> {
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
        for (slot, c) in self.conns.iter().enumerate() {
            let Some(c) = c else { continue };
            if c.waiting.is_some() {
                continue;
            }
            if c.partial_since
                .is_some_and(|t| now.duration_since(t) > limits.request_timeout)
            {
                timed_out.push(slot);
            } else if c.inbuf.is_empty()
                && c.outbuf.is_empty()
                && now.duration_since(c.last_activity) > limits.idle_timeout
            {
                to_close.push(slot);
            }
        }
        for slot in timed_out {
            if let Some(c) = self.conn(slot) {
                c.inbuf.clear();
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
                }
                _ => {}
            }
        }
    }

    fn reload(&mut self) {
        notify::reloading();
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
