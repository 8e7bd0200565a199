//! Installing the seccomp filter compiled at build time from
//! `seccomp/policy.json` (see `build.rs`). The filter is applied to every
//! thread at once (`SECCOMP_FILTER_FLAG_TSYNC`); its default action kills
//! the whole process, so a syscall outside the allowlist ends the daemon
//! with SIGSYS instead of running.

use reddb_storage::error::{Error, Result};

static PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/seccomp.bpf"));

/// Number of distinct syscalls the policy allows.
pub(crate) const ALLOWED_SYSCALLS: &str = env!("REDDB_SECCOMP_SYSCALLS");

/// Whether this build carries a filter for its architecture.
pub fn available() -> bool {
    !PROGRAM.is_empty()
}

fn program() -> Vec<seccompiler::sock_filter> {
    PROGRAM
        .chunks_exact(8)
        .filter_map(|c| <[u8; 8]>::try_from(c).ok())
        .map(
            |[c0, c1, jt, jf, k0, k1, k2, k3]| seccompiler::sock_filter {
                code: u16::from_ne_bytes([c0, c1]),
                jt,
                jf,
                k: u32::from_ne_bytes([k0, k1, k2, k3]),
            },
        )
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
