//! Guarded memory for key material.
//!
//! [`Locked<T>`] and [`LockedBuf`] place their contents in a `memsec`
//! allocation: the data pages are `mlock`ed and marked `MADV_DONTDUMP`, sit
//! between `PROT_NONE` guard pages, and carry a canary checked on free. On
//! drop the contents are dropped in place, overwritten with zeros through
//! volatile writes, and the pages unlocked (memsec zeroes them again) and
//! unmapped.
//!
//! These types deliberately implement neither `Debug`, `Display`, `Clone`
//! nor `Serialize`: key material cannot be printed or copied into ordinary
//! memory by accident. This is checked at compile time:
//!
//! ```compile_fail
//! let key = reddb::crypto::locked::Locked::<[u8; 32]>::zeroed().unwrap();
//! println!("{:?}", key); // Locked has no Debug: this does not compile
//! ```
//!
//! ```compile_fail
//! fn needs_clone<T: Clone>() {}
//! needs_clone::<reddb::crypto::locked::Locked<[u8; 32]>>(); // nor Clone
//! ```
//!
//! (`Deref` still lets code copy the bytes *out* — `*key` or
//! `key.clone()` on a `Locked<[u8; 32]>` yield a plain array — so code that
//! touches key bytes is kept to `crypto/`, and reviewed.)
//!
//! memsec does not report an `mlock` failure (it ignores the result), so
//! this module locks the pages a second time itself and counts failures in
//! [`lock_failures`]; the hardening layer reports or refuses on that count.

use crate::error::{Error, Result};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

static LOCK_FAILURES: AtomicUsize = AtomicUsize::new(0);
static LOCKED_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// How many guarded allocations could not be `mlock`ed (memlock limit).
pub fn lock_failures() -> usize {
    LOCK_FAILURES.load(Ordering::Relaxed)
}

/// How many guarded allocations are live right now.
pub fn live_allocations() -> usize {
    LOCKED_ALLOCATIONS.load(Ordering::Relaxed)
}

/// Locks the pages spanning `[ptr, ptr+len)` and records a failure.
fn verify_lock(ptr: *mut u8, len: usize) {
    if len == 0 {
        return;
    }
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(page).unwrap_or(4096).max(1);
    let start = (ptr as usize) & !(page - 1);
    let end = (ptr as usize).saturating_add(len);
    // SAFETY: the range lies inside a live memsec mapping that we own; mlock
    // only changes residency and reads no memory.
    let rc = unsafe { libc::mlock(start as *const libc::c_void, end - start) };
    if rc != 0 {
        LOCK_FAILURES.fetch_add(1, Ordering::Relaxed);
    }
}

/// Overwrites `len` bytes at `ptr` with zeros in a way the optimiser keeps.
///
/// # Safety
/// `ptr..ptr+len` must be valid for writes.
unsafe fn wipe(ptr: *mut u8, len: usize) {
    for i in 0..len {
        // SAFETY: the caller guarantees the range is writable.
        unsafe { std::ptr::write_volatile(ptr.add(i), 0) };
    }
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

#[cfg(test)]
thread_local! {
    /// Test-only: the bytes of the last wiped allocation, read just before
    /// the pages are returned, so a test can see that drop zeroized them.
    pub(crate) static LAST_WIPED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
fn record_wiped(ptr: *const u8, len: usize) {
    // SAFETY: called from drop before the allocation is freed; the range is
    // readable.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec();
    LAST_WIPED.with(|w| *w.borrow_mut() = bytes);
}

/// A value of type `T` living in guarded, locked, non-dumpable memory.
pub struct Locked<T> {
    ptr: NonNull<T>,
}

// SAFETY: Locked<T> owns its allocation exclusively, like Box<T>.
unsafe impl<T: Send> Send for Locked<T> {}
// SAFETY: shared access only hands out &T, like Box<T>.
unsafe impl<T: Sync> Sync for Locked<T> {}

impl<T> Locked<T> {
    fn allocate() -> Result<NonNull<T>> {
        // SAFETY: memsec::malloc returns either None or a pointer to
        // size_of::<T>() writable bytes aligned for T (page-aligned end,
        // canary before); we initialise it before any read.
        let ptr = unsafe { memsec::malloc::<T>() }.ok_or_else(|| {
            Error::SecureMemory("guarded allocation failed (mmap refused)".into())
        })?;
        verify_lock(ptr.as_ptr().cast(), std::mem::size_of::<T>());
        LOCKED_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        Ok(ptr)
    }

    /// Moves `value` into guarded memory. The value passes through the
    /// stack on its way in; callers that build key schedules this way call
    /// [`scrub_stack`] afterwards.
    pub fn new(value: T) -> Result<Self> {
        let ptr = Self::allocate()?;
        // SAFETY: ptr is valid for a write of T and uninitialised.
        unsafe { ptr.as_ptr().write(value) };
        Ok(Self { ptr })
    }
}

impl<const N: usize> Locked<[u8; N]> {
    /// An all-zero byte array in guarded memory, to be filled in place.
    pub fn zeroed() -> Result<Self> {
        let ptr = Self::allocate()?;
        // SAFETY: ptr is valid for N bytes.
        unsafe { ptr.as_ptr().cast::<u8>().write_bytes(0, N) };
        Ok(Self { ptr })
    }

    /// Fresh random bytes generated directly into guarded memory.
    pub fn random() -> Result<Self> {
        let mut out = Self::zeroed()?;
        crate::crypto::random::fill(&mut out[..])?;
        Ok(out)
    }

    /// Copies `bytes` (which must be exactly N long) into guarded memory.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != N {
            return Err(Error::Internal(format!(
                "key material of {} bytes where {N} were expected",
                bytes.len()
            )));
        }
        let mut out = Self::zeroed()?;
        out.copy_from_slice(bytes);
        Ok(out)
    }
}

impl<T> Deref for Locked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: ptr is initialised and exclusively owned by self.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> DerefMut for Locked<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: ptr is initialised and &mut self guarantees uniqueness.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for Locked<T> {
    fn drop(&mut self) {
        let len = std::mem::size_of::<T>();
        // SAFETY: ptr holds an initialised T owned by self; after
        // drop_in_place we only overwrite its bytes, then hand the
        // allocation back to memsec, which is where it came from.
        unsafe {
            std::ptr::drop_in_place(self.ptr.as_ptr());
            wipe(self.ptr.as_ptr().cast(), len);
            #[cfg(test)]
            record_wiped(self.ptr.as_ptr().cast(), len);
            memsec::free(self.ptr);
        }
        LOCKED_ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A variable-length byte buffer in guarded memory (decrypted vault
/// payloads, passwords on their way to Argon2).
pub(crate) struct LockedBuf {
    ptr: NonNull<[u8]>,
    len: usize,
}

// SAFETY: exclusive ownership of the allocation, like Vec<u8>.
unsafe impl Send for LockedBuf {}
// SAFETY: &LockedBuf only gives out &[u8].
unsafe impl Sync for LockedBuf {}

impl LockedBuf {
    /// A zeroed buffer of `len` bytes (at least one byte is allocated).
    pub fn zeroed(len: usize) -> Result<Self> {
        // SAFETY: memsec::malloc_sized returns None or `len.max(1)` writable
        // bytes; we zero them before use.
        let ptr = unsafe { memsec::malloc_sized(len.max(1)) }.ok_or_else(|| {
            Error::SecureMemory(format!("guarded allocation of {len} bytes failed"))
        })?;
        // SAFETY: the allocation holds len.max(1) bytes.
        unsafe { ptr.as_ptr().cast::<u8>().write_bytes(0, len.max(1)) };
        verify_lock(ptr.as_ptr().cast(), len.max(1));
        LOCKED_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        Ok(Self { ptr, len })
    }

    /// Copies `bytes` into a new guarded buffer.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let mut out = Self::zeroed(bytes.len())?;
        out.copy_from_slice(bytes);
        Ok(out)
    }
}

impl Deref for LockedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the allocation is at least `len` initialised bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>(), self.len) }
    }
}

impl DerefMut for LockedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and &mut self is unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast::<u8>(), self.len) }
    }
}

impl Drop for LockedBuf {
    fn drop(&mut self) {
        let full = self.ptr.len();
        // SAFETY: the whole allocation is writable and owned by self; it is
        // returned to memsec which allocated it.
        unsafe {
            wipe(self.ptr.as_ptr().cast(), full);
            #[cfg(test)]
            record_wiped(self.ptr.as_ptr().cast(), full);
            memsec::free(self.ptr);
        }
        LOCKED_ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Overwrites a stretch of the stack below the caller's frame with zeros.
///
/// Building an AES key schedule or reading an HMAC output moves key bytes
/// through temporaries on the stack; calling this right after such a step
/// wipes the region those temporaries occupied.
#[inline(never)]
pub(crate) fn scrub_stack() {
    let mut area = [0xA5u8; 16 * 1024];
    // SAFETY: `area` is a live local array; volatile writes keep the
    // optimiser from removing the wipe.
    unsafe { wipe(area.as_mut_ptr(), area.len()) };
    std::hint::black_box(&area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_zeroizes_fixed_key() {
        let mut key = Locked::<[u8; 32]>::zeroed().unwrap();
        key.copy_from_slice(&[0x5Au8; 32]);
        assert_eq!(key[0], 0x5A);
        drop(key);
        let wiped = LAST_WIPED.with(|w| w.borrow().clone());
        assert_eq!(wiped.len(), 32);
        assert!(
            wiped.iter().all(|b| *b == 0),
            "bytes left after drop: {wiped:?}"
        );
    }

    #[test]
    fn random_keys_differ_and_are_not_zero() {
        let a = Locked::<[u8; 32]>::random().unwrap();
        let b = Locked::<[u8; 32]>::random().unwrap();
        assert_ne!(&a[..], &b[..]);
        assert_ne!(&a[..], &[0u8; 32][..]);
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(Locked::<[u8; 32]>::from_slice(&[1u8; 31]).is_err());
        assert!(Locked::<[u8; 32]>::from_slice(&[1u8; 32]).is_ok());
    }
}
