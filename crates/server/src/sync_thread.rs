//! The sync thread: runs each group commit's `fdatasync` so that the event
//! loop serves other clients while the disk syncs.
//!
//! The loop writes a group's log pages itself, hands the sync to this
//! thread with the store's [`SyncTicket`] and a [`SyncBarrier`] (a `dup`
//! of the database file's descriptor, so the file stays open for the
//! sync whatever the loop does meanwhile), and keeps running commands. The
//! replies of the group, and every reply that could have seen its data,
//! stay unsent until the outcome comes back (`event_loop/commit.rs`). One
//! sync runs at a time; what the loop stages meanwhile is written as the
//! next group when this one returns.
//!
//! Like the worker pool, the thread starts after `harden::before_threads`
//! (capabilities dropped, `no_new_privs`, inherited) and before
//! `harden::after_threads`, which verifies it with every other thread and
//! then installs the seccomp filter on all of them: it reports in once it
//! runs, so its start-up syscalls happen before the filter. It needs only
//! `fdatasync`, `close`, `futex` and the waker's `write`.

use reddb_storage::pager::SyncBarrier;
use reddb_storage::store::SyncTicket;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A sync to run: the barrier that runs it and the ticket it redeems.
struct Request {
    ticket: SyncTicket,
    barrier: Box<dyn SyncBarrier>,
}

/// What came back: the ticket and the sync's result.
pub(crate) struct Outcome {
    pub ticket: SyncTicket,
    pub result: std::io::Result<()>,
}

/// The sync thread ended (it panicked): no sync will be reported.
#[derive(Debug)]
pub(crate) struct Gone;

pub(crate) struct SyncThread {
    requests: Option<Sender<Request>>,
    outcomes: Receiver<Outcome>,
    thread: Option<JoinHandle<()>>,
}

impl SyncThread {
    /// Starts the thread; it wakes the loop through `waker` after each
    /// sync.
    pub fn start(waker: Arc<mio::Waker>) -> std::io::Result<Self> {
        let (request_tx, request_rx) = mpsc::channel::<Request>();
        let (outcome_tx, outcome_rx) = mpsc::channel::<Outcome>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let delay = test_delay();
        let thread = std::thread::Builder::new()
            .name("red-sync".into())
            .spawn(move || {
                // Before reporting in: the filter follows the report.
                let _ = started_tx.send(());
                drop(started_tx);
                while let Ok(Request {
                    ticket,
                    mut barrier,
                }) = request_rx.recv()
                {
                    if let Some(delay) = &delay {
                        delay.wait();
                    }
                    let result = barrier.sync();
                    // The descriptor is closed before the loop hears back.
                    drop(barrier);
                    let outcome = Outcome { ticket, result };
                    if outcome_tx.send(outcome).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            })?;
        if started_rx.recv().is_err() {
            return Err(std::io::Error::other("the sync thread died while starting"));
        }
        Ok(Self {
            requests: Some(request_tx),
            outcomes: outcome_rx,
            thread: Some(thread),
        })
    }

    /// Hands a sync to the thread; `false` when the thread is gone (the
    /// caller then syncs in line).
    pub fn submit(&self, ticket: SyncTicket, barrier: Box<dyn SyncBarrier>) -> bool {
        self.requests
            .as_ref()
            .is_some_and(|tx| tx.send(Request { ticket, barrier }).is_ok())
    }

    /// The outcome of the sync in flight, if it is back; `Err` when the
    /// thread is gone (it cannot report a sync any more).
    pub fn try_outcome(&self) -> Result<Option<Outcome>, Gone> {
        match self.outcomes.try_recv() {
            Ok(o) => Ok(Some(o)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(Gone),
        }
    }

    /// Waits for the outcome of the sync in flight (the loop is stopping);
    /// `None` when the thread is gone.
    pub fn wait_outcome(&self) -> Option<Outcome> {
        self.outcomes.recv().ok()
    }
}

impl Drop for SyncThread {
    fn drop(&mut self) {
        // Closing the channel ends the thread after its current sync.
        self.requests = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A slow disk, for tests (the `test-hooks` feature, never in release
/// builds or packages): `REDDB_TEST_SYNC_DELAY_MS=N` makes every sync take
/// at least N ms more, so a test can watch what waits for one.
#[cfg(feature = "test-hooks")]
fn test_delay() -> Option<TestDelay> {
    let ms: u64 = std::env::var("REDDB_TEST_SYNC_DELAY_MS")
        .ok()?
        .parse()
        .ok()?;
    let (keep, wait) = mpsc::channel();
    Some(TestDelay {
        _keep: keep,
        wait,
        delay: std::time::Duration::from_millis(ms),
    })
}

/// A wait the seccomp filter allows (a futex with a timeout: a channel
/// nobody sends on), unlike `nanosleep`.
#[cfg(feature = "test-hooks")]
struct TestDelay {
    _keep: Sender<()>,
    wait: Receiver<()>,
    delay: std::time::Duration,
}

#[cfg(feature = "test-hooks")]
impl TestDelay {
    fn wait(&self) {
        let _ = self.wait.recv_timeout(self.delay);
    }
}

#[cfg(not(feature = "test-hooks"))]
fn test_delay() -> Option<TestDelay> {
    None
}

/// No delay outside tests: a type with no values.
#[cfg(not(feature = "test-hooks"))]
enum TestDelay {}

#[cfg(not(feature = "test-hooks"))]
impl TestDelay {
    fn wait(&self) {
        match *self {}
    }
}
