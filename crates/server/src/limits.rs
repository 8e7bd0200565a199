//! The open-file limit the daemon runs under: raising the soft
//! `RLIMIT_NOFILE` at start-up so the configured number of connections
//! fits, and saying how many fit when the hard limit is lower.
//!
//! Owns the daemon's one `getrlimit`/`setrlimit` pair and the descriptors
//! kept aside for everything that is not a client ([`RESERVED_FDS`]). Must
//! never run after the seccomp filter is installed, and never lowers a
//! limit.

/// Default of `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

/// Default of `--max-buffer-memory` (256 MiB).
pub const DEFAULT_MAX_BUFFER_MEMORY: usize = 256 * 1024 * 1024;

/// File descriptors kept aside for everything that is not a client
/// connection (stdio, listeners, epoll, signal pipe, waker, the database
/// file, worker threads, a margin).
pub(crate) const RESERVED_FDS: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` toward the hard limit (as far as
/// `wanted` connections plus [`RESERVED_FDS`] need) and returns how many
/// connections the resulting limit allows: `wanted`, or less when the hard
/// limit is lower. Call at start-up, before the seccomp filter is
/// installed. A failure to raise keeps the current limit.
pub fn fit_connections_to_fd_limit(wanted: usize) -> usize {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return wanted;
    }
    let need = (wanted as u64).saturating_add(RESERVED_FDS);
    if r.rlim_cur != libc::RLIM_INFINITY && r.rlim_cur < need {
        let target = if r.rlim_max == libc::RLIM_INFINITY {
            need
        } else {
            need.min(r.rlim_max)
        };
        if target > r.rlim_cur {
            let raised = libc::rlimit {
                rlim_cur: target,
                rlim_max: r.rlim_max,
            };
            // SAFETY: setrlimit reads one rlimit struct we own; raising the
            // soft limit up to the hard limit needs no privilege.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                r.rlim_cur = target;
            }
        }
    }
    if r.rlim_cur == libc::RLIM_INFINITY {
        return wanted;
    }
    let fit = r.rlim_cur.saturating_sub(RESERVED_FDS).max(1);
    usize::try_from(fit).map_or(wanted, |fit| wanted.min(fit))
}
