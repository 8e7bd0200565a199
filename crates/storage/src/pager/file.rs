//! Opening the database file: mode 0600, close-on-exec, exclusive lock.
//!
//! The lock is `flock(LOCK_EX | LOCK_NB)` on the open file description and
//! lives as long as the `File`: a second process (or a second open in this
//! one) on the same file is refused at once with [`Error::Locked`] instead
//! of waiting or corrupting. A file readable by group or others is narrowed
//! to 0600 on open, because the header reveals which certificate opens it.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Opens (creating if asked) and locks the database file.
pub(crate) fn open_locked(path: &Path, create: bool) -> Result<File> {
    let shown = path.display().to_string();
    if path.is_dir() {
        return Err(Error::io(
            format!("cannot open database file {shown}"),
            std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory"),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| open_error(&shown, e))?;
    // SAFETY: flock on a valid, owned descriptor; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        return if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Err(Error::Locked(shown))
        } else {
            Err(Error::io(format!("cannot lock database file {shown}"), err))
        };
    }
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("cannot stat database file {shown}"), e))?;
    if !meta.is_file() {
        return Err(Error::UnsupportedFormat(format!(
            "{shown} is not a regular file"
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(format!("cannot set mode 0600 on {shown}"), e))?;
    }
    Ok(file)
}

/// Makes a rename or creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::io(format!("cannot open {}", dir.display()), e))?;
    d.sync_all()
        .map_err(|e| Error::io(format!("cannot sync {}", dir.display()), e))
}

/// The error for a database file that could not be opened: missing, or
/// not openable (permissions, a symlink refused by `O_NOFOLLOW`, …).
pub fn open_error(shown: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::io(format!("database file {shown} does not exist"), e)
    } else {
        Error::io(format!("cannot open database file {shown}"), e)
    }
}
