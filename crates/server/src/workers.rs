//! The bounded worker pool for Argon2id work.
//!
//! A fixed number of threads take [`Job`]s from a bounded queue; when the
//! queue is full, [`WorkerPool::submit`] refuses at once (the request gets
//! 503 and `Retry-After`), so a login flood can neither stall the event
//! loop nor grow memory: at most `threads` Argon2 instances (64 MiB each)
//! run and at most `queue` jobs wait. Results come back over a channel and
//! a [`mio::Waker`] wakes the loop.
//!
//! Each worker puts itself in the `SCHED_IDLE` scheduling class (and at
//! niceness [`WORKER_NICE`], which is what remains if that class is refused)
//! as it starts: Argon2 is throughput work that may wait, the event loop
//! answers every other client. The kernel lets any waking `SCHED_OTHER`
//! thread preempt a `SCHED_IDLE` one at once, so where a worker shares a core
//! with the loop (one core, a CPU-pinned service, a busy machine) a request
//! does not wait for a worker's time slice (measured: secret-read p99 under
//! a login flood on one pinned core 7-8 ms with the worker level with the
//! loop, 0.6-1.4 ms with it idle-class; docs/BENCHMARKS.md). Niceness alone
//! only weighs the shares: whether a waking loop preempts at once is left
//! to the fair scheduler's eligibility and slice rules. Where there are
//! cores to spare none of this changes anything; a password check gets
//! every cycle the loop leaves idle.
//!
//! The pool is started after `harden::before_threads` (capabilities dropped,
//! `no_new_privs` set on the only thread, so every worker inherits them) and
//! before `harden::after_threads` (every thread verified, then seccomp).

use reddb_service::work::{Job, JobOutput};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The niceness of a worker thread (the loop runs at the process's own,
/// normally 0): the lowest. It only matters if `SCHED_IDLE` is refused.
pub(crate) const WORKER_NICE: libc::c_int = 19;

/// Puts the calling thread at the lowest priority: niceness
/// [`WORKER_NICE`], then the `SCHED_IDLE` class. On Linux both calls act on
/// the calling thread only (`who == 0` / `pid == 0`), not the process.
/// Neither needs a privilege (an unprivileged thread may always lower its
/// priority and enter `SCHED_IDLE`); if one fails anyway (a kernel policy),
/// the worker keeps what it has, as before. Runs before the seccomp filter,
/// which allows neither call. Returns whether the thread is in `SCHED_IDLE`.
fn lower_own_priority() -> bool {
    // SAFETY: setpriority takes plain integers and touches no memory of
    // ours; PRIO_PROCESS with `who == 0` names the calling thread.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, WORKER_NICE) };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid, initialised sched_param that outlives the
    // call, which only reads it; pid 0 names the calling thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    rc == 0
}

pub(crate) struct WorkerPool {
    jobs: Option<SyncSender<(u64, Job)>>,
    results: Receiver<(u64, JobOutput)>,
    threads: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    pub fn start(threads: usize, queue: usize, waker: Arc<mio::Waker>) -> std::io::Result<Self> {
        let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Job)>(queue);
        let job_rx = Arc::new(std::sync::Mutex::new(job_rx));
        let (res_tx, res_rx) = mpsc::channel();
        let mut handles = Vec::new();
        // Each thread reports in once it runs: its start-up syscalls
        // (set_robust_list, rseq, prctl) must happen before the seccomp
        // filter, which is installed right after the pool starts.
        let (started_tx, started_rx) = mpsc::channel::<()>();
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&job_rx);
            let tx = res_tx.clone();
            let waker = Arc::clone(&waker);
            let started = started_tx.clone();
            let h = std::thread::Builder::new()
                .name(format!("red-worker-{i}"))
                .spawn(move || {
                    // Before reporting in: the filter follows the report.
                    let _ = lower_own_priority();
                    let _ = started.send(());
                    drop(started);
                    loop {
                        let next = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok((id, job)) = next else { return };
                        let out = job.run();
                        if tx.send((id, out)).is_err() {
                            return;
                        }
                        let _ = waker.wake();
                    }
                })?;
            handles.push(h);
        }
        drop(started_tx);
        for _ in 0..handles.len() {
            if started_rx.recv().is_err() {
                return Err(std::io::Error::other("a worker thread died while starting"));
            }
        }
        Ok(Self {
            jobs: Some(job_tx),
            results: res_rx,
            threads: handles,
        })
    }

    /// Queues a job; `Err(job)` when the queue is full.
    pub fn submit(&self, id: u64, job: Job) -> Result<(), Job> {
        let Some(tx) = &self.jobs else {
            return Err(job);
        };
        match tx.try_send((id, job)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full((_, job))) | Err(TrySendError::Disconnected((_, job))) => {
                Err(job)
            }
        }
    }

    /// A finished job, if any.
    pub(crate) fn try_result(&self) -> Option<(u64, JobOutput)> {
        match self.results.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => None,
        }
    }

    /// Stops accepting jobs and joins the threads (after their current job).
    pub fn shutdown(&mut self) {
        self.jobs = None;
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}
