//! Process hardening, applied once, in this order, after the database file
//! is open and the sockets are bound and before the first client byte is
//! read: lock memory, forbid dumps, drop every capability, set
//! `no_new_privs`, install the seccomp filter on every thread.
//! `docs/SECURITY.md` says what each layer stops and which test shows it.

pub mod memory;
pub mod privileges;
pub mod seccomp;

use crate::error::Result;
pub use memory::MemoryLock;

/// What was applied, for the start-up log and `red version`.
#[derive(Debug, Clone, Copy)]
pub struct Hardened {
    pub memory: MemoryLock,
    pub seccomp: bool,
}

/// Applies every layer. `require_mlock` turns a partial memory lock into an
/// error. There is no switch to skip the seccomp filter: tests run with it.
pub fn apply(require_mlock: bool) -> Result<Hardened> {
    let memory = memory::lock_memory(require_mlock)?;
    memory::forbid_dumps()?;
    privileges::drop_all_capabilities()?;
    privileges::set_no_new_privs()?;
    seccomp::install()?;
    Ok(Hardened {
        memory,
        seccomp: true,
    })
}
