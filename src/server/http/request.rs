//! HTTP/1.1 request parsing. Pure and total: bytes in, a [`Request`], "need
//! more bytes", or a [`ParseError`] that names the HTTP status to answer.
//! Nothing is allocated in proportion to a length before that length is
//! checked against [`Limits`].

/// Size limits applied while parsing.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_head: usize,
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: 16 * 1024,
            max_body: 1024 * 1024,
        }
    }
}

pub const MAX_HEADERS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Decoded path segments, e.g. `["secrets", "red.secret.x"]`.
    pub segments: Vec<String>,
    /// Decoded query pairs in order.
    pub query: Vec<(String, String)>,
    /// The token of `Authorization: Bearer <token>`.
    pub bearer: Option<String>,
    /// Whether an `Authorization` header was present at all.
    pub has_authorization: bool,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// 431: the request line and headers exceed the limit.
    HeadTooLarge,
    /// 413: Content-Length exceeds the limit.
    BodyTooLarge,
    /// 400: not HTTP/1.x, bad header syntax, bad Content-Length, bad path.
    Malformed(&'static str),
    /// 501: chunked or other transfer codings.
    Unsupported(&'static str),
}

impl ParseError {
    pub fn status(&self) -> u16 {
        match self {
            ParseError::HeadTooLarge => 431,
            ParseError::BodyTooLarge => 413,
            ParseError::Malformed(_) => 400,
            ParseError::Unsupported(_) => 501,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            ParseError::HeadTooLarge => "request head too large",
            ParseError::BodyTooLarge => "request body too large",
            ParseError::Malformed(m) | ParseError::Unsupported(m) => m,
        }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s` (and `+` as space when `plus` is set) into UTF-8.
pub fn percent_decode(s: &str, plus: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = hex_val(*bytes.get(i + 1)?)?;
                let lo = hex_val(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Decoded path segments and query pairs.
type Target = (Vec<String>, Vec<(String, String)>);

fn split_target(target: &str) -> Result<Target, ParseError> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    if !path.starts_with('/') {
        return Err(ParseError::Malformed(
            "request target must be an absolute path",
        ));
    }
    let mut segments = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let seg = percent_decode(raw, false)
            .ok_or(ParseError::Malformed("bad percent-encoding in path"))?;
        if seg == "." || seg == ".." || seg.contains('/') {
            return Err(ParseError::Malformed(
                "path segments may not be '.', '..' or contain '/'",
            ));
        }
        segments.push(seg);
    }
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = percent_decode(k, true)
            .ok_or(ParseError::Malformed("bad percent-encoding in query"))?;
        let v = percent_decode(v, true)
            .ok_or(ParseError::Malformed("bad percent-encoding in query"))?;
        pairs.push((k, v));
    }
    Ok((segments, pairs))
}

/// Parses one request from the front of `buf`. `Ok(None)`: incomplete.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_head {
                return Err(ParseError::HeadTooLarge);
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeadTooLarge),
        Err(_) => return Err(ParseError::Malformed("malformed HTTP request")),
    };
    if head_len > limits.max_head {
        return Err(ParseError::HeadTooLarge);
    }
    let method = req
        .method
        .ok_or(ParseError::Malformed("no method"))?
        .to_string();
    let target = req.path.ok_or(ParseError::Malformed("no request target"))?;
    let minor = req
        .version
        .ok_or(ParseError::Malformed("no HTTP version"))?;
    let mut content_length: Option<usize> = None;
    let mut keep_alive = minor == 1;
    let mut bearer = None;
    let mut has_authorization = false;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or(ParseError::Malformed("bad Content-Length"))?;
            if content_length.is_some_and(|c| c != v) {
                return Err(ParseError::Malformed("conflicting Content-Length headers"));
            }
            content_length = Some(v);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ParseError::Unsupported(
                "Transfer-Encoding is not supported; send Content-Length",
            ));
        } else if name.eq_ignore_ascii_case("connection") {
            let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            if v.split(',').any(|t| t.trim() == "close") {
                keep_alive = false;
            } else if v.split(',').any(|t| t.trim() == "keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("authorization") {
            has_authorization = true;
            let v = std::str::from_utf8(h.value)
                .map_err(|_| ParseError::Malformed("Authorization is not text"))?;
            let mut parts = v.trim().splitn(2, ' ');
            let scheme = parts.next().unwrap_or("");
            let token = parts.next().unwrap_or("").trim();
            if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
                bearer = Some(token.to_string());
            }
        }
    }
    let body_len = content_length.unwrap_or(0);
    if body_len > limits.max_body {
        return Err(ParseError::BodyTooLarge);
    }
    let total = head_len
        .checked_add(body_len)
        .ok_or(ParseError::BodyTooLarge)?;
    let Some(body) = buf.get(head_len..total) else {
        return Ok(None);
    };
    let (segments, query) = split_target(target)?;
    Ok(Some((
        Request {
            method,
            segments,
            query,
            bearer,
            has_authorization,
            body: body.to_vec(),
            keep_alive,
        },
        total,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pipelined_requests() {
        let two = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nPOST /secrets/red.secret.a%2Eb?x=1&y=a+b HTTP/1.1\r\nAuthorization: Bearer rdb_k_1\r\nContent-Length: 2\r\n\r\n{}";
        let (a, n) = parse(two, &Limits::default()).unwrap().unwrap();
        assert_eq!(a.method, "GET");
        assert_eq!(a.segments, vec!["health"]);
        assert!(a.keep_alive);
        let (b, m) = parse(&two[n..], &Limits::default()).unwrap().unwrap();
        assert_eq!(n + m, two.len());
        assert_eq!(b.segments, vec!["secrets", "red.secret.a.b"]);
        assert_eq!(b.query_value("y"), Some("a b"));
        assert_eq!(b.bearer.as_deref(), Some("rdb_k_1"));
        assert_eq!(b.body, b"{}");
    }

    #[test]
    fn incomplete_and_refused() {
        let l = Limits {
            max_head: 64,
            max_body: 4,
        };
        assert_eq!(parse(b"GET / HTTP/1.1\r\n", &l), Ok(None));
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab", &l),
            Ok(None)
        );
        assert_eq!(
            parse(b"GET / FOO/1.1\r\n\r\n", &l).err(),
            Some(ParseError::Malformed("malformed HTTP request"))
        );
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat_n(b'a', 100));
        assert_eq!(parse(&long, &l).err(), Some(ParseError::HeadTooLarge));
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", &l).err(),
            Some(ParseError::BodyTooLarge)
        );
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &l)
                .err()
                .map(|e| e.status()),
            Some(400)
        );
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &l)
                .err()
                .map(|e| e.status()),
            Some(501)
        );
        assert_eq!(
            parse(b"GET /a/%2e%2e/b HTTP/1.1\r\n\r\n", &Limits::default())
                .err()
                .map(|e| e.status()),
            Some(400)
        );
        assert_eq!(
            parse(b"GET /%zz HTTP/1.1\r\n\r\n", &Limits::default())
                .err()
                .map(|e| e.status()),
            Some(400)
        );
        assert!(
            !parse(b"GET / HTTP/1.0\r\n\r\n", &l)
                .unwrap()
                .unwrap()
                .0
                .keep_alive
        );
        assert!(
            !parse(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &l)
                .unwrap()
                .unwrap()
                .0
                .keep_alive
        );
    }
}
