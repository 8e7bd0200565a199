//! Other wire clients while a Lua script runs past `--busy-script-time`:
//! the loop is inside the script (it runs on the loop, atomically), so the
//! script's hook calls back here ([`BusyWatch::serve`], through
//! [`crate::wire::BusyResponder`]) every few milliseconds. Each call reads
//! what the other wire connections sent (without blocking, at most
//! [`READ_WHILE_BUSY`] a connection), answers each complete command
//! `-BUSY …` — or, for `SCRIPT KILL`, asks the script to stop (its `+OK`
//! is written once the script has stopped) or answers `-UNKILLABLE …` when
//! the script has written — and writes those replies at once (they depend
//! on no commit).
//!
//! To reach the other connections while the script's own is in use, the
//! script's connection is lent out of the slab and the slab moved into the
//! watch for the command's run, then both put back
//! ([`EventLoop::run_script_command`]).
//!
//! Must never run a command of another connection, accept a connection,
//! touch an HTTP connection, or wait: it only reads, answers and writes
//! without blocking (new connections and HTTP requests wait for the
//! script to end, their events kept by epoll).

use super::connection::Conns;
use super::protocol::Protocol;
use super::EventLoop;
use crate::wire::{BusyResponder, Step};
use std::any::Any;
use std::io::{ErrorKind, Read};

/// Most bytes read from one connection in one call while busy.
const READ_WHILE_BUSY: usize = 64 * 1024;

const BUSY: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const UNKILLABLE: &[u8] = b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";
const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";

/// The other connections while a script command runs.
pub(super) struct BusyWatch {
    conns: Conns,
    /// Connections that asked `SCRIPT KILL` (slot, generation): `+OK`
    /// once the script stopped.
    killers: Vec<(usize, u64)>,
    /// Connections answered while busy (their output is written again by
    /// the loop).
    touched: Vec<usize>,
}

/// Whether a command line is one that may run a script (`EVAL*`, and
/// `EXEC`, whose queue may hold one).
pub(super) fn may_run_script(args: &[Vec<u8>]) -> bool {
    let Some(name) = args.first() else {
        return false;
    };
    ["eval", "evalsha", "eval_ro", "evalsha_ro", "exec"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

fn is_script_kill(args: &[Vec<u8>]) -> bool {
    matches!(args, [a, b] if a.eq_ignore_ascii_case(b"script") && b.eq_ignore_ascii_case(b"kill"))
}

impl BusyResponder for BusyWatch {
    fn serve(&mut self, wrote: bool) -> bool {
        let mut kill = false;
        let slots: Vec<usize> = self.conns.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            let Some(c) = self.conns.get_mut(slot) else {
                continue;
            };
            let Protocol::Wire(session) = &mut c.protocol else {
                continue;
            };
            if c.job.is_some() || c.close_after_write || session.is_blocked() || session.monitor {
                continue;
            }
            let mut buf = [0u8; 16 * 1024];
            let mut read = 0;
            while read < READ_WHILE_BUSY {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        c.peer_closed = true;
                        break;
                    }
                    Ok(n) => {
                        read += n;
                        c.inbuf.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let mut off = 0;
            let mut answered = false;
            let before = c.outbuf.len();
            loop {
                let limits = session.limits();
                let rest = c.inbuf.get(off..).unwrap_or(&[]);
                let Ok(Some((args, used))) = session.parser.parse(rest, &limits) else {
                    // Incomplete, or malformed (the loop answers that
                    // once the script is over).
                    break;
                };
                off += used;
                if args.is_empty() {
                    continue;
                }
                answered = true;
                let reply = if !session.is_authenticated() {
                    NOAUTH
                } else if !is_script_kill(&args) {
                    BUSY
                } else if wrote {
                    UNKILLABLE
                } else {
                    kill = true;
                    self.killers.push((slot, c.generation));
                    continue;
                };
                c.outbuf.extend_from_slice(reply);
            }
            c.inbuf.drain(..off.min(c.inbuf.len()));
            if answered || read > 0 {
                // These replies say nothing of the data: they may leave
                // now, unless replies of this turn wait before them.
                c.free_output_since(before);
                c.write_out();
                self.touched.push(slot);
            }
        }
        kill
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl EventLoop {
    /// Runs a command that may run a script with the other connections
    /// within the script's reach (see the module header); its step.
    pub(super) fn run_script_command(&mut self, slot: usize, args: Vec<Vec<u8>>) -> Step {
        let Some(mut conn) = self.conns.lend(slot) else {
            return Step::Continue;
        };
        let watch = BusyWatch {
            conns: std::mem::take(&mut self.conns),
            killers: Vec::new(),
            touched: Vec::new(),
        };
        self.wire.set_busy_responder(Some(Box::new(watch)));
        let step = match &mut conn.protocol {
            Protocol::Wire(session) => {
                self.wire
                    .handle(session, &mut self.service, args, &mut conn.outbuf)
            }
            Protocol::Http(_) => Step::Continue,
        };
        let watch = self
            .wire
            .set_busy_responder(None)
            .and_then(|w| w.into_any().downcast::<BusyWatch>().ok());
        let Some(watch) = watch else {
            // Unreachable: the watch was put there above. The slab is
            // lost with it; close the script's connection rather than go
            // on without it.
            drop(conn);
            return Step::Close;
        };
        let BusyWatch {
            conns,
            killers,
            touched,
        } = *watch;
        self.conns = conns;
        self.conns.restore(slot, conn);
        for (killer, generation) in killers {
            if self.conns.holds(killer, generation) {
                if let Some(c) = self.conns.get_mut(killer) {
                    c.outbuf.extend_from_slice(b"+OK\r\n");
                }
                self.mark_dirty(killer);
            }
        }
        for t in touched {
            self.mark_dirty(t);
        }
        step
    }
}
