//! `cjson.decode`: JSON text to Lua values exactly as lua-cjson 2.1.0
//! reads it — the same tokenizer (the text read as a C string, so a NUL
//! ends it), numbers through `strtod` (hex, `inf`, `nan` accepted unless
//! `decode_invalid_numbers` is off), `null` as `cjson.null`, `\u` escapes
//! with surrogate pairs to UTF-8, tables built in the same order with the
//! same raw sets (so `next` later walks them in the same order), and the
//! same "Expected X but found Y at character N" errors.
//!
//! Like the encoder it keeps its own stack (tables and keys in a Lua
//! table), and stops at the configured depth or where the C decoder's
//! `lua_checkstack` would fail.

use super::c_numbers::strtod;
use super::calling::{LibResult, Raise, LUA_MAX_C_STACK};
use super::cjson::Config;
use mlua::{Lua, Table, Value};

#[derive(Debug, PartialEq)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    /// `json_token_type_name`, or the error's text.
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(e) => e,
        }
    }
}

struct Tokenizer<'a> {
    data: &'a [u8],
    pos: usize,
    invalid_numbers: bool,
}

impl Tokenizer<'_> {
    /// The byte at `i`, 0 past the end (the C string's terminator).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        self.data
            .get(self.pos..self.pos + word.len())
            .is_some_and(|s| s == word)
    }

    /// `json_next_token`: the next token and the index it starts at.
    fn next(&mut self) -> (Token, usize) {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let ch = self.at(self.pos);
        let single = match ch {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b',' => Some(Token::Comma),
            b':' => Some(Token::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return (t, index);
        }
        if ch == 0 {
            return (Token::End, index);
        }
        if !matches!(
            ch,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-'
        ) && !ch.is_ascii_digit()
        {
            return (Token::Error("invalid token"), index);
        }
        if ch == b'"' {
            return self.string();
        }
        if ch == b'-' || ch.is_ascii_digit() {
            if !self.invalid_numbers && self.is_invalid_number() {
                return (Token::Error("invalid number"), self.pos);
            }
            return self.number();
        }
        for (word, token) in [
            (&b"true"[..], Token::Boolean(true)),
            (b"false", Token::Boolean(false)),
            (b"null", Token::Null),
        ] {
            if self.starts_with(word) {
                self.pos += word.len();
                return (token, index);
            }
        }
        if self.invalid_numbers && self.is_invalid_number() {
            return self.number();
        }
        (Token::Error("invalid token"), index)
    }

    /// `json_is_invalid_number`: forms strtod takes that JSON does not.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let rest = self.data.get(p..p + 3);
        rest.is_some_and(|r| r.eq_ignore_ascii_case(b"inf") || r.eq_ignore_ascii_case(b"nan"))
    }

    fn number(&mut self) -> (Token, usize) {
        let index = self.pos;
        match strtod(self.data, self.pos) {
            Some((value, end)) => {
                self.pos = end;
                (Token::Number(value), index)
            }
            None => (Token::Error("invalid number"), index),
        }
    }

    /// `json_next_string_token`; errors point at the offending byte.
    fn string(&mut self) -> (Token, usize) {
        let index = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return (Token::Error("unexpected end of string"), self.pos);
            }
            if ch != b'\\' {
                out.push(ch);
                self.pos += 1;
                continue;
            }
            let translated = match self.at(self.pos + 1) {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 0x08,
                b't' => b'\t',
                b'n' => b'\n',
                b'f' => 0x0c,
                b'r' => b'\r',
                b'u' => {
                    if self.unicode_escape(&mut out) {
                        continue;
                    }
                    return (Token::Error("invalid unicode escape code"), self.pos);
                }
                _ => return (Token::Error("invalid escape code"), self.pos),
            };
            out.push(translated);
            self.pos += 2;
        }
        self.pos += 1;
        (Token::Str(out), index)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for k in 0..4 {
            v = (v << 4) | char::from(self.at(at + k)).to_digit(16)?;
        }
        Some(v)
    }

    /// `json_append_unicode_escape` at `\uXXXX` (with a following low
    /// surrogate when XXXX is a high one); advances past it on success.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        push_utf8(out, cp);
        self.pos += len;
        true
    }
}

/// `codepoint_to_utf8` (every code point here is below 0x110000).
fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    let byte = |v: u32| u8::try_from(v & 0xFF).unwrap_or(0);
    if cp <= 0x7F {
        out.push(byte(cp));
    } else if cp <= 0x7FF {
        out.extend_from_slice(&[byte((cp >> 6) | 0xC0), byte((cp & 0x3F) | 0x80)]);
    } else if cp <= 0xFFFF {
        out.extend_from_slice(&[
            byte((cp >> 12) | 0xE0),
            byte(((cp >> 6) & 0x3F) | 0x80),
            byte((cp & 0x3F) | 0x80),
        ]);
    } else {
        out.extend_from_slice(&[
            byte((cp >> 18) | 0xF0),
            byte(((cp >> 12) & 0x3F) | 0x80),
            byte(((cp >> 6) & 0x3F) | 0x80),
            byte((cp & 0x3F) | 0x80),
        ]);
    }
}

fn parse_error(expected: &str, token: &Token, index: usize) -> Raise {
    Raise::msg(format!(
        "Expected {expected} but found {} at character {}",
        token.name(),
        index + 1
    ))
}

/// One table being filled.
enum Open {
    /// An array; the next item goes at this index.
    Array(i32),
    /// An object; its pending key is in the decoder's `keys` table.
    Object,
}

struct Decoder<'a> {
    lua: &'a Lua,
    tokens: Tokenizer<'a>,
    max_depth: usize,
    frames: Vec<Open>,
    /// Lua stack slots the C decoder would hold (`top - base`).
    slots: usize,
    tables: Table,
    keys: Table,
}

/// `cjson.decode` of `data` with configuration `cfg`.
pub fn decode(lua: &Lua, data: &[u8], cfg: Config) -> LibResult<Value> {
    if data.len() >= 2 && (data.first() == Some(&0) || data.get(1) == Some(&0)) {
        return Err(Raise::msg("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut d = Decoder {
        lua,
        tokens: Tokenizer {
            data,
            pos: 0,
            invalid_numbers: cfg.decode_invalid_numbers != 0,
        },
        max_depth: usize::try_from(cfg.decode_max_depth).unwrap_or(0),
        frames: Vec::new(),
        slots: 1,
        tables: lua.create_table()?,
        keys: lua.create_table()?,
    };
    let value = d.value_tree()?;
    let (token, index) = d.tokens.next();
    if token != Token::End {
        return Err(parse_error("the end", &token, index));
    }
    Ok(value)
}

impl Decoder<'_> {
    /// `json_decode_descend`: one level deeper, within the depth limit and
    /// the Lua stack the C code asks for (`slots` more).
    fn descend(&mut self, slots: usize, open: Open) -> LibResult<Table> {
        let depth = self.frames.len() + 1;
        if depth > self.max_depth || self.slots + slots > LUA_MAX_C_STACK {
            return Err(Raise::msg(format!(
                "Found too many nested data structures ({depth}) at character {}",
                self.tokens.pos
            )));
        }
        let t = self.lua.create_table()?;
        self.tables.raw_set(depth, t.clone())?;
        self.slots += match open {
            Open::Array(_) => 1,
            Open::Object => 2,
        };
        self.frames.push(open);
        Ok(t)
    }

    fn ascend(&mut self) -> LibResult<Table> {
        let depth = self.frames.len();
        let t: Table = self.tables.raw_get(depth)?;
        self.tables.raw_set(depth, Value::Nil)?;
        self.keys.raw_set(depth, Value::Nil)?;
        self.slots -= match self.frames.pop() {
            Some(Open::Array(_)) => 1,
            Some(Open::Object) | None => 2,
        };
        Ok(t)
    }

    /// Reads an object key and its colon; leaves the value's first token.
    fn object_key(&mut self, token: Token, index: usize) -> LibResult<(Token, usize)> {
        let Token::Str(key) = token else {
            return Err(parse_error("object key string", &token, index));
        };
        let depth = self.frames.len();
        self.keys.raw_set(depth, self.lua.create_string(key)?)?;
        let (colon, at) = self.tokens.next();
        if colon != Token::Colon {
            return Err(parse_error("colon", &colon, at));
        }
        Ok(self.tokens.next())
    }

    /// The whole value at the current token, iteratively.
    fn value_tree(&mut self) -> LibResult<Value> {
        let (mut token, mut index) = self.tokens.next();
        loop {
            // Value context: `token` starts a value.
            let mut value = match token {
                Token::Str(s) => Value::String(self.lua.create_string(s)?),
                Token::Number(n) => Value::Number(n),
                Token::Boolean(b) => Value::Boolean(b),
                Token::Null => Value::NULL,
                Token::ObjBegin => {
                    let t = self.descend(3, Open::Object)?;
                    let (next, at) = self.tokens.next();
                    if next == Token::ObjEnd {
                        self.ascend()?;
                        Value::Table(t)
                    } else {
                        (token, index) = self.object_key(next, at)?;
                        continue;
                    }
                }
                Token::ArrBegin => {
                    let t = self.descend(2, Open::Array(1))?;
                    let (next, at) = self.tokens.next();
                    if next == Token::ArrEnd {
                        self.ascend()?;
                        Value::Table(t)
                    } else {
                        (token, index) = (next, at);
                        continue;
                    }
                }
                other => return Err(parse_error("value", &other, index)),
            };
            // Store the finished value in the table it belongs to, closing
            // every table that ends right after it.
            loop {
                let depth = self.frames.len();
                let Some(open) = self.frames.last_mut() else {
                    return Ok(value);
                };
                let table: Table = self.tables.raw_get(depth)?;
                let (next, at) = match open {
                    Open::Array(i) => {
                        table.raw_set(*i, value)?;
                        *i = i.wrapping_add(1);
                        let (next, at) = self.tokens.next();
                        if next == Token::ArrEnd {
                            value = Value::Table(self.ascend()?);
                            continue;
                        }
                        if next != Token::Comma {
                            return Err(parse_error("comma or array end", &next, at));
                        }
                        self.tokens.next()
                    }
                    Open::Object => {
                        let key: Value = self.keys.raw_get(depth)?;
                        table.raw_set(key, value)?;
                        let (next, at) = self.tokens.next();
                        if next == Token::ObjEnd {
                            value = Value::Table(self.ascend()?);
                            continue;
                        }
                        if next != Token::Comma {
                            return Err(parse_error("comma or object end", &next, at));
                        }
                        let (key_token, key_at) = self.tokens.next();
                        self.object_key(key_token, key_at)?
                    }
                };
                (token, index) = (next, at);
                break;
            }
        }
    }
}
