//! `GET /openapi.json` against the real `red server`: served without
//! credentials (before and after bootstrap), static (the same bytes
//! whatever the server holds, so it can reveal no value, key name or
//! token), and equal to the checked-in `docs/openapi.json`. When they
//! differ the test fails and says how to regenerate the file:
//! `REDDB_WRITE_OPENAPI=1 cargo test --test openapi` rewrites it from the
//! served document.

mod harness;

use harness::daemon::{Daemon, Options};
use harness::tmp;
use serde_json::{json, Value as Json};
use std::path::PathBuf;

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
}

/// The checked-in form: pretty-printed, one trailing newline.
fn file_text(doc: &Json) -> String {
    let mut s = serde_json::to_string_pretty(doc).expect("serialize");
    s.push('\n');
    s
}

#[test]
fn the_served_document_is_public_static_and_checked_in() {
    let dir = tmp();
    let d = Daemon::start(&dir.path().join("data.rdb"), &Options::new());

    // Not bootstrapped yet: served all the same, without credentials.
    let before = d.get("/openapi.json", None);
    assert_eq!(before.status, 200, "{}", before.text());
    assert_eq!(before.header("content-type"), Some("application/json"));
    let doc = before.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        d.post("/openapi.json", None, &json!({})).status,
        405,
        "another method"
    );

    // Bootstrapped, holding a secret: the very same bytes.
    let boot = d.bootstrap();
    let value = "openapi-secret-value-3b9d1c";
    let w = d.post(
        "/secrets/red.secret.openapi.probe",
        Some(&boot.api_key),
        &json!({"value": value}),
    );
    assert_eq!(w.status, 200, "{}", w.text());
    let after = d.get("/openapi.json", Some(&boot.api_key));
    assert_eq!(after.status, 200);
    assert_eq!(
        after.body, before.body,
        "the document must not depend on state"
    );
    let text = after.text();
    for secret in [value, "red.secret.openapi.probe", boot.api_key.as_str()] {
        assert!(!text.contains(secret), "the document shows {secret}");
    }

    // Every operation answers 200 and documents the error body.
    assert_eq!(
        doc["components"]["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            let responses = &op["responses"];
            assert!(responses["200"].is_object(), "{method} {path}");
            assert_eq!(
                responses["400"]["$ref"], "#/components/responses/400",
                "{method} {path}"
            );
        }
    }
    for path in [
        "/health",
        "/openapi.json",
        "/secrets/{key}",
        "/admin/rekey",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }

    let path = checked_in();
    let want = file_text(&doc);
    if std::env::var_os("REDDB_WRITE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, &want).expect("write docs/openapi.json");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/openapi.json differs from what GET /openapi.json serves.\n\
         Regenerate it with:\n    REDDB_WRITE_OPENAPI=1 cargo test --test openapi\n\
         and commit the result."
    );
}
