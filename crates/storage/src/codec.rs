//! Total, panic-free byte codec shared by every on-disk parser.
//!
//! A [`Reader`] walks a borrowed byte slice and every read returns `Option`,
//! so a parser built on it cannot index out of bounds or allocate a length it
//! has not first checked against the bytes actually present. A [`Writer`] is
//! the matching encoder. Integers are big-endian everywhere in the file
//! format. This module owns no I/O and knows nothing about pages or keys.

/// A cursor over a borrowed byte slice. Reads never panic.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.offset)
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Takes exactly `len` bytes, or `None` when fewer remain.
    pub fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.offset.checked_add(len)?;
        let out = self.bytes.get(self.offset..end)?;
        self.offset = end;
        Some(out)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Some(out)
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|b| b[0])
    }

    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    /// A `u32` length prefix followed by that many bytes, refused when the
    /// length exceeds `max` or the bytes present. Only the round-trip test
    /// reads this way: the record decoder reads the length itself, to say
    /// why it refuses.
    #[cfg(test)]
    pub(crate) fn bytes_u32(&mut self, max: usize) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        if len > max {
            return None;
        }
        self.take(len)
    }

    /// What is left, consuming it.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.bytes.get(self.offset..).unwrap_or(&[]);
        self.offset = self.bytes.len();
        out
    }
}

/// An append-only encoder producing the big-endian layout `Reader` reads.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
        }
    }

    /// Appends after what `bytes` already holds (its capacity reused).
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn put(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.put(&[v])
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.put(&v.to_be_bytes())
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.put(&v.to_be_bytes())
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.put(&v.to_be_bytes())
    }

    /// A `u32` length prefix and the bytes. Callers bound lengths well below
    /// `u32::MAX` (see the record limits), so the cast saturates only on
    /// inputs that were already refused.
    pub(crate) fn bytes_u32(&mut self, bytes: &[u8]) -> &mut Self {
        self.u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        self.put(bytes)
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.bytes
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_short_input() {
        let mut w = Writer::new();
        w.u8(7).u16(513).u32(70000).u64(1 << 40).bytes_u32(b"abc");
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8(), Some(7));
        assert_eq!(r.u16(), Some(513));
        assert_eq!(r.u32(), Some(70000));
        assert_eq!(r.u64(), Some(1 << 40));
        assert_eq!(r.bytes_u32(16), Some(&b"abc"[..]));
        assert!(r.is_empty());
        assert_eq!(r.u8(), None);
        let mut r = Reader::new(&bytes[..bytes.len() - 1]);
        r.take(15).map(|_| ()).unwrap_or(());
        assert_eq!(r.bytes_u32(16), None, "truncated length-prefixed bytes");
        let mut r = Reader::new(&bytes[15..]);
        assert_eq!(r.bytes_u32(2), None, "length above the caller's maximum");
    }
}
