//! Proves that malformed, oversized, truncated, unauthenticated or
//! ill-typed HTTP input sent over raw TCP to the real `red server` gets the
//! documented status and error `code` (or, for a truncated request, a clean
//! close), that the server keeps answering `/health` on a separate
//! connection after every single case, and that none of it changes stored
//! state: a secret, a config value, the user list and the API-key list
//! written before the table are identical afterwards. A slowloris client
//! that stalls mid-header neither blocks another client nor holds its
//! connection past the request timeout (it gets 408).

mod common_daemon;

use common_daemon::{fresh_bootstrapped, request_bytes, Conn, Options, ADMIN_PASSWORD};
use serde_json::json;
use std::time::{Duration, Instant};

/// What a case must produce.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// This status and `error.code`.
    Error(u16, &'static str),
    /// The server closes the connection without sending anything.
    Closed,
}

struct Case {
    name: String,
    bytes: Vec<u8>,
    /// Half-close our side after sending (the server sees EOF).
    half_close: bool,
    expect: Expect,
}

fn case(name: &str, bytes: Vec<u8>, expect: Expect) -> Case {
    Case {
        name: name.to_string(),
        bytes,
        half_close: false,
        expect,
    }
}

use Expect::{Closed, Error as E};

fn table(key: &str) -> Vec<Case> {
    let bearer = format!("Bearer {key}");
    let auth: &[(&str, &str)] = &[("Authorization", bearer.as_str())];
    let get = |path: &str| request_bytes("GET", path, auth, None);
    let post = |path: &str, body: &[u8]| request_bytes("POST", path, auth, Some(body));
    let anon_post = |path: &str, body: &[u8]| request_bytes("POST", path, &[], Some(body));
    let with_auth = |value: &str| {
        request_bytes(
            "GET",
            "/secrets/red.secret.canary",
            &[("Authorization", value)],
            None,
        )
    };
    let raw = |s: &str| s.as_bytes().to_vec();
    let secret = "/secrets/red.secret.x";

    let mut many_headers = String::from("GET /health HTTP/1.1\r\nHost: x\r\n");
    for i in 0..70 {
        many_headers.push_str(&format!("X-H{i}: v\r\n"));
    }
    many_headers.push_str("\r\n");
    let huge_header = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    let endless_header = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}",
        "b".repeat(20 * 1024)
    );
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "c".repeat(17 * 1024));
    let big_value = format!(r#"{{"value": "{}"}}"#, "v".repeat(64 * 1024 + 1));
    let big_config = format!(r#"{{"value": "{}"}}"#, "w".repeat(70 * 1024));
    let deep_json = format!(r#"{{"value": {}{}}}"#, "[".repeat(5000), "]".repeat(5000));
    let long_key = format!("/secrets/red.secret.{}", "k".repeat(250));
    let long_label = format!(r#"{{"label": "{}"}}"#, "l".repeat(200));

    vec![
        // --- framing: truncated, garbage, versions
        Case {
            half_close: true,
            ..case(
                "truncated head then close",
                raw("GET /health HTTP/1.1\r\nHost: x\r\n"),
                Closed,
            )
        },
        Case {
            half_close: true,
            ..case(
                "truncated body then close",
                raw("POST /secrets/red.secret.x HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"val"),
                Closed,
            )
        },
        Case {
            half_close: true,
            ..case("request line only, no CRLF, then close", raw("GET /health"), Closed)
        },
        case(
            "request line garbage",
            raw("\x00\x01\x02 garbage garbage\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case("not HTTP at all", raw("HELLO WORLD\r\n\r\n"), E(400, "bad_request")),
        case(
            "invalid method token",
            raw("GE(T /health HTTP/1.1\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "HTTP/2.0 version",
            raw("GET /health HTTP/2.0\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "header without colon",
            raw("GET /health HTTP/1.1\r\nHost x\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "space before header colon",
            raw("GET /health HTTP/1.1\r\nHost : x\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "NUL in a header value",
            raw("GET /health HTTP/1.1\r\nX-A: a\x00b\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "absolute-form target",
            raw("GET http://127.0.0.1/health HTTP/1.1\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "asterisk target",
            raw("OPTIONS * HTTP/1.1\r\n\r\n"),
            E(400, "bad_request"),
        ),
        // --- size limits
        case(
            "header over 16 KiB",
            huge_header.into_bytes(),
            E(431, "header_too_large"),
        ),
        case(
            "header over 16 KiB, never terminated",
            endless_header.into_bytes(),
            E(431, "header_too_large"),
        ),
        case("URI over 16 KiB", long_uri.into_bytes(), E(431, "header_too_large")),
        case(
            "more than 64 headers",
            many_headers.into_bytes(),
            E(431, "header_too_large"),
        ),
        case(
            "Content-Length over 1 MiB",
            raw("POST /secrets/red.secret.x HTTP/1.1\r\nContent-Length: 2097152\r\n\r\n"),
            E(413, "payload_too_large"),
        ),
        case(
            "Content-Length overflows usize",
            raw("POST /secrets/red.secret.x HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "negative Content-Length",
            raw("POST /secrets/red.secret.x HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "non-numeric Content-Length",
            raw("POST /secrets/red.secret.x HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "Content-Length with exponent",
            raw("POST /secrets/red.secret.x HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "empty Content-Length",
            raw("POST /secrets/red.secret.x HTTP/1.1\r\nContent-Length: \r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "two conflicting Content-Length",
            raw("POST /secrets/red.secret.x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
            E(400, "bad_request"),
        ),
        case(
            "Transfer-Encoding chunked",
            raw("POST /secrets/red.secret.x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            E(501, "not_implemented"),
        ),
        case(
            "Transfer-Encoding with Content-Length (smuggling shape)",
            raw("POST /secrets/red.secret.x HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            E(501, "not_implemented"),
        ),
        case(
            "secret value over 64 KiB",
            post(secret, big_value.as_bytes()),
            E(413, "payload_too_large"),
        ),
        case(
            "config value over 64 KiB",
            post("/config/red.config.big", big_config.as_bytes()),
            E(413, "payload_too_large"),
        ),
        // --- JSON bodies
        case("bad JSON", post(secret, b"{\"value\": "), E(400, "bad_request")),
        case("not JSON at all", post(secret, b"value=x"), E(400, "bad_request")),
        case(
            "JSON with trailing garbage",
            post(secret, br#"{"value": "x"} {"#),
            E(400, "bad_request"),
        ),
        case(
            "body is not UTF-8",
            post(secret, b"{\"value\": \"\xff\xfe\"}"),
            E(400, "bad_request"),
        ),
        case(
            "JSON array instead of object",
            post(secret, br#"["value", "x"]"#),
            E(400, "bad_request"),
        ),
        case(
            "JSON string instead of object",
            post(secret, br#""x""#),
            E(400, "bad_request"),
        ),
        case("JSON null body", post(secret, b"null"), E(400, "bad_request")),
        case(
            "value is a number",
            post(secret, br#"{"value": 42}"#),
            E(400, "bad_request"),
        ),
        case(
            "value is an object",
            post(secret, br#"{"value": {"a": 1}}"#),
            E(400, "bad_request"),
        ),
        case(
            "value is null",
            post(secret, br#"{"value": null}"#),
            E(400, "bad_request"),
        ),
        case(
            "value nested 5000 deep",
            post(secret, deep_json.as_bytes()),
            E(400, "bad_request"),
        ),
        case(
            "value missing",
            post(secret, br#"{"valu": "x"}"#),
            E(400, "bad_request"),
        ),
        case("empty body on secret write", post(secret, b""), E(400, "bad_request")),
        case(
            "rotate without value",
            post("/secrets/red.secret.canary/rotate", b"{}"),
            E(400, "bad_request"),
        ),
        case(
            "config write without value",
            post("/config/red.config.x", b"{}"),
            E(400, "bad_request"),
        ),
        case(
            "login password is a number",
            anon_post("/auth/login", br#"{"username": "admin", "password": 12345678}"#),
            E(400, "bad_request"),
        ),
        case(
            "login username is a number",
            anon_post("/auth/login", br#"{"username": 7, "password": "change-me-now"}"#),
            E(400, "bad_request"),
        ),
        case(
            "login without password",
            anon_post("/auth/login", br#"{"username": "admin"}"#),
            E(400, "bad_request"),
        ),
        case(
            "login body is an array",
            anon_post("/auth/login", b"[]"),
            E(400, "bad_request"),
        ),
        case(
            "bootstrap body is bad JSON",
            anon_post("/auth/bootstrap", b"{"),
            E(400, "bad_request"),
        ),
        case(
            "create user: username is a number",
            post("/auth/users", br#"{"username": 5, "password": "long-enough-1"}"#),
            E(400, "bad_request"),
        ),
        case(
            "create user: invalid username",
            post("/auth/users", br#"{"username": "bad name!", "password": "long-enough-1"}"#),
            E(400, "bad_request"),
        ),
        case(
            "create user: empty username",
            post("/auth/users", br#"{"username": "", "password": "long-enough-1"}"#),
            E(400, "bad_request"),
        ),
        case(
            "create user: username too long",
            post(
                "/auth/users",
                format!(r#"{{"username": "{}", "password": "long-enough-1"}}"#, "u".repeat(65))
                    .as_bytes(),
            ),
            E(400, "bad_request"),
        ),
        case(
            "create user: short password",
            post("/auth/users", br#"{"username": "dave", "password": "short"}"#),
            E(400, "bad_request"),
        ),
        case(
            "create user: password too long",
            post(
                "/auth/users",
                format!(r#"{{"username": "dave", "password": "{}"}}"#, "p".repeat(1025))
                    .as_bytes(),
            ),
            E(400, "bad_request"),
        ),
        case(
            "create user: unknown role",
            post("/auth/users", br#"{"username": "dave", "password": "long-enough-1", "role": "root"}"#),
            E(400, "bad_request"),
        ),
        case(
            "create user: role is a number",
            post("/auth/users", br#"{"username": "dave", "password": "long-enough-1", "role": 1}"#),
            E(400, "bad_request"),
        ),
        case(
            "set password: too short",
            post("/auth/users/admin/password", br#"{"password": "x"}"#),
            E(400, "bad_request"),
        ),
        case(
            "api key: label too long",
            post("/auth/api-keys", long_label.as_bytes()),
            E(400, "bad_request"),
        ),
        case(
            "api key: label is a number",
            post("/auth/api-keys", br#"{"label": 3}"#),
            E(400, "bad_request"),
        ),
        case(
            "api key: owner does not exist",
            post("/auth/api-keys", br#"{"owner": "ghost"}"#),
            E(404, "not_found"),
        ),
        // --- paths, methods, keys
        case("unknown path", get("/nope"), E(404, "not_found")),
        case("unknown path, no auth", raw("GET /admin/x HTTP/1.1\r\n\r\n"), E(404, "not_found")),
        case("too many segments", get("/secrets/a/b/c"), E(404, "not_found")),
        case("root path", get("/"), E(404, "not_found")),
        case(
            "wrong method on a secret",
            request_bytes("PUT", secret, auth, Some(br#"{"value": "x"}"#)),
            E(405, "method_not_allowed"),
        ),
        case(
            "wrong method on /health",
            raw("DELETE /health HTTP/1.1\r\n\r\n"),
            E(405, "method_not_allowed"),
        ),
        case(
            "lowercase method",
            raw("get /health HTTP/1.1\r\n\r\n"),
            E(405, "method_not_allowed"),
        ),
        case(
            "GET on /auth/login",
            raw("GET /auth/login HTTP/1.1\r\n\r\n"),
            E(405, "method_not_allowed"),
        ),
        case(
            "PATCH on /auth/users",
            request_bytes("PATCH", "/auth/users", auth, None),
            E(405, "method_not_allowed"),
        ),
        case(
            "key outside red.secret.",
            get("/secrets/red.config.x"),
            E(400, "bad_request"),
        ),
        case(
            "key without any prefix",
            post("/secrets/stripe", br#"{"value": "x"}"#),
            E(400, "bad_request"),
        ),
        case("prefix only", get("/secrets/red.secret."), E(400, "bad_request")),
        case(
            "key with a space",
            get("/secrets/red.secret.a%20b"),
            E(400, "bad_request"),
        ),
        case(
            "key with a quote",
            get("/secrets/red.secret.a%22b"),
            E(400, "bad_request"),
        ),
        case("key too long", get(&long_key), E(400, "bad_request")),
        case(
            "config key outside red.config.",
            raw("GET /config/red.secret.canary HTTP/1.1\r\n\r\n"),
            E(400, "bad_request"),
        ),
        case(
            "'..' path segment",
            get("/secrets/../health"),
            E(400, "bad_request"),
        ),
        case(
            "encoded '..' path segment",
            get("/secrets/%2e%2e/config"),
            E(400, "bad_request"),
        ),
        case(
            "'.' path segment",
            get("/secrets/./red.secret.canary"),
            E(400, "bad_request"),
        ),
        case(
            "encoded slash in a segment",
            get("/secrets/red.secret.a%2Fb"),
            E(400, "bad_request"),
        ),
        case(
            "bad percent-encoding",
            get("/secrets/red.secret.%zz"),
            E(400, "bad_request"),
        ),
        case(
            "truncated percent-encoding",
            get("/secrets/red.secret.a%4"),
            E(400, "bad_request"),
        ),
        case(
            "percent-encoding that is not UTF-8",
            get("/secrets/red.secret.%ff"),
            E(400, "bad_request"),
        ),
        case(
            "bad percent-encoding in the query",
            get("/secrets/red.secret.canary?version=%zz"),
            E(400, "bad_request"),
        ),
        case(
            "version=0",
            get("/secrets/red.secret.canary?version=0"),
            E(400, "bad_request"),
        ),
        case(
            "version=abc",
            get("/secrets/red.secret.canary?version=abc"),
            E(400, "bad_request"),
        ),
        case(
            "version=-1",
            get("/secrets/red.secret.canary?version=-1"),
            E(400, "bad_request"),
        ),
        case(
            "version over u32",
            get("/secrets/red.secret.canary?version=4294967296"),
            E(400, "bad_request"),
        ),
        case(
            "version that does not exist",
            get("/secrets/red.secret.canary?version=7"),
            E(404, "not_found"),
        ),
        case(
            "reserved red.secret.aes_key",
            get("/secrets/red.secret.aes_key"),
            E(403, "forbidden"),
        ),
        // --- credentials
        case(
            "missing bearer",
            raw("GET /secrets/red.secret.canary HTTP/1.1\r\n\r\n"),
            E(401, "unauthorized"),
        ),
        case(
            "invalid API key",
            with_auth("Bearer rdb_k_00000000000000000000000000000000"),
            E(401, "unauthorized"),
        ),
        case(
            "invalid session",
            with_auth("Bearer rdb_s_00000000000000000000000000000000"),
            E(401, "unauthorized"),
        ),
        case("unprefixed token", with_auth("Bearer hunter2"), E(401, "unauthorized")),
        case("Bearer with empty token", with_auth("Bearer "), E(401, "unauthorized")),
        case("Bearer without token", with_auth("Bearer"), E(401, "unauthorized")),
        case(
            "Basic auth",
            with_auth("Basic YWRtaW46Y2hhbmdlLW1lLW5vdw=="),
            E(401, "unauthorized"),
        ),
        case(
            "the key without a scheme",
            with_auth(key),
            E(401, "unauthorized"),
        ),
        case(
            "Authorization is not UTF-8",
            b"GET /secrets/red.secret.canary HTTP/1.1\r\nAuthorization: Bearer \xff\xfe\r\n\r\n"
                .to_vec(),
            E(400, "bad_request"),
        ),
        case(
            "logout without a session",
            raw("POST /auth/logout HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
            E(401, "unauthorized"),
        ),
        // --- state-changing requests that must be refused without change
        case(
            "purge a live secret",
            post("/secrets/red.secret.canary/purge", b"{}"),
            E(409, "conflict"),
        ),
        case(
            "delete the last admin",
            request_bytes("DELETE", "/auth/users/admin", auth, None),
            E(409, "conflict"),
        ),
        case(
            "second bootstrap",
            anon_post(
                "/auth/bootstrap",
                format!(r#"{{"username": "admin", "password": "{ADMIN_PASSWORD}"}}"#).as_bytes(),
            ),
            E(409, "already_bootstrapped"),
        ),
        case(
            "delete a missing user",
            request_bytes("DELETE", "/auth/users/ghost", auth, None),
            E(404, "not_found"),
        ),
        case(
            "revoke a missing api key",
            request_bytes("DELETE", "/auth/api-keys/0000", auth, None),
            E(404, "not_found"),
        ),
        case(
            "unknown user login",
            anon_post("/auth/login", br#"{"username": "ghost", "password": "whatever-1"}"#),
            E(401, "invalid_credentials"),
        ),
    ]
}

/// Sends one case on its own connection and checks what comes back.
fn run_case(port: u16, c: &Case) -> Result<(), String> {
    let mut conn = Conn::try_open(port, Duration::from_secs(15)).map_err(|e| e.to_string())?;
    // The server may answer and close before reading everything we send
    // (a 413 or 431 is decided on the head): a failed write is fine.
    let _ = conn.send(&c.bytes);
    if c.half_close {
        conn.shutdown_write();
    }
    let got = conn.read_response().map_err(|e| format!("read: {e}"))?;
    match (c.expect, got) {
        (Closed, None) => Ok(()),
        (Closed, Some(r)) => Err(format!(
            "expected a silent close, got {} {}",
            r.status,
            r.text()
        )),
        (E(status, _), None) => Err(format!("expected {status}, the server closed silently")),
        (E(status, code), Some(r)) => {
            let j: serde_json::Value = serde_json::from_slice(&r.body)
                .map_err(|e| format!("{} body is not JSON ({e}): {}", r.status, r.text()))?;
            if r.status != status || j["error"]["code"] != code || j["ok"] != false {
                return Err(format!(
                    "expected {status} {code}, got {} {}",
                    r.status,
                    r.text()
                ));
            }
            if !j["error"]["message"].is_string() {
                return Err(format!("no error message: {j}"));
            }
            // Framing errors end the connection: the stream can't be trusted.
            if matches!(status, 431 | 501) && r.header("Connection") != Some("close") {
                return Err(format!("{status} without Connection: close"));
            }
            Ok(())
        }
    }
}

#[test]
fn bad_inputs_get_the_right_error_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let k = Some(boot.api_key.as_str());
    d.post(
        "/secrets/red.secret.canary",
        k,
        &json!({"value": "canary-value-1"}),
    )
    .ok("put canary");
    d.post(
        "/config/red.config.canary",
        k,
        &json!({"value": {"keep": [1, 2, 3]}}),
    )
    .ok("put config");
    let users_before = d.get("/auth/users", k).ok("users");
    let keys_before = d.get("/auth/api-keys", k).ok("keys");
    let secrets_before = d.get("/secrets?prefix=red.secret.", k).ok("secrets");

    let cases = table(&boot.api_key);
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    let started = Instant::now();
    for c in &cases {
        if let Err(e) = run_case(d.port, c) {
            failures.push(format!("{}: {e}", c.name));
        }
        d.assert_healthy(&c.name);
    }
    eprintln!("{} bad-input cases in {:?}", cases.len(), started.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}\nserver stderr:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n"),
        d.stderr()
    );

    // Nothing lost or changed.
    let j = d.get("/secrets/red.secret.canary", k).ok("canary");
    assert_eq!(j["value"], "canary-value-1");
    assert_eq!(j["version"], 1);
    d.get("/secrets/red.secret.x", k).expect_error(
        404,
        "not_found",
        "no secret was created by the table",
    );
    assert_eq!(
        d.get("/config/red.config.canary", None).ok("config")["value"],
        json!({"keep": [1, 2, 3]})
    );
    d.get("/config/red.config.big", None).expect_error(
        404,
        "not_found",
        "oversized config not stored",
    );
    assert_eq!(d.get("/auth/users", k).ok("users"), users_before);
    assert_eq!(d.get("/auth/api-keys", k).ok("keys"), keys_before);
    assert_eq!(
        d.get("/secrets?prefix=red.secret.", k).ok("secrets"),
        secrets_before
    );
    d.login("admin", ADMIN_PASSWORD)
        .ok("the admin password is unchanged");
}

#[test]
fn slowloris_does_not_block_others_and_gets_408() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());

    // A client sends half a head and stalls.
    let mut slow = Conn::try_open(d.port, Duration::from_secs(16)).expect("connect");
    slow.send(b"GET /secrets/red.secret.x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthor")
        .expect("send partial head");
    let stalled_at = Instant::now();

    // Others are served at once, several times over, while it stalls.
    for i in 0..5 {
        let t = Instant::now();
        d.assert_healthy(&format!("stalled client, check {i}"));
        let r = d.get("/auth/api-keys", Some(&boot.api_key));
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "a request took {:?} next to a stalled client",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // The stalled client is answered 408 and closed after the request timeout.
    let r = slow
        .read_response()
        .expect("read the 408")
        .expect("a 408 response, not a silent close");
    let waited = stalled_at.elapsed();
    r.expect_error(408, "request_timeout", "slowloris");
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(
        waited >= Duration::from_secs(8) && waited <= Duration::from_secs(14),
        "408 after {waited:?}, expected ~10-12 s"
    );
    assert!(slow.is_closed_by_server(), "closed after the 408");
    d.assert_healthy("after the slowloris");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the slowloris test took {:?}",
        started.elapsed()
    );
}
