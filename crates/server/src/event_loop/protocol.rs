//! The protocol of a connection: [`Protocol::Http`] with the HTTP parse
//! state, or [`Protocol::Wire`] with the wire session, fixed by the
//! listener that accepted it; and the dispatch from a connection to its
//! protocol's processing (`http_conn.rs`, `wire_conn.rs`).
//!
//! Must never parse or answer a request itself, nor hold state that both
//! protocols share (that is on [`Conn`](super::connection::Conn)).

use super::connection::READ_CHUNK;
use super::jobs::Finished;
use super::EventLoop;
use crate::http::request::{self, Limits};
use crate::wire::Session;
use std::net::SocketAddr;
use std::time::Instant;

/// Which listener accepted a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Http,
    Wire,
}

/// An HTTP request parked on the worker pool: what its reply needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct ParkedRequest {
    /// Its route family (the metrics label).
    pub(super) route: &'static str,
    /// When it was parsed (its latency runs from there).
    pub(super) started: Instant,
    pub(super) keep_alive: bool,
}

/// The HTTP state of a connection.
#[derive(Debug, Default)]
pub(super) struct HttpState {
    /// Progress on the request at the front of the connection's input.
    pub(super) parser: request::Parser,
    /// The request whose work runs on the pool, if any.
    pub(super) parked: Option<ParkedRequest>,
}

pub(super) enum Protocol {
    Http(HttpState),
    Wire(Box<Session>),
}

impl Protocol {
    pub(super) fn kind(&self) -> Kind {
        match self {
            Protocol::Http(_) => Kind::Http,
            Protocol::Wire(_) => Kind::Wire,
        }
    }

    pub(super) fn is_wire(&self) -> bool {
        matches!(self, Protocol::Wire(_))
    }

    /// A wire connection that authenticated (HTTP authenticates each
    /// request, never a connection).
    pub(super) fn is_authenticated(&self) -> bool {
        matches!(self, Protocol::Wire(s) if s.is_authenticated())
    }

    /// Bytes the parser keeps of an incomplete request, besides the
    /// connection's input buffer.
    pub(super) fn held_bytes(&self) -> usize {
        match self {
            Protocol::Http(h) => h.parser.held_bytes(),
            Protocol::Wire(s) => s.parser.held_bytes(),
        }
    }

    /// Forgets a partially parsed request (its bytes were dropped).
    pub(super) fn reset_parser(&mut self) {
        match self {
            Protocol::Http(h) => h.parser.reset(),
            Protocol::Wire(s) => s.parser.reset(),
        }
    }

    /// The most bytes the connection may hold in its input buffer.
    pub(super) fn input_cap(&self, http: &Limits) -> usize {
        match self {
            Protocol::Http(_) => http.max_head + http.max_body + READ_CHUNK,
            Protocol::Wire(s) => s.max_query(),
        }
    }
}

impl EventLoop {
    /// The protocol state of a new connection from `peer`.
    pub(super) fn new_protocol(&mut self, kind: Kind, peer: SocketAddr) -> Protocol {
        match kind {
            Kind::Http => Protocol::Http(HttpState::default()),
            Kind::Wire => Protocol::Wire(Box::new(self.wire.connect(peer))),
        }
    }

    /// Parses and runs as many pipelined requests as allowed.
    pub(super) fn process(&mut self, slot: usize) {
        match self.conns.get(slot).map(|c| c.protocol.kind()) {
            Some(Kind::Wire) => self.process_wire(slot),
            Some(Kind::Http) | None => self.process_http(slot),
        }
        self.after_process(slot);
    }

    /// Answers the request whose work came back from the pool.
    pub(super) fn deliver(&mut self, slot: usize, result: Finished) {
        match self.conns.get(slot).map(|c| c.protocol.kind()) {
            Some(Kind::Wire) => self.deliver_wire(slot, result),
            Some(Kind::Http) | None => self.deliver_http(slot, result),
        }
    }
}
