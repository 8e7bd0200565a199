//! A small RDB writer, the inverse of the reader for the encodings it
//! reads: for the round-trip tests, hand-made damaged files and fuzz seeds.
//! `red import` never writes RDB; nothing here touches a file.

use crate::crc64::Crc64;
use crate::packed::encode;
use crate::{lzf, RdbValue};

/// How a value is laid out in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Type 0 to 5 (sorted sets as type 5, binary scores).
    Plain,
    /// Sorted sets as type 3 (scores as text).
    TextScores,
    /// List 10, sorted set 12, hash 13.
    Ziplist,
    /// Set 20, sorted set 17, hash 16.
    Listpack,
    /// Set 11, integers of this width (2, 4 or 8).
    Intset(usize),
    /// List 14: ziplist nodes.
    Quicklist,
    /// List 18: listpack nodes of `n` items, items over 64 bytes as plain
    /// nodes.
    Quicklist2(usize),
    /// Hash 9.
    Zipmap,
    /// Strings: LZF-compressed.
    Compressed,
    /// Strings: an integer encoding when the text is a canonical i32.
    IntegerString,
}

/// Builds an RDB file in memory.
pub struct RdbWriter {
    buf: Vec<u8>,
}

impl RdbWriter {
    pub fn new(version: u32) -> Self {
        Self {
            buf: format!("REDIS{version:04}").into_bytes(),
        }
    }

    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    pub fn length(&mut self, n: u64) -> &mut Self {
        if n < 64 {
            self.buf.push(n as u8);
        } else if n < 16384 {
            self.buf.push(0x40 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else if n <= u64::from(u32::MAX) {
            self.buf.push(0x80);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(0x81);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
        self
    }

    pub fn string(&mut self, s: &[u8]) -> &mut Self {
        self.length(s.len() as u64);
        self.raw(s)
    }

    /// `s` in the integer encoding when it is a canonical i32 (else plain).
    pub fn int_string(&mut self, s: &[u8]) -> &mut Self {
        match encode::canonical_int(s) {
            Some(v) if i8::try_from(v).is_ok() => self.raw(&[0xc0, v as i8 as u8]),
            Some(v) if i16::try_from(v).is_ok() => {
                self.raw(&[0xc1]);
                self.raw(&(v as i16).to_le_bytes())
            }
            Some(v) if i32::try_from(v).is_ok() => {
                self.raw(&[0xc2]);
                self.raw(&(v as i32).to_le_bytes())
            }
            _ => self.string(s),
        }
    }

    pub fn lzf_string(&mut self, s: &[u8]) -> &mut Self {
        let packed = lzf::compress(s);
        self.raw(&[0xc3]);
        self.length(packed.len() as u64);
        self.length(s.len() as u64);
        self.raw(&packed)
    }

    pub fn aux(&mut self, key: &str, value: &str) -> &mut Self {
        self.raw(&[0xfa]);
        self.string(key.as_bytes());
        self.string(value.as_bytes())
    }

    pub fn select_db(&mut self, db: u64) -> &mut Self {
        self.raw(&[0xfe]);
        self.length(db)
    }

    pub fn resize_db(&mut self, keys: u64, expires: u64) -> &mut Self {
        self.raw(&[0xfb]);
        self.length(keys);
        self.length(expires)
    }

    pub fn expire_ms(&mut self, ms: u64) -> &mut Self {
        self.raw(&[0xfc]);
        self.raw(&ms.to_le_bytes())
    }

    pub fn expire_secs(&mut self, secs: u32) -> &mut Self {
        self.raw(&[0xfd]);
        self.raw(&secs.to_le_bytes())
    }

    /// A key and its value in `encoding` (an encoding that does not apply
    /// to the type falls back to the plain one).
    pub fn item(&mut self, key: &[u8], value: &RdbValue, encoding: Encoding) -> &mut Self {
        match value {
            RdbValue::String(s) => {
                self.raw(&[0]);
                self.string(key);
                match encoding {
                    Encoding::Compressed => self.lzf_string(s),
                    Encoding::IntegerString => self.int_string(s),
                    _ => self.string(s),
                }
            }
            RdbValue::List(items) => match encoding {
                Encoding::Ziplist => {
                    self.raw(&[10]).string(key);
                    self.string(&encode::ziplist(items, true))
                }
                Encoding::Quicklist => {
                    self.raw(&[14]).string(key).length(1);
                    self.string(&encode::ziplist(items, true))
                }
                Encoding::Quicklist2(per_node) => {
                    let per_node = per_node.max(1);
                    let mut nodes: Vec<(u64, Vec<u8>)> = Vec::new();
                    let mut run: Vec<Vec<u8>> = Vec::new();
                    for item in items {
                        if item.len() > 64 {
                            if !run.is_empty() {
                                nodes.push((2, encode::listpack(&run, true)));
                                run.clear();
                            }
                            nodes.push((1, item.clone()));
                        } else {
                            run.push(item.clone());
                            if run.len() == per_node {
                                nodes.push((2, encode::listpack(&run, true)));
                                run.clear();
                            }
                        }
                    }
                    if !run.is_empty() {
                        nodes.push((2, encode::listpack(&run, true)));
                    }
                    self.raw(&[18]).string(key).length(nodes.len() as u64);
                    for (container, blob) in nodes {
                        self.length(container).string(&blob);
                    }
                    self
                }
                _ => {
                    self.raw(&[1]).string(key).length(items.len() as u64);
                    for item in items {
                        self.string(item);
                    }
                    self
                }
            },
            RdbValue::Set(items) => match encoding {
                Encoding::Intset(width) => {
                    let mut ints: Vec<i64> = items
                        .iter()
                        .filter_map(|i| encode::canonical_int(i))
                        .collect();
                    ints.sort_unstable();
                    self.raw(&[11]).string(key);
                    self.string(&encode::intset(&ints, width))
                }
                Encoding::Listpack => {
                    self.raw(&[20]).string(key);
                    self.string(&encode::listpack(items, true))
                }
                _ => {
                    self.raw(&[2]).string(key).length(items.len() as u64);
                    for item in items {
                        self.string(item);
                    }
                    self
                }
            },
            RdbValue::SortedSet(items) => {
                let flat = || {
                    items
                        .iter()
                        .flat_map(|(m, s)| [m.clone(), format!("{s:?}").into_bytes()])
                        .collect::<Vec<_>>()
                };
                match encoding {
                    Encoding::Ziplist => {
                        self.raw(&[12]).string(key);
                        self.string(&encode::ziplist(&flat(), true))
                    }
                    Encoding::Listpack => {
                        self.raw(&[17]).string(key);
                        self.string(&encode::listpack(&flat(), true))
                    }
                    Encoding::TextScores => {
                        self.raw(&[3]).string(key).length(items.len() as u64);
                        for (m, s) in items {
                            self.string(m);
                            if s.is_infinite() {
                                self.raw(&[if *s > 0.0 { 254 } else { 255 }]);
                            } else {
                                let text = format!("{s:?}");
                                self.raw(&[text.len() as u8]).raw(text.as_bytes());
                            }
                        }
                        self
                    }
                    _ => {
                        self.raw(&[5]).string(key).length(items.len() as u64);
                        for (m, s) in items {
                            self.string(m).raw(&s.to_le_bytes());
                        }
                        self
                    }
                }
            }
            RdbValue::Hash(pairs) => {
                let flat = || {
                    pairs
                        .iter()
                        .flat_map(|(f, v)| [f.clone(), v.clone()])
                        .collect::<Vec<_>>()
                };
                match encoding {
                    Encoding::Ziplist => {
                        self.raw(&[13]).string(key);
                        self.string(&encode::ziplist(&flat(), true))
                    }
                    Encoding::Listpack => {
                        self.raw(&[16]).string(key);
                        self.string(&encode::listpack(&flat(), true))
                    }
                    Encoding::Zipmap => {
                        self.raw(&[9]).string(key);
                        self.string(&encode::zipmap(pairs))
                    }
                    _ => {
                        self.raw(&[4]).string(key).length(pairs.len() as u64);
                        for (f, v) in pairs {
                            self.string(f).string(v);
                        }
                        self
                    }
                }
            }
        }
    }

    /// The bytes so far (no EOF yet).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Appends EOF and the CRC-64 (or 0 when `checksum` is false).
    pub fn finish(mut self, checksum: bool) -> Vec<u8> {
        self.buf.push(0xff);
        let crc = if checksum { Crc64::of(&self.buf) } else { 0 };
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}
