//! `CONFIG GET|SET|RESETSTAT|REWRITE|HELP`: the read-only view of reddb's
//! configuration in Redis 7.0's parameter names, and the two runtime
//! settings an admin may change ([`RuntimeSettings`]: the slow log's
//! threshold and length).
//!
//! reddb's configuration comes from its command line and environment, so
//! `CONFIG SET` refuses every other parameter, and `CONFIG REWRITE` has no
//! file to write. The values shown are reddb's own (`appendonly yes`,
//! `appendfsync` as `--fsync` says, 16 databases, the encoding thresholds
//! `OBJECT ENCODING` follows); what reddb has no counterpart for is not
//! listed. It must never show a credential: `requirepass` and its kin are
//! not parameters here.

use super::commands::{lower, printable, syntax, Call, Ctx};
use super::resp::{Reply, MAX_BULK};
use super::{keyspace_events, Shared};
use reddb_service::keyspace::glob_match;
use reddb_service::keyspace::object_commands as encodings;
use reddb_service::strict_decimal::parse_i64;
use reddb_storage::store::record::DATABASES;

/// The settings `CONFIG SET` changes at run time, with Redis 7.0's
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RuntimeSettings {
    /// `slowlog-log-slower-than`: commands that take at least this many
    /// microseconds go to `SLOWLOG`; negative logs nothing.
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`: the slow log keeps this many entries (at most
    /// [`SLOWLOG_RETAINED`] whatever it says).
    pub slowlog_max_len: i64,
    /// `notify-keyspace-events`, as flags (see [`super::keyspace_events`]).
    pub notify_keyspace_events: u32,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            notify_keyspace_events: 0,
        }
    }
}

/// The most slow-log entries kept, whatever `slowlog-max-len` says
/// (Redis keeps as many as it is told; reddb bounds the memory an admin's
/// setting can take).
pub(crate) const SLOWLOG_RETAINED: usize = 65_536;

/// The one error for a parameter `CONFIG SET` does not change.
const SET_REFUSED: &str = "ERR CONFIG SET is not supported: reddb's configuration comes from its command line and environment";

/// Redis 7.0's `CONFIG HELP`, line for line.
const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

/// `CONFIG subcommand …` (the subcommand and its arity were checked
/// against the table, `SET`'s admin principal too).
pub(super) fn config(c: &Call<'_>, cx: &mut Ctx<'_, '_>) -> Result<Reply, Reply> {
    let args = c.args;
    match lower(c.arg(1)).as_str() {
        "get" => Ok(get(args.get(2..).unwrap_or(&[]), cx.shared)),
        "set" => set(args.get(2..).unwrap_or(&[]), &mut cx.shared.settings),
        "resetstat" => {
            cx.shared.reset_stats();
            Ok(Reply::Ok)
        }
        "rewrite" => Err(Reply::err(
            "ERR CONFIG REWRITE is not supported: there is no redis.conf",
        )),
        _ => Ok(Reply::Array(
            HELP.iter().map(|line| Reply::simple(*line)).collect(),
        )),
    }
}

/// Every parameter `CONFIG GET` knows, by name, with its value now.
/// Redis's old names (`…-ziplist-…`) are listed beside the new, as Redis
/// 7.0 lists them.
fn parameters(shared: &Shared) -> Vec<(&'static str, String)> {
    let settings = shared.settings;
    let hash_entries = encodings::HASH_MAX_LISTPACK_ENTRIES.to_string();
    let hash_value = encodings::HASH_MAX_LISTPACK_VALUE.to_string();
    let zset_entries = encodings::ZSET_MAX_LISTPACK_ENTRIES.to_string();
    let zset_value = encodings::ZSET_MAX_LISTPACK_VALUE.to_string();
    let list_size = encodings::LIST_MAX_LISTPACK_SIZE.to_string();
    vec![
        (
            "appendfsync",
            if shared.everysec {
                "everysec"
            } else {
                "always"
            }
            .into(),
        ),
        ("appendonly", "yes".into()),
        ("bind", shared.bind.ip().to_string()),
        (
            "busy-reply-threshold",
            shared.scripting.busy_millis().to_string(),
        ),
        ("cluster-enabled", "no".into()),
        ("databases", DATABASES.to_string()),
        ("hash-max-listpack-entries", hash_entries.clone()),
        ("hash-max-listpack-value", hash_value.clone()),
        ("hash-max-ziplist-entries", hash_entries),
        ("hash-max-ziplist-value", hash_value),
        ("list-compress-depth", "0".into()),
        ("list-max-listpack-size", list_size.clone()),
        ("list-max-ziplist-size", list_size),
        ("lua-time-limit", shared.scripting.busy_millis().to_string()),
        ("maxclients", shared.max_clients.to_string()),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        (
            "notify-keyspace-events",
            keyspace_events::flags_text(settings.notify_keyspace_events),
        ),
        ("port", shared.bind.port().to_string()),
        ("proto-max-bulk-len", MAX_BULK.to_string()),
        ("save", String::new()),
        (
            "set-max-intset-entries",
            encodings::SET_MAX_INTSET_ENTRIES.to_string(),
        ),
        (
            "slowlog-log-slower-than",
            settings.slowlog_log_slower_than.to_string(),
        ),
        ("slowlog-max-len", settings.slowlog_max_len.to_string()),
        ("timeout", "0".into()),
        ("zset-max-listpack-entries", zset_entries.clone()),
        ("zset-max-listpack-value", zset_value.clone()),
        ("zset-max-ziplist-entries", zset_entries),
        ("zset-max-ziplist-value", zset_value),
    ]
}

/// `CONFIG GET pattern …`, as Redis 7.0 answers it: a name without `*`,
/// `?` or `[` is looked up (case-insensitively) and shown as it was
/// typed; a pattern matches names case-insensitively; a parameter shows
/// once, under the first name that found it.
fn get(patterns: &[Vec<u8>], shared: &Shared) -> Reply {
    let params = parameters(shared);
    let mut found: Vec<(Vec<u8>, &str, &str)> = Vec::new();
    for pattern in patterns {
        let lowered = lower(pattern);
        let is_glob = pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        for (name, value) in &params {
            let hit = if is_glob {
                glob_match(lowered.as_bytes(), name.as_bytes())
            } else {
                lowered == *name
            };
            if hit && !found.iter().any(|(_, n, _)| n == name) {
                let shown = if is_glob {
                    name.as_bytes().to_vec()
                } else {
                    pattern.clone()
                };
                found.push((shown, name, value));
            }
        }
    }
    Reply::Map(
        found
            .into_iter()
            .map(|(shown, _, value)| (Reply::Bulk(shown), Reply::bulk(value.as_bytes())))
            .collect(),
    )
}

/// A setting `CONFIG SET` may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setting {
    SlowlogLogSlowerThan,
    SlowlogMaxLen,
    NotifyKeyspaceEvents,
}

impl Setting {
    fn named(name: &[u8]) -> Option<Setting> {
        match lower(name).as_str() {
            "slowlog-log-slower-than" => Some(Setting::SlowlogLogSlowerThan),
            "slowlog-max-len" => Some(Setting::SlowlogMaxLen),
            "notify-keyspace-events" => Some(Setting::NotifyKeyspaceEvents),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Setting::SlowlogLogSlowerThan => "slowlog-log-slower-than",
            Setting::SlowlogMaxLen => "slowlog-max-len",
            Setting::NotifyKeyspaceEvents => "notify-keyspace-events",
        }
    }

    /// The least value Redis accepts (the most is `i64::MAX`).
    fn least(self) -> i64 {
        match self {
            Setting::SlowlogLogSlowerThan => -1,
            Setting::SlowlogMaxLen | Setting::NotifyKeyspaceEvents => 0,
        }
    }

    fn apply(self, value: i64, settings: &mut RuntimeSettings) {
        match self {
            Setting::SlowlogLogSlowerThan => settings.slowlog_log_slower_than = value,
            Setting::SlowlogMaxLen => settings.slowlog_max_len = value,
            Setting::NotifyKeyspaceEvents => {
                settings.notify_keyspace_events = u32::try_from(value).unwrap_or(0);
            }
        }
    }
}

/// `CONFIG SET name value [name value …]`: all or nothing, with Redis
/// 7.0's checks in its order — an even count, then the names in order
/// (the first that is not a setting reddb changes refuses the whole
/// command, as does a repeated one), then the values.
fn set(pairs: &[Vec<u8>], settings: &mut RuntimeSettings) -> Result<Reply, Reply> {
    if !pairs.len().is_multiple_of(2) {
        return Err(syntax());
    }
    let named: Vec<(Option<Setting>, &[u8], &[u8])> = pairs
        .chunks(2)
        .map(|pair| match pair {
            [name, value] => (Setting::named(name), name.as_slice(), value.as_slice()),
            _ => (None, &[][..], &[][..]),
        })
        .collect();
    let failed = |name: &str, why: &str| {
        Reply::err(format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ))
    };
    // The first name that is not a setting, or that repeats one, decides.
    for (i, (setting, typed, _)) in named.iter().enumerate() {
        if setting.is_none() {
            return Err(Reply::err(SET_REFUSED));
        }
        let seen = named.get(..i).unwrap_or(&[]);
        if seen.iter().any(|(earlier, _, _)| earlier == setting) {
            return Err(failed(&printable(typed), "duplicate parameter"));
        }
    }
    let mut changes: Vec<(Setting, i64)> = Vec::with_capacity(named.len());
    for (setting, _, value) in named {
        let Some(setting) = setting else {
            return Err(Reply::err(SET_REFUSED));
        };
        let parsed = if setting == Setting::NotifyKeyspaceEvents {
            match keyspace_events::parse_flags(value) {
                Some(flags) => Some(i64::from(flags)),
                None => {
                    return Err(failed(
                        setting.name(),
                        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
                    ))
                }
            }
        } else {
            parse_i64(value)
        };
        let Some(n) = parsed else {
            return Err(failed(
                setting.name(),
                "argument couldn't be parsed into an integer",
            ));
        };
        if n < setting.least() {
            return Err(failed(
                setting.name(),
                &format!(
                    "argument must be between {} and {} inclusive",
                    setting.least(),
                    i64::MAX
                ),
            ));
        }
        changes.push((setting, n));
    }
    for (setting, value) in changes {
        setting.apply(value, settings);
    }
    Ok(Reply::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn set_is_all_or_nothing() {
        let mut s = RuntimeSettings::default();
        let bad = set(
            &args(&["slowlog-max-len", "5", "slowlog-log-slower-than", "x"]),
            &mut s,
        );
        assert!(matches!(bad, Err(Reply::Error(ref e)) if e.contains("'slowlog-log-slower-than'")));
        assert_eq!(s, RuntimeSettings::default());
        let refused = set(&args(&["slowlog-max-len", "5", "timeout", "0"]), &mut s);
        assert_eq!(refused, Err(Reply::err(SET_REFUSED)));
        assert_eq!(s, RuntimeSettings::default());
        let dup = set(
            &args(&["slowlog-max-len", "5", "SLOWLOG-MAX-LEN", "6"]),
            &mut s,
        );
        assert!(
            matches!(dup, Err(Reply::Error(ref e)) if e.contains("'SLOWLOG-MAX-LEN') - duplicate"))
        );
        assert_eq!(
            set(
                &args(&["SlowLog-Max-Len", "0", "slowlog-log-slower-than", "-1"]),
                &mut s
            ),
            Ok(Reply::Ok)
        );
        assert_eq!(s.slowlog_max_len, 0);
        assert_eq!(s.slowlog_log_slower_than, -1);
    }

    #[test]
    fn values_are_redis_integers_in_range() {
        let mut s = RuntimeSettings::default();
        for bad in ["+5", "007", "-0", "1k", "", "9223372036854775808"] {
            let r = set(&args(&["slowlog-max-len", bad]), &mut s);
            assert!(
                matches!(r, Err(Reply::Error(ref e)) if e.ends_with("couldn't be parsed into an integer")),
                "{bad:?}: {r:?}"
            );
        }
        let r = set(&args(&["slowlog-max-len", "-1"]), &mut s);
        assert!(
            matches!(r, Err(Reply::Error(ref e)) if e.ends_with("between 0 and 9223372036854775807 inclusive"))
        );
        let r = set(&args(&["slowlog-log-slower-than", "-2"]), &mut s);
        assert!(
            matches!(r, Err(Reply::Error(ref e)) if e.ends_with("between -1 and 9223372036854775807 inclusive"))
        );
        assert_eq!(s, RuntimeSettings::default());
    }
}
