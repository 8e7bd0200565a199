//! Dropping every capability (effective, permitted, inheritable, ambient
//! and bounding) and setting `no_new_privs`, so that nothing the process
//! does later — even with a code-execution bug — can regain privilege.
//!
//! Capabilities and `no_new_privs` belong to a *thread*, not to the
//! process: `capset(2)`, the bounding-set drop, the ambient clear and
//! `PR_SET_NO_NEW_PRIVS` change the calling thread only, and a new thread
//! copies the sets of the thread that created it. So both run while the
//! process still has one thread, and [`verify_every_thread`] reads every
//! `/proc/self/task/*/status` afterwards and refuses to go on if any thread
//! kept a capability or lacks `no_new_privs`.

use caps::CapSet;
use reddb_storage::error::{Error, Result};

/// Empties every capability set. Dropping the bounding set needs
/// `CAP_SETPCAP` (root, or systemd's `CapabilityBoundingSet=` already
/// emptied it); an unprivileged process keeps its inherited bounding set,
/// which `no_new_privs` makes inert. Returns whether the bounding set is
/// empty afterwards (so every thread's must be too).
pub(crate) fn drop_all_capabilities() -> Result<bool> {
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
    let mut bounding_empty = bounding.is_empty();
    if !bounding.is_empty() {
        if can_drop {
            for cap in bounding {
                caps::drop(None, CapSet::Bounding, cap).map_err(|e| err("bounding", e))?;
            }
            bounding_empty = true;
        } else {
            // Without CAP_SETPCAP the bounding set cannot shrink; with every
            // other set empty and no_new_privs set, nothing can be gained
            // from it (execve ignores file capabilities under no_new_privs).
            reddb_storage::log_info!(
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
    Ok(bounding_empty)
}

/// `PR_SET_NO_NEW_PRIVS`: execve can never grant privileges again (and a
/// seccomp filter can be installed without `CAP_SYS_ADMIN`).
pub(crate) fn set_no_new_privs() -> Result<()> {
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

/// Reads `/proc/self/task/*/status` of every thread and refuses (with the
/// thread's name and the offending field, never anything else) when one
/// holds a capability in its effective, permitted, inheritable or ambient
/// set, in its bounding set when `bounding_empty` (the process could and
/// did empty it), or lacks `no_new_privs`. Must run before the seccomp
/// filter, which does not allow listing a directory. Returns the number
/// of threads checked.
pub(crate) fn verify_every_thread(bounding_empty: bool) -> Result<usize> {
    let tasks = std::fs::read_dir("/proc/self/task")
        .map_err(|e| Error::io("cannot list /proc/self/task", e))?;
    let mut checked = 0usize;
    for task in tasks {
        let task = task.map_err(|e| Error::io("cannot list /proc/self/task", e))?;
        let status = match std::fs::read_to_string(task.path().join("status")) {
            Ok(s) => s,
            // A thread that ended between the listing and the read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("cannot read a thread's /proc status", e)),
        };
        check_thread_status(&status, bounding_empty).map_err(|problem| {
            Error::Internal(format!(
                "refusing to start: thread '{}' ({}) {problem}; every capability must be dropped \
                 before any thread is started",
                status_field(&status, "Name").unwrap_or("?"),
                task.file_name().to_string_lossy()
            ))
        })?;
        checked += 1;
    }
    if checked == 0 {
        return Err(Error::Internal(
            "refusing to start: /proc/self/task lists no thread".into(),
        ));
    }
    Ok(checked)
}

fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// What is wrong with one thread's `/proc/.../status` text, if anything.
/// A missing or unreadable field counts as wrong (fail closed).
pub(crate) fn check_thread_status(
    status: &str,
    bounding_empty: bool,
) -> std::result::Result<(), String> {
    let mut sets = vec!["CapEff", "CapPrm", "CapInh", "CapAmb"];
    if bounding_empty {
        sets.push("CapBnd");
    }
    for set in sets {
        match status_field(status, set).map(|v| u64::from_str_radix(v, 16)) {
            Some(Ok(0)) => {}
            Some(Ok(_)) => return Err(format!("still holds capabilities in {set}")),
            _ => return Err(format!("shows no readable {set}")),
        }
    }
    match status_field(status, "NoNewPrivs") {
        Some("1") => Ok(()),
        _ => Err("is not under no_new_privs".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_thread_status;

    const CLEAN: &str = "Name:\tred-worker-0\nCapInh:\t0000000000000000\n\
        CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n\
        CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n";

    #[test]
    fn every_set_and_no_new_privs_are_checked() {
        assert_eq!(check_thread_status(CLEAN, true), Ok(()));
        for set in ["CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"] {
            let bad = CLEAN.replace(
                &format!("{set}:\t0000000000000000"),
                &format!("{set}:\t000001fffeffffff"),
            );
            assert!(check_thread_status(&bad, true).is_err(), "{set}");
            let missing = CLEAN.replace(&format!("{set}:"), "Other:");
            assert!(check_thread_status(&missing, true).is_err(), "{set}");
        }
        // A bounding set the process could not drop is not held against it.
        let bnd = CLEAN.replace("CapBnd:\t0000000000000000", "CapBnd:\t000001fffeffffff");
        assert_eq!(check_thread_status(&bnd, false), Ok(()));
        let nnp = CLEAN.replace("NoNewPrivs:\t1", "NoNewPrivs:\t0");
        assert!(check_thread_status(&nnp, false).is_err());
    }
}
