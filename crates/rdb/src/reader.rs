//! The streaming reader: opcodes, lengths, strings and value types, over a
//! buffered byte source that counts offsets and feeds the CRC-64.
//!
//! ```text
//! file    = "REDIS" version(4 ASCII digits) | op* | 0xff | crc64 (u64 LE; 0 = not computed)
//! op      = 0xfa aux(string string) | 0xfb resizedb(len len) | 0xfe selectdb(len)
//!         | 0xfd expire(u32 LE seconds) | 0xfc expire(u64 LE ms) | 0xf9 freq(u8)
//!         | 0xf8 idle(len) | 0xf7 module aux | 0xf5 function(string)
//!         | 0xf4 slot info(len len len) | type(u8 < 0xf4) key(string) value
//! len     = 00xxxxxx | 01xxxxxx xxxxxxxx | 0x80 u32 BE | 0x81 u64 BE
//!         | 11xxxxxx = a string encoding: 0 int8, 1 int16 LE, 2 int32 LE,
//!                      3 LZF (len compressed, len plain, bytes)
//! ```

use crate::crc64::Crc64;
use crate::error::{ErrorKind, RdbError};
use crate::lzf;
use crate::packed::{self, Element, Listpack, PackedError, Ziplist};
use crate::{Item, RdbValue};
use std::io::{BufReader, Read};

/// The RDB versions read (Redis 6.0 wrote 9, 7.0 wrote 10, 7.2 wrote 11,
/// 7.4 writes 12; Valkey 7 and 8 write 10 and 11).
pub const VERSIONS: std::ops::RangeInclusive<u32> = 9..=12;

/// Upper bounds the reader enforces before it allocates.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest single string (key, value, member, field, packed blob).
    pub max_string: u64,
    /// Decoded bytes of one value, all its elements together (each element
    /// also costs [`ELEMENT_OVERHEAD`]).
    pub max_value_bytes: u64,
}

/// What each element of a collection costs against
/// [`Limits::max_value_bytes`] beyond its bytes.
pub const ELEMENT_OVERHEAD: u64 = 16;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_string: 64 * 1024 * 1024,
            max_value_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Things a file can hold that are not carried over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnsupportedKind {
    Stream,
    /// A module value (type 7), e.g. RedisJSON or RediSearch data.
    Module,
    /// A module's global (non-key) data.
    ModuleAux,
    /// A Redis Functions library.
    Function,
    /// A hash with per-field TTLs (Redis 7.4+ `HEXPIRE`).
    HashWithFieldTtl,
}

impl UnsupportedKind {
    pub fn name(self) -> &'static str {
        match self {
            UnsupportedKind::Stream => "stream",
            UnsupportedKind::Module => "module value",
            UnsupportedKind::ModuleAux => "module data",
            UnsupportedKind::Function => "function library",
            UnsupportedKind::HashWithFieldTtl => "hash with field TTLs",
        }
    }
}

/// One thing read from the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Item(Item),
    /// Something not carried over, skipped over exactly; `key` when it is
    /// a key's value.
    Unsupported {
        kind: UnsupportedKind,
        db: u64,
        key: Option<Vec<u8>>,
    },
}

/// The end-of-file checksum, once the reader got there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// The stored CRC-64 matched.
    Verified(u64),
    /// The file says 0: written with `rdbchecksum no`, so nothing to check.
    Disabled,
}

/// A hash field and its value.
type Pair = (Vec<u8>, Vec<u8>);

/// The byte source: buffered, counting, checksumming.
struct Input<R: Read> {
    inner: BufReader<R>,
    offset: u64,
    crc: Crc64,
    /// The total length, when known: lengths are checked against what is
    /// left before anything is read.
    file_len: Option<u64>,
}

const CHUNK: usize = 64 * 1024;

impl<R: Read> Input<R> {
    fn error(&self, kind: ErrorKind) -> RdbError {
        RdbError {
            offset: self.offset,
            kind,
        }
    }

    /// Fills `buf` (checksummed unless `raw`).
    fn fill(&mut self, buf: &mut [u8], raw: bool) -> Result<(), RdbError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                if !raw {
                    self.crc.update(buf);
                }
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(self.error(ErrorKind::Truncated))
            }
            Err(e) => Err(self.error(ErrorKind::Io(e.to_string()))),
        }
    }

    fn u8(&mut self) -> Result<u8, RdbError> {
        let mut b = [0u8; 1];
        self.fill(&mut b, false)?;
        Ok(b[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut a = [0u8; N];
        self.fill(&mut a, false)?;
        Ok(a)
    }

    /// Refuses a length longer than what is left of the file.
    fn check_remaining(&self, n: u64) -> Result<(), RdbError> {
        match self.file_len {
            Some(total) if n > total.saturating_sub(self.offset) => {
                Err(self.error(ErrorKind::BadLength("longer than the rest of the file")))
            }
            _ => Ok(()),
        }
    }

    /// `n` bytes, read in chunks so a lying length costs no more memory
    /// than the bytes actually there.
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        self.check_remaining(n)?;
        let n = usize::try_from(n).map_err(|_| self.error(ErrorKind::BadLength("too long")))?;
        let mut out = Vec::with_capacity(n.min(CHUNK));
        while out.len() < n {
            let start = out.len();
            let step = (n - start).min(CHUNK);
            out.resize(start + step, 0);
            let (_, tail) = out.split_at_mut(start);
            self.fill(tail, false)?;
        }
        Ok(out)
    }

    /// Skips `n` bytes (checksummed).
    fn skip(&mut self, n: u64) -> Result<(), RdbError> {
        self.check_remaining(n)?;
        let mut left = n;
        let mut buf = [0u8; 4096];
        while left > 0 {
            let step = left.min(buf.len() as u64) as usize;
            let (part, _) = buf.split_at_mut(step);
            self.fill(part, false)?;
            left -= step as u64;
        }
        Ok(())
    }
}

/// A length, or the special string encoding in its place.
enum Len {
    Plain(u64),
    Encoded(u8),
}

/// Reads an RDB file one [`Record`] at a time. See the crate docs.
pub struct RdbReader<R: Read> {
    input: Input<R>,
    version: u32,
    limits: Limits,
    db: u64,
    expiry: Option<u64>,
    /// Bytes the value being read may still decode to.
    budget: u64,
    aux: Vec<(Vec<u8>, Vec<u8>)>,
    checksum: Option<Checksum>,
    /// An error was returned or the end was reached: nothing more.
    fused: bool,
}

/// How many AUX fields are kept for [`RdbReader::aux`] (the rest are read
/// and dropped).
const MAX_AUX_KEPT: usize = 32;

impl<R: Read> RdbReader<R> {
    /// Reads and checks the header. `file_len`, when known, lets every
    /// length be checked against the rest of the file.
    pub fn new(source: R, file_len: Option<u64>, limits: Limits) -> Result<Self, RdbError> {
        let mut input = Input {
            inner: BufReader::with_capacity(CHUNK, source),
            offset: 0,
            crc: Crc64::new(),
            file_len,
        };
        let magic: [u8; 9] = match input.array() {
            Ok(m) => m,
            Err(RdbError {
                kind: ErrorKind::Truncated,
                ..
            }) => {
                return Err(RdbError {
                    offset: 0,
                    kind: ErrorKind::BadMagic,
                })
            }
            Err(e) => return Err(e),
        };
        let (word, digits) = magic.split_at(5);
        if word != b"REDIS" || !digits.iter().all(u8::is_ascii_digit) {
            return Err(RdbError {
                offset: 0,
                kind: ErrorKind::BadMagic,
            });
        }
        let version = digits
            .iter()
            .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        if !VERSIONS.contains(&version) {
            return Err(RdbError {
                offset: 5,
                kind: ErrorKind::UnsupportedVersion(version),
            });
        }
        Ok(Self {
            input,
            version,
            limits,
            db: 0,
            expiry: None,
            budget: 0,
            aux: Vec::new(),
            checksum: None,
            fused: false,
        })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.input.offset
    }

    /// The AUX fields seen so far (`redis-ver`, `ctime`, …; the first
    /// [`MAX_AUX_KEPT`]).
    pub fn aux(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.aux
    }

    /// `Some` once the end was reached and the checksum checked.
    pub fn checksum(&self) -> Option<Checksum> {
        self.checksum
    }

    /// The next record; `Ok(None)` after the EOF opcode, once the checksum
    /// matched and nothing follows it. After an error, always `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<Record>, RdbError> {
        if self.fused {
            return Ok(None);
        }
        let result = self.record();
        if !matches!(result, Ok(Some(_))) {
            self.fused = true;
        }
        result
    }

    fn record(&mut self) -> Result<Option<Record>, RdbError> {
        loop {
            let at = self.input.offset;
            let op = self.input.u8()?;
            match op {
                0xff => return self.finish().map(|()| None),
                0xfe => {
                    self.db = self.length()?;
                    self.expiry = None;
                }
                0xfd => {
                    let secs = u32::from_le_bytes(self.input.array()?);
                    self.expiry = Some(u64::from(secs) * 1000);
                }
                0xfc => {
                    self.expiry = Some(u64::from_le_bytes(self.input.array()?));
                }
                0xfb => {
                    self.length()?;
                    self.length()?;
                }
                0xfa => {
                    self.budget = self.limits.max_value_bytes;
                    let key = self.string()?;
                    let value = self.string()?;
                    if self.aux.len() < MAX_AUX_KEPT {
                        self.aux.push((key, value));
                    }
                }
                0xf9 => {
                    self.input.u8()?;
                }
                0xf8 => {
                    self.length()?;
                }
                0xf7 => {
                    self.length()?; // module id
                    let when_opcode = self.length()?;
                    if when_opcode != 2 {
                        return Err(self.malformed_at(at, "module aux", "bad 'when' opcode"));
                    }
                    self.length()?;
                    self.skip_module_value(at)?;
                    return Ok(Some(self.unsupported(UnsupportedKind::ModuleAux, None)));
                }
                0xf6 => {
                    return Err(RdbError {
                        offset: at,
                        kind: ErrorKind::Unskippable(
                            "a function library in the Redis 7.0 RC encoding",
                        ),
                    })
                }
                0xf5 => {
                    self.budget = self.limits.max_value_bytes;
                    self.skip_string()?;
                    return Ok(Some(self.unsupported(UnsupportedKind::Function, None)));
                }
                0xf4 => {
                    self.length()?;
                    self.length()?;
                    self.length()?;
                }
                t => return self.keyed(at, t).map(Some),
            }
        }
    }

    fn unsupported(&mut self, kind: UnsupportedKind, key: Option<Vec<u8>>) -> Record {
        self.expiry = None;
        Record::Unsupported {
            kind,
            db: self.db,
            key,
        }
    }

    /// After the EOF opcode: the checksum, then nothing.
    fn finish(&mut self) -> Result<(), RdbError> {
        let computed = self.input.crc.value();
        let at = self.input.offset;
        let mut stored = [0u8; 8];
        self.input.fill(&mut stored, true)?;
        let stored = u64::from_le_bytes(stored);
        if stored == 0 {
            self.checksum = Some(Checksum::Disabled);
        } else if stored == computed {
            self.checksum = Some(Checksum::Verified(stored));
        } else {
            return Err(RdbError {
                offset: at,
                kind: ErrorKind::BadChecksum { stored, computed },
            });
        }
        let mut probe = [0u8; 1];
        match self.input.inner.read(&mut probe) {
            Ok(0) => Ok(()),
            Ok(_) => Err(self.input.error(ErrorKind::TrailingBytes)),
            Err(e) => Err(self.input.error(ErrorKind::Io(e.to_string()))),
        }
    }

    fn malformed_at(&self, offset: u64, encoding: &'static str, reason: PackedError) -> RdbError {
        RdbError {
            offset,
            kind: ErrorKind::Malformed { encoding, reason },
        }
    }

    fn len_or_encoded(&mut self) -> Result<Len, RdbError> {
        let first = self.input.u8()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => {
                let second = self.input.u8()?;
                Len::Plain((u64::from(first & 0x3f) << 8) | u64::from(second))
            }
            2 => match first {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(self.input.array()?))),
                0x81 => Len::Plain(u64::from_be_bytes(self.input.array()?)),
                _ => {
                    return Err(self
                        .input
                        .error(ErrorKind::BadLength("unknown length prefix")))
                }
            },
            _ => Len::Encoded(first & 0x3f),
        })
    }

    fn length(&mut self) -> Result<u64, RdbError> {
        match self.len_or_encoded()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(self.input.error(ErrorKind::BadLength(
                "an encoded string where a length belongs",
            ))),
        }
    }

    /// Charges `n` decoded bytes to the value being read.
    fn charge(&mut self, n: u64, what: &'static str) -> Result<(), RdbError> {
        match self.budget.checked_sub(n) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(self.input.error(ErrorKind::TooLarge {
                what,
                len: n,
                limit: self.limits.max_value_bytes,
            })),
        }
    }

    fn check_string_len(&self, n: u64, what: &'static str) -> Result<(), RdbError> {
        if n > self.limits.max_string {
            return Err(self.input.error(ErrorKind::TooLarge {
                what,
                len: n,
                limit: self.limits.max_string,
            }));
        }
        Ok(())
    }

    /// A string: plain, an integer in 1, 2 or 4 bytes, or LZF-compressed.
    fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        let at = self.input.offset;
        let out = match self.len_or_encoded()? {
            Len::Plain(n) => {
                // Damage (a length past the end of the file) before size.
                let at_start = |e: RdbError| RdbError { offset: at, ..e };
                self.input.check_remaining(n).map_err(at_start)?;
                self.check_string_len(n, "a string").map_err(at_start)?;
                self.charge(n + ELEMENT_OVERHEAD, "a value")
                    .map_err(at_start)?;
                return self.input.bytes(n);
            }
            Len::Encoded(0) => i64::from(self.input.u8()? as i8).to_string().into_bytes(),
            Len::Encoded(1) => i64::from(i16::from_le_bytes(self.input.array()?))
                .to_string()
                .into_bytes(),
            Len::Encoded(2) => i64::from(i32::from_le_bytes(self.input.array()?))
                .to_string()
                .into_bytes(),
            Len::Encoded(3) => {
                let packed_len = self.length()?;
                let plain_len = self.length()?;
                let at_start = |e: RdbError| RdbError { offset: at, ..e };
                self.input.check_remaining(packed_len).map_err(at_start)?;
                self.check_string_len(plain_len, "a compressed string")
                    .map_err(at_start)?;
                self.check_string_len(packed_len, "a compressed string")
                    .map_err(at_start)?;
                self.charge(plain_len + ELEMENT_OVERHEAD, "a value")
                    .map_err(at_start)?;
                let packed = self.input.bytes(packed_len)?;
                // `plain_len` fits: checked against max_string above.
                let plain_len = usize::try_from(plain_len)
                    .map_err(|_| self.input.error(ErrorKind::BadLength("too long")))?;
                return lzf::decompress(&packed, plain_len).map_err(|e| {
                    self.malformed_at(
                        at,
                        "LZF string",
                        match e {
                            lzf::LzfError::Truncated => "compressed data ends early",
                            lzf::LzfError::BadReference => "a back reference before the start",
                            lzf::LzfError::WrongLength => "does not decompress to its length",
                        },
                    )
                });
            }
            Len::Encoded(_) => {
                return Err(RdbError {
                    offset: at,
                    kind: ErrorKind::BadLength("unknown string encoding"),
                })
            }
        };
        self.charge(out.len() as u64 + ELEMENT_OVERHEAD, "a value")?;
        Ok(out)
    }

    /// Reads past a string without keeping it (still checks it decodes
    /// for plain and integer forms; LZF data is skipped undecoded).
    fn skip_string(&mut self) -> Result<(), RdbError> {
        let at = self.input.offset;
        match self.len_or_encoded()? {
            Len::Plain(n) => self.input.skip(n),
            Len::Encoded(0) => self.input.skip(1),
            Len::Encoded(1) => self.input.skip(2),
            Len::Encoded(2) => self.input.skip(4),
            Len::Encoded(3) => {
                let packed_len = self.length()?;
                self.length()?;
                self.input.skip(packed_len)
            }
            Len::Encoded(_) => Err(RdbError {
                offset: at,
                kind: ErrorKind::BadLength("unknown string encoding"),
            }),
        }
    }

    /// A score in the old text form: a length byte (253 NaN, 254 +inf,
    /// 255 -inf) and that many ASCII bytes.
    fn text_double(&mut self) -> Result<f64, RdbError> {
        let at = self.input.offset;
        let n = self.input.u8()?;
        let v = match n {
            253 => f64::NAN,
            254 => f64::INFINITY,
            255 => f64::NEG_INFINITY,
            _ => {
                let mut buf = [0u8; 252];
                let (text, _) = buf.split_at_mut(usize::from(n));
                self.input.fill(text, false)?;
                parse_score(text).ok_or_else(|| self.malformed_at(at, "score", "not a number"))?
            }
        };
        self.check_score(at, v)
    }

    fn check_score(&self, at: u64, v: f64) -> Result<f64, RdbError> {
        if v.is_nan() {
            return Err(self.malformed_at(at, "score", "NaN"));
        }
        Ok(v)
    }

    /// A packed blob, walked element by element with each one charged.
    fn elements(
        &mut self,
        encoding: &'static str,
        listpack: bool,
    ) -> Result<Vec<Vec<u8>>, RdbError> {
        let at = self.input.offset;
        let blob = self.string()?;
        let mut out = Vec::new();
        let mut walk =
            |e: Result<Element<'_>, PackedError>, me: &mut Self| -> Result<(), RdbError> {
                let e = e.map_err(|r| me.malformed_at(at, encoding, r))?;
                me.charge(e.decoded_len() as u64 + ELEMENT_OVERHEAD, "a value")?;
                out.push(e.to_vec());
                Ok(())
            };
        if listpack {
            let lp = Listpack::new(&blob).map_err(|r| self.malformed_at(at, encoding, r))?;
            for e in lp {
                walk(e, self)?;
            }
        } else {
            let zl = Ziplist::new(&blob).map_err(|r| self.malformed_at(at, encoding, r))?;
            for e in zl {
                walk(e, self)?;
            }
        }
        Ok(out)
    }

    fn pairs(&mut self, encoding: &'static str, listpack: bool) -> Result<Vec<Pair>, RdbError> {
        let at = self.input.offset;
        let flat = self.elements(encoding, listpack)?;
        if flat.len() % 2 != 0 {
            return Err(self.malformed_at(at, encoding, "an odd number of entries"));
        }
        let mut out = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(a), Some(b)) = (it.next(), it.next()) {
            out.push((a, b));
        }
        Ok(out)
    }

    fn scored(
        &mut self,
        encoding: &'static str,
        listpack: bool,
    ) -> Result<Vec<(Vec<u8>, f64)>, RdbError> {
        let at = self.input.offset;
        let mut out = Vec::new();
        for (member, score) in self.pairs(encoding, listpack)? {
            let v = parse_score(&score)
                .ok_or_else(|| self.malformed_at(at, encoding, "a score that is not a number"))?;
            out.push((member, self.check_score(at, v)?));
        }
        Ok(out)
    }

    /// A key and its value of type `t`.
    fn keyed(&mut self, at: u64, t: u8) -> Result<Record, RdbError> {
        self.budget = self.limits.max_value_bytes;
        if !matches!(t, 0..=7 | 9..=25) {
            return Err(RdbError {
                offset: at,
                kind: ErrorKind::UnknownType(t),
            });
        }
        let key = self.string()?;
        let value = match t {
            0 => RdbValue::String(self.string()?),
            1 | 2 => {
                let n = self.length()?;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(self.string()?);
                }
                if t == 1 {
                    RdbValue::List(items)
                } else {
                    RdbValue::Set(items)
                }
            }
            3 | 5 => {
                let n = self.length()?;
                let mut items = Vec::new();
                for _ in 0..n {
                    let member = self.string()?;
                    let score = if t == 3 {
                        self.text_double()?
                    } else {
                        let s_at = self.input.offset;
                        let v = f64::from_le_bytes(self.input.array()?);
                        self.check_score(s_at, v)?
                    };
                    items.push((member, score));
                }
                RdbValue::SortedSet(items)
            }
            4 => {
                let n = self.length()?;
                let mut pairs = Vec::new();
                for _ in 0..n {
                    let field = self.string()?;
                    let value = self.string()?;
                    pairs.push((field, value));
                }
                RdbValue::Hash(pairs)
            }
            9 => {
                let b_at = self.input.offset;
                let blob = self.string()?;
                let pairs =
                    packed::zipmap(&blob).map_err(|r| self.malformed_at(b_at, "zipmap", r))?;
                let mut out = Vec::with_capacity(pairs.len());
                for (f, v) in pairs {
                    self.charge(2 * ELEMENT_OVERHEAD + (f.len() + v.len()) as u64, "a value")?;
                    out.push((f.to_vec(), v.to_vec()));
                }
                RdbValue::Hash(out)
            }
            10 => RdbValue::List(self.elements("ziplist", false)?),
            11 => {
                let b_at = self.input.offset;
                let blob = self.string()?;
                let ints =
                    packed::intset(&blob).map_err(|r| self.malformed_at(b_at, "intset", r))?;
                let mut out = Vec::with_capacity(ints.len());
                for i in ints {
                    self.charge(20 + ELEMENT_OVERHEAD, "a value")?;
                    out.push(i.to_string().into_bytes());
                }
                RdbValue::Set(out)
            }
            12 => RdbValue::SortedSet(self.scored("ziplist", false)?),
            13 => RdbValue::Hash(self.pairs("ziplist", false)?),
            14 => {
                let nodes = self.length()?;
                let mut items = Vec::new();
                for _ in 0..nodes {
                    items.extend(self.elements("quicklist ziplist", false)?);
                }
                RdbValue::List(items)
            }
            16 => RdbValue::Hash(self.pairs("listpack", true)?),
            17 => RdbValue::SortedSet(self.scored("listpack", true)?),
            18 => {
                let nodes = self.length()?;
                let mut items = Vec::new();
                for _ in 0..nodes {
                    let c_at = self.input.offset;
                    match self.length()? {
                        1 => items.push(self.string()?),
                        2 => items.extend(self.elements("quicklist listpack", true)?),
                        _ => {
                            return Err(self.malformed_at(
                                c_at,
                                "quicklist",
                                "unknown node container",
                            ))
                        }
                    }
                }
                RdbValue::List(items)
            }
            20 => RdbValue::Set(self.elements("listpack", true)?),
            15 | 19 | 21 => {
                self.skip_stream(t)?;
                return Ok(self.unsupported(UnsupportedKind::Stream, Some(key)));
            }
            7 => {
                self.length()?; // module id
                self.skip_module_value(at)?;
                return Ok(self.unsupported(UnsupportedKind::Module, Some(key)));
            }
            6 => {
                return Err(RdbError {
                    offset: at,
                    kind: ErrorKind::Unskippable("a module value in the pre-GA encoding"),
                })
            }
            22 | 24 => {
                if t == 24 {
                    self.input.array::<8>()?;
                }
                let n = self.length()?;
                for _ in 0..n {
                    self.length()?;
                    self.skip_string()?;
                    self.skip_string()?;
                }
                return Ok(self.unsupported(UnsupportedKind::HashWithFieldTtl, Some(key)));
            }
            23 | 25 => {
                if t == 25 {
                    self.input.array::<8>()?;
                }
                self.skip_string()?;
                return Ok(self.unsupported(UnsupportedKind::HashWithFieldTtl, Some(key)));
            }
            _ => {
                return Err(RdbError {
                    offset: at,
                    kind: ErrorKind::UnknownType(t),
                })
            }
        };
        Ok(Record::Item(Item {
            db: self.db,
            key,
            value,
            expires_at_ms: self.expiry.take(),
        }))
    }

    /// A module value in the self-describing form (type 7 and module aux):
    /// opcodes until 0 (EOF): 1 signed and 2 unsigned integers (lengths),
    /// 3 float (4 bytes), 4 double (8 bytes), 5 string.
    fn skip_module_value(&mut self, at: u64) -> Result<(), RdbError> {
        loop {
            match self.length()? {
                0 => return Ok(()),
                1 | 2 => {
                    self.length()?;
                }
                3 => self.input.skip(4)?,
                4 => self.input.skip(8)?,
                5 => self.skip_string()?,
                _ => return Err(self.malformed_at(at, "module value", "unknown opcode")),
            }
        }
    }

    /// A stream (types 15, 19 and 21), read past field by field.
    fn skip_stream(&mut self, t: u8) -> Result<(), RdbError> {
        let nodes = self.length()?;
        for _ in 0..nodes {
            self.skip_string()?; // master id
            self.skip_string()?; // listpack
        }
        self.length()?; // length
        self.length()?; // last id ms
        self.length()?; // last id seq
        if t >= 19 {
            for _ in 0..5 {
                // first id (ms, seq), max deleted id (ms, seq), entries added
                self.length()?;
            }
        }
        let groups = self.length()?;
        for _ in 0..groups {
            self.skip_string()?; // name
            self.length()?;
            self.length()?; // last delivered id
            if t >= 19 {
                self.length()?; // entries read
            }
            let pending = self.length()?;
            for _ in 0..pending {
                self.input.skip(16)?; // id
                self.input.skip(8)?; // delivery time
                self.length()?; // delivery count
            }
            let consumers = self.length()?;
            for _ in 0..consumers {
                self.skip_string()?; // name
                self.input.skip(8)?; // seen time
                if t >= 21 {
                    self.input.skip(8)?; // active time
                }
                let owned = self.length()?;
                for _ in 0..owned {
                    self.input.skip(16)?;
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Iterator for RdbReader<R> {
    type Item = Result<Record, RdbError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// A score written as text (`strtod` in Redis): decimal, exponent, `inf`,
/// `-inf`. NaN comes back as NaN for the caller to refuse.
fn parse_score(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    match s {
        "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ if s
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
            && !s.is_empty() =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}
