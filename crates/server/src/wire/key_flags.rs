//! Redis 7's key-spec flags — how a command uses each of its keys — as the
//! table ([`super::table::Spec::key_flags`]) records them and `COMMAND
//! INFO`'s key specifications and `COMMAND GETKEYSANDFLAGS` print them:
//! the bits, their names in Redis's order, and the combinations the table
//! uses.
//!
//! One of `RO` (read only), `RW` (read and write), `OW` (overwrite: the
//! old value is not read), `RM` (remove) says what happens to the key;
//! `access`, `update`, `insert`, `delete` say what happens to its value.
//! `variable_flags` marks the one command whose flags depend on its
//! arguments (`SET`, see [`variable_key_flags`]).

/// A set of Redis key-spec flags.
pub(crate) type KeyFlags = u16;

pub(crate) const RO: KeyFlags = 1;
pub(crate) const RW: KeyFlags = 1 << 1;
pub(crate) const OW: KeyFlags = 1 << 2;
pub(crate) const RM: KeyFlags = 1 << 3;
pub(crate) const ACCESS: KeyFlags = 1 << 4;
pub(crate) const UPDATE: KeyFlags = 1 << 5;
pub(crate) const INSERT: KeyFlags = 1 << 6;
pub(crate) const DELETE: KeyFlags = 1 << 7;
pub(crate) const VARIABLE_FLAGS: KeyFlags = 1 << 8;

/// The flags' names, in the order Redis prints them.
const NAMES: &[(KeyFlags, &str)] = &[
    (RO, "RO"),
    (RW, "RW"),
    (OW, "OW"),
    (RM, "RM"),
    (ACCESS, "access"),
    (UPDATE, "update"),
    (INSERT, "insert"),
    (DELETE, "delete"),
    (VARIABLE_FLAGS, "variable_flags"),
];

/// A read of the value (`GET`): the default of a read-only command.
pub(crate) const RO_ACCESS: KeyFlags = RO | ACCESS;
/// A change of a value that is not returned (`HSET`, `EXPIRE`): the
/// default of a writing command.
pub(crate) const RW_UPDATE: KeyFlags = RW | UPDATE;
/// A change of a value that is read first (`INCR`, `GETSET`).
pub(crate) const RW_ACCESS_UPDATE: KeyFlags = RW | ACCESS | UPDATE;
/// Adds to a value (`SADD`, `LPUSH`, `APPEND`).
pub(crate) const RW_INSERT: KeyFlags = RW | INSERT;
/// Removes from a value (`SREM`, `LTRIM`).
pub(crate) const RW_DELETE: KeyFlags = RW | DELETE;
/// Removes from a value and returns what it removed (`LPOP`, `GETDEL`).
pub(crate) const RW_ACCESS_DELETE: KeyFlags = RW | ACCESS | DELETE;
/// Replaces the value whatever it was (`SETEX`, `MSET`, a `…STORE`).
pub(crate) const OW_UPDATE: KeyFlags = OW | UPDATE;
/// Writes the value only where there was none (`SETNX`, `MSETNX`).
pub(crate) const OW_INSERT: KeyFlags = OW | INSERT;
/// Removes the key (`DEL`).
pub(crate) const RM_DELETE: KeyFlags = RM | DELETE;
/// Looks at the key, not its value (`EXISTS`, `TYPE`, `STRLEN`).
pub(crate) const RO_KEY_ONLY: KeyFlags = RO;
/// `SET`: `RW`, `access` and `update` as `COMMAND INFO` shows it; what
/// a given command line does is [`variable_key_flags`].
pub(crate) const SET_FLAGS: KeyFlags = RW | ACCESS | UPDATE | VARIABLE_FLAGS;

/// The names of `flags`, in Redis's order.
pub(crate) fn names(flags: KeyFlags) -> impl Iterator<Item = &'static str> {
    NAMES
        .iter()
        .filter(move |(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
}

/// The flags of the key of a command with `variable_flags` — `SET key
/// value [option …]` — for this command line (`args`, the name first):
/// with a `GET` among the options the old value is read, otherwise it is
/// overwritten (Redis's `setGetKeys`, which looks at every argument after
/// the value).
pub(crate) fn variable_key_flags(args: &[Vec<u8>]) -> KeyFlags {
    let reads = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
    if reads {
        RW | ACCESS | UPDATE
    } else {
        OW_UPDATE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn names_follow_redis_order() {
        let shown: Vec<_> = names(SET_FLAGS).collect();
        assert_eq!(shown, ["RW", "access", "update", "variable_flags"]);
        assert_eq!(names(RM_DELETE).collect::<Vec<_>>(), ["RM", "delete"]);
        assert_eq!(names(0).count(), 0);
    }

    #[test]
    fn set_reads_its_key_only_with_get() {
        assert_eq!(variable_key_flags(&args(&["set", "k", "v"])), OW_UPDATE);
        assert_eq!(
            variable_key_flags(&args(&["SET", "k", "v", "NX", "gEt"])),
            RW | ACCESS | UPDATE
        );
        // The value itself is never an option.
        assert_eq!(variable_key_flags(&args(&["set", "k", "get"])), OW_UPDATE);
    }
}
