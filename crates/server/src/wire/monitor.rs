//! `MONITOR`: an admin connection that is streamed every later command of
//! every connection, one line each in Redis's format
//! (`+1701234567.123456 [0 127.0.0.1:5555] "SET" "k" "v"`, arguments
//! quoted as Redis's `sdscatrepr` quotes them).
//!
//! What is shown follows Redis: commands that ran (a command refused
//! before it ran — unauthenticated, unknown, of the wrong arity — is not
//! shown; one queued by `MULTI` is shown when `EXEC` runs it, before the
//! `EXEC`), except Redis's admin commands (`CONFIG`, `SLOWLOG`, `SAVE`,
//! `MONITOR`, `CLIENT KILL|LIST|PAUSE|UNPAUSE|NO-EVICT`…). What is hidden
//! goes further than Redis: the password of `AUTH` and `HELLO … AUTH`
//! (as in Redis), every value of `CONFIG SET`, and every argument of a
//! command naming a `red.secret.` key (refused anyway) show as
//! `"(redacted)"`.
//!
//! This module builds the lines into [`Shared`]'s feed; the event loop
//! copies the feed to each monitoring connection and disconnects one whose
//! unread output passes its output limit. It must never show a password,
//! nor write to a socket.

use super::commands::{lower, Call, Ctx};
use super::resp::Reply;
use super::table::{Spec, UNMONITORED};
use super::{Session, Shared};
use reddb_service::keyspace::SECRET_KEY_PREFIX;
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

const REDACTED: &[u8] = b"(redacted)";

/// `MONITOR`: from now on the connection receives the feed. Refused
/// inside `MULTI` (as Redis refuses it), silent when already monitoring.
pub(super) fn monitor(_: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    if cx.in_exec {
        return Err(Reply::err(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    if cx.session.monitor {
        cx.session.reply.skip_this = true;
        return Ok(Reply::Ok);
    }
    cx.session.monitor = true;
    cx.shared.monitors.insert(cx.session.id);
    Ok(Reply::Ok)
}

/// Whether Redis hides this command from monitors (its admin commands).
fn hidden(spec: &Spec, args: &[Vec<u8>]) -> bool {
    if spec.has(UNMONITORED) {
        return true;
    }
    let sub = args.get(1).map(|a| lower(a)).unwrap_or_default();
    spec.subcommand(&sub).is_some_and(|s| s.redis_admin)
}

/// The arguments as shown: passwords and secret-key commands redacted.
fn shown_args<'a>(spec: &Spec, args: &'a [Vec<u8>]) -> Vec<Cow<'a, [u8]>> {
    let name = spec.name;
    let secret_key = spec
        .key_args(args)
        .unwrap_or_default()
        .iter()
        .any(|k| k.starts_with(SECRET_KEY_PREFIX));
    let mut redact_next = 0usize;
    let config_set = name == "config" && args.get(1).is_some_and(|a| lower(a) == "set");
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            let hide = if i == 0 {
                false
            } else if secret_key || name == "auth" {
                true
            } else if config_set {
                i >= 3 && i % 2 == 1
            } else if redact_next > 0 {
                redact_next -= 1;
                true
            } else {
                if name == "hello" && lower(a) == "auth" {
                    redact_next = 2;
                }
                false
            };
            if hide {
                Cow::Borrowed(REDACTED)
            } else {
                Cow::Borrowed(a.as_slice())
            }
        })
        .collect()
}

/// Appends `arg` quoted as Redis's `sdscatrepr` quotes it.
fn push_quoted(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &c in arg {
        match c {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(c);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// One monitor line (a RESP simple string) for a command of a client at
/// `addr` in database `db`, at `when`.
pub(crate) fn line(
    spec: &Spec,
    args: &[Vec<u8>],
    db: usize,
    addr: &str,
    when: SystemTime,
) -> Vec<u8> {
    let t = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = format!("+{}.{:06} [{db} {addr}]", t.as_secs(), t.subsec_micros()).into_bytes();
    for a in shown_args(spec, args) {
        out.push(b' ');
        push_quoted(&mut out, &a);
    }
    out.extend_from_slice(b"\r\n");
    out
}

impl Shared {
    /// Adds the line of a command that ran on `s` to the monitors' feed
    /// (when anyone monitors and Redis would show it).
    pub(super) fn feed_monitors(&mut self, s: &Session, spec: &Spec, args: &[Vec<u8>]) {
        if self.monitors.is_empty() || hidden(spec, args) {
            return;
        }
        let addr = self.clients.get(&s.id).map_or("", |c| c.addr.as_str());
        let text = line(spec, args, s.db, addr, SystemTime::now());
        self.monitor_feed.extend_from_slice(&text);
    }

    /// The lines fed since the last call, for the loop to copy to every
    /// monitoring connection.
    pub(crate) fn take_monitor_feed(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.monitor_feed)
    }

    /// Connection `id` stops monitoring (`RESET`, closed).
    pub(super) fn stop_monitoring(&mut self, s: &mut Session) {
        s.monitor = false;
        self.monitors.remove(&s.id);
    }
}

#[cfg(test)]
mod tests {
    use super::super::table::lookup;
    use super::*;
    use std::time::Duration;

    fn shown(args: &[&str]) -> String {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let name = lower(args.first().map_or(&[][..], Vec::as_slice));
        let spec = lookup(&name).unwrap();
        let when = UNIX_EPOCH + Duration::from_micros(1_701_234_567_000_042);
        String::from_utf8(line(spec, &args, 0, "127.0.0.1:5555", when)).unwrap()
    }

    #[test]
    fn lines_quote_and_redact_as_redis_and_more() {
        assert_eq!(
            shown(&["SET", "k", "a \"b\"\n\x01\\"]),
            "+1701234567.000042 [0 127.0.0.1:5555] \"SET\" \"k\" \"a \\\"b\\\"\\n\\x01\\\\\"\r\n"
        );
        assert!(
            shown(&["AUTH", "user", "pw"]).ends_with("\"AUTH\" \"(redacted)\" \"(redacted)\"\r\n")
        );
        assert!(
            shown(&["HELLO", "3", "AUTH", "u", "p", "SETNAME", "n"]).ends_with(
                "\"HELLO\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n"
            )
        );
        assert!(shown(&["SET", "red.secret.x", "v"])
            .ends_with("\"SET\" \"(redacted)\" \"(redacted)\"\r\n"));
        assert!(
            shown(&["CONFIG", "SET", "requirepass", "pw", "x", "y"]).ends_with(
                "\"CONFIG\" \"SET\" \"requirepass\" \"(redacted)\" \"x\" \"(redacted)\"\r\n"
            )
        );
    }

    #[test]
    fn redis_admin_commands_are_hidden() {
        let spec = |n: &str| lookup(n).unwrap();
        let args = |v: &[&str]| v.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>();
        assert!(hidden(spec("config"), &args(&["config", "get", "x"])));
        assert!(hidden(spec("monitor"), &args(&["monitor"])));
        assert!(hidden(
            spec("client"),
            &args(&["client", "KILL", "ID", "1"])
        ));
        assert!(!hidden(spec("client"), &args(&["client", "id"])));
        assert!(!hidden(spec("flushall"), &args(&["flushall"])));
    }
}
