//! Crash torture with the real binary (issue 8, part 3): writers over HTTP
//! and RESP, `kill -9` at a random moment, restart on the same file, and
//! check the crash-safety promises of `docs/FORMAT.md` §12 from the outside.
//!
//! One `red server --dev` (unsealed from `FILE.cert` on every later start,
//! so no typing) serves both listeners on loopback. Each cycle:
//!
//! 1. three writers start on their own connections: `H` over HTTP
//!    (`POST /secrets/red.secret.torture.<n>` and `POST
//!    /config/red.config.torture.<n>`, admin API key), `R` over RESP one
//!    command at a time, `P` over RESP pipelining batches of up to 8
//!    operations. RESP operations are `SET`, `MSET`, `HSET` with several
//!    fields and `MULTI … EXEC` over several keys (strings and hash
//!    fields). Every operation writes one unique value that encodes
//!    (writer, cycle, sequence); it counts as **acknowledged** only once its
//!    whole success reply was read, and as **in doubt** when it was (maybe
//!    partly) sent and its reply never came;
//! 2. after a seeded random delay (20–400 ms) the server gets SIGKILL; now
//!    and then the restart is itself killed 0–80 ms in (a crash during
//!    recovery), then the server starts again on the same file;
//! 3. the restarted server is checked against the model: every cell (string
//!    key, hash field, secret, config key) written in that cycle and a random
//!    sample of older ones holds exactly the last acknowledged value, or the
//!    value of an in-doubt operation that came after it (a writer owns its
//!    keys, so "a later value" means exactly that); an in-doubt operation is
//!    all present or all absent (`MULTI/EXEC`, `MSET` and multi-field `HSET`
//!    included); per connection the in-doubt operations that survived are a
//!    prefix of the ones sent (the commit order); a secret's version is the
//!    number of its writes that survived; `DBSIZE` is exactly the number of
//!    keys the model holds, and `HGETALL` shows no field that was never
//!    written. Every 50 cycles and at the end the whole model is read back
//!    and `KEYS torture:*` and `GET /secrets?prefix=` are compared with it.
//!    A killed server must have been running (not dead by itself) and its
//!    stderr must show no panic. After the last kill, `red check` must
//!    authenticate the whole log and count exactly the model's secrets,
//!    config keys and keyspace keys.
//!
//! The key set grows (new keys until a per-kind cap, overwrites of older
//! ones), so the file also goes through compactions.
//!
//! Default 20 cycles (CI). `REDDB_TORTURE_CYCLES=N` runs N;
//! `REDDB_TORTURE_SEED=<n>` (decimal or 0x-hex) fixes the seed a failure
//! printed (the kill moments are seeded, the server's timing is not, so a
//! seed replays the same schedule, not the same interleaving);
//! `REDDB_TORTURE_KEEP=1` keeps the database directory. A failure keeps it
//! too and prints its path. `scripts/crash_torture.sh` runs the long mode and
//! prints the figures (the `crash torture:` summary line at the end).
//!
//! Bounded: every socket has read/write timeouts, every writer stops after
//! 60 s or 200,000 operations, the whole run has a deadline (5 min plus 10 s
//! a cycle), and the server is SIGKILLed on drop.

mod harness;

use harness::cli::red;
use harness::daemon::{Daemon, Options};
use harness::http::{request_bytes, Conn};
use harness::rng::{fresh_seed, seed_from_env, Rng};
use harness::wire::{encode_command, Client, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEFAULT_CYCLES: usize = 20;
/// Socket timeouts of the writers and the checker.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
const KILL_DELAY_MS: (u64, u64) = (20, 400);
/// Chance (in 1/8) that a restart is itself killed before it serves.
const RECOVERY_KILL_EIGHTHS: u64 = 1;
const WRITER_MAX_OPS: usize = 200_000;
const WRITER_MAX_TIME: Duration = Duration::from_secs(60);
/// Older cells read back each cycle besides the ones the cycle wrote.
const SAMPLE: usize = 64;
/// Full read-back of the model every this many cycles (and at the end).
const FULL_CHECK_EVERY: usize = 50;
/// Most keys per kind per writer; beyond it, writes overwrite.
const KEY_CAP: u32 = 4000;
const SECRET_CAP: u32 = 1500;
/// Percent of key choices that take a new key (while under the cap).
const NEW_KEY_PCT: u64 = 30;
const HASH_FIELDS: u8 = 4;
const PIPELINE_MAX: usize = 8;

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

// ---------------------------------------------------------------------------
// The model: cells, operations, what a writer saw.

/// One place a value lives. Writer `H` owns secrets and config keys; `R`
/// (1) and `P` (2) own the string and hash keys with their number in them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Cell {
    Secret(u32),
    Config(u32),
    Kv(u8, u32),
    Field(u8, u32, u8),
}

impl Cell {
    fn resp_key(self) -> Option<String> {
        match self {
            Cell::Kv(w, n) => Some(format!("torture:kv:{w}:{n}")),
            Cell::Field(w, n, _) => Some(format!("torture:h:{w}:{n}")),
            _ => None,
        }
    }

    fn name(self) -> String {
        match self {
            Cell::Secret(n) => format!("red.secret.torture.{n}"),
            Cell::Config(n) => format!("red.config.torture.{n}"),
            Cell::Kv(..) => self.resp_key().expect("a RESP key"),
            Cell::Field(_, _, f) => format!("{} field f{f}", self.resp_key().expect("a key")),
        }
    }
}

/// What a cell holds: its value and, for a secret, its latest version.
#[derive(Clone, PartialEq, Eq, Debug)]
struct St {
    value: String,
    version: u32,
}

fn show(s: &Option<St>) -> String {
    match s {
        None => "absent".to_string(),
        Some(st) => {
            let tag: String = st.value.chars().take(32).collect();
            if st.version > 0 {
                format!("{tag:?}… (version {})", st.version)
            } else {
                format!("{tag:?}…")
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    PutSecret,
    PutConfig,
    Set,
    Mset,
    Hset,
    Multi,
}

#[derive(Clone, Debug)]
struct Op {
    writer: u8,
    seq: u64,
    kind: Kind,
    cells: Vec<Cell>,
    value: String,
}

impl Op {
    fn tag(&self) -> String {
        format!("{:?} w{} seq {}", self.kind, self.writer, self.seq)
    }

    /// The RESP commands of the operation (each one reply).
    fn commands(&self) -> Vec<Vec<String>> {
        let v = &self.value;
        let sets = |cells: &[Cell]| -> Vec<Vec<String>> {
            let mut out = Vec::new();
            let mut hashes: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            for c in cells {
                match *c {
                    Cell::Kv(..) => out.push(vec![
                        "SET".to_string(),
                        c.resp_key().expect("key"),
                        v.clone(),
                    ]),
                    Cell::Field(_, _, f) => hashes
                        .entry(c.resp_key().expect("key"))
                        .or_default()
                        .push(f),
                    _ => unreachable!("not a RESP cell"),
                }
            }
            for (k, fields) in hashes {
                let mut cmd = vec!["HSET".to_string(), k];
                for f in fields {
                    cmd.push(format!("f{f}"));
                    cmd.push(v.clone());
                }
                out.push(cmd);
            }
            out
        };
        match self.kind {
            Kind::Set | Kind::Hset => sets(&self.cells),
            Kind::Mset => {
                let mut cmd = vec!["MSET".to_string()];
                for c in &self.cells {
                    cmd.push(c.resp_key().expect("key"));
                    cmd.push(v.clone());
                }
                vec![cmd]
            }
            Kind::Multi => {
                let mut out = vec![vec!["MULTI".to_string()]];
                out.extend(sets(&self.cells));
                out.push(vec!["EXEC".to_string()]);
                out
            }
            Kind::PutSecret | Kind::PutConfig => unreachable!("HTTP operations"),
        }
    }
}

/// Checks the replies of one RESP operation: `Ok` only for full success.
fn check_replies(op: &Op, replies: &[Value]) -> Result<(), String> {
    let ok = |v: &Value| matches!(v, Value::Simple(s) if s == b"OK");
    let good = |v: &Value| ok(v) || matches!(v, Value::Integer(i) if *i >= 0);
    let cmds = op.commands();
    let fine = match op.kind {
        Kind::Multi => {
            let n = cmds.len();
            replies.len() == n
                && ok(&replies[0])
                && replies[1..n - 1]
                    .iter()
                    .all(|r| matches!(r, Value::Simple(s) if s == b"QUEUED"))
                && matches!(&replies[n - 1], Value::Array(a)
                    if a.len() == n - 2 && a.iter().all(good))
        }
        _ => replies.len() == cmds.len() && replies.iter().all(good),
    };
    if fine {
        Ok(())
    } else {
        Err(format!("{}: unexpected replies {replies:?}", op.tag()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Acked,
    InDoubt,
}

#[derive(Clone, Debug)]
struct Rec {
    op: Op,
    outcome: Outcome,
    /// The version an acknowledged secret write reported.
    version: Option<u32>,
}

impl Rec {
    /// Sent, but its reply never came.
    fn in_doubt(op: Op) -> Rec {
        Rec {
            op,
            outcome: Outcome::InDoubt,
            version: None,
        }
    }
}

/// One writer's key counters and sequence, carried across cycles.
#[derive(Clone, Debug, Default)]
struct WriterState {
    seq: u64,
    next_a: u32,
    next_b: u32,
}

struct Plan {
    writer: u8,
    cycle: usize,
    seed: u64,
    state: WriterState,
}

#[derive(Default)]
struct WriterOut {
    state: WriterState,
    recs: Vec<Rec>,
    /// A complete reply that was not a success: a test failure.
    unexpected: Option<String>,
}

impl WriterOut {
    /// No operations yet, from the writer state of the cycle before.
    fn from_state(state: WriterState) -> WriterOut {
        WriterOut {
            state,
            ..Default::default()
        }
    }

    /// Whether a writer started at `started` goes on: not told to stop,
    /// under [`WRITER_MAX_OPS`] operations and [`WRITER_MAX_TIME`].
    fn goes_on(&self, started: Instant, stop: &AtomicBool) -> bool {
        !stop.load(Ordering::SeqCst)
            && self.recs.len() < WRITER_MAX_OPS
            && started.elapsed() < WRITER_MAX_TIME
    }
}

/// Picks a key number: a new one (while under `cap`) or an older one not in
/// `used`.
fn pick_key(rng: &mut Rng, next: &mut u32, cap: u32, used: &HashSet<u32>) -> u32 {
    let fresh = |next: &mut u32| {
        let n = *next;
        *next += 1;
        n
    };
    if *next == 0 || (*next < cap && rng.chance(NEW_KEY_PCT, 100)) {
        return fresh(next);
    }
    for _ in 0..8 {
        let n = rng.below(u64::from(*next)) as u32;
        if !used.contains(&n) {
            return n;
        }
    }
    fresh(next)
}

/// A value unique to (writer, cycle, sequence), padded to a random length.
fn make_value(rng: &mut Rng, writer: u8, cycle: usize, seq: u64, max_pad: u64) -> String {
    let pad = rng.below(max_pad + 1) as usize;
    let filler = Rng::new(seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(writer))
        .text(b"abcdefghijklmnopqrstuvwxyz0123456789", pad);
    format!("w{writer}.c{cycle}.s{seq}.{filler}")
}

/// The next RESP operation of writer `w`. `used`: keys of this batch
/// (strings in `.0`, hashes in `.1`), never touched twice in one batch.
fn next_resp_op(
    rng: &mut Rng,
    st: &mut WriterState,
    w: u8,
    cycle: usize,
    used: &mut (HashSet<u32>, HashSet<u32>),
) -> Op {
    st.seq += 1;
    let seq = st.seq;
    let roll = rng.below(100);
    let kind = match roll {
        0..=44 => Kind::Set,
        45..=59 => Kind::Mset,
        60..=79 => Kind::Hset,
        _ => Kind::Multi,
    };
    let mut cells = Vec::new();
    fn kv(rng: &mut Rng, st: &mut WriterState, w: u8, used: &mut HashSet<u32>) -> Cell {
        let n = pick_key(rng, &mut st.next_a, KEY_CAP, used);
        used.insert(n);
        Cell::Kv(w, n)
    }
    fn hash(
        rng: &mut Rng,
        st: &mut WriterState,
        w: u8,
        used: &mut HashSet<u32>,
        cells: &mut Vec<Cell>,
    ) {
        let n = pick_key(rng, &mut st.next_b, KEY_CAP, used);
        used.insert(n);
        let first = rng.below(u64::from(HASH_FIELDS)) as u8;
        let count = rng.between(1, u64::from(HASH_FIELDS)) as u8;
        for i in 0..count {
            cells.push(Cell::Field(w, n, (first + i) % HASH_FIELDS));
        }
    }
    match kind {
        Kind::Set => cells.push(kv(rng, st, w, &mut used.0)),
        Kind::Mset => {
            for _ in 0..rng.between(2, 4) {
                cells.push(kv(rng, st, w, &mut used.0));
            }
        }
        Kind::Hset => {
            hash(rng, st, w, &mut used.1, &mut cells);
            if cells.len() == 1 {
                // "Several fields" as a rule: add one more.
                let Cell::Field(_, n, f) = cells[0] else {
                    unreachable!()
                };
                cells.push(Cell::Field(w, n, (f + 1) % HASH_FIELDS));
            }
        }
        Kind::Multi => {
            for _ in 0..rng.between(1, 3) {
                cells.push(kv(rng, st, w, &mut used.0));
            }
            if rng.chance(60, 100) {
                hash(rng, st, w, &mut used.1, &mut cells);
            } else {
                cells.push(kv(rng, st, w, &mut used.0));
            }
        }
        _ => unreachable!(),
    }
    let value = make_value(rng, w, cycle, seq, 300);
    Op {
        writer: w,
        seq,
        kind,
        cells,
        value,
    }
}

// ---------------------------------------------------------------------------
// Writers.

fn http_writer(plan: Plan, http: u16, key: &str, stop: &AtomicBool) -> WriterOut {
    let mut rng = Rng::new(plan.seed);
    let mut out = WriterOut::from_state(plan.state);
    let Ok(mut conn) = Conn::try_open(http, IO_TIMEOUT) else {
        return out;
    };
    let auth = format!("Bearer {key}");
    let started = Instant::now();
    while out.goes_on(started, stop) {
        let st = &mut out.state;
        st.seq += 1;
        let secret = rng.chance(60, 100);
        let none = HashSet::new();
        let (cell, kind, value) = if secret {
            let n = pick_key(&mut rng, &mut st.next_a, SECRET_CAP, &none);
            let v = make_value(&mut rng, plan.writer, plan.cycle, st.seq, 64);
            (Cell::Secret(n), Kind::PutSecret, v)
        } else {
            let n = pick_key(&mut rng, &mut st.next_b, KEY_CAP, &none);
            let v = make_value(&mut rng, plan.writer, plan.cycle, st.seq, 300);
            (Cell::Config(n), Kind::PutConfig, v)
        };
        let op = Op {
            writer: plan.writer,
            seq: st.seq,
            kind,
            cells: vec![cell],
            value,
        };
        let path = match cell {
            Cell::Secret(_) => format!("/secrets/{}", cell.name()),
            _ => format!("/config/{}", cell.name()),
        };
        let body =
            serde_json::to_vec(&serde_json::json!({ "value": op.value })).expect("encode JSON");
        let r = conn.try_request(
            "POST",
            &path,
            &[("Authorization", auth.as_str())],
            Some(&body),
        );
        match r {
            Ok(resp) => {
                let j: serde_json::Value =
                    serde_json::from_slice(&resp.body).unwrap_or(serde_json::Value::Null);
                if resp.status != 200 || j["ok"] != true {
                    out.unexpected = Some(format!(
                        "{} POST {path}: status {} {}",
                        op.tag(),
                        resp.status,
                        resp.text()
                    ));
                    return out;
                }
                let version = j["version"].as_u64().map(|v| v as u32);
                out.recs.push(Rec {
                    op,
                    outcome: Outcome::Acked,
                    version,
                });
            }
            Err(_) => {
                out.recs.push(Rec::in_doubt(op));
                return out;
            }
        }
    }
    out
}

/// A RESP writer: batches of 1 (`pipeline == 1`) or up to `pipeline`
/// operations sent in one write, replies read in order.
fn resp_writer(plan: Plan, wire: u16, key: &str, pipeline: usize, stop: &AtomicBool) -> WriterOut {
    let mut rng = Rng::new(plan.seed);
    let mut out = WriterOut::from_state(plan.state);
    let Ok(mut c) = Client::try_connect(wire, IO_TIMEOUT) else {
        return out;
    };
    match c.try_cmd(&["AUTH", key]) {
        Ok(Value::Simple(s)) if s == b"OK" => {}
        Ok(other) => {
            out.unexpected = Some(format!("AUTH: {other:?}"));
            return out;
        }
        Err(_) => return out,
    }
    let started = Instant::now();
    while out.goes_on(started, stop) {
        let n = rng.between(1, pipeline as u64) as usize;
        let mut used = (HashSet::new(), HashSet::new());
        let ops: Vec<Op> = (0..n)
            .map(|_| next_resp_op(&mut rng, &mut out.state, plan.writer, plan.cycle, &mut used))
            .collect();
        let mut bytes = Vec::new();
        for op in &ops {
            for cmd in op.commands() {
                bytes.extend_from_slice(&encode_command(&cmd));
            }
        }
        let sent = c.send(&bytes).is_ok();
        let mut ops = ops.into_iter();
        if sent {
            for op in ops.by_ref() {
                let want = op.commands().len();
                let mut replies = Vec::with_capacity(want);
                while replies.len() < want {
                    match c.read() {
                        Ok(Some(v)) => replies.push(v),
                        _ => break,
                    }
                }
                if replies.len() < want {
                    out.recs.push(Rec::in_doubt(op));
                    break;
                }
                if let Err(e) = check_replies(&op, &replies) {
                    out.unexpected = Some(e);
                    return out;
                }
                out.recs.push(Rec {
                    op,
                    outcome: Outcome::Acked,
                    version: None,
                });
            }
        }
        let rest: Vec<Op> = ops.collect();
        if !sent || !rest.is_empty() || out.recs.last().map(|r| r.outcome) == Some(Outcome::InDoubt)
        {
            for op in rest {
                out.recs.push(Rec::in_doubt(op));
            }
            return out;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Reading cells back.

/// A RESP and an HTTP connection to a (restarted) server.
struct Reader {
    resp: Client,
    http: Conn,
    auth: String,
}

/// Every field cell of the hash that `c` lives in (or `c` itself).
fn expand(c: Cell) -> Vec<Cell> {
    match c {
        Cell::Field(w, n, _) => (0..HASH_FIELDS).map(|f| Cell::Field(w, n, f)).collect(),
        other => vec![other],
    }
}

impl Reader {
    fn open(node: &Daemon) -> Reader {
        let mut resp =
            Client::try_connect(node.wire_port, IO_TIMEOUT).expect("checker: connect wire");
        let r = resp
            .try_cmd(&["AUTH", node.api_key()])
            .expect("checker: AUTH");
        assert!(matches!(&r, Value::Simple(s) if s == b"OK"), "AUTH: {r:?}");
        let http = Conn::try_open(node.http_port, IO_TIMEOUT).expect("checker: connect http");
        Reader {
            resp,
            http,
            auth: format!("Bearer {}", node.api_key()),
        }
    }

    fn cmd(&mut self, args: &[String]) -> Value {
        self.resp
            .try_cmd(args)
            .unwrap_or_else(|e| panic!("checker: {:?}: {e}", &args[..args.len().min(2)]))
    }

    /// Reads `cells` (hash cells expanded to their whole hash). Fields
    /// `HGETALL` shows that no cell names go to `bad`.
    fn read(&mut self, cells: &BTreeSet<Cell>, bad: &mut Vec<String>) -> HashMap<Cell, Option<St>> {
        let mut got = HashMap::new();
        let mut kv = Vec::new();
        let mut hashes: BTreeSet<(u8, u32)> = BTreeSet::new();
        let mut http = Vec::new();
        for &c in cells {
            match c {
                Cell::Kv(..) => kv.push(c),
                Cell::Field(w, n, _) => {
                    hashes.insert((w, n));
                }
                _ => http.push(c),
            }
        }
        for chunk in kv.chunks(200) {
            let mut args = vec!["MGET".to_string()];
            args.extend(chunk.iter().map(|c| c.resp_key().expect("key")));
            let r = self.cmd(&args);
            let Value::Array(vals) = r else {
                panic!("MGET: {r:?}")
            };
            assert_eq!(vals.len(), chunk.len(), "MGET reply length");
            for (c, v) in chunk.iter().zip(vals) {
                let st = match v {
                    Value::Bulk(b) => Some(St {
                        value: String::from_utf8_lossy(&b).into_owned(),
                        version: 0,
                    }),
                    Value::Null => None,
                    other => panic!("MGET {}: {other:?}", c.name()),
                };
                got.insert(*c, st);
            }
        }
        for (w, n) in hashes {
            let key = Cell::Field(w, n, 0).resp_key().expect("key");
            let r = self.cmd(&["HGETALL".to_string(), key.clone()]);
            let flat: Vec<Value> = match r {
                Value::Array(a) => a,
                Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                other => panic!("HGETALL {key}: {other:?}"),
            };
            for f in 0..HASH_FIELDS {
                got.insert(Cell::Field(w, n, f), None);
            }
            for pair in flat.chunks(2) {
                let (Some(fk), Some(fv)) =
                    (pair[0].as_bytes(), pair.get(1).and_then(|v| v.as_bytes()))
                else {
                    panic!("HGETALL {key}: odd reply {pair:?}");
                };
                let fname = String::from_utf8_lossy(fk).into_owned();
                let field = fname
                    .strip_prefix('f')
                    .and_then(|d| d.parse::<u8>().ok())
                    .filter(|f| *f < HASH_FIELDS);
                match field {
                    Some(f) => {
                        got.insert(
                            Cell::Field(w, n, f),
                            Some(St {
                                value: String::from_utf8_lossy(fv).into_owned(),
                                version: 0,
                            }),
                        );
                    }
                    None => bad.push(format!("{key} has a field {fname:?} nobody wrote")),
                }
            }
        }
        for chunk in http.chunks(32) {
            let mut bytes = Vec::new();
            let paths: Vec<String> = chunk
                .iter()
                .map(|c| match c {
                    Cell::Secret(_) => format!("/secrets/{}", c.name()),
                    _ => format!("/config/{}", c.name()),
                })
                .collect();
            for p in &paths {
                bytes.extend(request_bytes(
                    "GET",
                    p,
                    &[("Authorization", self.auth.as_str())],
                    None,
                ));
            }
            self.http.send(&bytes).expect("checker: send HTTP GETs");
            for (c, p) in chunk.iter().zip(&paths) {
                let r = self
                    .http
                    .read_response()
                    .expect("checker: read HTTP")
                    .expect("checker: a response, not a close");
                let st = match r.status {
                    404 => None,
                    200 => {
                        let j = r.json();
                        let value = j["value"]
                            .as_str()
                            .unwrap_or_else(|| panic!("GET {p}: value is not a string: {j}"))
                            .to_string();
                        let version = match c {
                            Cell::Secret(_) => j["version"].as_u64().expect("version") as u32,
                            _ => 0,
                        };
                        Some(St { value, version })
                    }
                    s => panic!("GET {p}: status {s}: {}", r.text()),
                };
                got.insert(*c, st);
            }
        }
        got
    }

    fn dbsize(&mut self) -> i64 {
        match self.cmd(&["DBSIZE".to_string()]) {
            Value::Integer(i) => i,
            other => panic!("DBSIZE: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Checking.

#[derive(Debug, Default)]
struct Stats {
    cycles: usize,
    recovery_kills: usize,
    ops_acked: usize,
    in_doubt: usize,
    in_doubt_applied: usize,
    in_doubt_absent: usize,
    multi_ops_acked: usize,
    cells_checked: usize,
    sampled_checked: usize,
    full_checks: usize,
    max_cells: usize,
    /// Time from spawn to serving, over the checked restarts.
    restart_total: Duration,
    restart_max: Duration,
    check_total: Duration,
    write_phase_total: Duration,
    /// "compaction done" lines in the logs of the killed servers.
    compactions: usize,
}

#[derive(Default)]
struct Model {
    cells: HashMap<Cell, St>,
    /// Every cell ever written (for sampling).
    known: Vec<Cell>,
    known_set: HashSet<Cell>,
}

impl Model {
    fn get(&self, c: Cell) -> Option<St> {
        self.cells.get(&c).cloned()
    }

    fn set(&mut self, c: Cell, st: Option<St>) {
        if self.known_set.insert(c) {
            self.known.push(c);
        }
        match st {
            Some(s) => self.cells.insert(c, s),
            None => self.cells.remove(&c),
        };
    }

    /// String keys plus hash keys with at least one field.
    fn resp_keys(&self) -> BTreeSet<String> {
        self.cells.keys().filter_map(|c| c.resp_key()).collect()
    }
}

fn next_version(c: Cell, prev: &Option<St>) -> u32 {
    match c {
        Cell::Secret(_) => prev.as_ref().map_or(0, |s| s.version) + 1,
        _ => 0,
    }
}

/// Checks one cycle's writes (and a sample of older cells) against the
/// restarted server, then folds what it saw into the model.
fn check_cycle(
    model: &mut Model,
    outs: &[WriterOut],
    reader: &mut Reader,
    rng: &mut Rng,
    stats: &mut Stats,
) -> Vec<String> {
    let mut bad = Vec::new();
    // What every touched cell must hold if nothing in doubt survived.
    let mut expect: HashMap<Cell, Option<St>> = HashMap::new();
    let mut doubts: Vec<Vec<&Rec>> = Vec::new();
    for out in outs {
        let mut mine = Vec::new();
        let mut seen_doubt = false;
        for rec in &out.recs {
            for &c in &rec.op.cells {
                expect.entry(c).or_insert_with(|| model.get(c));
            }
            match rec.outcome {
                Outcome::Acked => {
                    assert!(!seen_doubt, "an acknowledged op after one in doubt");
                    stats.ops_acked += 1;
                    if rec.op.cells.len() > 1 {
                        stats.multi_ops_acked += 1;
                    }
                    for &c in &rec.op.cells {
                        let prev = expect.get(&c).cloned().flatten();
                        let version = next_version(c, &prev);
                        if let (Cell::Secret(_), Some(v)) = (c, rec.version) {
                            if v != version {
                                bad.push(format!(
                                    "{}: the server acknowledged version {v} of {}, the model expects {version}",
                                    rec.op.tag(),
                                    c.name()
                                ));
                            }
                        }
                        expect.insert(
                            c,
                            Some(St {
                                value: rec.op.value.clone(),
                                version,
                            }),
                        );
                    }
                }
                Outcome::InDoubt => {
                    seen_doubt = true;
                    mine.push(rec);
                }
            }
        }
        doubts.push(mine);
    }
    // Read the touched cells and a sample of older ones.
    let mut want: BTreeSet<Cell> = expect.keys().flat_map(|&c| expand(c)).collect();
    let touched = want.len();
    let mut sampled = BTreeSet::new();
    if !model.known.is_empty() {
        for _ in 0..SAMPLE {
            let c = model.known[rng.below(model.known.len() as u64) as usize];
            for e in expand(c) {
                if want.insert(e) {
                    sampled.insert(e);
                }
            }
        }
    }
    let got = reader.read(&want, &mut bad);
    // In-doubt operations: all or nothing, and a prefix per connection.
    for (w, mine) in doubts.iter().enumerate() {
        let mut flags = Vec::new();
        for rec in mine {
            stats.in_doubt += 1;
            let mut applied = Vec::new();
            for &c in &rec.op.cells {
                let base = expect.get(&c).cloned().flatten();
                let new = Some(St {
                    value: rec.op.value.clone(),
                    version: next_version(c, &base),
                });
                let obs = got.get(&c).cloned().flatten();
                if obs == new {
                    applied.push(true);
                } else if obs == base {
                    applied.push(false);
                } else {
                    bad.push(format!(
                        "{} (in doubt): {} holds {}, neither the value before it ({}) nor its own",
                        rec.op.tag(),
                        c.name(),
                        show(&obs),
                        show(&base)
                    ));
                }
            }
            let all = applied.iter().all(|a| *a);
            let none = applied.iter().all(|a| !*a);
            if !all && !none {
                bad.push(format!(
                    "{} (in doubt) is half-applied: {:?} over cells {:?}",
                    rec.op.tag(),
                    applied,
                    rec.op.cells
                ));
            }
            if all {
                stats.in_doubt_applied += 1;
                for &c in &rec.op.cells {
                    let base = expect.get(&c).cloned().flatten();
                    let version = next_version(c, &base);
                    expect.insert(
                        c,
                        Some(St {
                            value: rec.op.value.clone(),
                            version,
                        }),
                    );
                }
            } else {
                stats.in_doubt_absent += 1;
            }
            flags.push(all);
        }
        if flags.windows(2).any(|p| !p[0] && p[1]) {
            bad.push(format!(
                "writer {w}: in-doubt operations survived out of order (not a prefix): {flags:?}"
            ));
        }
    }
    // Every cell read: exactly what the model says.
    for c in &want {
        let should = match expect.get(c) {
            Some(e) => e.clone(),
            None => model.get(*c),
        };
        let obs = got.get(c).cloned().flatten();
        if obs != should {
            let what = if sampled.contains(c) {
                "older cell (sampled)"
            } else {
                "cell written this cycle"
            };
            bad.push(format!(
                "{what} {}: expected {}, found {}",
                c.name(),
                show(&should),
                show(&obs)
            ));
        }
        model.set(*c, obs);
    }
    stats.cells_checked += touched;
    stats.sampled_checked += sampled.len();
    // No key beyond the model's.
    let keys = model.resp_keys().len() as i64;
    let size = reader.dbsize();
    if size != keys {
        bad.push(format!("DBSIZE is {size}, the model holds {keys} keys"));
    }
    stats.max_cells = stats.max_cells.max(model.cells.len());
    bad
}

/// Reads the whole model back and compares the key listings with it.
fn full_check(model: &mut Model, reader: &mut Reader, stats: &mut Stats) -> Vec<String> {
    let mut bad = Vec::new();
    let all: BTreeSet<Cell> = model.known.iter().flat_map(|&c| expand(c)).collect();
    let got = reader.read(&all, &mut bad);
    for c in &all {
        let obs = got.get(c).cloned().flatten();
        let should = model.get(*c);
        if obs != should {
            bad.push(format!(
                "full check: {}: expected {}, found {}",
                c.name(),
                show(&should),
                show(&obs)
            ));
        }
    }
    let listed = match reader.cmd(&["KEYS".to_string(), "torture:*".to_string()]) {
        Value::Array(a) => a
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes().expect("a key")).into_owned())
            .collect::<BTreeSet<String>>(),
        other => panic!("KEYS: {other:?}"),
    };
    let keys = model.resp_keys();
    for k in listed.symmetric_difference(&keys).take(20) {
        bad.push(format!(
            "KEYS torture:* and the model differ on {k} (listed: {})",
            listed.contains(k)
        ));
    }
    let r = reader
        .http
        .try_request(
            "GET",
            "/secrets?prefix=red.secret.torture.",
            &[("Authorization", reader.auth.as_str())],
            None,
        )
        .expect("checker: list secrets");
    let j = r.ok("list secrets");
    let mut listed: BTreeMap<String, u64> = BTreeMap::new();
    for s in j["secrets"].as_array().expect("secrets array") {
        listed.insert(
            s["key"].as_str().expect("key").to_string(),
            s["latest_version"].as_u64().expect("latest_version"),
        );
    }
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for (c, st) in &model.cells {
        if let Cell::Secret(_) = c {
            expected.insert(c.name(), u64::from(st.version));
        }
    }
    if listed != expected {
        let diff: Vec<_> = listed
            .iter()
            .filter(|(k, v)| expected.get(*k) != Some(v))
            .chain(expected.iter().filter(|(k, v)| listed.get(*k) != Some(v)))
            .take(10)
            .collect();
        bad.push(format!(
            "GET /secrets?prefix= lists {} secrets, the model {}; first differences: {diff:?}",
            listed.len(),
            expected.len()
        ));
    }
    stats.full_checks += 1;
    bad
}

// ---------------------------------------------------------------------------
// The run.

/// `red check` on the file after the last kill: every page of the log chain
/// authenticates, and the counts it prints match the model. Returns its
/// `log:` line.
fn red_check(db: &Path, model: &Model) -> String {
    let mut cert = db.as_os_str().to_owned();
    cert.push(".cert");
    let out = red(&["check", "--path"])
        .arg(db)
        .env("REDDB_CERTIFICATE_FILE", &cert)
        .run();
    assert!(out.success(), "red check failed: {}", out.describe(&[]));
    let stdout = out.stdout;
    let count = |what: &str| -> usize {
        stdout
            .split([',', '\n'])
            .find_map(|part| part.trim().strip_prefix(what))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("red check prints no '{what}' count: {stdout}"))
    };
    let of_kind = |secret: bool| {
        model
            .cells
            .keys()
            .filter(|c| match c {
                Cell::Secret(_) => secret,
                Cell::Config(_) => !secret,
                _ => false,
            })
            .count()
    };
    assert_eq!(
        count("secrets:"),
        of_kind(true),
        "red check: secrets\n{stdout}"
    );
    assert_eq!(
        count("config:"),
        of_kind(false),
        "red check: config\n{stdout}"
    );
    assert_eq!(
        count("keyspace:"),
        model.resp_keys().len(),
        "red check: keyspace keys\n{stdout}"
    );
    stdout
        .lines()
        .find(|l| l.starts_with("log:"))
        .unwrap_or("")
        .to_string()
}

/// Prints the seed and keeps the database directory when the run panics.
struct OnFailure {
    seed: u64,
    cycle: usize,
    dir: Option<tempfile::TempDir>,
    keep: bool,
}

impl Drop for OnFailure {
    fn drop(&mut self) {
        let failing = std::thread::panicking();
        if let Some(dir) = self.dir.take() {
            if failing || self.keep {
                let path = dir.keep();
                eprintln!(
                    "crash torture: database directory kept at {}",
                    path.display()
                );
            }
        }
        if failing {
            eprintln!(
                "crash torture FAILED at cycle {} with seed {:#x}; rerun: REDDB_TORTURE_SEED={:#x} REDDB_TORTURE_CYCLES={} cargo test --test crash_torture -- --nocapture",
                self.cycle,
                self.seed,
                self.seed,
                self.cycle + 1
            );
        }
    }
}

fn fail(cycle: usize, what: &str, bad: &[String], outs: &[WriterOut]) -> ! {
    let mut msg = format!("cycle {cycle}: {what}: {} problem(s):\n", bad.len());
    for b in bad.iter().take(30) {
        msg.push_str(&format!("  - {b}\n"));
    }
    for (w, out) in outs.iter().enumerate() {
        let tail: Vec<String> = out
            .recs
            .iter()
            .rev()
            .take(10)
            .rev()
            .map(|r| format!("{} {:?} {:?}", r.op.tag(), r.outcome, r.op.cells))
            .collect();
        msg.push_str(&format!(
            "  writer {w}: {} ops, last ones:\n    {}\n",
            out.recs.len(),
            tail.join("\n    ")
        ));
    }
    panic!("{msg}");
}

#[test]
fn kill9_under_http_and_resp_load_keeps_every_acknowledged_write() {
    let cycles = std::env::var("REDDB_TORTURE_CYCLES")
        .ok()
        .map(|v| {
            v.trim()
                .parse::<usize>()
                .expect("REDDB_TORTURE_CYCLES is a number")
        })
        .unwrap_or(DEFAULT_CYCLES);
    let seed = seed_from_env("REDDB_TORTURE_SEED").unwrap_or_else(fresh_seed);
    let deadline_total = Duration::from_secs(300 + 10 * cycles as u64);
    eprintln!("crash torture: {cycles} cycles, seed {seed:#x}");
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("crash-torture-")
        .tempdir()
        .expect("tempdir");
    let mut guard = OnFailure {
        seed,
        cycle: 0,
        dir: None,
        keep: env_flag("REDDB_TORTURE_KEEP"),
    };
    let mut node = Daemon::try_start(&dir.path().join("data.rdb"), &Options::dev())
        .unwrap_or_else(|e| panic!("first start: exit {}; stderr:\n{}", e.code, e.stderr));
    guard.dir = Some(dir);

    let mut rng = Rng::new(seed);
    let mut model = Model::default();
    let mut stats = Stats::default();
    let mut states = vec![WriterState::default(); 3];
    let mut kill_delays = Vec::new();
    for cycle in 0..cycles {
        guard.cycle = cycle;
        assert!(
            started.elapsed() < deadline_total,
            "the run passed its deadline of {deadline_total:?} at cycle {cycle}"
        );
        // Writers.
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for (w, st) in states.iter().enumerate() {
            let plan = Plan {
                writer: w as u8,
                cycle,
                seed: rng.next_u64(),
                state: st.clone(),
            };
            let stop = Arc::clone(&stop);
            let key = node.api_key().to_string();
            let (http, wire) = (node.http_port, node.wire_port);
            handles.push(std::thread::spawn(move || match w {
                0 => http_writer(plan, http, &key, &stop),
                1 => resp_writer(plan, wire, &key, 1, &stop),
                _ => resp_writer(plan, wire, &key, PIPELINE_MAX, &stop),
            }));
        }
        let t = Instant::now();
        let delay = rng.between(KILL_DELAY_MS.0, KILL_DELAY_MS.1);
        kill_delays.push(delay);
        std::thread::sleep(Duration::from_millis(delay));
        let killed = node.kill9();
        stop.store(true, Ordering::SeqCst);
        let outs: Vec<WriterOut> = handles
            .into_iter()
            .map(|h| h.join().expect("a writer thread panicked"))
            .collect();
        stats.write_phase_total += t.elapsed();
        if let Err(e) = killed {
            fail(cycle, "the server died by itself", &[e], &outs);
        }
        let log = node.stderr();
        stats.compactions += log.matches("compaction done").count();
        if log.contains("panicked") {
            fail(cycle, "the server panicked", &[log], &outs);
        }
        let unexpected: Vec<String> = outs.iter().filter_map(|o| o.unexpected.clone()).collect();
        if !unexpected.is_empty() {
            fail(cycle, "a write was refused", &unexpected, &outs);
        }
        for (st, out) in states.iter_mut().zip(&outs) {
            *st = out.state.clone();
        }
        // Restart, now and then after a kill during recovery.
        if rng.below(8) < RECOVERY_KILL_EIGHTHS {
            node.spawn_again();
            std::thread::sleep(Duration::from_millis(rng.between(0, 80)));
            if let Err(e) = node.kill9() {
                // A lost race for a port is not a crash.
                if !e.contains("cannot listen") {
                    fail(
                        cycle,
                        "the server died by itself while recovering",
                        &[e],
                        &outs,
                    );
                }
            }
            stats.recovery_kills += 1;
        }
        let t = Instant::now();
        if let Err(e) = node.try_start_again() {
            let e = format!(
                "red server exited with {} while starting; stderr:\n{}",
                e.code, e.stderr
            );
            fail(cycle, "restart after kill -9", &[e], &outs);
        }
        let took = t.elapsed();
        stats.restart_total += took;
        stats.restart_max = stats.restart_max.max(took);
        let t = Instant::now();
        let mut reader = Reader::open(&node);
        let bad = check_cycle(&mut model, &outs, &mut reader, &mut rng, &mut stats);
        if !bad.is_empty() {
            fail(cycle, "after kill -9 and restart", &bad, &outs);
        }
        if (cycle + 1) % FULL_CHECK_EVERY == 0 || cycle + 1 == cycles {
            let bad = full_check(&mut model, &mut reader, &mut stats);
            if !bad.is_empty() {
                fail(cycle, "full read-back", &bad, &outs);
            }
        }
        stats.check_total += t.elapsed();
        stats.cycles += 1;
        if (cycle + 1) % 50 == 0 {
            eprintln!(
                "  cycle {}: {} acked ops, {} in doubt, {} cells, {:.0?}",
                cycle + 1,
                stats.ops_acked,
                stats.in_doubt,
                model.cells.len(),
                started.elapsed()
            );
        }
    }
    node.kill9()
        .expect("the server was still running at the end");
    let check_log = red_check(&node.db, &model);
    let elapsed = started.elapsed();
    let file_len = std::fs::metadata(&node.db).map(|m| m.len()).unwrap_or(0);
    let mean_delay = kill_delays.iter().sum::<u64>() as f64 / kill_delays.len().max(1) as f64;
    eprintln!("{stats:#?}");
    let summary = format!(
        "crash torture: seed={seed:#x} cycles={} kills={} recovery_kills={} acked_ops_checked={} multi_key_acked={} in_doubt={} in_doubt_applied={} in_doubt_absent={} cells_checked={} sampled_checked={} full_checks={} compactions={} live_cells={} file_bytes={file_len} mean_kill_delay_ms={mean_delay:.0} mean_restart_ms={:.0} max_restart_ms={} mean_check_ms={:.0} elapsed_s={:.1}",
        stats.cycles,
        stats.cycles + stats.recovery_kills,
        stats.recovery_kills,
        stats.ops_acked,
        stats.multi_ops_acked,
        stats.in_doubt,
        stats.in_doubt_applied,
        stats.in_doubt_absent,
        stats.cells_checked,
        stats.sampled_checked,
        stats.full_checks,
        stats.compactions,
        model.cells.len(),
        stats.restart_total.as_secs_f64() * 1000.0 / stats.cycles.max(1) as f64,
        stats.restart_max.as_millis(),
        stats.check_total.as_secs_f64() * 1000.0 / stats.cycles.max(1) as f64,
        elapsed.as_secs_f64()
    );
    eprintln!("red check after the last kill: {check_log}");
    eprintln!("{summary}");
    let _ = std::io::stderr().flush();
    assert_eq!(stats.cycles, cycles, "every cycle ran");
    assert!(
        stats.ops_acked >= cycles,
        "the writers made progress: {} acknowledged ops",
        stats.ops_acked
    );
    assert_eq!(
        stats.in_doubt,
        stats.in_doubt_applied + stats.in_doubt_absent,
        "every in-doubt op resolved"
    );
}
