//! `--max-connections`: with a limit of 8 open client connections (HTTP and
//! wire together), the 9th is refused at once — HTTP gets `503` and a
//! close, the wire protocol `-ERR max number of clients reached` and a
//! close — while the 8 established clients keep being served; a freed slot
//! is usable again; refusing many connections in a row does not disturb the
//! established ones. (Bad values of the setting are in
//! `tests/bad_input_env.rs`; the idle/slowloris load test is
//! `bench/idle_flood.sh`.)
//!
//! `--max-buffer-memory`: with a budget of 1 MiB for the bytes buffered
//! across all connections, clients that each push a large value or body
//! and stop half-way make the server pause its reads instead of buffering
//! them all (its memory stays bounded), and once they finish, every one of
//! their requests is answered and stored correctly.
//!
//! Output backpressure: a pipeline whose replies pass the 4 MiB of unsent
//! output a connection may hold is paused, and runs on once the replies
//! are written — also when one write takes them all at once, which raises
//! no writable event (a `redis-cli --pipe` of 1,000,000 `SET`s used to
//! stop for good after about 840,000 replies).

mod harness;

use harness::daemon::Daemon;
use harness::http::{request_bytes, Conn};
use harness::wire::{bulk, encode_command, err, ok, Client};
use harness::{vm_rss_kib, wait_until};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LIMIT: usize = 8;

/// An HTTP connection that was accepted and served once.
fn http_client(port: u16) -> Option<Conn> {
    let mut c = Conn::open(port);
    let r = c.try_request("GET", "/health", &[], None).ok()?;
    (r.status == 200).then_some(c)
}

/// A wire connection that was accepted and answered once.
fn wire_client(port: u16) -> Option<Client> {
    let mut c = Client::connect(port);
    let v = c.try_cmd(&["PING"]).ok()?;
    (v == err("NOAUTH Authentication required.")).then_some(c)
}

/// Retries `open` a bounded number of times: the start-up probe's slot may
/// not be freed yet when the test begins.
fn opened<T>(mut open: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(c) = open() {
            return c;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("a connection under the limit was never accepted");
}

#[test]
fn the_ninth_connection_is_refused_and_the_first_eight_are_served() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &["--max-connections", &LIMIT.to_string()]);

    // 5 HTTP + 2 anonymous wire + 1 authenticated wire = 8.
    let mut http: Vec<Conn> = (0..5)
        .map(|_| opened(|| http_client(s.http_port)))
        .collect();
    let mut wire: Vec<Client> = (0..2)
        .map(|_| opened(|| wire_client(s.wire_port)))
        .collect();
    let mut authed = s.authed();
    assert_eq!(
        authed.cmd(&["SET", "k", "v"]),
        ok(),
        "the 8th client is served"
    );

    // The 9th, on either listener, is refused with a clear reply and closed.
    for round in 0..20 {
        let mut c = Conn::open(s.http_port);
        let refused = c.read_response().expect("read the refusal");
        let r = refused.unwrap_or_else(|| panic!("round {round}: closed without a 503"));
        assert_eq!(r.status, 503, "round {round}: HTTP over the limit");
        assert!(c.is_closed_by_server(), "round {round}: the 503 closes");

        let mut w = Client::connect(s.wire_port);
        assert_eq!(
            w.read().expect("read the refusal"),
            Some(err("ERR max number of clients reached")),
            "round {round}: wire over the limit"
        );
        assert!(w.is_closed(), "round {round}: the refusal closes");
    }

    // Every established client is still served.
    for (i, c) in http.iter_mut().enumerate() {
        let r = c
            .try_request("GET", "/health", &[], None)
            .unwrap_or_else(|e| panic!("established HTTP client {i}: {e}"));
        assert_eq!(r.status, 200, "established HTTP client {i}");
    }
    for (i, c) in wire.iter_mut().enumerate() {
        assert_eq!(
            c.cmd(&["PING"]),
            err("NOAUTH Authentication required."),
            "established wire client {i}"
        );
    }
    assert_eq!(authed.cmd(&["GET", "k"]), bulk("v"));

    // Freeing one slot lets exactly one new client in.
    drop(http.pop());
    let mut again = opened(|| http_client(s.http_port));
    assert_eq!(
        again
            .try_request("GET", "/health", &[], None)
            .expect("the new client")
            .status,
        200
    );
    let mut c = Conn::open(s.http_port);
    assert_eq!(
        c.read_response()
            .expect("read")
            .expect("a 503, not a bare close")
            .status,
        503,
        "the limit holds again once the slot is taken"
    );
}

/// The value client `i` stores: 2 MiB, different for every client and
/// every position.
fn big_value(i: usize) -> Vec<u8> {
    (0..2 * 1024 * 1024)
        .map(|n: usize| b'a' + ((n / 7 + i * 13) % 26) as u8)
        .collect()
}

/// A secret body of 100 KiB for HTTP client `i`: a 60 KiB value padded
/// with JSON whitespace.
fn big_body(i: usize) -> (String, Vec<u8>) {
    let value: String = (0..60 * 1024)
        .map(|n: usize| char::from(b'A' + ((n / 5 + i * 7) % 26) as u8))
        .collect();
    let mut body = serde_json::json!({ "value": value }).to_string();
    body.push_str(&" ".repeat(100 * 1024 - body.len()));
    (value, body.into_bytes())
}

/// Writes `bytes` in 64 KiB pieces, counting progress in `sent`.
fn write_counted(w: &mut impl Write, bytes: &[u8], sent: &AtomicUsize) -> std::io::Result<()> {
    for piece in bytes.chunks(64 * 1024) {
        w.write_all(piece)?;
        sent.fetch_add(piece.len(), Ordering::SeqCst);
    }
    Ok(())
}

/// The value of an unlabelled sample in a /metrics text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Waits until `go` is set, two minutes at most (a test that failed
/// before setting it does not leave its clients waiting).
fn wait_for(go: &AtomicBool) {
    wait_until(Duration::from_secs(120), || go.load(Ordering::SeqCst));
}

#[test]
fn a_spent_buffer_budget_pauses_reads_and_loses_nothing() {
    const BUDGET: usize = 1024 * 1024;
    const WIRE: usize = 16;
    const HTTP: usize = 6;
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &["--max-buffer-memory", &BUDGET.to_string()]);
    let pid = s.pid();
    let go = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));

    // Warm up what every request touches once, then measure.
    let mut bystander = s.authed();
    assert_eq!(bystander.cmd(&["SET", "warm", "x"]), ok());
    let rss_before = vm_rss_kib(pid);

    // Each wire client announces a 2 MiB value and sends 1.75 MiB of it;
    // each HTTP client announces a 100 KiB body and sends 90 KiB. Then
    // they stop until told to finish.
    let mut clients = Vec::new();
    for i in 0..WIRE {
        let mut c = s.authed();
        let (go, sent) = (Arc::clone(&go), Arc::clone(&sent));
        clients.push(std::thread::spawn(move || -> Result<(), String> {
            let key = format!("big:{i}");
            let value = big_value(i);
            let cmd = encode_command(&[&b"SET"[..], key.as_bytes(), &value]);
            let (first, rest) = cmd.split_at(cmd.len() - 256 * 1024);
            write_counted(&mut c.stream, first, &sent).map_err(|e| format!("wire {i}: {e}"))?;
            wait_for(&go);
            c.stream
                .write_all(rest)
                .map_err(|e| format!("wire {i}: {e}"))?;
            match c.read() {
                Ok(Some(v)) if v == ok() => Ok(()),
                other => Err(format!("wire {i}: SET answered {other:?}")),
            }
        }));
    }
    for i in 0..HTTP {
        let mut c = Conn::open(s.http_port);
        let (go, sent) = (Arc::clone(&go), Arc::clone(&sent));
        let auth = format!("Bearer {}", s.api_key());
        clients.push(std::thread::spawn(move || -> Result<(), String> {
            let (_, body) = big_body(i);
            let req = request_bytes(
                "POST",
                &format!("/secrets/red.secret.big.{i}"),
                &[("Authorization", auth.as_str())],
                Some(&body),
            );
            let (first, rest) = req.split_at(req.len() - 10 * 1024);
            write_counted(&mut c.stream, first, &sent).map_err(|e| format!("http {i}: {e}"))?;
            wait_for(&go);
            c.send(rest).map_err(|e| format!("http {i}: {e}"))?;
            match c.read_response() {
                Ok(Some(r)) if r.status == 200 => Ok(()),
                Ok(Some(r)) => Err(format!("http {i}: {} {}", r.status, r.text())),
                other => Err(format!("http {i}: {other:?}")),
            }
        }));
    }

    // Wait until the clients' writes stop progressing: the kernel's socket
    // buffers are full, the server is not reading.
    let mut last = usize::MAX;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(750));
        let now = sent.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        last = now;
    }
    let rss_stalled = vm_rss_kib(pid);
    let pushed = sent.load(Ordering::SeqCst);
    // Meanwhile, small requests are still served, and /metrics shows the
    // budget at work.
    assert_eq!(bystander.cmd(&["GET", "warm"]), bulk("x"));
    let mut h = Conn::open(s.http_port);
    let r = h.call("GET", "/metrics", Some(s.api_key()), None);
    let buffered = metric(&r.text(), "reddb_buffered_bytes");
    let waiting = metric(&r.text(), "reddb_reads_waiting");
    eprintln!("while stalled: {buffered} bytes buffered, {waiting} connections waiting");
    assert!(waiting >= 1.0, "nobody waits for the budget");
    // The budget, one 16 KiB read per connection, and one connection's
    // 2 MiB command read past the budget (in a buffer of up to 4 MiB).
    let allowed = (BUDGET + (WIRE + HTTP + 2) * 16 * 1024 + 4 * 1024 * 1024) as f64;
    assert!(buffered <= allowed, "{buffered} bytes buffered");
    let growth = rss_stalled.saturating_sub(rss_before);
    eprintln!(
        "clients pushed {} KiB and stopped; server VmRSS {rss_before} -> {rss_stalled} KiB",
        pushed / 1024
    );
    assert!(
        pushed > 16 * 1024 * 1024,
        "the clients pushed only {pushed} bytes"
    );
    // Buffering what was pushed would take ~29 MiB: the budget (1 MiB)
    // plus one connection reading past it (at most one 2 MiB command, in
    // a buffer of up to 4 MiB) is what is allowed. A generous bound.
    assert!(
        growth < 12 * 1024,
        "server VmRSS grew by {growth} KiB while clients pushed {} KiB",
        pushed / 1024
    );

    // The clients finish: every request is answered.
    go.store(true, Ordering::SeqCst);
    for (n, t) in clients.into_iter().enumerate() {
        let r = t.join().expect("client thread");
        assert_eq!(r, Ok(()), "client {n}; server stderr:\n{}", s.stderr());
    }
    // And nothing was lost or mixed up.
    let mut c = s.authed();
    for i in 0..WIRE {
        let value = big_value(i);
        c.send(&encode_command(&["GET", &format!("big:{i}")]))
            .expect("GET");
        let header = format!("${}\r\n", value.len());
        let mut got = vec![0u8; header.len() + value.len() + 2];
        c.stream.read_exact(&mut got).expect("read the value");
        assert!(got.starts_with(header.as_bytes()), "big:{i}: header");
        assert!(
            got[header.len()..got.len() - 2] == value[..],
            "big:{i} differs"
        );
    }
    for i in 0..HTTP {
        let r = h.call(
            "GET",
            &format!("/secrets/red.secret.big.{i}"),
            Some(s.api_key()),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.json()["value"].as_str(),
            Some(big_body(i).0.as_str()),
            "secret {i}"
        );
    }
    // The pauses are counted, and the buffers were given back.
    let r = h.call("GET", "/metrics", Some(s.api_key()), None);
    let text = r.text();
    assert!(metric(&text, "reddb_reads_paused_total") >= 1.0);
    assert_eq!(metric(&text, "reddb_buffer_budget_bytes"), BUDGET as f64);
    assert_eq!(metric(&text, "reddb_reads_waiting"), 0.0);
    assert!(metric(&text, "reddb_buffered_bytes") < BUDGET as f64);
    assert_eq!(bystander.cmd(&["GET", "warm"]), bulk("x"));
}

/// Rounds of pipelined `GET`s of a 100 KiB value, each round's replies
/// (about 20 MiB) far past the 4 MiB of unsent output a connection may
/// hold, read by a second thread as they come: every reply arrives. Before
/// the fix the server stopped for good whenever the write after the pause
/// drained the output in one go (no writable event followed).
#[test]
fn a_pipeline_paused_by_unsent_output_runs_on_once_it_is_written() {
    const VALUE: usize = 100 * 1024;
    const GETS: usize = 200;
    const ROUNDS: usize = 10;
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    let value = "v".repeat(VALUE);
    assert_eq!(c.cmd(&["SET", "big", value.as_str()]), ok());
    let reply_len = format!("${VALUE}\r\n").len() + VALUE + 2;
    let pipeline: Vec<u8> = (0..GETS)
        .flat_map(|_| encode_command(&["GET", "big"]))
        .collect();
    for round in 0..ROUNDS {
        let mut reader = c.stream.try_clone().expect("clone the socket");
        reader
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("read timeout");
        let expected = reply_len * GETS;
        let reading = std::thread::spawn(move || {
            let mut got = 0usize;
            let mut buf = vec![0u8; 256 * 1024];
            while got < expected {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(_) => break,
                }
            }
            got
        });
        c.stream.write_all(&pipeline).expect("send the pipeline");
        let got = reading.join().expect("reader thread");
        assert_eq!(
            got, expected,
            "round {round}: the replies stopped after {got} of {expected} bytes"
        );
    }
    assert_eq!(c.cmd(&["DBSIZE"]), harness::wire::int(1));
    s.assert_healthy("after the paused pipelines");
}
