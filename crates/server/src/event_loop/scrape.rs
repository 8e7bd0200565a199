//! `GET /metrics`, answered by the loop itself: the access check (through
//! the router's `metrics_access`), then the exposition text from the
//! loop's counters and the gauges only the loop knows (connections, the
//! buffer budget) or reads in O(1) (namespace sizes, store counters, one
//! `fstat`).
//!
//! Must never put a label value outside the fixed sets of `metrics.rs`, nor
//! do work proportional to the data.

use super::EventLoop;
use crate::http::request::Request;
use crate::http::response::Response;
use crate::http::routes;
use crate::metrics::{self, Gauges};
use reddb_storage::store::record::Namespace;
use std::net::IpAddr;

/// The metrics label of a namespace.
fn namespace_label(ns: Namespace) -> &'static str {
    match ns {
        Namespace::Vault => "vault",
        Namespace::Secrets => "secrets",
        Namespace::Config => "config",
        Namespace::Audit => "audit",
        // Every keyspace database: one figure, summed below.
        _ => "keyspace",
    }
}

impl EventLoop {
    /// The reply to `GET /metrics` from `peer`.
    pub(super) fn metrics_reply(&mut self, req: &Request, peer: IpAddr) -> Response {
        if let Err(r) =
            routes::metrics_access(req, &mut self.service, peer, self.limits.metrics_loopback)
        {
            return r;
        }
        let mut g = Gauges {
            sealed: self.service.is_sealed(),
            bootstrapped: self.service.is_bootstrapped(),
            open_connections: self.conns.live(),
            buffered_bytes: self.budget.buffered(),
            buffer_budget_bytes: self.budget.max(),
            reads_waiting: self.budget.waiting(),
            ..Gauges::default()
        };
        if let Some(db) = self.service.database_mut() {
            let mut keys: Vec<(&'static str, usize)> = Vec::new();
            for ns in Namespace::ALL {
                let label = namespace_label(ns);
                match keys.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, n)) => *n += db.held(ns),
                    None => keys.push((label, db.held(ns))),
                }
            }
            g.keys = keys;
            g.store = Some(db.store_stats());
        }
        Response::text(200, metrics::CONTENT_TYPE, self.metrics.render(&g))
    }
}
