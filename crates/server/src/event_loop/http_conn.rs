//! Running the HTTP requests of a connection: parsing what its input holds
//! (resumably, vetting a head before its body is buffered), routing each
//! request to the service, parking password work on the pool, and queuing
//! the replies with their metrics. Also the HTTP answers the loop itself
//! gives: parse errors, 503 while stopping, 408 for a request that did not
//! arrive in time, "busy" when the pool is full.
//!
//! Each call of [`routes::route`], [`Response::ok`] and the busy error is
//! made here once. Must never write to a socket (replies go to the output
//! buffer; `connection.rs` writes them after the group commit), nor hold a
//! body over 16 KiB for a request whose credentials do not authenticate.

use super::jobs::Finished;
use super::protocol::{ParkedRequest, Protocol};
use super::EventLoop;
use crate::http::request::{self, Request};
use crate::http::response::Response;
use crate::http::route_table;
use crate::http::routes::{self, Routed};
use reddb_service::work::Work;
use reddb_service::{Kind, Service, ServiceError};
use std::ops::ControlFlow;
use std::time::Instant;

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

/// The error code of a request that does not parse.
fn parse_error_code(status: u16) -> &'static str {
    match status {
        431 => "header_too_large",
        413 => "payload_too_large",
        501 => "not_implemented",
        _ => "bad_request",
    }
}

impl EventLoop {
    /// The HTTP side of [`EventLoop::process`]. Bytes are dropped from the
    /// input once per call, not once per request, so a deep pipeline costs
    /// linear time; the parser resumes where the previous call stopped.
    pub(super) fn process_http(&mut self, slot: usize) {
        let mut off = 0;
        while let Some(req) = self.next_http_request(slot, &mut off) {
            if self.run_http_request(slot, req).is_break() {
                break;
            }
        }
        if let Some(c) = self.conns.get_mut(slot) {
            let off = off.min(c.inbuf.len());
            c.inbuf.drain(..off);
            if c.close_after_write {
                // Whatever else arrived is never parsed.
                c.inbuf.clear();
                c.protocol.reset_parser();
            }
        }
    }

    /// The next complete request from `off` in `slot`'s input, when the
    /// connection may run one now; moves `off` past what was consumed. A
    /// request that does not parse is answered here and ends the
    /// connection.
    fn next_http_request(&mut self, slot: usize, off: &mut usize) -> Option<Request> {
        let limits = self.limits;
        let service = &self.service;
        let c = self.conns.get_mut(slot)?;
        if c.unsent() > limits.max_pending_output {
            c.output_stalled = true;
            return None;
        }
        if c.job.is_some() || c.close_after_write {
            return None;
        }
        let Protocol::Http(http) = &mut c.protocol else {
            return None;
        };
        let rest = c.inbuf.get(*off..).unwrap_or(&[]);
        let rest_empty = rest.is_empty();
        let parsed = http
            .parser
            .parse_with(rest, &limits.http, |head| vet_head(service, head));
        match parsed {
            Ok(None) => {
                c.partial_since = if rest_empty {
                    None
                } else {
                    c.partial_since.or(Some(Instant::now()))
                };
                if c.peer_closed && c.job.is_none() {
                    c.close_after_write = true;
                }
                None
            }
            Err(e) => {
                Response::error(e.status(), parse_error_code(e.status()), e.message())
                    .closing()
                    .encode_into(&mut c.outbuf, false);
                self.metrics
                    .request(route_table::OTHER_FAMILY, e.status(), None);
                c.close_after_write = true;
                c.partial_since = None;
                *off = c.inbuf.len();
                None
            }
            Ok(Some((req, used))) => {
                *off += used;
                c.partial_since = None;
                Some(req)
            }
        }
    }

    /// Runs one complete request: `/metrics` here, anything else through
    /// the router, password work onto the pool. `Break` when nothing more
    /// of the connection's input may run.
    fn run_http_request(&mut self, slot: usize, req: Request) -> ControlFlow<()> {
        let Some(c) = self.conns.get(slot) else {
            return ControlFlow::Break(());
        };
        let peer = c.peer.ip();
        let generation = c.generation;
        let keep_alive = req.keep_alive;
        let started = Instant::now();
        let route = route_table::family(&req.segments);
        // A whole request arrived: the reserve moves on.
        self.budget.release(slot);
        if self.stopping {
            self.metrics.request(route, 503, None);
            if let Some(c) = self.conns.get_mut(slot) {
                Response::error(503, "stopping", "the server is shutting down")
                    .closing()
                    .encode_into(&mut c.outbuf, false);
                c.close_after_write = true;
            }
            return ControlFlow::Break(());
        }
        let parked = ParkedRequest {
            route,
            started,
            keep_alive,
        };
        if route_table::answered_by_loop(&req.segments) {
            let resp = self.metrics_reply(&req, peer);
            self.answer_http(slot, parked, resp);
            return ControlFlow::Continue(());
        }
        match routes::route(&req, &mut self.service, peer) {
            Routed::Reply(resp) => self.answer_http(slot, parked, resp),
            Routed::Defer(work) => self.park_http(slot, generation, work, parked),
        }
        ControlFlow::Continue(())
    }

    /// Puts a request's password work on the pool, or answers "busy" when
    /// the pool is full.
    fn park_http(&mut self, slot: usize, generation: u64, work: Work, parked: ParkedRequest) {
        match self.jobs.submit(&mut self.service, slot, generation, work) {
            Some(id) => {
                if let Some(c) = self.conns.get_mut(slot) {
                    c.job = Some(id);
                    if let Protocol::Http(http) = &mut c.protocol {
                        http.parked = Some(parked);
                    }
                }
            }
            None => {
                let e = ServiceError::new(
                    Kind::Busy,
                    "busy",
                    "too many password checks in progress; retry shortly",
                );
                self.answer_http(slot, parked, Response::from_service_error(&e));
            }
        }
    }

    /// The reply to a request whose work came back from the pool.
    pub(super) fn deliver_http(&mut self, slot: usize, result: Finished) {
        let parked = self
            .conns
            .get_mut(slot)
            .and_then(|c| match &mut c.protocol {
                Protocol::Http(http) => http.parked.take(),
                Protocol::Wire(_) => None,
            });
        let resp = routes::finished_response(result);
        match parked {
            Some(parked) => self.answer_http(slot, parked, resp),
            None => self.push_response(slot, resp, false),
        }
    }

    /// Queues the reply to a complete request and counts it.
    fn answer_http(&mut self, slot: usize, parked: ParkedRequest, resp: Response) {
        self.metrics
            .request(parked.route, resp.status, Some(parked.started.elapsed()));
        self.push_response(slot, resp, parked.keep_alive);
    }

    fn push_response(&mut self, slot: usize, resp: Response, keep_alive: bool) {
        if let Some(c) = self.conns.get_mut(slot) {
            resp.encode_into(&mut c.outbuf, keep_alive);
            if !keep_alive || resp.close {
                c.close_after_write = true;
            }
        }
        self.mark_dirty(slot);
    }

    /// 408 for a request that did not arrive within the request timeout;
    /// what arrived of it is dropped and the connection closes.
    pub(super) fn answer_request_timeout(&mut self, slot: usize) {
        self.metrics.request(route_table::OTHER_FAMILY, 408, None);
        if let Some(c) = self.conns.get_mut(slot) {
            c.inbuf.clear();
            c.protocol.reset_parser();
            c.partial_since = None;
        }
        self.push_response(
            slot,
            Response::error(408, "request_timeout", "the request did not arrive in time").closing(),
            false,
        );
    }
}
