//! ioredis, unchanged and pointed at red by URL only, subscribing to a
//! channel and a pattern and receiving what a publisher sends
//! (`tests/node_clients/subscribe.mjs`; ioredis is installed by
//! `npm ci --prefix tests/node_clients`, as `.ci/run` does).
//!
//! When Node.js or ioredis is missing the test says so and passes —
//! unless `REDDB_REQUIRE_CLIENTS` is set.

mod harness;

use harness::cli::need;
use harness::daemon::Daemon;
use std::time::Duration;

#[test]
fn ioredis_subscribes_to_a_channel_and_a_pattern() {
    let modules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/node_clients/node_modules/ioredis"
    );
    if !need("node", "node", &["--version"])
        || !need(
            "ioredis (npm ci --prefix tests/node_clients)",
            "test",
            &["-d", modules],
        )
    {
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/node_clients/subscribe.mjs"
    );
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let url = format!("redis://:{}@127.0.0.1:{}/0", s.api_key(), s.wire_port);
    s.run_client_program(
        "node",
        &[script, url.as_str()],
        Duration::from_secs(120),
        "ok ioredis subscribe",
    );
}
