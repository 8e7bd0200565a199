//! The byte-level storage interface under the pager.
//!
//! [`PageIo`] is what the pager needs from a file: positional reads and
//! writes, a durability barrier, and the length. [`FileIo`] is the real
//! file. Tests substitute a fault-injecting implementation that forgets or
//! tears writes not yet covered by a `sync`, which is how the crash tests
//! simulate power loss at every point.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

#[allow(clippy::len_without_is_empty)] // a file length, not a collection
pub trait PageIo: Send {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were
    /// read (fewer at end of file).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Durability barrier: every write before it survives a crash after it.
    fn sync(&mut self) -> io::Result<()>;
    /// Current length in bytes.
    fn len(&mut self) -> io::Result<u64>;
    /// Shrinks or grows the file.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
}

/// The real database file.
pub struct FileIo {
    file: File,
}

impl FileIo {
    pub fn new(file: File) -> Self {
        Self { file }
    }
}

impl PageIo for FileIo {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let slot = buf.get_mut(done..).unwrap_or(&mut []);
            match self.file.read_at(slot, offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn len(&mut self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}
