//! Pub/sub through real client libraries, unchanged and pointed at red by
//! URL only: redis-py's PubSub listener, keyspace notifications and RESP3
//! pushes, and an rq worker running a job (`tests/wire_pubsub_clients.py`).
//! ioredis is `tests/wire_node_pubsub.rs`.
//!
//! When a library is not installed the test says so and passes — unless
//! `REDDB_REQUIRE_CLIENTS` is set (CI installs them, see `.ci/run`).

mod harness;

use harness::cli::need;
use harness::daemon::Daemon;
use std::time::Duration;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

/// The URL a client library is given: the dev API key as the password.
fn url(s: &Daemon) -> String {
    format!("redis://:{}@127.0.0.1:{}/0", s.api_key(), s.wire_port)
}

/// Runs `cmd args…` against a fresh `--dev` red and checks it succeeds.
fn run_client(cmd: &str, args: &[&str]) {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let url = url(&s);
    let mut all: Vec<&str> = args.to_vec();
    all.push(&url);
    s.run_client_program(cmd, &all, CLIENT_TIMEOUT, "ok ");
    s.assert_healthy(cmd);
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire_pubsub_clients.py");

#[test]
fn redis_py_listener_keyspace_notifications_and_resp3() {
    if !need("redis-py", "python3", &["-c", "import redis"]) {
        return;
    }
    run_client("python3", &[SCRIPT, "--url"]);
}

#[test]
fn rq_worker_runs_an_enqueued_job() {
    if !need("rq", "python3", &["-c", "import rq"]) {
        return;
    }
    run_client("python3", &[SCRIPT, "--rq", "--url"]);
}
