//! Dropping every capability (effective, permitted, inheritable, ambient
//! and bounding) and setting `no_new_privs`, so that nothing the process
//! does later — even with a code-execution bug — can regain privilege.

use crate::error::{Error, Result};
use caps::CapSet;

/// Empties every capability set. Dropping the bounding set needs
/// `CAP_SETPCAP` (root, or systemd's `CapabilityBoundingSet=` already
/// emptied it); an unprivileged process keeps its inherited bounding set,
/// which `no_new_privs` makes inert.
pub fn drop_all_capabilities() -> Result<()> {
    let err = |what: &str, e: caps::errors::CapsError| {
        Error::Internal(format!("cannot clear {what} capabilities: {e}"))
    };
    if !caps::read(None, CapSet::Ambient)
        .map_err(|e| err("ambient", e))?
        .is_empty()
    {
        caps::clear(None, CapSet::Ambient).map_err(|e| err("ambient", e))?;
    }
    let bounding = caps::read(None, CapSet::Bounding).map_err(|e| err("bounding", e))?;
    let can_drop =
        caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).unwrap_or(false);
    if !bounding.is_empty() {
        if can_drop {
            for cap in bounding {
                caps::drop(None, CapSet::Bounding, cap).map_err(|e| err("bounding", e))?;
            }
        } else {
            // Without CAP_SETPCAP the bounding set cannot shrink; with every
            // other set empty and no_new_privs set, nothing can be gained
            // from it (execve ignores file capabilities under no_new_privs).
            crate::log_info!(
                "capabilities: bounding set left as inherited ({} entries; needs CAP_SETPCAP to drop); all other sets emptied",
                bounding.len()
            );
        }
    }
    // capset(2) only when a set is not already empty: under systemd with
    // an empty bounding set the process starts with nothing, and the unit
    // can then keep capset out of its syscall filter entirely.
    for (set, name) in [
        (CapSet::Inheritable, "inheritable"),
        (CapSet::Effective, "effective"),
        (CapSet::Permitted, "permitted"),
    ] {
        let current = caps::read(None, set).map_err(|e| err(name, e))?;
        if !current.is_empty() {
            caps::clear(None, set).map_err(|e| err(name, e))?;
        }
    }
    Ok(())
}

/// `PR_SET_NO_NEW_PRIVS`: execve can never grant privileges again (and a
/// seccomp filter can be installed without `CAP_SYS_ADMIN`).
pub fn set_no_new_privs() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(Error::io(
            "cannot set no_new_privs",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
