//! The bounded worker pool for Argon2id work.
//!
//! A fixed number of threads take [`Job`]s from a bounded queue; when the
//! queue is full, [`WorkerPool::submit`] refuses at once (the request gets
//! 503 and `Retry-After`), so a login flood can neither stall the event
//! loop nor grow memory: at most `threads` Argon2 instances (64 MiB each)
//! run and at most `queue` jobs wait. Results come back over a channel and
//! a [`mio::Waker`] wakes the loop.
//!
//! The pool is started after `harden::before_threads` (capabilities dropped,
//! `no_new_privs` set on the only thread, so every worker inherits them) and
//! before `harden::after_threads` (every thread verified, then seccomp).

use reddb_service::work::{Job, JobOutput};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

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
