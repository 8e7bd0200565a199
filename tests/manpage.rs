//! The hand-written man page (packaging/red.1, shipped as red(1) in the
//! .deb and .rpm) describes every command that `red help` lists.

mod harness;

use harness::cli::red;

/// The commands of `red help`: the word after `red` on each usage line.
fn help_commands() -> Vec<String> {
    let out = red(&["help"]).run();
    assert!(out.success(), "red help: {}", out.describe(&[]));
    let text = out.stdout;
    let commands: Vec<String> = text
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("red "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|word| word.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(str::to_owned)
        .collect();
    assert!(
        commands.len() >= 4,
        "found too few commands in `red help`: {commands:?}\n{text}"
    );
    commands
}

fn man_page() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/red.1");
    std::fs::read_to_string(path).expect("read packaging/red.1")
}

/// roff escapes `-` as `\-` in names and flags.
fn roff(word: &str) -> String {
    word.replace('-', "\\-")
}

/// Whether one of `lines` starts with `prefix`.
fn has_line_starting<'a>(mut lines: impl Iterator<Item = &'a str>, prefix: &str) -> bool {
    lines.any(|l| l.starts_with(prefix))
}

/// Fails with `what` and the `missing` items when there are any.
fn assert_none_missing(missing: &[String], what: &str) {
    assert!(missing.is_empty(), "{what}: {}", missing.join(", "));
}

#[test]
fn man_page_describes_every_command_of_red_help() {
    let page = man_page();
    let lines: Vec<&str> = page.lines().collect();
    let mut missing = Vec::new();
    for command in help_commands() {
        let word = roff(&command);
        // A tagged paragraph in COMMANDS: `.TP` then `.B command`.
        let described = lines
            .windows(2)
            .any(|w| w[0].trim() == ".TP" && w[1].trim() == format!(".B {word}"));
        // And in the SYNOPSIS: a line `.B red command…`.
        let in_synopsis = has_line_starting(lines.iter().copied(), &format!(".B red {word}"));
        if !described || !in_synopsis {
            missing.push(format!(
                "{command} (COMMANDS entry: {described}, SYNOPSIS: {in_synopsis})"
            ));
        }
    }
    assert_none_missing(&missing, "packaging/red.1 does not describe");
}

#[test]
fn man_page_is_well_formed_roff() {
    let page = man_page();
    assert!(page.contains("\n.TH RED 1 "), "no .TH RED 1 header");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMANDS",
        "ENVIRONMENT",
        "EXIT STATUS",
        "FILES",
        "SEE ALSO",
    ] {
        assert!(
            page.lines().any(|l| l == format!(".SH {section}")),
            "no .SH {section}"
        );
    }
    // The NAME line is what apropos/whatis index: `red \- ...`.
    assert!(page.contains("\nred \\- "), "NAME is not `red \\- ...`");
}

/// The flags `red server --help` names (every `--word` in its text).
fn server_flags() -> Vec<String> {
    let out = red(&["server", "--help"]).run();
    assert!(out.success(), "red server --help: {}", out.describe(&[]));
    let text = out.stdout;
    let mut flags: Vec<String> = text
        .split(|c: char| !(c.is_ascii_lowercase() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_owned)
        .collect();
    flags.sort();
    flags.dedup();
    assert!(
        flags.iter().any(|f| f == "--max-buffer-memory") && flags.len() >= 10,
        "found too few flags in `red server --help`: {flags:?}"
    );
    flags
}

#[test]
fn man_page_and_readme_name_every_server_flag() {
    let page = man_page();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let server_row = readme
        .lines()
        .find(|l| l.starts_with("| `red server "))
        .expect("the README commands table has a `red server` row");
    let mut missing = Vec::new();
    for flag in server_flags() {
        if !page.contains(&roff(&flag)) {
            missing.push(format!("{flag} (packaging/red.1)"));
        }
        if !server_row.contains(&flag) {
            missing.push(format!("{flag} (README commands table)"));
        }
    }
    assert!(missing.is_empty(), "not documented: {}", missing.join(", "));
}

/// Every exit code of `crates/storage/src/error.rs` (`pub const NAME: i32 = N;` in
/// `mod exit_code`) has an entry in red(1)'s EXIT STATUS (`.TP` then
/// `.B N`) and a row in the exit-code table of `docs/OPERATIONS.md`
/// (`| N | …`).
#[test]
fn man_page_and_operations_list_every_exit_code() {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/storage/src/error.rs"
    ))
    .expect("read crates/storage/src/error.rs");
    let module = source
        .split("pub mod exit_code {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("crates/storage/src/error.rs has `pub mod exit_code { … }`");
    let codes: Vec<u32> = module
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const "))
        .filter_map(|l| l.split("i32 = ").nth(1))
        .filter_map(|v| v.trim_end_matches(';').trim().parse().ok())
        .collect();
    assert!(
        codes.contains(&28) && codes.contains(&29) && codes.len() >= 20,
        "found too few exit codes in crates/storage/src/error.rs: {codes:?}"
    );
    let page = man_page();
    let exit_status = page
        .split(".SH EXIT STATUS")
        .nth(1)
        .and_then(|rest| rest.split("\n.SH ").next())
        .expect("red.1 has an EXIT STATUS section");
    let operations =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/OPERATIONS.md"))
            .expect("read docs/OPERATIONS.md");
    let mut missing = Vec::new();
    for code in codes {
        let in_page = exit_status.contains(&format!(".TP\n.B {code}\n"));
        let in_operations = has_line_starting(operations.lines(), &format!("| {code} | "));
        if !in_page || !in_operations {
            missing.push(format!(
                "{code} (red.1: {in_page}, OPERATIONS.md: {in_operations})"
            ));
        }
    }
    assert_none_missing(&missing, "exit codes not documented");
}

/// The variant table of `docs/ARCHITECTURE.md` §6 (`| `Variant` | N |
/// `code` |`) is exactly `Error::exit_code` and `Error::code` of
/// `crates/storage/src/error.rs`: one row per variant, same numbers, same
/// codes.
#[test]
fn architecture_error_table_equals_error_rs() {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/storage/src/error.rs"
    ))
    .expect("read crates/storage/src/error.rs");
    let consts: std::collections::BTreeMap<String, u32> = source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const "))
        .filter_map(|l| {
            let (name, value) = l.split_once(": i32 = ")?;
            Some((name.to_string(), value.trim_end_matches(';').parse().ok()?))
        })
        .collect();
    // `Error::Variant… => VALUE,` arms of the two matches.
    let arms = |func: &str| -> std::collections::BTreeMap<String, String> {
        let body = source
            .split(&format!("pub fn {func}(&self)"))
            .nth(1)
            .and_then(|rest| rest.split("\n    }\n").next())
            .unwrap_or_else(|| panic!("error.rs has fn {func}"));
        body.lines()
            .filter_map(|l| l.trim().strip_prefix("Error::"))
            .filter_map(|l| {
                let (pattern, value) = l.split_once("=> ")?;
                let variant: String = pattern
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                Some((
                    variant,
                    value.trim_end_matches(',').trim_matches('"').to_string(),
                ))
            })
            .collect()
    };
    let exits = arms("exit_code");
    let codes = arms("code");
    assert!(exits.len() >= 20, "read too few variants: {exits:?}");
    let expected: std::collections::BTreeSet<String> = exits
        .iter()
        .map(|(variant, name)| {
            let n = consts
                .get(name)
                .unwrap_or_else(|| panic!("no exit_code::{name}"));
            format!("| `{variant}` | {n} | `{}` |", codes[variant])
        })
        .collect();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ARCHITECTURE.md"))
        .expect("read docs/ARCHITECTURE.md");
    let table: std::collections::BTreeSet<String> = doc
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("| `") && l.matches(" | ").count() == 2)
        .filter(|l| {
            l.split(" | ")
                .nth(1)
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = expected.difference(&table).collect();
    let extra: Vec<_> = table.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/ARCHITECTURE.md's error table differs from error.rs: missing {missing:?}, extra {extra:?}"
    );
}
