//! The packed encodings Redis stores small collections in, each a blob
//! inside one RDB string: ziplist, listpack, intset and zipmap. Pure and
//! total: every header, length and entry is checked against the blob; a
//! blob that does not parse is a [`PackedError`], never a panic.
//!
//! Integers stored natively come out as their decimal text, as Redis
//! returns them.

/// Why a packed blob did not parse (the reader adds which encoding and the
/// file offset of the blob).
pub type PackedError = &'static str;

/// One element of a ziplist or listpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

impl Element<'_> {
    /// The element as Redis would return it: the bytes, or the integer's
    /// decimal text.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Element::Bytes(b) => b.to_vec(),
            Element::Int(i) => i.to_string().into_bytes(),
        }
    }

    /// Bytes [`Element::to_vec`] will allocate (at most 20 for an integer).
    pub fn decoded_len(self) -> usize {
        match self {
            Element::Bytes(b) => b.len(),
            Element::Int(_) => 20,
        }
    }
}

/// A bounds-checked position in a blob.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PackedError> {
        let end = self.pos.checked_add(n).ok_or("entry length overflows")?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or("entry runs past the blob")?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, PackedError> {
        Ok(*self.take(1)?.first().ok_or("entry runs past the blob")?)
    }

    fn peek(&self) -> Result<u8, PackedError> {
        self.buf.get(self.pos).copied().ok_or("missing end marker")
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N], PackedError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// A little-endian signed integer of `n` bytes (1..=8), sign-extended.
    fn int_le(&mut self, n: usize) -> Result<i64, PackedError> {
        let bytes = self.take(n)?;
        let mut v: u64 = 0;
        for (i, &b) in bytes.iter().enumerate() {
            v |= u64::from(b) << (8 * i);
        }
        let shift = 64 - 8 * n as u32;
        Ok(((v << shift) as i64) >> shift)
    }

    fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }
}

/// Walks a ziplist: `zlbytes u32 | zltail u32 | zllen u16 | entry* | 0xff`,
/// entry = `prevlen (1 byte < 254, or 254 + u32) | encoding | data`.
pub struct Ziplist<'a> {
    cur: Cursor<'a>,
    declared: u16,
    seen: usize,
    done: bool,
}

impl<'a> Ziplist<'a> {
    pub fn new(blob: &'a [u8]) -> Result<Self, PackedError> {
        let mut cur = Cursor { buf: blob, pos: 0 };
        let total = u32::from_le_bytes(cur.le::<4>()?);
        if total as usize != blob.len() {
            return Err("ziplist size header does not match the blob");
        }
        let tail = u32::from_le_bytes(cur.le::<4>()?);
        if tail as usize >= blob.len() {
            return Err("ziplist tail offset past the blob");
        }
        let declared = u16::from_le_bytes(cur.le::<2>()?);
        Ok(Self {
            cur,
            declared,
            seen: 0,
            done: false,
        })
    }

    fn entry(&mut self) -> Result<Option<Element<'a>>, PackedError> {
        if self.cur.peek()? == 0xff {
            self.cur.pos += 1;
            if !self.cur.at_end() {
                return Err("bytes after the ziplist end marker");
            }
            if self.declared != u16::MAX && usize::from(self.declared) != self.seen {
                return Err("ziplist entry count does not match its header");
            }
            return Ok(None);
        }
        let prevlen = self.cur.u8()?;
        if prevlen == 254 {
            self.cur.take(4)?;
        } else if prevlen == 255 {
            return Err("ziplist prevlen byte 255");
        }
        let enc = self.cur.u8()?;
        let element = match enc >> 6 {
            0 => Element::Bytes(self.cur.take(usize::from(enc & 0x3f))?),
            1 => {
                let low = self.cur.u8()?;
                Element::Bytes(
                    self.cur
                        .take((usize::from(enc & 0x3f) << 8) | usize::from(low))?,
                )
            }
            2 => {
                if enc != 0x80 {
                    return Err("ziplist string encoding with stray bits");
                }
                let len = u32::from_be_bytes(self.cur.le::<4>()?);
                Element::Bytes(self.cur.take(len as usize)?)
            }
            _ => match enc {
                0xc0 => Element::Int(self.cur.int_le(2)?),
                0xd0 => Element::Int(self.cur.int_le(4)?),
                0xe0 => Element::Int(self.cur.int_le(8)?),
                0xf0 => Element::Int(self.cur.int_le(3)?),
                0xfe => Element::Int(self.cur.int_le(1)?),
                0xf1..=0xfd => Element::Int(i64::from(enc & 0x0f) - 1),
                _ => return Err("unknown ziplist entry encoding"),
            },
        };
        self.seen += 1;
        Ok(Some(element))
    }
}

impl<'a> Iterator for Ziplist<'a> {
    type Item = Result<Element<'a>, PackedError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.entry() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Walks a listpack: `total u32 | count u16 | entry* | 0xff`, entry =
/// `encoding | data | backlen` (backlen: the entry's length in 1–5 bytes).
pub struct Listpack<'a> {
    cur: Cursor<'a>,
    declared: u16,
    seen: usize,
    done: bool,
}

/// Bytes the backlen of an entry of `len` bytes (encoding + data) takes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

impl<'a> Listpack<'a> {
    pub fn new(blob: &'a [u8]) -> Result<Self, PackedError> {
        let mut cur = Cursor { buf: blob, pos: 0 };
        let total = u32::from_le_bytes(cur.le::<4>()?);
        if total as usize != blob.len() {
            return Err("listpack size header does not match the blob");
        }
        let declared = u16::from_le_bytes(cur.le::<2>()?);
        Ok(Self {
            cur,
            declared,
            seen: 0,
            done: false,
        })
    }

    fn entry(&mut self) -> Result<Option<Element<'a>>, PackedError> {
        let start = self.cur.pos;
        let enc = self.cur.u8()?;
        if enc == 0xff {
            if !self.cur.at_end() {
                return Err("bytes after the listpack end marker");
            }
            if self.declared != u16::MAX && usize::from(self.declared) != self.seen {
                return Err("listpack entry count does not match its header");
            }
            return Ok(None);
        }
        let element = if enc & 0x80 == 0 {
            Element::Int(i64::from(enc & 0x7f))
        } else if enc & 0xc0 == 0x80 {
            Element::Bytes(self.cur.take(usize::from(enc & 0x3f))?)
        } else if enc & 0xe0 == 0xc0 {
            let low = i64::from(self.cur.u8()?);
            let v = (i64::from(enc & 0x1f) << 8) | low;
            Element::Int(if v >= 1 << 12 { v - (1 << 13) } else { v })
        } else if enc & 0xf0 == 0xe0 {
            let low = usize::from(self.cur.u8()?);
            Element::Bytes(self.cur.take((usize::from(enc & 0x0f) << 8) | low)?)
        } else {
            match enc {
                0xf0 => {
                    let len = u32::from_le_bytes(self.cur.le::<4>()?);
                    Element::Bytes(self.cur.take(len as usize)?)
                }
                0xf1 => Element::Int(self.cur.int_le(2)?),
                0xf2 => Element::Int(self.cur.int_le(3)?),
                0xf3 => Element::Int(self.cur.int_le(4)?),
                0xf4 => Element::Int(self.cur.int_le(8)?),
                _ => return Err("unknown listpack entry encoding"),
            }
        };
        let entry_len = self.cur.pos - start;
        self.cur.take(backlen_size(entry_len))?;
        self.seen += 1;
        Ok(Some(element))
    }
}

impl<'a> Iterator for Listpack<'a> {
    type Item = Result<Element<'a>, PackedError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.entry() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The members of an intset: `encoding u32 (2, 4 or 8) | length u32 |
/// length little-endian integers of that width`.
pub fn intset(blob: &[u8]) -> Result<Vec<i64>, PackedError> {
    let mut cur = Cursor { buf: blob, pos: 0 };
    let width = u32::from_le_bytes(cur.le::<4>()?) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset width is not 2, 4 or 8");
    }
    let len = u32::from_le_bytes(cur.le::<4>()?) as usize;
    if Some(blob.len() - 8) != len.checked_mul(width) {
        return Err("intset length does not match the blob");
    }
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        out.push(cur.int_le(width)?);
    }
    Ok(out)
}

/// A hash field and its value, borrowed from a blob.
pub type FieldValue<'a> = (&'a [u8], &'a [u8]);

/// The field/value pairs of a zipmap (Redis < 2.6 small hashes):
/// `zmlen u8 | (len field len free value free_bytes)* | 0xff`, where a len
/// is one byte below 254, or 254 and a u32.
pub fn zipmap(blob: &[u8]) -> Result<Vec<FieldValue<'_>>, PackedError> {
    let mut cur = Cursor { buf: blob, pos: 0 };
    cur.u8()?;
    let mut out = Vec::new();
    loop {
        let first = cur.u8()?;
        if first == 0xff {
            if !cur.at_end() {
                return Err("bytes after the zipmap end marker");
            }
            return Ok(out);
        }
        let field_len = zipmap_len(&mut cur, first)?;
        let field = cur.take(field_len)?;
        let first = cur.u8()?;
        let value_len = zipmap_len(&mut cur, first)?;
        let free = usize::from(cur.u8()?);
        let value = cur.take(value_len)?;
        cur.take(free)?;
        out.push((field, value));
    }
}

fn zipmap_len(cur: &mut Cursor<'_>, first: u8) -> Result<usize, PackedError> {
    match first {
        0..=253 => Ok(usize::from(first)),
        254 => Ok(u32::from_le_bytes(cur.le::<4>()?) as usize),
        _ => Err("zipmap length byte 255 inside an entry"),
    }
}

/// Encoders of the same formats, for tests and fuzz seeds (the reader
/// never calls them).
pub mod encode {
    /// A listpack holding `items` (integers as the shortest native form,
    /// when `ints` is set and the text is a canonical i64).
    pub fn listpack(items: &[Vec<u8>], ints: bool) -> Vec<u8> {
        let mut body = Vec::new();
        for item in items {
            let mut entry = Vec::new();
            let as_int = if ints { canonical_int(item) } else { None };
            match as_int {
                Some(v) if (0..=127).contains(&v) => entry.push(v as u8),
                Some(v) if (-4096..4096).contains(&v) => {
                    let u = (v as u16) & 0x1fff;
                    entry.push(0xc0 | (u >> 8) as u8);
                    entry.push(u as u8);
                }
                Some(v) if i16::try_from(v).is_ok() => {
                    entry.push(0xf1);
                    entry.extend_from_slice(&(v as i16).to_le_bytes());
                }
                Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                    entry.push(0xf2);
                    entry.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                Some(v) if i32::try_from(v).is_ok() => {
                    entry.push(0xf3);
                    entry.extend_from_slice(&(v as i32).to_le_bytes());
                }
                Some(v) => {
                    entry.push(0xf4);
                    entry.extend_from_slice(&v.to_le_bytes());
                }
                None if item.len() < 64 => {
                    entry.push(0x80 | item.len() as u8);
                    entry.extend_from_slice(item);
                }
                None if item.len() < 4096 => {
                    entry.push(0xe0 | (item.len() >> 8) as u8);
                    entry.push(item.len() as u8);
                    entry.extend_from_slice(item);
                }
                None => {
                    entry.push(0xf0);
                    entry.extend_from_slice(&(item.len() as u32).to_le_bytes());
                    entry.extend_from_slice(item);
                }
            }
            let len = entry.len();
            body.extend_from_slice(&entry);
            body.extend_from_slice(&backlen(len));
        }
        let total = 4 + 2 + body.len() + 1;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(0xff);
        out
    }

    fn backlen(len: usize) -> Vec<u8> {
        // Big-endian 7-bit groups read from the right: the last byte holds
        // the lowest bits, every byte but the first (leftmost) has bit 7 set.
        let n = super::backlen_size(len);
        let mut out = vec![0u8; n];
        let mut v = len;
        for (i, byte) in out.iter_mut().enumerate().rev() {
            *byte = (v & 0x7f) as u8 | if i != 0 { 0x80 } else { 0 };
            v >>= 7;
        }
        out
    }

    /// A ziplist holding `items` (integers natively when `ints`).
    pub fn ziplist(items: &[Vec<u8>], ints: bool) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev_len = 0usize;
        let mut tail = 10;
        for item in items {
            let mut entry = Vec::new();
            if prev_len < 254 {
                entry.push(prev_len as u8);
            } else {
                entry.push(254);
                entry.extend_from_slice(&(prev_len as u32).to_le_bytes());
            }
            match if ints { canonical_int(item) } else { None } {
                Some(v) if (0..=12).contains(&v) => entry.push(0xf1 + v as u8),
                Some(v) if i8::try_from(v).is_ok() => {
                    entry.push(0xfe);
                    entry.push(v as i8 as u8);
                }
                Some(v) if i16::try_from(v).is_ok() => {
                    entry.push(0xc0);
                    entry.extend_from_slice(&(v as i16).to_le_bytes());
                }
                Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                    entry.push(0xf0);
                    entry.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                Some(v) if i32::try_from(v).is_ok() => {
                    entry.push(0xd0);
                    entry.extend_from_slice(&(v as i32).to_le_bytes());
                }
                Some(v) => {
                    entry.push(0xe0);
                    entry.extend_from_slice(&v.to_le_bytes());
                }
                None if item.len() < 64 => {
                    entry.push(item.len() as u8);
                    entry.extend_from_slice(item);
                }
                None if item.len() < 16384 => {
                    entry.push(0x40 | (item.len() >> 8) as u8);
                    entry.push(item.len() as u8);
                    entry.extend_from_slice(item);
                }
                None => {
                    entry.push(0x80);
                    entry.extend_from_slice(&(item.len() as u32).to_be_bytes());
                    entry.extend_from_slice(item);
                }
            }
            tail = 10 + body.len();
            prev_len = entry.len();
            body.extend_from_slice(&entry);
        }
        let total = 10 + body.len() + 1;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(tail as u32).to_le_bytes());
        out.extend_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(0xff);
        out
    }

    /// An intset of `values` (sorted, as Redis keeps them) at `width`.
    pub fn intset(values: &[i64], width: usize) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(width as u32).to_le_bytes());
        out.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for v in values {
            out.extend(v.to_le_bytes().into_iter().take(width));
        }
        out
    }

    /// A zipmap of `pairs`.
    pub fn zipmap(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![pairs.len().min(253) as u8];
        let len = |out: &mut Vec<u8>, n: usize| {
            if n < 254 {
                out.push(n as u8);
            } else {
                out.push(254);
                out.extend_from_slice(&(n as u32).to_le_bytes());
            }
        };
        for (f, v) in pairs {
            len(&mut out, f.len());
            out.extend_from_slice(f);
            len(&mut out, v.len());
            out.push(1);
            out.extend_from_slice(v);
            out.push(0);
        }
        out.push(0xff);
        out
    }

    /// `text` as an i64 when it is exactly that integer's decimal form
    /// (what Redis stores natively).
    pub fn canonical_int(text: &[u8]) -> Option<i64> {
        let s = std::str::from_utf8(text).ok()?;
        let v: i64 = s.parse().ok()?;
        (v.to_string() == s).then_some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listpack_items(blob: &[u8]) -> Result<Vec<Vec<u8>>, PackedError> {
        Listpack::new(blob)?
            .map(|e| e.map(Element::to_vec))
            .collect()
    }

    fn ziplist_items(blob: &[u8]) -> Result<Vec<Vec<u8>>, PackedError> {
        Ziplist::new(blob)?
            .map(|e| e.map(Element::to_vec))
            .collect()
    }

    fn sample() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = [
            "0",
            "7",
            "12",
            "13",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "40000",
            "-40000",
            "8388607",
            "-8388608",
            "2147483647",
            "-2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "007",
            "1.5",
            "",
            "plain",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        v.push(vec![b'x'; 100]);
        v.push(vec![b'y'; 5000]);
        v.push(vec![0, 255, 10, 13]);
        v
    }

    #[test]
    fn listpack_round_trips_every_entry_encoding() {
        for ints in [true, false] {
            let items = sample();
            assert_eq!(
                listpack_items(&encode::listpack(&items, ints)).unwrap(),
                items
            );
        }
    }

    #[test]
    fn ziplist_round_trips_every_entry_encoding() {
        for ints in [true, false] {
            let items = sample();
            assert_eq!(
                ziplist_items(&encode::ziplist(&items, ints)).unwrap(),
                items
            );
        }
    }

    #[test]
    fn a_listpack_written_out_by_hand() {
        // a, 1, -1, hello: a 6-bit string, a 7-bit uint, a 13-bit int, a string.
        let blob = [
            0x17, 0, 0, 0, 4, 0, 0x81, b'a', 2, 0x01, 1, 0xdf, 0xff, 2, 0x85, b'h', b'e', b'l',
            b'l', b'o', 6, 0xff,
        ];
        let mut fixed = blob.to_vec();
        let total = fixed.len() as u32;
        fixed[..4].copy_from_slice(&total.to_le_bytes());
        assert_eq!(
            listpack_items(&fixed).unwrap(),
            vec![
                b"a".to_vec(),
                b"1".to_vec(),
                b"-1".to_vec(),
                b"hello".to_vec()
            ]
        );
    }

    #[test]
    fn damaged_listpacks_are_refused() {
        let good = encode::listpack(&sample(), true);
        let mut wrong_total = good.clone();
        wrong_total[0] ^= 1;
        assert!(listpack_items(&wrong_total).is_err());
        let mut wrong_count = good.clone();
        wrong_count[4] ^= 1;
        assert!(listpack_items(&wrong_count).is_err());
        let mut no_end = good.clone();
        let last = no_end.len() - 1;
        no_end[last] = 0;
        assert!(listpack_items(&no_end).is_err());
        for cut in 0..good.len() {
            assert!(listpack_items(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_enc = encode::listpack(&[b"x".to_vec()], false);
        bad_enc[6] = 0xf5;
        assert!(listpack_items(&bad_enc).is_err());
    }

    #[test]
    fn damaged_ziplists_are_refused() {
        let good = encode::ziplist(&sample(), true);
        for cut in 0..good.len() {
            assert!(ziplist_items(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = good.clone();
        // The first entry's encoding claims a 32-bit string length.
        huge[11] = 0x80;
        assert!(ziplist_items(&huge).is_err());
    }

    #[test]
    fn intset_widths() {
        for width in [2, 4, 8] {
            let values: Vec<i64> = match width {
                2 => vec![-32768, -1, 0, 5, 32767],
                4 => vec![-2147483648, 70000, 2147483647],
                _ => vec![i64::MIN, 1 << 40, i64::MAX],
            };
            assert_eq!(intset(&encode::intset(&values, width)).unwrap(), values);
        }
        assert!(intset(&encode::intset(&[1, 2], 3)).is_err());
        let mut short = encode::intset(&[1, 2, 3], 4);
        short.pop();
        assert!(intset(&short).is_err());
        let mut lying = encode::intset(&[1], 8);
        lying[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(intset(&lying).is_err());
    }

    #[test]
    fn zipmap_pairs() {
        let pairs = vec![
            (b"f1".to_vec(), b"v1".to_vec()),
            (vec![b'k'; 300], vec![b'v'; 600]),
            (b"".to_vec(), b"empty field".to_vec()),
        ];
        let blob = encode::zipmap(&pairs);
        let got: Vec<(Vec<u8>, Vec<u8>)> = zipmap(&blob)
            .unwrap()
            .into_iter()
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(got, pairs);
        for cut in 0..blob.len() {
            assert!(zipmap(&blob[..cut]).is_err(), "cut at {cut}");
        }
    }
}
