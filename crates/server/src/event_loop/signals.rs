//! Signals, which arrive in the loop through `signal-hook-mio`'s
//! self-pipe: SIGHUP reloads the credential files, SIGTERM and SIGINT
//! stop the daemon (no new connections or requests; in-flight requests and
//! worker jobs are finished and answered, for at most [`STOP_DEADLINE`]).
//!
//! Must never stop with a reply unwritten or a job unanswered before the
//! deadline, nor let a failed reload end the daemon or drop a credential it
//! had (`reload.rs` decides what changes; this only applies it).

use super::{io, EventLoop, SIGNALS};
use crate::notify;
use mio::{Interest, Poll};
use reddb_storage::error::Result;
use reddb_storage::{log_error, log_info, log_notice};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::time::{Duration, Instant};

/// How long a stop waits for in-flight work and unwritten replies.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// Installs the handlers and registers their pipe with the loop.
pub(super) fn register(poll: &Poll) -> Result<Signals> {
    let mut signals =
        Signals::new([SIGHUP, SIGTERM, SIGINT]).map_err(io("cannot install signal handlers"))?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
        .map_err(io("cannot register signals"))?;
    Ok(signals)
}

impl EventLoop {
    pub(super) fn handle_signals(&mut self) {
        let pending: Vec<i32> = self.signals.pending().collect();
        for sig in pending {
            match sig {
                SIGHUP => self.reload(),
                SIGTERM | SIGINT if !self.stopping => self.stop(),
                _ => {}
            }
        }
    }

    /// Stops accepting connections; requests that arrive from now on are
    /// refused, those in flight are finished.
    fn stop(&mut self) {
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

    /// Whether a stop is complete at `now`: every job answered and every
    /// reply written, or the deadline passed.
    pub(super) fn drained(&mut self, now: Instant) -> bool {
        if !self.stopping {
            return false;
        }
        let deadline = *self.stop_deadline.get_or_insert(now + STOP_DEADLINE);
        (self.jobs.is_empty() && !self.conns.output_pending()) || now >= deadline
    }
}
