//! Process hardening, in two steps around the start of the worker pool.
//!
//! `PR_SET_DUMPABLE=0` and `RLIMIT_CORE=0` are set first thing in `main`
//! for every subcommand (they hold keys too). For the daemon, after the
//! database file is open and the sockets are bound:
//!
//! 1. [`before_threads`], while the process still has **one thread**: lock
//!    memory, forbid dumps (again), drop every capability (bounding and
//!    ambient included), set `no_new_privs`. Capabilities and
//!    `no_new_privs` are per-thread and copied by each new thread from the
//!    one that creates it, so doing this before any thread exists is what
//!    makes it hold for every thread.
//! 2. the worker pool starts (its threads make their start-up syscalls);
//! 3. [`after_threads`]: read every `/proc/self/task/*/status` and refuse
//!    to start if any thread kept a capability or lacks `no_new_privs`,
//!    then install the seccomp filter on every thread at once (TSYNC);
//!
//! all before the first client byte is read. `docs/SECURITY.md` says what
//! each layer stops and which test shows it.

pub mod memory;
pub(crate) mod privileges;
pub(crate) mod seccomp;

pub use memory::MemoryLock;
use reddb_storage::error::Result;

/// What [`before_threads`] did, to be finished by [`after_threads`].
#[derive(Debug, Clone, Copy)]
#[must_use = "the seccomp filter is installed by after_threads"]
pub(crate) struct Prepared {
    memory: MemoryLock,
    /// Whether the bounding set is empty (so every thread's must be).
    bounding_empty: bool,
}

/// What was applied, for the start-up log and `red version`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hardened {
    pub memory: MemoryLock,
    pub seccomp: bool,
    /// Threads whose capabilities and `no_new_privs` were verified.
    pub threads: usize,
}

/// The layers that act on the calling thread only; call while the process
/// has no other thread. `require_mlock` turns a partial memory lock into
/// an error.
pub(crate) fn before_threads(require_mlock: bool) -> Result<Prepared> {
    let memory = memory::lock_memory(require_mlock)?;
    memory::forbid_dumps()?;
    let bounding_empty = privileges::drop_all_capabilities()?;
    privileges::set_no_new_privs()?;
    Ok(Prepared {
        memory,
        bounding_empty,
    })
}

/// Verifies every thread, then installs the seccomp filter on all of them.
/// There is no switch to skip the filter: tests run with it.
pub(crate) fn after_threads(prepared: Prepared) -> Result<Hardened> {
    let threads = privileges::verify_every_thread(prepared.bounding_empty)?;
    seccomp::install()?;
    Ok(Hardened {
        memory: prepared.memory,
        seccomp: true,
        threads,
    })
}
