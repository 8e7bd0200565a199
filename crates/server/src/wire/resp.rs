//! RESP2/RESP3 codec. Pure and total: bytes in, a value or a command, "need
//! more bytes" (`Ok(None)`), or a typed [`ProtocolError`]; never a panic.
//!
//! Two parsers:
//!
//! - [`CommandParser`]: what a server reads from a client, exactly as Redis
//!   reads it: a multibulk array of bulk strings (`*N\r\n$L\r\n…\r\n`) or an
//!   inline command line (`SET k v\n`, with Redis's quoting rules). It
//!   resumes: an incomplete command keeps where its arguments lie, the
//!   length of the bulk being awaited and how far the current line (inline
//!   command, `*N` or `$N` header) has been searched for its end, so a
//!   command that trickles in one byte per read costs linear time in all.
//! - [`parse_value`]: any RESP2/RESP3 value (what a client reads from a
//!   server), with a nesting limit; used by tests and the fuzz target.
//!
//! Every length is checked against [`Limits`] and against the bytes present
//! before anything is allocated for it: a `$16777216` header costs nothing
//! until those bytes have arrived, and an `*1000000` header does not
//! reserve a million slots.
//!
//! [`Reply`] is the encoder: one tree per reply, written as RESP2 or RESP3.

use std::fmt;

/// Redis's limit on the digits line of `*N` / `$N` headers (and inline
/// commands): 64 KiB without a line end is an error, not a wait.
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// Largest bulk string accepted (Redis: 512 MiB; here 16 MiB, the store's
/// value limit).
pub(crate) const MAX_BULK: usize = 16 * 1024 * 1024;
/// Most arguments in one command (Redis's limit).
pub(crate) const MAX_ARGS: usize = 1024 * 1024;
/// Before authentication (Redis 7 does the same): at most this many
/// arguments …
pub(crate) const UNAUTH_MAX_ARGS: usize = 10;
/// Argument positions a parser keeps allocated between commands.
const KEPT_ARG_SLOTS: usize = 64;
/// … of at most this many bytes each.
pub(crate) const UNAUTH_MAX_BULK: usize = 16 * 1024;
/// Deepest nesting [`parse_value`] follows.
pub(crate) const MAX_DEPTH: usize = 32;

/// Size limits applied while parsing a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_args: usize,
    pub max_bulk: usize,
    /// Whether the limits are the pre-authentication ones (changes the
    /// error text, as in Redis).
    pub unauthenticated: bool,
}

impl Limits {
    pub const AUTHENTICATED: Limits = Limits {
        max_args: MAX_ARGS,
        max_bulk: MAX_BULK,
        unauthenticated: false,
    };
    pub const UNAUTHENTICATED: Limits = Limits {
        max_args: UNAUTH_MAX_ARGS,
        max_bulk: UNAUTH_MAX_BULK,
        unauthenticated: true,
    };
}

/// A malformed request. The server answers `-ERR Protocol error: …` and
/// closes the connection, as Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
    /// An array element is not a bulk string (nested arrays, integers …).
    ExpectedBulk(u8),
    /// A bulk string is not followed by `\r\n`.
    ExpectedCrlf,
    TooBigMultibulkCount,
    TooBigBulkCount,
    TooBigInline,
    UnbalancedQuotes,
    /// Reply parsing only: an unknown type byte.
    UnknownType(u8),
    /// Reply parsing only: a malformed line (integer, double, boolean …).
    InvalidLine,
    /// Reply parsing only: nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::UnauthenticatedMultibulkLength => {
                f.write_str("unauthenticated multibulk length")
            }
            ProtocolError::UnauthenticatedBulkLength => f.write_str("unauthenticated bulk length"),
            ProtocolError::ExpectedBulk(b) => {
                if b.is_ascii_graphic() {
                    write!(f, "expected '$', got '{}'", char::from(*b))
                } else {
                    write!(f, "expected '$', got byte 0x{b:02x}")
                }
            }
            ProtocolError::ExpectedCrlf => f.write_str("expected CRLF after bulk string"),
            ProtocolError::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
            ProtocolError::TooBigInline => f.write_str("too big inline request"),
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            ProtocolError::UnknownType(b) => write!(f, "unknown type byte 0x{b:02x}"),
            ProtocolError::InvalidLine => f.write_str("invalid line"),
            ProtocolError::TooDeep => f.write_str("nested too deep"),
        }
    }
}

impl std::error::Error for ProtocolError {}

use reddb_service::strict_decimal::parse_i64;

/// A complete command's arguments and the bytes it used.
pub(crate) type Parsed = (Vec<Vec<u8>>, usize);

/// A resumable command parser (one per connection).
///
/// Feed it the connection's unconsumed bytes starting at the current
/// command; it returns `Ok(Some((args, used)))` for a complete command
/// (`args` may be empty: Redis ignores `*0`, `*-1` and blank inline lines,
/// and so must the caller), `Ok(None)` when more bytes are needed (it keeps
/// its progress), or an error. The caller must only append to the bytes
/// between calls until a command completes, then drop `used` bytes.
///
/// Every byte is examined a bounded number of times however the command is
/// split into reads: a line's end is searched for from where the last
/// search stopped (one byte back when that byte is a CR), a `$N` header is
/// read once and its bulk awaited in O(1) per call, and finished arguments
/// are kept as positions, copied out once when the command completes.
#[derive(Debug, Default, Clone)]
pub struct CommandParser {
    /// Where the finished arguments of the multibulk lie in the input.
    args: Vec<(usize, usize)>,
    /// Its announced count (0: no multibulk in progress).
    expected: usize,
    /// Bytes of the current command already consumed.
    pos: usize,
    /// The length announced by the `$N` header just read; its bulk (at
    /// `pos`) is awaited.
    bulk: Option<usize>,
    /// Where the search for the end of the line being read resumes (0: at
    /// the line's start).
    scan: usize,
    /// Bytes examined since the parser was made (a measure of work, for
    /// tests and benchmarks).
    examined: u64,
    /// A finished command's argument vectors, handed back when it ran
    /// ([`CommandParser::recycle`]), refilled by the next command: a
    /// pipeline of `GET`s allocates nothing per command for its arguments.
    spare: Vec<Vec<u8>>,
}

/// Largest argument vector kept for reuse (a larger one is freed).
const KEPT_ARG_BYTES: usize = 4096;

impl CommandParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets a partially parsed command.
    pub fn reset(&mut self) {
        let examined = self.examined;
        // The argument list's allocation is kept for the next command
        // (unless a long command left it large).
        let mut args = std::mem::take(&mut self.args);
        args.clear();
        if args.capacity() > KEPT_ARG_SLOTS {
            args = Vec::new();
        }
        let spare = std::mem::take(&mut self.spare);
        *self = Self {
            examined,
            args,
            spare,
            ..Self::default()
        };
    }

    /// Takes back a finished command's arguments for the next command to
    /// fill, keeping at most [`KEPT_ARG_SLOTS`] vectors of at most
    /// [`KEPT_ARG_BYTES`] each (their contents are overwritten by the next
    /// command, and never read before).
    pub(crate) fn recycle(&mut self, mut args: Vec<Vec<u8>>) {
        if args.capacity() > KEPT_ARG_SLOTS {
            return;
        }
        args.retain(|a| a.capacity() <= KEPT_ARG_BYTES);
        self.spare = args;
    }

    /// Bytes of the current, incomplete command parsed so far.
    #[cfg(test)]
    pub(crate) fn in_progress(&self) -> bool {
        self.expected > 0 || self.pos > 0 || self.scan > 0
    }

    /// Bytes examined (searched for a line end) since the parser was made.
    pub fn examined(&self) -> u64 {
        self.examined
    }

    /// Bytes this parser holds besides the caller's buffer (the positions
    /// of finished arguments), for memory accounting.
    pub(crate) fn held_bytes(&self) -> usize {
        self.args
            .capacity()
            .saturating_mul(std::mem::size_of::<(usize, usize)>())
            .saturating_add(self.spare.iter().map(Vec::capacity).sum::<usize>())
    }

    pub fn parse(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<Parsed>, ProtocolError> {
        let r = self.parse_inner(buf, limits);
        if r.is_err() {
            self.reset();
        }
        r
    }

    fn parse_inner(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<Parsed>, ProtocolError> {
        if self.expected == 0 {
            match buf.first() {
                None => return Ok(None),
                Some(b'*') => {}
                Some(_) => return self.inline(buf),
            }
            let Some((n, next)) = self.multibulk_header(buf, limits)? else {
                return Ok(None);
            };
            if n == 0 {
                self.reset();
                return Ok(Some((Vec::new(), next)));
            }
            self.expected = n;
            self.pos = next;
            self.args.clear();
        }
        while self.args.len() < self.expected {
            let len = match self.bulk {
                Some(len) => len,
                None => match self.bulk_header(buf, limits)? {
                    Some(len) => len,
                    None => return Ok(None),
                },
            };
            let start = self.pos;
            let end = start.saturating_add(len);
            let Some(terminator) = buf.get(end..end.saturating_add(2)) else {
                return Ok(None);
            };
            if terminator != b"\r\n" {
                return Err(ProtocolError::ExpectedCrlf);
            }
            self.args.push((start, end));
            self.pos = end + 2;
            self.bulk = None;
        }
        let used = self.pos;
        let mut args = std::mem::take(&mut self.spare);
        args.truncate(self.args.len());
        for (i, &(s, e)) in self.args.iter().enumerate() {
            let bytes = buf.get(s..e).unwrap_or(&[]);
            match args.get_mut(i) {
                Some(a) => {
                    a.clear();
                    a.extend_from_slice(bytes);
                }
                None => args.push(bytes.to_vec()),
            }
        }
        self.reset();
        Ok(Some((args, used)))
    }

    /// The `*N\r\n` header at the front of `buf`: `Ok(None)` while
    /// incomplete, else the argument count (0 for `*0` and negative counts)
    /// and the position after the header. Refuses a count over the limits.
    fn multibulk_header(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<(usize, usize)>, ProtocolError> {
        let Some((digits, next)) = self.line(buf, 0, ProtocolError::TooBigMultibulkCount)? else {
            return Ok(None);
        };
        let n = parse_i64(digits).ok_or(ProtocolError::InvalidMultibulkLength)?;
        if n <= 0 {
            return Ok(Some((0, next)));
        }
        let n = usize::try_from(n).map_err(|_| ProtocolError::InvalidMultibulkLength)?;
        if n > MAX_ARGS {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if n > limits.max_args {
            return Err(if limits.unauthenticated {
                ProtocolError::UnauthenticatedMultibulkLength
            } else {
                ProtocolError::InvalidMultibulkLength
            });
        }
        Ok(Some((n, next)))
    }

    /// The `$L\r\n` header of the next argument at `self.pos`: `Ok(None)`
    /// while incomplete, else its length (remembered in `self.bulk`, with
    /// `self.pos` moved to its first byte). Refuses a length over the limits.
    fn bulk_header(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>, ProtocolError> {
        let pos = self.pos;
        let Some(&first) = buf.get(pos) else {
            return Ok(None);
        };
        if first != b'$' {
            return Err(ProtocolError::ExpectedBulk(first));
        }
        let Some((digits, start)) = self.line(buf, pos, ProtocolError::TooBigBulkCount)? else {
            return Ok(None);
        };
        let len = parse_i64(digits).ok_or(ProtocolError::InvalidBulkLength)?;
        let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
        if len > MAX_BULK {
            return Err(ProtocolError::InvalidBulkLength);
        }
        if len > limits.max_bulk {
            return Err(if limits.unauthenticated {
                ProtocolError::UnauthenticatedBulkLength
            } else {
                ProtocolError::InvalidBulkLength
            });
        }
        self.pos = start;
        self.bulk = Some(len);
        Ok(Some(len))
    }

    /// A `<prefix><digits>\r\n` header line at `pos`: `Ok(None)` while
    /// incomplete (the search resumes where it stopped). Returns the integer
    /// text and the position after the line end.
    fn line<'b>(
        &mut self,
        buf: &'b [u8],
        pos: usize,
        too_big: ProtocolError,
    ) -> Result<Option<(&'b [u8], usize)>, ProtocolError> {
        let from = self.scan.max(pos + 1);
        let hay = buf.get(from..).unwrap_or(&[]);
        match find_crlf(hay) {
            Some(p) => {
                self.examined += (p + 2) as u64;
                self.scan = 0;
                let end = from + p;
                Ok(Some((buf.get(pos + 1..end).unwrap_or(&[]), end + 2)))
            }
            None => {
                self.examined += hay.len() as u64;
                // Resume at a trailing CR: its LF may be next.
                self.scan = if hay.last() == Some(&b'\r') {
                    buf.len() - 1
                } else {
                    buf.len()
                }
                .max(pos + 1);
                if buf.len().saturating_sub(pos) > MAX_LINE {
                    Err(too_big)
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// An inline command: one line up to `\n` (a `\r` before it is
    /// dropped), at most [`MAX_LINE`] bytes.
    fn inline(&mut self, buf: &[u8]) -> Result<Option<Parsed>, ProtocolError> {
        let window = buf.get(..MAX_LINE + 1).unwrap_or(buf);
        let from = self.scan.min(window.len());
        let hay = window.get(from..).unwrap_or(&[]);
        let Some(p) = hay.iter().position(|&b| b == b'\n') else {
            self.examined += hay.len() as u64;
            self.scan = window.len();
            return if buf.len() > MAX_LINE {
                Err(ProtocolError::TooBigInline)
            } else {
                Ok(None)
            };
        };
        self.examined += (p + 1) as u64;
        let nl = from + p;
        let mut line = buf.get(..nl).unwrap_or(&[]);
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        let args = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
        self.reset();
        Ok(Some((args, nl + 1)))
    }
}

/// Position of the first `\r\n` in `hay`.
fn find_crlf(hay: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + hay.get(from..)?.iter().position(|&b| b == b'\r')?;
        match hay.get(at + 1) {
            Some(b'\n') => return Some(at),
            Some(_) => from = at + 1,
            None => return None,
        }
    }
}

/// A `<prefix><digits>\r\n` header at `pos` (no saved progress; replies).
/// `Ok(None)` while incomplete. Returns the integer text and the position
/// after the line end.
fn header_line(
    buf: &[u8],
    pos: usize,
    too_big: ProtocolError,
) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let from = pos + 1;
    match buf.get(from..).and_then(find_crlf) {
        Some(p) => Ok(Some((buf.get(from..from + p).unwrap_or(&[]), from + p + 2))),
        None if buf.len().saturating_sub(pos) > MAX_LINE => Err(too_big),
        None => Ok(None),
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Redis's `sdssplitargs`: words separated by blanks; `"…"` with `\n \r \t
/// \b \a \\ \" \xHH` escapes; `'…'` with `\'`. A closing quote must be
/// followed by a blank or the end. `None` on unbalanced quotes.
pub(crate) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while line.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if line.get(i).is_none() {
            return Some(args);
        }
        let (word, next) = split_word(line, i)?;
        args.push(word);
        i = next;
    }
}

/// The word starting at `i` (not a blank): bare bytes up to a blank or the
/// end, or up to an opening quote, whose closing quote ends the word.
/// Returns it and the position after it; `None` on unbalanced quotes.
fn split_word(line: &[u8], mut i: usize) -> Option<(Vec<u8>, usize)> {
    let mut word = Vec::new();
    loop {
        match line.get(i).copied() {
            None => return Some((word, i)),
            Some(b) if b.is_ascii_whitespace() => return Some((word, i)),
            Some(b'"') => return double_quoted(line, i + 1, word),
            Some(b'\'') => return single_quoted(line, i + 1, word),
            Some(c) => {
                word.push(c);
                i += 1;
            }
        }
    }
}

/// The rest of a `"…"` word from `i` (after the opening quote), appended
/// to `word`: `\n \r \t \b \a \\ \" \xHH` escapes, any other escaped
/// byte stands for itself. Returns the word and the position after the
/// closing quote, which must be followed by a blank or the end.
fn double_quoted(line: &[u8], mut i: usize, mut word: Vec<u8>) -> Option<(Vec<u8>, usize)> {
    let at = |i: usize| line.get(i).copied();
    loop {
        match at(i) {
            None => return None,
            Some(b'\\') => {
                if let (Some(b'x'), Some(h), Some(l)) = (at(i + 1), at(i + 2), at(i + 3)) {
                    if let (Some(h), Some(l)) = (hex_digit(h), hex_digit(l)) {
                        word.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                word.push(match at(i + 1)? {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 8,
                    b'a' => 7,
                    other => other,
                });
                i += 2;
            }
            Some(b'"') => return closing_quote(line, i, word),
            Some(c) => {
                word.push(c);
                i += 1;
            }
        }
    }
}

/// The rest of a `'…'` word from `i` (after the opening quote), appended
/// to `word`: only `\'` is an escape. Returns the word and the position
/// after the closing quote, which must be followed by a blank or the end.
fn single_quoted(line: &[u8], mut i: usize, mut word: Vec<u8>) -> Option<(Vec<u8>, usize)> {
    let at = |i: usize| line.get(i).copied();
    loop {
        match at(i) {
            None => return None,
            Some(b'\\') if at(i + 1) == Some(b'\'') => {
                word.push(b'\'');
                i += 2;
            }
            Some(b'\'') => return closing_quote(line, i, word),
            Some(c) => {
                word.push(c);
                i += 1;
            }
        }
    }
}

/// A closing quote at `i` ends `word` only when a blank or the end follows.
fn closing_quote(line: &[u8], i: usize, word: Vec<u8>) -> Option<(Vec<u8>, usize)> {
    if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
        return None;
    }
    Some((word, i + 1))
}

/// A parsed RESP2/RESP3 value (what a server sends).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or `_`.
    Null,
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Set(Vec<Value>),
    Push(Vec<Value>),
    Attribute(Vec<(Value, Value)>),
    Boolean(bool),
    /// The text of a `,` double (kept as text: `inf`, `nan` …).
    Double(Vec<u8>),
    BigNumber(Vec<u8>),
    BulkError(Vec<u8>),
    /// `=` verbatim string: format (3 bytes) and text.
    Verbatim(Vec<u8>, Vec<u8>),
}

impl Value {
    /// The text of a simple string, bulk string or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Simple(b) | Value::Bulk(b) | Value::Verbatim(_, b) => Some(b),
            _ => None,
        }
    }
}

/// Parses one value from the front of `buf`: `Ok(Some((value, used)))`,
/// `Ok(None)` when incomplete, or an error. Aggregates hold at most
/// [`MAX_ARGS`] elements, bulk strings at most [`MAX_BULK`] bytes, nesting
/// at most [`MAX_DEPTH`] levels.
pub fn parse_value(buf: &[u8]) -> Result<Option<(Value, usize)>, ProtocolError> {
    parse_value_at(buf, 0, 0)
}

fn parse_value_at(
    buf: &[u8],
    pos: usize,
    depth: usize,
) -> Result<Option<(Value, usize)>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError::TooDeep);
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((line, next)) = header_line(buf, pos, ProtocolError::InvalidLine)? else {
        return Ok(None);
    };
    let v = match kind {
        b'+' => Value::Simple(text_line(line)?.to_vec()),
        b'-' => Value::Error(text_line(line)?.to_vec()),
        b':' => Value::Integer(parse_i64(line).ok_or(ProtocolError::InvalidLine)?),
        b'_' if line.is_empty() => Value::Null,
        b'_' => return Err(ProtocolError::InvalidLine),
        b'#' => match line {
            b"t" => Value::Boolean(true),
            b"f" => Value::Boolean(false),
            _ => return Err(ProtocolError::InvalidLine),
        },
        b',' | b'(' => {
            let ok = !line.is_empty()
                && line
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'));
            if !ok {
                return Err(ProtocolError::InvalidLine);
            }
            if kind == b',' {
                Value::Double(line.to_vec())
            } else {
                Value::BigNumber(line.to_vec())
            }
        }
        b'$' if line == b"-1" => Value::Null,
        b'$' | b'!' | b'=' => return parse_blob_value(kind, buf, line, next),
        b'*' | b'~' | b'>' => return parse_sequence(kind, buf, line, next, depth),
        b'%' | b'|' => return parse_pairs(kind, buf, line, next, depth),
        other => return Err(ProtocolError::UnknownType(other)),
    };
    Ok(Some((v, next)))
}

/// A simple string or error line: no CR or LF inside.
fn text_line(v: &[u8]) -> Result<&[u8], ProtocolError> {
    if v.contains(&b'\r') || v.contains(&b'\n') {
        Err(ProtocolError::InvalidLine)
    } else {
        Ok(v)
    }
}

/// The bytes of a length-prefixed value whose header (length text `line`)
/// ends at `next`: `Ok(None)` while incomplete, else the bytes and the
/// position after their `\r\n`.
fn blob(buf: &[u8], line: &[u8], next: usize) -> Result<Option<(Vec<u8>, usize)>, ProtocolError> {
    let len = parse_i64(line).ok_or(ProtocolError::InvalidBulkLength)?;
    let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
    if len > MAX_BULK {
        return Err(ProtocolError::InvalidBulkLength);
    }
    let end = next + len;
    let Some(term) = buf.get(end..end + 2) else {
        return Ok(None);
    };
    if term != b"\r\n" {
        return Err(ProtocolError::ExpectedCrlf);
    }
    Ok(Some((buf.get(next..end).unwrap_or(&[]).to_vec(), end + 2)))
}

/// The element count of an aggregate header: `None` for `-1` (null).
fn aggregate_count(line: &[u8]) -> Result<Option<usize>, ProtocolError> {
    let n = parse_i64(line).ok_or(ProtocolError::InvalidMultibulkLength)?;
    if n == -1 {
        return Ok(None);
    }
    let n = usize::try_from(n).map_err(|_| ProtocolError::InvalidMultibulkLength)?;
    if n > MAX_ARGS {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    Ok(Some(n))
}

/// `$` bulk string, `!` bulk error or `=` verbatim string (`fmt:text`).
fn parse_blob_value(
    kind: u8,
    buf: &[u8],
    line: &[u8],
    next: usize,
) -> Result<Option<(Value, usize)>, ProtocolError> {
    let Some((data, end)) = blob(buf, line, next)? else {
        return Ok(None);
    };
    let v = match kind {
        b'$' => Value::Bulk(data),
        b'!' => Value::BulkError(data),
        _ => {
            if data.get(3) != Some(&b':') {
                return Err(ProtocolError::InvalidLine);
            }
            let fmt = data.get(..3).unwrap_or(&[]).to_vec();
            Value::Verbatim(fmt, data.get(4..).unwrap_or(&[]).to_vec())
        }
    };
    Ok(Some((v, end)))
}

/// `*` array, `~` set or `>` push: a count, then that many values.
fn parse_sequence(
    kind: u8,
    buf: &[u8],
    line: &[u8],
    next: usize,
    depth: usize,
) -> Result<Option<(Value, usize)>, ProtocolError> {
    let Some(n) = aggregate_count(line)? else {
        return Ok(Some((Value::Null, next)));
    };
    let mut items = Vec::new();
    let mut p = next;
    for _ in 0..n {
        let Some((v, used)) = parse_value_at(buf, p, depth + 1)? else {
            return Ok(None);
        };
        items.push(v);
        p = used;
    }
    let v = match kind {
        b'*' => Value::Array(items),
        b'~' => Value::Set(items),
        _ => Value::Push(items),
    };
    Ok(Some((v, p)))
}

/// `%` map or `|` attribute: a count, then that many key/value pairs.
fn parse_pairs(
    kind: u8,
    buf: &[u8],
    line: &[u8],
    next: usize,
    depth: usize,
) -> Result<Option<(Value, usize)>, ProtocolError> {
    let Some(n) = aggregate_count(line)? else {
        return Err(ProtocolError::InvalidMultibulkLength);
    };
    let mut pairs = Vec::new();
    let mut p = next;
    for _ in 0..n {
        let Some((k, used)) = parse_value_at(buf, p, depth + 1)? else {
            return Ok(None);
        };
        let Some((v, used)) = parse_value_at(buf, used, depth + 1)? else {
            return Ok(None);
        };
        pairs.push((k, v));
        p = used;
    }
    let v = if kind == b'%' {
        Value::Map(pairs)
    } else {
        Value::Attribute(pairs)
    };
    Ok(Some((v, p)))
}

/// A reply, encoded as RESP2 or RESP3 by [`Reply::encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Ok,
    Simple(String),
    /// An error line without the leading `-`, e.g. `ERR syntax error`.
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// A missing value: `$-1` (RESP2) or `_` (RESP3).
    Nil,
    /// A missing aggregate: `*-1` (RESP2) or `_` (RESP3).
    NilArray,
    Array(Vec<Reply>),
    /// A map (RESP3); a flat key/value array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set (RESP3); an array in RESP2.
    Set(Vec<Reply>),
    /// Pairs as an array of two-element arrays (RESP3); a flat array in
    /// RESP2 (`HRANDFIELD … WITHVALUES`).
    Pairs(Vec<(Reply, Reply)>),
    /// `#t`/`#f` (RESP3); `:1`/`:0` in RESP2.
    Bool(bool),
    /// A floating-point number, already in its text (Redis's `%.17g`,
    /// `inf`, `-inf`): `,` (RESP3); a bulk string in RESP2.
    Double(String),
    /// A push message (RESP3 `>`: pub/sub messages, invalidations); an
    /// array in RESP2.
    Push(Vec<Reply>),
    /// Several replies back to back (one per channel of `SUBSCRIBE a b`).
    Sequence(Vec<Reply>),
}

impl Reply {
    pub fn err(msg: impl Into<String>) -> Reply {
        Reply::Error(msg.into())
    }

    pub fn bulk(b: impl Into<Vec<u8>>) -> Reply {
        Reply::Bulk(b.into())
    }

    pub fn simple(s: impl Into<String>) -> Reply {
        Reply::Simple(s.into())
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, resp3: bool, out: &mut Vec<u8>) {
        match self {
            Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => line(out, b'-', s.as_bytes()),
            Reply::Int(i) => {
                out.push(b':');
                decimal(out, i.unsigned_abs(), *i < 0);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Bulk(b) => {
                header(out, b'$', b.len());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                header(out, b'*', items.len());
                for i in items {
                    i.encode(resp3, out);
                }
            }
            Reply::Set(items) => {
                header(out, if resp3 { b'~' } else { b'*' }, items.len());
                for i in items {
                    i.encode(resp3, out);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    header(out, b'%', pairs.len());
                } else {
                    header(out, b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    k.encode(resp3, out);
                    v.encode(resp3, out);
                }
            }
            Reply::Pairs(pairs) => {
                header(out, b'*', if resp3 { pairs.len() } else { pairs.len() * 2 });
                for (k, v) in pairs {
                    if resp3 {
                        header(out, b'*', 2);
                    }
                    k.encode(resp3, out);
                    v.encode(resp3, out);
                }
            }
            Reply::Bool(b) if resp3 => {
                out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" })
            }
            Reply::Bool(b) => out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
            Reply::Double(text) if resp3 => line(out, b',', text.as_bytes()),
            Reply::Double(text) => {
                header(out, b'$', text.len());
                out.extend_from_slice(text.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Reply::Push(items) => {
                header(out, if resp3 { b'>' } else { b'*' }, items.len());
                for i in items {
                    i.encode(resp3, out);
                }
            }
            Reply::Sequence(replies) => {
                for r in replies {
                    r.encode(resp3, out);
                }
            }
        }
    }
}

/// Appends `n` in decimal (with a minus sign when `negative`), without
/// the allocation `to_string` makes.
fn decimal(out: &mut Vec<u8>, mut n: u64, negative: bool) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(digits.get(at..).unwrap_or(&[]));
}

fn header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    decimal(out, n as u64, false);
    out.extend_from_slice(b"\r\n");
}

/// A simple string or error line; CR and LF (which would end the line
/// early and let a client inject replies) become spaces.
fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    out.extend(text.iter().map(|&b| match b {
        b'\r' | b'\n' => b' ',
        other => other,
    }));
    out.extend_from_slice(b"\r\n");
}

/// Encodes a command as a multibulk array (the client side; tests).
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    header(&mut out, b'*', args.len());
    for a in args {
        let a = a.as_ref();
        header(&mut out, b'$', a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The line-end search finds what a two-byte window search finds.
        #[test]
        fn crlf_search_matches_the_window_search(hay in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'a')], 0..12)) {
            prop_assert_eq!(find_crlf(&hay), hay.windows(2).position(|w| w == b"\r\n"));
        }

        /// Integer replies and headers print as `to_string` would.
        #[test]
        fn integers_encode_in_decimal(n in any::<i64>(), len in any::<usize>()) {
            let mut out = Vec::new();
            Reply::Int(n).encode(false, &mut out);
            prop_assert_eq!(out, format!(":{n}\r\n").into_bytes());
            let mut out = Vec::new();
            header(&mut out, b'*', len);
            prop_assert_eq!(out, format!("*{len}\r\n").into_bytes());
        }
    }

    #[test]
    fn integer_extremes_encode() {
        for n in [0, -1, 9, 10, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            Reply::Int(n).encode(true, &mut out);
            assert_eq!(out, format!(":{n}\r\n").into_bytes());
        }
    }

    /// The codec is pure syntax: it knows nothing of the service.
    #[test]
    fn the_codec_does_not_reach_into_the_service() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/wire/resp.rs");
        let code = std::fs::read_to_string(path).unwrap();
        let needle = ["crate::", "service"].concat();
        assert!(!code.contains(&needle), "{path} uses the service");
    }

    fn cmd(buf: &[u8]) -> Result<Option<Parsed>, ProtocolError> {
        CommandParser::new().parse(buf, &Limits::AUTHENTICATED)
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    /// Feeds `bytes` one more byte per call, as a client writing one byte
    /// at a time would; returns the last result and the work done.
    fn dribble(bytes: &[u8], limits: &Limits) -> (Result<Option<Parsed>, ProtocolError>, u64) {
        let mut p = CommandParser::new();
        for cut in 1..bytes.len() {
            match p.parse(&bytes[..cut], limits) {
                Ok(None) => {}
                other => return (other, p.examined()),
            }
        }
        let r = p.parse(bytes, limits);
        (r, p.examined())
    }

    #[test]
    fn dribbled_lines_are_scanned_in_linear_time() {
        // The longest inline command, before AUTH, one byte per read: before
        // the parser kept its progress, every read searched the line from
        // its first byte (2,147,516,416 bytes examined for these 65,536).
        let mut inline = b"ECHO ".to_vec();
        inline.resize(MAX_LINE - 2, b'x');
        inline.extend_from_slice(b"\r\n");
        let (r, work) = dribble(&inline, &Limits::UNAUTHENTICATED);
        let (args, used) = r.unwrap().unwrap();
        assert_eq!((args.len(), used), (2, inline.len()));
        assert!(
            work <= 2 * inline.len() as u64,
            "inline: {work} bytes examined for {}",
            inline.len()
        );
        // One byte more is refused, in linear time too.
        let mut over = inline.clone();
        over.insert(0, b' ');
        over.insert(0, b' ');
        let (r, work) = dribble(&over, &Limits::UNAUTHENTICATED);
        assert_eq!(r, Err(ProtocolError::TooBigInline));
        assert!(work <= 2 * over.len() as u64, "{work}");
        // A multibulk command with a large bulk: header lines are read once,
        // the bulk is awaited without being looked at.
        let big = vec![b'v'; 100_000];
        let cmd = encode_command(&[&b"SET"[..], b"k", &big]);
        let (r, work) = dribble(&cmd, &Limits::AUTHENTICATED);
        assert_eq!(
            r,
            Ok(Some((vec![b"SET".to_vec(), b"k".to_vec(), big], cmd.len())))
        );
        assert!(
            work <= 64,
            "multibulk: {work} bytes examined for {}",
            cmd.len()
        );
        // `*N` and `$N` lines that never end: refused past 64 KiB, linearly.
        for (prefix, err) in [
            (&b"*"[..], ProtocolError::TooBigMultibulkCount),
            (b"*1\r\n$", ProtocolError::TooBigBulkCount),
        ] {
            let mut line = prefix.to_vec();
            line.resize(MAX_LINE + 8, b'1');
            let (r, work) = dribble(&line, &Limits::UNAUTHENTICATED);
            assert_eq!(r, Err(err));
            assert!(work <= 2 * line.len() as u64, "{work}");
        }
        // A CRLF split across reads is still found.
        let mut p = CommandParser::new();
        assert_eq!(p.parse(b"*1\r", &Limits::AUTHENTICATED), Ok(None));
        assert_eq!(p.parse(b"*1\r\n$4\r", &Limits::AUTHENTICATED), Ok(None));
        assert_eq!(
            p.parse(b"*1\r\n$4\r\nPING\r\n", &Limits::AUTHENTICATED),
            Ok(Some((strs(&["PING"]), 14)))
        );
        assert!(!p.in_progress());
    }

    #[test]
    fn multibulk() {
        let buf = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nrest";
        assert_eq!(cmd(buf), Ok(Some((strs(&["GET", "k"]), buf.len() - 4))));
        for cut in 0..buf.len() - 4 {
            assert_eq!(cmd(&buf[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(cmd(b"*0\r\n"), Ok(Some((vec![], 4))));
        assert_eq!(cmd(b"*-1\r\n"), Ok(Some((vec![], 5))));
        assert_eq!(cmd(b"*1\r\n$-1\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(cmd(b"*1\r\n*1\r\n"), Err(ProtocolError::ExpectedBulk(b'*')));
        assert_eq!(
            cmd(b"*1\r\n$1\r\nabc\r\n"),
            Err(ProtocolError::ExpectedCrlf)
        );
        assert_eq!(cmd(b"*x\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(
            cmd(b"*1048577\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            cmd(b"*1\r\n$16777217\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        // A huge announced length costs nothing until the bytes arrive.
        assert_eq!(cmd(b"*1000000\r\n$16777216\r\nab"), Ok(None));
    }

    #[test]
    fn unauthenticated_limits() {
        let l = Limits::UNAUTHENTICATED;
        let mut p = CommandParser::new();
        assert_eq!(
            p.parse(b"*11\r\n", &l),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            p.parse(b"*1\r\n$16385\r\n", &l),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
    }

    #[test]
    fn resumes() {
        let buf = encode_command(&["SET", "key", "value"]);
        let mut p = CommandParser::new();
        for cut in 0..buf.len() {
            assert_eq!(p.parse(&buf[..cut], &Limits::AUTHENTICATED), Ok(None));
        }
        assert_eq!(
            p.parse(&buf, &Limits::AUTHENTICATED),
            Ok(Some((strs(&["SET", "key", "value"]), buf.len())))
        );
        assert!(!p.in_progress());
    }

    #[test]
    fn inline() {
        let line = b"SET k \"a b\\x41\\n\" 'it\\'s'\r\n";
        assert_eq!(
            cmd(line),
            Ok(Some((
                vec![
                    b"SET".to_vec(),
                    b"k".to_vec(),
                    b"a bA\n".to_vec(),
                    b"it's".to_vec()
                ],
                line.len()
            )))
        );
        assert_eq!(cmd(b"PING\n"), Ok(Some((strs(&["PING"]), 5))));
        assert_eq!(cmd(b"\r\n"), Ok(Some((vec![], 2))));
        assert_eq!(cmd(b"PING"), Ok(None));
        assert_eq!(cmd(b"GET \"k\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(cmd(b"GET \"k\"x\n"), Err(ProtocolError::UnbalancedQuotes));
        let long = vec![b'a'; MAX_LINE + 1];
        assert_eq!(cmd(&long), Err(ProtocolError::TooBigInline));
    }

    #[test]
    fn values() {
        let buf = b"%2\r\n+a\r\n:1\r\n$1\r\nb\r\n*2\r\n_\r\n#t\r\n";
        let (v, used) = parse_value(buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(
            v,
            Value::Map(vec![
                (Value::Simple(b"a".to_vec()), Value::Integer(1)),
                (
                    Value::Bulk(b"b".to_vec()),
                    Value::Array(vec![Value::Null, Value::Boolean(true)])
                ),
            ])
        );
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert_eq!(parse_value(deep.as_bytes()), Err(ProtocolError::TooDeep));
    }

    #[test]
    fn replies_round_trip() {
        let r = Reply::Map(vec![(
            Reply::bulk("k"),
            Reply::Array(vec![Reply::Nil, Reply::Int(-3), Reply::Bool(true)]),
        )]);
        let mut out = Vec::new();
        r.encode(false, &mut out);
        assert_eq!(out, b"*2\r\n$1\r\nk\r\n*3\r\n$-1\r\n:-3\r\n:1\r\n");
        out.clear();
        r.encode(true, &mut out);
        assert_eq!(out, b"%1\r\n$1\r\nk\r\n*3\r\n_\r\n:-3\r\n#t\r\n");
        out.clear();
        Reply::err("ERR a\r\nb").encode(false, &mut out);
        assert_eq!(out, b"-ERR a  b\r\n");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = cmd(&bytes);
            let _ = CommandParser::new().parse(&bytes, &Limits::UNAUTHENTICATED);
            let _ = parse_value(&bytes);
        }

        #[test]
        fn commands_round_trip(args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..8)) {
            let buf = encode_command(&args);
            prop_assert_eq!(cmd(&buf), Ok(Some((args.clone(), buf.len()))));
            let mut p = CommandParser::new();
            for cut in 0..buf.len() {
                prop_assert_eq!(p.parse(&buf[..cut], &Limits::AUTHENTICATED), Ok(None));
            }
            prop_assert_eq!(p.parse(&buf, &Limits::AUTHENTICATED), Ok(Some((args, buf.len()))));
        }

        #[test]
        fn split_reads_parse_like_one_read(
            bytes in prop::collection::vec(
                prop::sample::select(vec![b'*', b'$', b'\r', b'\n', b'1', b'3', b'0', b'-', b'a', b' ', b'"']),
                0..80,
            ),
            cuts in prop::collection::vec(0usize..80, 0..6),
            unauth in any::<bool>(),
        ) {
            let limits = if unauth { Limits::UNAUTHENTICATED } else { Limits::AUTHENTICATED };
            let whole = CommandParser::new().parse(&bytes, &limits);
            let mut ends: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            ends.push(bytes.len());
            ends.sort_unstable();
            let mut p = CommandParser::new();
            let mut split = Ok(None);
            for end in ends {
                split = p.parse(&bytes[..end], &limits);
                if !matches!(split, Ok(None)) {
                    break;
                }
            }
            prop_assert_eq!(split, whole);
        }
    }
}
