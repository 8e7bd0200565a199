//! The byte-level storage interface under the pager.
//!
//! [`PageIo`] is what the pager needs from a file: positional reads and
//! writes, a durability barrier, and the length. [`FileIo`] is the real
//! file. Tests substitute a fault-injecting implementation that forgets or
//! tears writes not yet covered by a `sync`, which is how the crash tests
//! simulate power loss at every point.
//!
//! [`SyncBarrier`] is the durability barrier alone, detached from the
//! pager so that another thread can run it (the server's sync thread runs
//! each group commit's `fdatasync` while the event loop keeps serving).

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
    /// A barrier another thread can run: every write made through this
    /// file before [`SyncBarrier::sync`] starts survives a crash after it
    /// returns. Files that cannot hand one out say `Unsupported` (the
    /// caller then syncs in line).
    fn barrier(&self) -> io::Result<Box<dyn SyncBarrier>> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// The durability barrier of one file, usable from another thread.
pub trait SyncBarrier: Send {
    /// Makes every write to the file issued before this call durable.
    fn sync(&mut self) -> io::Result<()>;
}

/// The real file's barrier: its own descriptor (a `dup` of the pager's),
/// so the file stays open for as long as the barrier is held, whatever
/// happens to the pager meanwhile.
struct FileBarrier(File);

impl SyncBarrier for FileBarrier {
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
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

    fn barrier(&self) -> io::Result<Box<dyn SyncBarrier>> {
        Ok(Box::new(FileBarrier(self.file.try_clone()?)))
    }
}
