//! `INFO` as Redis 7 prints it: the sections clients parse (`server`,
//! `clients`, `memory`, `persistence`, `stats`, `replication`, `cpu`,
//! `modules`, `commandstats`, `errorstats`, `cluster`, `keyspace`), each a
//! `# Header` and `name:value` lines, with the per-command and per-error
//! counters ([`CommandStats`]) they show.
//!
//! reddb is a lone master without replicas, cluster or modules: those
//! sections say so in Redis's words (`role:master`, `connected_slaves:0`,
//! `cluster_enabled:0`).

use super::resp::Reply;
use super::table::{NameMap, Spec};
use super::{Shared, REDIS_VERSION};
use reddb_service::keyspace::Txn;
use reddb_service::Service;
use reddb_storage::database::now_ms;
use reddb_storage::store::record::DATABASES;
use reddb_storage::store::State;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// What `INFO commandstats` shows of one command.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    /// Refused before running (wrong arity, not authenticated).
    pub rejected_calls: u64,
    /// Ran and answered an error.
    pub failed_calls: u64,
}

/// What a `commandstats` line counts: a command, or one subcommand of a
/// container command (`cmdstat_config|get`), as Redis 7 counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CommandName {
    pub command: &'static str,
    pub sub: Option<&'static str>,
}

/// Hashes lengths and end bytes only (equal names hash equal): the table's
/// few hundred names spread well enough, and counting a call hashes
/// three bytes instead of the whole name.
impl std::hash::Hash for CommandName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        fn ends(s: &str) -> [u8; 3] {
            let b = s.as_bytes();
            [
                b.len() as u8,
                b.first().copied().unwrap_or(0),
                b.last().copied().unwrap_or(0),
            ]
        }
        state.write(&ends(self.command));
        state.write(&self.sub.map_or([0; 3], ends));
    }
}

impl CommandName {
    /// The command line `args` of `spec`: its subcommand, if it is a
    /// container and `args` names one.
    pub(crate) fn of(spec: &'static Spec, args: &[Vec<u8>]) -> CommandName {
        let sub = if spec.subcommands.is_empty() {
            None
        } else {
            args.get(1)
                .and_then(|a| spec.subcommand(&super::commands::lower(a)))
                .map(|s| s.name)
        };
        CommandName {
            command: spec.name,
            sub,
        }
    }
}

impl std::fmt::Display for CommandName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.sub {
            Some(sub) => write!(f, "{}|{sub}", self.command),
            None => f.write_str(self.command),
        }
    }
}

/// The counters behind `INFO commandstats` and `INFO errorstats`.
#[derive(Debug, Clone, Default)]
pub struct CommandStats {
    /// The counters, in the order their commands were first counted.
    counted: Vec<(CommandName, CommandStat)>,
    /// Where in `counted` each name's counters are.
    index: NameMap<CommandName, usize>,
    /// The position counted last: a pipeline mostly repeats one command,
    /// and comparing its name is cheaper than hashing it.
    last: usize,
    /// Error replies by their first word (`ERR`, `WRONGTYPE`, …).
    pub by_error: BTreeMap<String, u64>,
    pub error_replies: u64,
}

/// The word `INFO errorstats` counts an error line under, as Redis 7.0
/// finds it: the text before the first space when that space is among
/// the line's first 31 bytes, else `ERR`.
fn error_code(line: &str) -> &str {
    match line.bytes().take(31).position(|b| b == b' ') {
        Some(end) => line.get(..end).unwrap_or("ERR"),
        None => "ERR",
    }
}

impl CommandStats {
    /// Counts `reply` if it is an error.
    pub fn count_reply(&mut self, reply: &Reply) {
        if let Reply::Error(line) = reply {
            let code = error_code(line);
            match self.by_error.get_mut(code) {
                Some(n) => *n += 1,
                None => {
                    self.by_error.insert(code.to_string(), 1);
                }
            }
            self.error_replies += 1;
        }
    }

    /// The counters of `name`, made on first use.
    fn stat_mut(&mut self, name: CommandName) -> &mut CommandStat {
        let at = match self.counted.get(self.last) {
            Some((last, _)) if *last == name => self.last,
            _ => match self.index.get(&name) {
                Some(&at) => at,
                None => {
                    self.counted.push((name, CommandStat::default()));
                    let at = self.counted.len() - 1;
                    self.index.insert(name, at);
                    at
                }
            },
        };
        self.last = at;
        match self.counted.get_mut(at) {
            Some((_, stat)) => stat,
            None => unreachable!("counter {at} was just found or made"),
        }
    }

    /// The counters of `name`, if it was counted.
    pub fn get(&self, name: &CommandName) -> Option<&CommandStat> {
        let at = *self.index.get(name)?;
        self.counted.get(at).map(|(_, stat)| stat)
    }

    /// Every command counted, with its counters (in no particular order).
    pub fn counted(&self) -> impl Iterator<Item = &(CommandName, CommandStat)> {
        self.counted.iter()
    }

    /// A command that ran for `took` and answered `reply`.
    pub fn count_call(&mut self, name: CommandName, took: Duration, reply: &Reply) {
        let stat = self.stat_mut(name);
        stat.calls += 1;
        stat.usec += u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        if matches!(reply, Reply::Error(_)) {
            stat.failed_calls += 1;
        }
        self.count_reply(reply);
    }

    /// A command refused with `reply` before it ran.
    pub fn count_rejected(&mut self, name: CommandName, reply: &Reply) {
        self.stat_mut(name).rejected_calls += 1;
        self.count_reply(reply);
    }
}

/// The sections `INFO` (and `INFO default`) prints, in Redis's order.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Whether `INFO args…` asks for `section`: no argument means `default`;
/// `all` and `everything` add `commandstats`.
fn wanted(asked: &[String], section: &str) -> bool {
    if asked.is_empty() {
        return DEFAULT_SECTIONS.contains(&section);
    }
    asked.iter().any(|a| match a.as_str() {
        "all" | "everything" => true,
        "default" => DEFAULT_SECTIONS.contains(&section),
        named => named == section,
    })
}

/// Writes one section's lines.
type SectionBody = fn(&Sources<'_>, &mut String);

/// What the sections read.
struct Sources<'a> {
    shared: &'a Shared,
    svc: &'a Service,
    state: Option<&'a State>,
}

/// `INFO [section …]`.
pub fn render_info(
    args: &[Vec<u8>],
    shared: &Shared,
    svc: &Service,
    state: Option<&State>,
) -> String {
    let asked: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| super::commands::lower(a))
        .collect();
    let src = Sources { shared, svc, state };
    let sections: &[(&str, &str, SectionBody)] = &[
        ("server", "Server", server),
        ("clients", "Clients", clients),
        ("memory", "Memory", memory),
        ("persistence", "Persistence", persistence),
        ("stats", "Stats", stats),
        ("replication", "Replication", replication),
        ("cpu", "CPU", cpu),
        ("modules", "Modules", |_, _| {}),
        ("commandstats", "Commandstats", commandstats),
        ("errorstats", "Errorstats", errorstats),
        ("cluster", "Cluster", |_, o| {
            o.push_str("cluster_enabled:0\r\n")
        }),
        ("keyspace", "Keyspace", keyspace),
    ];
    let mut out = String::new();
    for (name, header, body) in sections {
        if wanted(&asked, name) {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            let _ = write!(out, "# {header}\r\n");
            body(&src, &mut out);
        }
    }
    out
}

fn server(src: &Sources<'_>, o: &mut String) {
    let shared = src.shared;
    let uptime = shared.started.elapsed().as_secs();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = write!(
        o,
        "redis_version:{REDIS_VERSION}\r\nreddb_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_mode:standalone\r\nos:Linux {} {}\r\narch_bits:{}\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nprocess_supervised:no\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:10\r\nconfigured_hz:10\r\nconfig_file:\r\nvault_sealed:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        release.trim(),
        std::env::consts::ARCH,
        usize::BITS,
        std::process::id(),
        shared.bind.port(),
        now_ms().saturating_mul(1000),
        uptime / 86400,
        u8::from(src.svc.is_sealed()),
    );
}

fn clients(src: &Sources<'_>, o: &mut String) {
    let _ = write!(
        o,
        "connected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\n",
        src.shared.clients.len(),
        src.shared.max_clients,
        src.shared.blocked_clients(),
        src.shared.tracking.clients(),
        src.shared.blocked_with_timeout(),
    );
}

fn memory(src: &Sources<'_>, o: &mut String) {
    let used = src.state.map_or(0, State::live_bytes) as u64;
    let rss = rss_bytes();
    let ratio = if used == 0 {
        0.0
    } else {
        rss as f64 / used as f64
    };
    let _ = write!(
        o,
        "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{used}\r\nused_memory_peak_human:{}\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\nmem_fragmentation_ratio:{ratio:.2}\r\nmem_allocator:libc\r\n",
        human(used),
        human(rss),
        human(used),
    );
}

fn persistence(src: &Sources<'_>, o: &mut String) {
    let ks = &src.shared.keyspace;
    let _ = write!(
        o,
        "loading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_write_status:ok\r\nappendfsync:{}\r\n",
        ks.changes_since_save,
        u8::from(src.svc.keyspace_saving()),
        ks.last_save_unix,
        if src.shared.everysec { "everysec" } else { "always" },
    );
}

fn stats(src: &Sources<'_>, o: &mut String) {
    let st = &src.shared.stats;
    let _ = write!(
        o,
        "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\nrejected_connections:{}\r\nexpired_keys:0\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\nclient_output_buffer_limit_disconnections:{}\r\n",
        st.connections,
        st.commands,
        st.rejected,
        st.hits,
        st.misses,
        src.shared.pubsub.channel_count(),
        src.shared.pubsub.pattern_count(),
        st.calls.error_replies,
        src.shared.pubsub.slow_disconnected,
    );
}

fn replication(_: &Sources<'_>, o: &mut String) {
    let no_id = "0".repeat(40);
    let _ = write!(
        o,
        "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{no_id}\r\nmaster_replid2:{no_id}\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:0\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
    );
}

fn cpu(_: &Sources<'_>, o: &mut String) {
    let (sys, user) = cpu_seconds();
    let _ = write!(
        o,
        "used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n",
    );
}

fn commandstats(src: &Sources<'_>, o: &mut String) {
    let mut by_name: Vec<_> = src.shared.stats.calls.counted().collect();
    by_name.sort_unstable_by_key(|(name, _)| *name);
    for (name, s) in by_name {
        let per_call = if s.calls == 0 {
            0.0
        } else {
            s.usec as f64 / s.calls as f64
        };
        let _ = write!(
            o,
            "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            s.calls, s.usec, s.rejected_calls, s.failed_calls,
        );
    }
}

fn errorstats(src: &Sources<'_>, o: &mut String) {
    for (prefix, count) in &src.shared.stats.calls.by_error {
        let _ = write!(o, "errorstat_{prefix}:count={count}\r\n");
    }
}

fn keyspace(src: &Sources<'_>, o: &mut String) {
    if let Some(state) = src.state {
        let txn = Txn::new(state, now_ms());
        for db in 0..DATABASES {
            let counts = txn.key_counts(db);
            if counts.keys > 0 {
                let _ = write!(
                    o,
                    "db{db}:keys={},expires={},avg_ttl={}\r\n",
                    counts.keys, counts.expires, counts.avg_ttl_ms
                );
            }
        }
    }
}

/// System and user CPU seconds of this process, from `/proc/self/stat`
/// (a file read: `getrusage` is outside the seccomp allowlist).
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: sysconf reads a constant; no pointers.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which ends with the last ')':
    // state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .map_or(0.0, |t| t as f64 / ticks)
    };
    (field(15), field(14))
}

/// Resident set size in bytes, from `/proc/self/statm`.
fn rss_bytes() -> u64 {
    // SAFETY: sysconf reads a constant; no pointers.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = u64::try_from(page).unwrap_or(4096);
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_follow_redis_keywords() {
        let asked = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert!(wanted(&[], "cluster"));
        assert!(!wanted(&[], "commandstats"));
        assert!(wanted(&asked(&["everything"]), "commandstats"));
        assert!(wanted(&asked(&["default"]), "keyspace"));
        assert!(wanted(&asked(&["cpu", "keyspace"]), "keyspace"));
        assert!(!wanted(&asked(&["cpu"]), "keyspace"));
    }

    #[test]
    fn errors_count_by_their_first_word() {
        let mut s = CommandStats::default();
        let get = CommandName {
            command: "get",
            sub: None,
        };
        s.count_call(get, Duration::from_micros(5), &Reply::err("WRONGTYPE x"));
        s.count_rejected(get, &Reply::err("ERR wrong number"));
        let get = s.get(&get).copied().unwrap_or_default();
        assert_eq!((get.calls, get.failed_calls, get.rejected_calls), (1, 1, 1));
        assert_eq!(s.by_error.get("WRONGTYPE"), Some(&1));
        assert_eq!(s.error_replies, 2);
        // Redis looks for the space among the first 32 bytes of `-CODE …`.
        let long = format!("{} x", "A".repeat(30));
        s.count_reply(&Reply::err(long));
        assert_eq!(s.by_error.get(&"A".repeat(30)), Some(&1));
        s.count_reply(&Reply::err(format!("{} x", "B".repeat(31))));
        s.count_reply(&Reply::err("NOSPACE"));
        assert_eq!(s.by_error.get("ERR"), Some(&3));
    }
}
