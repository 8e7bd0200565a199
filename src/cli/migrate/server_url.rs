//! `redis://[USER][:PASSWORD@]HOST:PORT[/DB]` as `red migrate` takes it
//! for `--from` and `--to`: pure parsing, no I/O.
//!
//! The password is percent-decoded (as Redis clients do) into zeroizing
//! storage and never shown: [`ServerUrl::display_name`] is the
//! `HOST:PORT/DB` form used in messages and in the state file. The port is
//! required (a source on 6379 and a target on 5050 are both common, so a
//! default would guess wrong half of the time); `rediss://` (TLS) is
//! refused with the reason.

use std::fmt::Write as _;
use zeroize::Zeroizing;

/// A parsed server address with its optional credential.
pub struct ServerUrl {
    /// A host name, an IPv4 address, or an IPv6 address without brackets.
    pub host: String,
    pub port: u16,
    /// The logical database (`SELECT`), 0 when the URL has no path.
    pub db: u32,
    /// An ACL user name (`redis://alice:pw@…`); `None` for `:pw@` and for
    /// `default`'s implicit form.
    pub user: Option<String>,
    pub password: Option<Zeroizing<String>>,
}

/// Largest database number accepted in a URL (Redis's `databases` can be
/// raised; the server refuses a `SELECT` past its own count).
pub const MAX_DB: u32 = 1 << 20;

impl ServerUrl {
    /// Parses `text`; the error says what is wrong and never quotes the
    /// credential part.
    pub fn parse(text: &str) -> Result<ServerUrl, String> {
        let rest = match text.split_once("://") {
            Some(("redis", rest)) => rest,
            Some(("rediss", _)) => {
                return Err("rediss:// (TLS) is not supported: connect through a local TLS proxy and use redis://".into())
            }
            Some((scheme, _)) => {
                return Err(format!(
                    "unsupported scheme '{}' (use redis://HOST:PORT[/DB])",
                    printable(scheme)
                ))
            }
            None => return Err("not a URL (use redis://HOST:PORT[/DB])".into()),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (rest, None),
        };
        if authority.contains(['?', '#']) || path.is_some_and(|p| p.contains(['?', '#'])) {
            return Err("query strings and fragments are not supported".into());
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport)?;
        let db = match path {
            None | Some("") => 0,
            Some(p) => match p.parse::<u32>() {
                Ok(n) if n <= MAX_DB && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(format!(
                        "bad database '/{}' (a number, e.g. /0)",
                        printable(p)
                    ))
                }
            },
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (name, pass) = match u.split_once(':') {
                    Some((n, p)) => (n, Some(p)),
                    None => (u, None),
                };
                let user = if name.is_empty() {
                    None
                } else {
                    Some(
                        String::from_utf8(percent_decode(name)?.to_vec()).map_err(|_| {
                            "the user name is not UTF-8 after percent-decoding".to_string()
                        })?,
                    )
                };
                let password = match pass {
                    None => None,
                    Some(p) => {
                        let bytes = percent_decode(p)?;
                        let text = std::str::from_utf8(&bytes).map_err(|_| {
                            "the password is not UTF-8 after percent-decoding".to_string()
                        })?;
                        Some(Zeroizing::new(text.to_string()))
                    }
                };
                (user, password)
            }
        };
        Ok(ServerUrl {
            host,
            port,
            db,
            user,
            password,
        })
    }

    /// `HOST:PORT/DB` (IPv6 in brackets): no credential, safe to print and
    /// to store.
    pub fn display_name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}/{}", self.host, self.port, self.db)
        } else {
            format!("{}:{}/{}", self.host, self.port, self.db)
        }
    }

    /// What `ToSocketAddrs` takes: `(host, port)`.
    pub fn socket_target(&self) -> (&str, u16) {
        (self.host.as_str(), self.port)
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ']'")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("'[{}]' is not an IPv6 address", printable(host)));
        }
        let port = after
            .strip_prefix(':')
            .ok_or("missing port (use redis://HOST:PORT)")?;
        (host, port)
    } else {
        let (host, port) = hostport
            .rsplit_once(':')
            .ok_or("missing port (use redis://HOST:PORT)")?;
        if host.contains(':') {
            return Err("an IPv6 address goes in brackets: redis://[::1]:6379".into());
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("missing host (use redis://HOST:PORT)".into());
    }
    let valid_host = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    if !valid_host {
        return Err(format!("bad host '{}'", printable(host)));
    }
    if port.is_empty() {
        return Err("missing port (use redis://HOST:PORT)".into());
    }
    let port = match port.parse::<u16>() {
        Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => return Err(format!("bad port '{}' (1 to 65535)", printable(port))),
    };
    Ok((host.to_string(), port))
}

/// `%XX` escapes decoded; a `%` not followed by two hex digits is an error
/// (which never quotes the text: it may be a password).
fn percent_decode(text: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let bytes = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a '%' in the credential part is not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

/// `text` with control characters escaped and cut at 64 characters, for
/// an error message.
fn printable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(64) {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match ServerUrl::parse(text) {
            Ok(_) => panic!("{text} parsed"),
            Err(e) => e,
        }
    }

    #[test]
    fn forms_that_parse() {
        let u = ServerUrl::parse("redis://127.0.0.1:6379").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("127.0.0.1", 6379, 0));
        assert!(u.user.is_none() && u.password.is_none());

        let u = ServerUrl::parse("redis://:s%40cret%3a@localhost:5050/3").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("localhost", 5050, 3));
        assert_eq!(u.password.as_deref().map(String::as_str), Some("s@cret:"));
        assert!(u.user.is_none());
        assert_eq!(u.display_name(), "localhost:5050/3");

        let u = ServerUrl::parse("redis://alice:pw@h:1/").unwrap();
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.db, 0);

        // A password holding '@' unescaped: the last '@' ends it.
        let u = ServerUrl::parse("redis://:a@b@h:2").unwrap();
        assert_eq!(u.password.as_deref().map(String::as_str), Some("a@b"));

        let u = ServerUrl::parse("redis://[::1]:6380/2").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("::1", 6380, 2));
        assert_eq!(u.display_name(), "[::1]:6380/2");
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        assert!(err("http://h:1").contains("unsupported scheme 'http'"));
        assert!(err("rediss://h:1").contains("TLS"));
        assert!(err("h:1").contains("not a URL"));
        assert!(err("redis://h").contains("missing port"));
        assert!(err("redis://h:").contains("missing port"));
        assert!(err("redis://:6379").contains("missing host"));
        assert!(err("redis://h:0").contains("bad port"));
        assert!(err("redis://h:70000").contains("bad port"));
        assert!(err("redis://h:+1").contains("bad port"));
        assert!(err("redis://h:1/x").contains("bad database '/x'"));
        assert!(err("redis://h:1/-1").contains("bad database"));
        assert!(err("redis://h:1/+1").contains("bad database"));
        assert!(err("redis://h:1/99999999999").contains("bad database"));
        assert!(err("redis://h:1/0?x=1").contains("query"));
        assert!(err("redis://::1:6379").contains("brackets"));
        assert!(err("redis://[::1:6379").contains("closing"));
        assert!(err("redis://[::1]").contains("missing port"));
        assert!(err("redis://[zz]:1").contains("not an IPv6"));
        assert!(err("redis://h h:1").contains("bad host"));
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panic(text in "\\PC{0,80}") {
            let _ = ServerUrl::parse(&text);
        }

        #[test]
        fn a_built_url_parses_back(
            host in "[a-z][a-z0-9.-]{0,20}",
            port in 1u16..,
            db in 0u32..16,
            password in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
        ) {
            let password: String = String::from_utf8_lossy(&password).into_owned();
            let encoded: String = password
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect();
            let u = ServerUrl::parse(&format!("redis://:{encoded}@{host}:{port}/{db}")).unwrap();
            proptest::prop_assert_eq!(&u.host, &host);
            proptest::prop_assert_eq!((u.port, u.db), (port, db));
            proptest::prop_assert_eq!(u.password.as_deref().map(String::as_str), Some(password.as_str()));
        }
    }

    #[test]
    fn errors_never_quote_the_credential() {
        for url in [
            "redis://:hunter2%zz@h:1",
            "redis://:hunter2%4@h:1",
            "redis://:hunter2@h",
            "redis://:hunter2@h:x",
            "redis://:hunter2@h:1/z",
            "redis://:hunter2%ff@h:1",
        ] {
            let e = err(url);
            assert!(!e.contains("hunter2"), "{url}: {e}");
        }
    }
}
