//! ioredis, the Node.js Redis client, running Lua scripts against the real
//! server (`tests/node_clients/script.mjs`): `defineCommand` (its
//! EVALSHA-then-EVAL path), `SCRIPT LOAD` + `evalsha`, error replies and a
//! pipeline of scripts. ioredis comes from `npm ci --prefix
//! tests/node_clients` (`.ci/run` runs it).
//!
//! When node or ioredis is missing the test says so and passes — unless
//! `REDDB_REQUIRE_CLIENTS` is set.

mod harness;

use harness::cli::need;
use harness::daemon::Daemon;
use std::path::Path;
use std::time::Duration;

#[test]
fn ioredis_runs_scripts() {
    let dir_of_clients = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node_clients");
    if !need("node", "node", &["--version"])
        || !need(
            "ioredis (npm ci --prefix tests/node_clients)",
            "test",
            &["-d", &format!("{dir_of_clients}/node_modules/ioredis")],
        )
    {
        return;
    }
    assert!(Path::new(dir_of_clients)
        .join("node_modules/ioredis")
        .is_dir());
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let script = format!("{dir_of_clients}/script.mjs");
    s.run_client_program(
        "node",
        &[script.as_str(), &s.wire_port.to_string(), s.api_key()],
        Duration::from_secs(120),
        "ioredis scripts ok",
    );
}
