//! The event loop's layout rules (issue 15, item 3), read from the source:
//! one job per file, each file saying what it owns and must never do; one
//! path to the worker pool; no reaching into the store from the server;
//! no rlimit handling in the loop.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The source without `//` comments, so the rules look at code only.
fn code(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_event_loop_file_says_what_it_owns_and_must_never_do() {
    let files = rust_files(&root().join("crates/server/src/event_loop"));
    assert!(files.len() >= 10, "the loop is split by concern: {files:?}");
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        assert!(!header.is_empty(), "{} has no //! header", f.display());
        assert!(
            header.contains("must never"),
            "{}'s header does not say what it must never do",
            f.display()
        );
    }
}

#[test]
fn work_reaches_the_pool_through_one_submit() {
    let submits: usize = rust_files(&root().join("crates/server/src/event_loop"))
        .iter()
        .map(|f| code(f).matches("pool.submit(").count())
        .sum();
    assert_eq!(submits, 1, "both protocols park work through jobs.rs");
}

#[test]
fn the_loop_never_reaches_into_the_store() {
    let server = root().join("crates/server/src");
    let loop_files = rust_files(&server.join("event_loop"));
    let top: Vec<PathBuf> = rust_files(&server)
        .into_iter()
        .filter(|f| f.parent() == Some(server.as_path()))
        .collect();
    for f in loop_files.iter().chain(&top) {
        assert!(
            !code(f).contains("store_mut("),
            "{} reaches into the store; ask the database",
            f.display()
        );
    }
}

#[test]
fn rlimits_are_not_the_loops_business() {
    for f in rust_files(&root().join("crates/server/src/event_loop")) {
        let c = code(&f);
        assert!(
            !c.contains("rlimit") && !c.contains("RLIMIT"),
            "{} handles rlimits (crates/server/src/limits.rs does)",
            f.display()
        );
    }
}
