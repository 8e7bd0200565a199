//! Installing the seccomp filter compiled at build time from
//! `seccomp/policy.json` (see `build.rs`). The filter is applied to every
//! thread at once (`SECCOMP_FILTER_FLAG_TSYNC`); its default action kills
//! the whole process, so a syscall outside the allowlist ends the daemon
//! with SIGSYS instead of running.

use crate::error::{Error, Result};

static PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/seccomp.bpf"));

/// Number of distinct syscalls the policy allows.
pub const ALLOWED_SYSCALLS: &str = env!("REDDB_SECCOMP_SYSCALLS");

/// Whether this build carries a filter for its architecture.
pub fn available() -> bool {
    !PROGRAM.is_empty()
}

fn program() -> Vec<seccompiler::sock_filter> {
    PROGRAM
        .chunks_exact(8)
        .map(|c| seccompiler::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// Installs the filter on all threads. Requires `no_new_privs` first.
pub fn install() -> Result<()> {
    if !available() {
        return Err(Error::Internal(
            "this build has no seccomp filter for its architecture".into(),
        ));
    }
    let prog = program();
    seccompiler::apply_filter_all_threads(&prog)
        .map_err(|e| Error::Internal(format!("cannot install the seccomp filter: {e}")))
}
