//! `--max-connections`: with a limit of 8 open client connections (HTTP and
//! wire together), the 9th is refused at once — HTTP gets `503` and a
//! close, the wire protocol `-ERR max number of clients reached` and a
//! close — while the 8 established clients keep being served; a freed slot
//! is usable again; refusing many connections in a row does not disturb the
//! established ones. (Bad values of the setting are in
//! `tests/bad_input_env.rs`; the idle/slowloris load test is
//! `bench/idle_flood.sh`.)

mod common_daemon;
mod wire_support;

use common_daemon::Conn;
use std::time::Duration;
use wire_support::{err, Client, Server};

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
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start_with(dir.path(), &["--max-connections", &LIMIT.to_string()]);

    // 5 HTTP + 2 anonymous wire + 1 authenticated wire = 8.
    let mut http: Vec<Conn> = (0..5).map(|_| opened(|| http_client(s.http))).collect();
    let mut wire: Vec<Client> = (0..2).map(|_| opened(|| wire_client(s.wire))).collect();
    let mut authed = s.authed();
    assert_eq!(
        authed.cmd(&["SET", "k", "v"]),
        wire_support::ok(),
        "the 8th client is served"
    );

    // The 9th, on either listener, is refused with a clear reply and closed.
    for round in 0..20 {
        let mut c = Conn::open(s.http);
        let refused = c.read_response().expect("read the refusal");
        let r = refused.unwrap_or_else(|| panic!("round {round}: closed without a 503"));
        assert_eq!(r.status, 503, "round {round}: HTTP over the limit");
        assert!(c.is_closed_by_server(), "round {round}: the 503 closes");

        let mut w = Client::connect(s.wire);
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
    assert_eq!(authed.cmd(&["GET", "k"]), wire_support::bulk("v"));

    // Freeing one slot lets exactly one new client in.
    drop(http.pop());
    let mut again = opened(|| http_client(s.http));
    assert_eq!(
        again
            .try_request("GET", "/health", &[], None)
            .expect("the new client")
            .status,
        200
    );
    let mut c = Conn::open(s.http);
    assert_eq!(
        c.read_response()
            .expect("read")
            .expect("a 503, not a bare close")
            .status,
        503,
        "the limit holds again once the slot is taken"
    );
}
