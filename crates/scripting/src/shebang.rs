//! Redis 7's script shebang: a first line `#!lua [flags=f1,f2…]`. The line
//! is blanked before compiling (so line numbers stay those of the text);
//! `no-writes` makes the script read-only; `allow-oom`, `allow-stale`,
//! `no-cluster` and `allow-cross-slot-keys` are accepted and change
//! nothing here.

use crate::reply::ScriptReply;
use std::borrow::Cow;

const KNOWN_FLAGS: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// The body to compile and whether the shebang says `no-writes`; a bad
/// shebang is refused with Redis's error.
pub fn read(body: &[u8]) -> Result<(Cow<'_, [u8]>, bool), ScriptReply> {
    if !body.starts_with(b"#!") {
        return Ok((Cow::Borrowed(body), false));
    }
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(body.get(..end).unwrap_or_default()).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(ScriptReply::error(format!(
            "ERR Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut no_writes = false;
    for part in parts {
        let Some(flags) = part.strip_prefix("flags=") else {
            return Err(ScriptReply::error(format!(
                "ERR Unknown lua shebang option: {part}"
            )));
        };
        for flag in flags.split(',').filter(|f| !f.is_empty()) {
            if !KNOWN_FLAGS.contains(&flag) {
                return Err(ScriptReply::error(format!(
                    "ERR Unexpected flag in script shebang: {flag}"
                )));
            }
            no_writes |= flag == "no-writes";
        }
    }
    Ok((
        Cow::Owned(body.get(end..).unwrap_or_default().to_vec()),
        no_writes,
    ))
}
