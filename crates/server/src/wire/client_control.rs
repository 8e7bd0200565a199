//! `CLIENT KILL`, `CLIENT PAUSE`, `CLIENT UNPAUSE`, `CLIENT UNBLOCK`,
//! `CLIENT REPLY`, `CLIENT NO-EVICT` and the filters of `CLIENT LIST`:
//! Redis 7.0's syntax and error lines, and the state they leave for the
//! parent module and the event loop — the connections to close
//! ([`Shared::kills`]), the pause ([`ClientPause`]), the blocked clients
//! to answer ([`Shared::request_unblock`]) and the connection's reply
//! mode ([`ReplyMode`]).
//!
//! Only an admin may kill, pause or unblock clients (Redis marks `KILL`,
//! `PAUSE`, `UNPAUSE` and `UNBLOCK` `admin`); the table says so and the
//! parent module answers a user Redis's `NOPERM` line. `NO-EVICT` changes
//! nothing (reddb never evicts) and is open to every user.
//!
//! It must never close a socket or block: the loop closes what is listed
//! and queues what the pause holds.

use super::commands::{int_arg, lower, printable, syntax, Call, Ctx};
use super::resp::Reply;
use super::table::Spec;
use super::{ClientInfo, Session, Shared};
use reddb_service::strict_decimal::parse_i64;
use std::time::{Duration, Instant};

/// What `CLIENT REPLY` left: Redis's `CLIENT_REPLY_OFF`,
/// `CLIENT_REPLY_SKIP` (the command running now is not answered) and
/// `CLIENT_REPLY_SKIP_NEXT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // Redis's three independent flags
pub(crate) struct ReplyMode {
    pub off: bool,
    pub skip_this: bool,
    pub skip_next: bool,
}

impl ReplyMode {
    /// Whether the command that just ran goes unanswered.
    pub(crate) fn silenced(&self) -> bool {
        self.off || self.skip_this
    }

    /// After a command: a `SKIP` covers the next one only.
    pub(crate) fn command_done(&mut self) {
        self.skip_this = self.skip_next;
        self.skip_next = false;
    }
}

/// A `CLIENT PAUSE` in force: until when, and whether it holds every
/// command or only writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientPause {
    pub until: Instant,
    pub all: bool,
}

impl ClientPause {
    /// Whether this pause holds `spec` now; `writes_queued` is whether the
    /// command is an `EXEC` of a block with a write in it.
    pub(crate) fn holds(&self, spec: &Spec, writes_queued: bool, now: Instant) -> bool {
        now < self.until
            && (self.all
                || spec.has(super::table::WRITE)
                || spec.has(super::table::PAUSED_AS_WRITE)
                || writes_queued)
    }
}

/// Runs `CLIENT KILL|PAUSE|UNPAUSE|REPLY|NO-EVICT` (`sub` lower-case;
/// its arity and the principal's permission were checked against the
/// table).
pub(super) fn run(sub: &str, c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    match sub {
        "kill" => kill(c, cx),
        "pause" => pause(c, cx.shared),
        "unpause" => {
            cx.shared.pause = None;
            Ok(Reply::Ok)
        }
        "unblock" => unblock(c, cx.shared),
        "reply" => reply(c, cx.session),
        _ => match lower(c.arg(2)).as_str() {
            "on" | "off" => Ok(Reply::Ok),
            _ => Err(syntax()),
        },
    }
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: 1 when client `id` was blocked
/// (it is answered as by a timeout, or with `-UNBLOCKED`, right after this
/// command), 0 otherwise. The reason is read before the id (Redis).
fn unblock(c: &Call<'_>, shared: &mut Shared) -> Result<Reply, Reply> {
    if c.args.len() > 4 {
        return Err(Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            printable(c.arg(1))
        )));
    }
    let error = match c.args.get(3).map(|r| lower(r)).as_deref() {
        None | Some("timeout") => false,
        Some("error") => true,
        Some(_) => {
            return Err(Reply::err(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let id = int_arg(c.arg(2))?;
    let unblocked = u64::try_from(id).is_ok_and(|id| shared.request_unblock(id, error));
    Ok(Reply::Int(i64::from(unblocked)))
}

/// `CLIENT PAUSE timeout-ms [WRITE|ALL]`: a second pause keeps the longer
/// end and the stricter mode (Redis).
fn pause(c: &Call<'_>, shared: &mut Shared) -> Result<Reply, Reply> {
    if c.args.len() > 4 {
        return Err(Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            printable(c.arg(1))
        )));
    }
    let all = match c.args.get(3).map(|m| lower(m)) {
        None => true,
        Some(m) if m == "all" => true,
        Some(m) if m == "write" => false,
        Some(_) => return Err(Reply::err("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let ms = parse_i64(c.arg(2))
        .ok_or_else(|| Reply::err("ERR timeout is not an integer or out of range"))?;
    let ms = u64::try_from(ms).map_err(|_| Reply::err("ERR timeout is negative"))?;
    let now = Instant::now();
    // Far enough for any client; Instant cannot hold every u64 of ms.
    let until = now
        .checked_add(Duration::from_millis(ms.min(1 << 40)))
        .unwrap_or(now);
    let next = match shared.pause {
        Some(p) if p.until > now => ClientPause {
            until: p.until.max(until),
            all: p.all || all,
        },
        _ => ClientPause { until, all },
    };
    shared.pause = Some(next);
    Ok(Reply::Ok)
}

/// `CLIENT REPLY ON|OFF|SKIP`: only `ON` is answered.
fn reply(c: &Call<'_>, session: &mut Session) -> Result<Reply, Reply> {
    let mode = &mut session.reply;
    match lower(c.arg(2)).as_str() {
        "on" => *mode = ReplyMode::default(),
        "off" => mode.off = true,
        "skip" => {
            if !mode.off {
                mode.skip_next = true;
            }
            mode.skip_this = true;
        }
        _ => return Err(syntax()),
    }
    Ok(Reply::Ok)
}

/// The connections `CLIENT LIST [TYPE type | ID id …]` shows, as Redis
/// 7.0 picks them: every one (`TYPE normal`: reddb has no replica, master
/// or subscriber connections, so the other types list none), or those
/// with the ids given, in their order (an id given twice is listed
/// twice, an unknown one not at all).
pub(super) fn listed(c: &Call<'_>, shared: &Shared) -> Result<Vec<ClientInfo>, Reply> {
    let every = || shared.clients.values().cloned().collect();
    match c.args.get(2..).unwrap_or(&[]) {
        [] => Ok(every()),
        [filter, kind] if lower(filter) == "type" => match lower(kind).as_str() {
            "normal" => Ok(every()),
            "master" | "replica" | "slave" | "pubsub" => Ok(Vec::new()),
            _ => Err(Reply::err(format!(
                "ERR Unknown client type '{}'",
                printable(kind)
            ))),
        },
        [filter, ids @ ..] if !ids.is_empty() && lower(filter) == "id" => {
            let mut out = Vec::new();
            for id in ids {
                let id = parse_i64(id).ok_or_else(|| Reply::err("ERR Invalid client ID"))?;
                let known = u64::try_from(id)
                    .ok()
                    .and_then(|id| shared.clients.get(&id));
                out.extend(known.cloned());
            }
            Ok(out)
        }
        _ => Err(syntax()),
    }
}

/// The filters of `CLIENT KILL`.
#[derive(Debug, Default)]
struct KillFilter {
    addr: Option<String>,
    laddr: Option<String>,
    user: Option<String>,
    id: Option<u64>,
    /// `TYPE` other than `normal`: no reddb connection has it.
    other_type: bool,
    skip_me: bool,
}

/// `CLIENT KILL addr:port` (the old form: answers OK or an error, may kill
/// the caller) or `CLIENT KILL filter value …` (answers how many).
fn kill(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let old_form = c.args.len() == 3;
    let f = if old_form {
        KillFilter {
            addr: Some(String::from_utf8_lossy(c.arg(2)).into_owned()),
            ..KillFilter::default()
        }
    } else {
        parse_kill_filters(c.args.get(2..).unwrap_or(&[]), cx)?
    };
    let me = cx.session.id;
    let victims: Vec<u64> = cx
        .shared
        .clients
        .values()
        .filter(|k| f.addr.as_ref().is_none_or(|a| *a == k.addr))
        .filter(|k| f.laddr.as_ref().is_none_or(|a| *a == k.laddr))
        .filter(|k| f.user.as_ref().is_none_or(|u| *u == k.user))
        .filter(|k| f.id.is_none_or(|id| id == k.id))
        .filter(|k| !(f.other_type || (f.skip_me && k.id == me)))
        .map(|k| k.id)
        .collect();
    let killed = victims.len();
    cx.shared.kills.extend(victims);
    if old_form {
        return if killed == 0 {
            Err(Reply::err("ERR No such client"))
        } else {
            Ok(Reply::Ok)
        };
    }
    Ok(Reply::Int(i64::try_from(killed).unwrap_or(i64::MAX)))
}

fn parse_kill_filters(options: &[Vec<u8>], cx: &Ctx<'_, '_>) -> Result<KillFilter, Reply> {
    let mut f = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    for pair in options.chunks(2) {
        let [name, value] = pair else {
            return Err(syntax());
        };
        let text = String::from_utf8_lossy(value).into_owned();
        match lower(name).as_str() {
            "id" => {
                let id = int_arg(value)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| Reply::err("ERR client-id should be greater than 0"))?;
                f.id = u64::try_from(id).ok();
            }
            "type" => match lower(value).as_str() {
                "normal" => {}
                "master" | "slave" | "replica" | "pubsub" => f.other_type = true,
                _ => {
                    return Err(Reply::err(format!(
                        "ERR Unknown client type '{}'",
                        printable(value)
                    )))
                }
            },
            "addr" => f.addr = Some(text),
            "laddr" => f.laddr = Some(text),
            "user" => {
                let known = matches!(cx.svc.user(&text), Ok(Some(_)))
                    || cx.shared.clients.values().any(|k| k.user == text);
                if !known {
                    return Err(Reply::err(format!(
                        "ERR No such user '{}'",
                        printable(value)
                    )));
                }
                f.user = Some(text);
            }
            "skipme" => match lower(value).as_str() {
                "yes" => f.skip_me = true,
                "no" => f.skip_me = false,
                _ => return Err(syntax()),
            },
            _ => return Err(syntax()),
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_covers_one_command_and_off_wins() {
        let mut m = ReplyMode {
            skip_this: true,
            skip_next: true,
            off: false,
        };
        assert!(m.silenced());
        m.command_done();
        assert!(m.silenced(), "the command after SKIP");
        m.command_done();
        assert!(!m.silenced());
        m.off = true;
        m.command_done();
        assert!(m.silenced());
    }
}
