//! The crate graph is the layering: `reddb-storage` ← `reddb-service` ←
//! `reddb-server` ← `reddb` (the `red` binary), with `reddb-scripting`
//! (Lua) beside the first two, used by `reddb-server` only, and `reddb-rdb`
//! (the RDB file reader of `red import`) beside everything, used by the
//! binary only and depending on nothing at all. Read from `cargo metadata`,
//! so a dependency added against the layering fails here, whatever the
//! code does with it.

use std::collections::BTreeMap;
use std::process::Command;

/// Each workspace crate, bottom up, with what it may depend on among the
/// workspace crates and the outside crates it must never use.
const LAYERS: [(&str, &[&str], &[&str]); 6] = [
    (
        "reddb-rdb",
        &[],
        // A pure file reader: std only, nothing of the store or the server.
        &["serde", "serde_json", "mio", "httparse", "libc", "nix"],
    ),
    (
        "reddb-storage",
        &[],
        // No sockets, no JSON, no service or protocol types.
        &[
            "serde",
            "serde_json",
            "mio",
            "httparse",
            "signal-hook",
            "sd-notify",
        ],
    ),
    (
        "reddb-service",
        &["reddb-storage"],
        // No sockets, no HTTP, no event loop (serde_json for the stored
        // record format only: crates/service/src/records.rs checks that).
        &[
            "mio",
            "httparse",
            "signal-hook",
            "signal-hook-mio",
            "sd-notify",
            "caps",
            "seccompiler",
        ],
    ),
    (
        "reddb-scripting",
        &[],
        // Lua and nothing of the server: no sockets, no storage.
        &["mio", "httparse", "signal-hook", "sd-notify", "seccompiler"],
    ),
    (
        "reddb-server",
        &["reddb-storage", "reddb-service", "reddb-scripting"],
        &[],
    ),
    (
        "reddb",
        &[
            "reddb-rdb",
            "reddb-storage",
            "reddb-service",
            "reddb-server",
        ],
        &[],
    ),
];

/// Normal (not dev, not build) dependencies of every workspace package.
fn workspace_dependencies() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let mut graph = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().expect("name").to_string())
            .collect();
        graph.insert(p["name"].as_str().expect("name").to_string(), deps);
    }
    graph
}

#[test]
fn no_crate_depends_on_a_layer_above_it() {
    let graph = workspace_dependencies();
    let names: Vec<&str> = LAYERS.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(
        graph.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted
        },
        "the workspace has exactly these six crates"
    );
    for (name, allowed, forbidden) in LAYERS {
        let deps = &graph[name];
        for d in deps.iter().filter(|d| d.starts_with("reddb")) {
            assert!(
                allowed.contains(&d.as_str()),
                "{name} depends on {d}: an edge that goes up or sideways (allowed: {allowed:?})"
            );
        }
        for d in forbidden {
            assert!(
                !deps.iter().any(|x| x == d),
                "{name} depends on {d}, which its layer must not use"
            );
        }
    }
    // The test would pass on an empty graph: make sure it read the real one.
    assert!(graph["reddb-server"].iter().any(|d| d == "mio"));
    assert!(graph["reddb-service"].iter().any(|d| d == "reddb-storage"));
    // The RDB reader parses files an operator was handed: std only.
    assert!(
        graph["reddb-rdb"].is_empty(),
        "reddb-rdb must have no dependencies: {:?}",
        graph["reddb-rdb"]
    );
    // Only the scripting crate links Lua.
    for (name, deps) in &graph {
        assert_eq!(
            deps.iter().any(|d| d == "mlua"),
            name == "reddb-scripting",
            "{name}: mlua belongs to reddb-scripting alone"
        );
    }
}
