//! Work parked on the worker pool (Argon2id password checks, bootstrap's
//! and rekey's key derivations): the one path by which either protocol
//! submits it, and the collection of what comes back.
//!
//! The rules kept here: a full pool refuses at once (the continuation is
//! cancelled and the caller answers "busy"); a result is delivered only to
//! the connection (slot *and* generation) and the job that asked for it;
//! a bootstrap or a rekey whose client left while the job ran is
//! cancelled, not committed, because its certificate could reach nobody;
//! any other result whose client left still stands (a session, a hash).
//!
//! Must never run Argon2 on the loop thread, nor write a reply itself (the
//! protocol's `deliver_*` does, through `protocol.rs`).

use super::EventLoop;
use crate::notify;
use crate::workers::WorkerPool;
use reddb_service::work::{JobOutput, Then, Work};
use reddb_service::{Service, ServiceResult};
use reddb_storage::{log_notice, log_warn};
use std::collections::HashMap;

/// What finished work gives the protocol that asked for it.
pub(super) type Finished = ServiceResult<reddb_service::results::Finished>;

/// A job on the pool: who asked, and what to do with its output.
struct Parked {
    slot: usize,
    generation: u64,
    then: Then,
}

pub(super) struct Jobs {
    pool: WorkerPool,
    next_id: u64,
    parked: HashMap<u64, Parked>,
}

impl Jobs {
    pub(super) fn new(pool: WorkerPool) -> Self {
        Self {
            pool,
            next_id: 1,
            parked: HashMap::new(),
        }
    }

    /// Whether no job is on the pool.
    pub(super) fn is_empty(&self) -> bool {
        self.parked.is_empty()
    }

    /// Parks `work` for the connection in `slot` (of `generation`) and
    /// returns the job's id; `None` when the pool is full, after the work's
    /// continuation was cancelled (the caller answers "busy").
    pub(super) fn submit(
        &mut self,
        service: &mut Service,
        slot: usize,
        generation: u64,
        work: Work,
    ) -> Option<u64> {
        let id = self.next_id;
        self.next_id += 1;
        match self.pool.submit(id, work.job) {
            Ok(()) => {
                let parked = Parked {
                    slot,
                    generation,
                    then: work.then,
                };
                self.parked.insert(id, parked);
                Some(id)
            }
            Err(_) => {
                service.cancel(&work.then);
                None
            }
        }
    }

    /// A finished job this loop parked, if any.
    fn next_result(&mut self) -> Option<(u64, JobOutput, Parked)> {
        while let Some((id, output)) = self.pool.try_result() {
            if let Some(p) = self.parked.remove(&id) {
                return Some((id, output, p));
            }
        }
        None
    }

    /// Stops accepting jobs and joins the workers (after their current
    /// job).
    pub(super) fn shutdown(&mut self) {
        self.pool.shutdown();
    }
}

impl EventLoop {
    /// Finishes every job that came back and answers its connection, then
    /// goes on with what that connection sent meanwhile.
    pub(super) fn collect_job_results(&mut self) {
        while let Some((id, output, p)) = self.jobs.next_result() {
            let slot = p.slot;
            let alive = self
                .conns
                .get(slot)
                .is_some_and(|c| c.generation == p.generation && c.job == Some(id));
            // A peer that closed its side (a client that timed out) may
            // still be writable for a moment, but nobody reads the reply.
            let listening = alive
                && self
                    .conns
                    .get(slot)
                    .is_some_and(|c| !c.peer_closed && !c.hup);
            if !listening && p.then.delivered_only_in_the_reply() {
                // Its certificate could reach nobody: nothing is committed.
                log_warn!(
                    "the client left before its bootstrap or rekey finished; nothing was changed"
                );
                self.service.cancel(&p.then);
                continue;
            }
            let result = self.finish_job(p.then, output);
            if !alive {
                continue; // the client left; the work (e.g. a session) stands
            }
            if let Some(c) = self.conns.get_mut(slot) {
                c.job = None;
            }
            self.deliver(slot, result);
            self.process(slot);
            self.read_and_process(slot);
        }
    }

    /// The one place a job's output goes back to the service.
    fn finish_job(&mut self, then: Then, output: JobOutput) -> Finished {
        let was_fresh = !self.service.is_bootstrapped();
        let r = self.service.finish(then, output);
        if was_fresh && self.service.is_bootstrapped() {
            log_notice!("bootstrapped over HTTP; vault unsealed");
            notify::status("serving (unsealed)");
        }
        r
    }
}
