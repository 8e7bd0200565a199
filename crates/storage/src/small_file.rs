//! Reading a small file whole, safely: credential files (`*_FILE`,
//! `$CREDENTIALS_DIRECTORY`) and logical backup files.
//!
//! The file is opened non-blocking and checked with `fstat` before any
//! read, so a FIFO, device or directory put where a file was expected is
//! refused at once instead of blocking the caller (the event loop, on
//! SIGHUP or `POST /admin/restore`); a file larger than the caller's bound is
//! refused before it is loaded, and one that grows while being read is
//! refused too. Owns no policy about what the bytes mean.

use std::io::{Error, ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why [`read_regular_file`] refused.
#[derive(Debug)]
pub enum SmallFileError {
    /// Opening, `fstat` or reading failed.
    Io(Error),
    /// Not a regular file (FIFO, device, directory, socket).
    NotRegular,
    /// Longer than the bound.
    TooLarge,
}

/// The whole contents of the regular file at `path` (symlinks followed),
/// at most `max_len` bytes.
pub fn read_regular_file(path: &Path, max_len: u64) -> Result<Vec<u8>, SmallFileError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(SmallFileError::Io)?;
    let meta = file.metadata().map_err(SmallFileError::Io)?;
    if !meta.is_file() {
        return Err(SmallFileError::NotRegular);
    }
    if meta.len() > max_len {
        return Err(SmallFileError::TooLarge);
    }
    let mut out = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max_len.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(SmallFileError::Io)?;
    if out.len() as u64 > max_len {
        return Err(SmallFileError::TooLarge);
    }
    Ok(out)
}

impl SmallFileError {
    /// The `std::io::Error` form, for callers that report I/O errors.
    pub(crate) fn into_io(self) -> Error {
        match self {
            SmallFileError::Io(e) => e,
            SmallFileError::NotRegular => Error::new(ErrorKind::InvalidInput, "not a regular file"),
            SmallFileError::TooLarge => Error::new(ErrorKind::InvalidData, "file too large"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_regular_file(&f, 5).unwrap(), b"12345");
        assert!(matches!(
            read_regular_file(&f, 4),
            Err(SmallFileError::TooLarge)
        ));
        assert!(matches!(
            read_regular_file(dir.path(), 5),
            Err(SmallFileError::NotRegular)
        ));
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads one NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Returns at once (no writer would ever come).
        assert!(matches!(
            read_regular_file(&fifo, 5),
            Err(SmallFileError::NotRegular)
        ));
        assert!(matches!(
            read_regular_file(&dir.path().join("none"), 5),
            Err(SmallFileError::Io(e)) if e.kind() == ErrorKind::NotFound
        ));
    }
}
