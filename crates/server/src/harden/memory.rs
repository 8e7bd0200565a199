//! Keeping key material out of swap and core dumps.
//!
//! `mlockall(MCL_CURRENT | MCL_FUTURE)` is used only when `RLIMIT_MEMLOCK`
//! is unlimited: with a finite limit, `MCL_FUTURE` turns every allocation
//! past the limit into a failure (one 64 MiB Argon2 is past any usual
//! limit). Otherwise only the guarded key pages are locked (memsec), which
//! is checked here by reading `VmLck` — memsec itself ignores mlock errors.
//! `PR_SET_DUMPABLE=0` and `RLIMIT_CORE=0` always: first thing in `main`
//! for every subcommand, and again (idempotent) before the daemon starts
//! its threads.

use reddb_storage::crypto::locked;
use reddb_storage::error::{Error, Result};

/// What memory locking achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryLock {
    /// Everything, current and future, is locked.
    All,
    /// Only the guarded key pages are locked (finite memlock limit).
    KeyPagesOnly { limit_bytes: u64 },
}

/// `RLIMIT_MEMLOCK` soft limit; `None` = unlimited.
pub fn memlock_limit() -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) };
    if rc != 0 || r.rlim_cur == libc::RLIM_INFINITY {
        None
    } else {
        Some(r.rlim_cur)
    }
}

/// `VmLck` of this process in kB, from `/proc/self/status`.
pub(crate) fn locked_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Refuses early, before the database file is touched, when full locking
/// is required and the memlock limit is finite (so `lock_memory` would
/// refuse later anyway).
pub fn check_full_lock_possible(require_all: bool) -> Result<()> {
    match memlock_limit() {
        Some(limit) if require_all => Err(Error::SecureMemory(format!(
            "full memory locking is required (preset or --require-mlock) but RLIMIT_MEMLOCK is {} KiB; \
             run with LimitMEMLOCK=infinity (and CAP_IPC_LOCK) or drop the requirement",
            limit / 1024
        ))),
        _ => Ok(()),
    }
}

/// Locks memory as well as the limit allows. With `require_all`, anything
/// short of `mlockall` is an error that says how to fix it.
pub(crate) fn lock_memory(require_all: bool) -> Result<MemoryLock> {
    match memlock_limit() {
        None => {
            // SAFETY: mlockall takes flags only.
            let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
            if rc == 0 {
                return Ok(MemoryLock::All);
            }
            let err = std::io::Error::last_os_error();
            if require_all {
                return Err(Error::SecureMemory(format!("mlockall failed: {err}")));
            }
            reddb_storage::log_warn!("mlockall failed ({err}); locking key pages only");
            key_pages_only(u64::MAX)
        }
        Some(limit) => {
            if require_all {
                return Err(Error::SecureMemory(format!(
                    "full memory locking is required (preset or --require-mlock) but RLIMIT_MEMLOCK is {} KiB; \
                     run with LimitMEMLOCK=infinity (and CAP_IPC_LOCK) or drop the requirement",
                    limit / 1024
                )));
            }
            key_pages_only(limit)
        }
    }
}

fn key_pages_only(limit: u64) -> Result<MemoryLock> {
    if locked::lock_failures() > 0 {
        return Err(Error::SecureMemory(format!(
            "{} guarded key allocation(s) could not be locked (RLIMIT_MEMLOCK too small)",
            locked::lock_failures()
        )));
    }
    if locked::live_allocations() > 0 && locked_kb().unwrap_or(0) == 0 {
        return Err(Error::SecureMemory(
            "key pages are not locked (VmLck is 0)".into(),
        ));
    }
    reddb_storage::log_notice!(
        "memory: RLIMIT_MEMLOCK is {} KiB, so only key pages are locked (VmLck {} kB); set LimitMEMLOCK=infinity to lock everything",
        limit / 1024,
        locked_kb().unwrap_or(0)
    );
    Ok(MemoryLock::KeyPagesOnly { limit_bytes: limit })
}

/// No core dumps, no ptrace attach by other same-uid processes, no
/// `/proc/PID/mem` reads by them.
pub fn forbid_dumps() -> Result<()> {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads one rlimit struct; prctl takes integers.
    unsafe {
        if libc::setrlimit(libc::RLIMIT_CORE, &zero) != 0 {
            return Err(Error::io(
                "cannot set RLIMIT_CORE to 0",
                std::io::Error::last_os_error(),
            ));
        }
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
            return Err(Error::io(
                "cannot clear PR_SET_DUMPABLE",
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}
