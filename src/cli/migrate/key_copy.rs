//! Copying keys: read a group of keys from the source (`TYPE`, `PTTL`,
//! the size, then the value — all pipelined, one round trip per step for
//! the whole group) and write them to the target in `MULTI`/`EXEC` blocks:
//! per key `DEL` and the type's writes with the expiry as an absolute time
//! (`SET … PXAT`, `PEXPIREAT`), so a reader of the target sees each key
//! either as before or whole.
//!
//! A collection with more elements than a batch, or more bytes than
//! [`WHOLE_READ_BYTES`] by the source's `MEMORY USAGE` estimate (or than a
//! block may carry), is read in chunks of about [`CHUNK_BYTES`] (`LRANGE`/`ZRANGE` by index,
//! `SSCAN`/`HSCAN`) into a temporary key on the target (with a one-hour
//! expiry, refreshed per chunk, so an interrupted copy leaves nothing
//! behind for long) and moved into place by one `MULTI`/`RENAME`/expiry/
//! `EXEC`: memory stays bounded by one chunk, and readers never see half a
//! collection. Keys of types reddb lacks, `red.secret.*` keys and keys or
//! values larger than reddb holds are refused and counted by type or
//! reason — never named: key names like `oauth:refresh:{token}` carry
//! tokens, and nothing here prints one; a key
//! that vanished between `SCAN` and the read is deleted on the target and
//! counted.

use super::progress_state::{Counts, KINDS};
use super::resp_client::{describe, RespConnection, Value};
use crate::error::Result;
use crate::server::wire::resp::encode_command;
use crate::service::keyspace::SECRET_KEY_PREFIX;
use crate::store::record::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// Most bytes of commands in one `MULTI` block (reddb queues at most
/// 48 MiB; a 16 MiB value and its command fit alone).
const MAX_BLOCK_BYTES: usize = 24 * 1024 * 1024;
/// Most bytes of one write command (reddb takes commands up to 32 MiB).
const MAX_COMMAND_BYTES: usize = 4 * 1024 * 1024;
/// Collections the source says are larger than this are read in chunks,
/// whatever their element count.
const WHOLE_READ_BYTES: u64 = 8 * 1024 * 1024;
/// About how many bytes of values one group reads whole (at least one
/// key): the rest of the batch is read after it is written.
const GROUP_BYTES: u64 = 32 * 1024 * 1024;
/// About how many bytes one chunk read of a collection should carry.
const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// Expiry of a temporary key while a large collection is copied into it.
const TEMP_KEY_TTL_MS: &str = "3600000";
/// How often a group is read again when keys change type or vanish
/// between the steps of one read.
const READ_ATTEMPTS: usize = 3;

/// How the keys of a group are counted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The scan: per type.
    First,
    /// A key copied again (it changed, or a full pass after a resume).
    Again,
}

/// The two connections and the copy settings.
pub struct KeyCopier {
    pub source: RespConnection,
    pub target: RespConnection,
    /// Keys per `SCAN` step and elements per collection chunk.
    pub batch: usize,
    /// Count keys of unsupported types as skipped, not refused.
    pub skip_unsupported: bool,
}

/// A supported key read from the source.
struct ReadKey {
    key: Vec<u8>,
    kind: usize,
    /// Absolute expiry (ms since the epoch), `None` for none.
    expires_at: Option<u64>,
    /// The elements (strings: one; hashes: field, value, …; sorted sets:
    /// score, member, …), or `None` when the collection is copied in
    /// chunks.
    elements: Option<Vec<Vec<u8>>>,
    /// Elements per chunk read.
    chunk: usize,
}

/// A key, its index in [`KINDS`] and its absolute expiry.
type TypedKey = (Vec<u8>, usize, Option<u64>);

/// What one read of a group found.
#[derive(Default)]
struct GroupRead {
    /// Supported keys, whole or to copy in chunks.
    read: Vec<ReadKey>,
    /// Keys to delete on the target (gone from the source, or refused).
    deleted: Vec<(Vec<u8>, Outcome)>,
    /// Keys that changed type or vanished between steps: read again.
    unstable: Vec<Vec<u8>>,
    /// Keys left for the next group, past [`GROUP_BYTES`] of values.
    deferred: Vec<Vec<u8>>,
}

/// What became of one key of a block.
enum Outcome {
    Copied(usize),
    /// Gone from the source: deleted on the target, counted.
    Deleted,
    /// Refused (and already counted): deleted on the target, so no stale
    /// value stays.
    Cleared,
}

impl KeyCopier {
    pub fn new(
        source: RespConnection,
        target: RespConnection,
        batch: usize,
        skip_unsupported: bool,
    ) -> Self {
        Self {
            source,
            target,
            batch,
            skip_unsupported,
        }
    }

    /// Copies `keys` (each as it is on the source now) and counts them.
    pub fn copy_keys(&mut self, keys: Vec<Vec<u8>>, pass: Pass, counts: &mut Counts) -> Result<()> {
        let mut pending = Vec::new();
        for key in keys {
            if key.starts_with(SECRET_KEY_PREFIX) {
                counts.refused_secret += 1;
            } else if key.len() > MAX_KEY_LEN {
                counts.refused_too_large += 1;
            } else {
                pending.push(key);
            }
        }
        for attempt in 1..=READ_ATTEMPTS {
            let mut unstable = Vec::new();
            // A group reads at most about GROUP_BYTES of values; the keys
            // past that come back as deferred and form the next group.
            while !pending.is_empty() {
                let group = self.read_group(pending, counts)?;
                unstable.extend(group.unstable);
                unstable.extend(self.write_group(group.read, group.deleted, pass, counts)?);
                pending = group.deferred;
            }
            pending = unstable;
            if pending.is_empty() {
                break;
            }
            if attempt == READ_ATTEMPTS {
                eprintln!(
                    "red migrate: warning: {} key(s) changed type or vanished on every read; they are copied again if they change once more",
                    pending.len()
                );
            }
        }
        Ok(())
    }

    /// Reads a group in three pipelined steps (type and TTL, size, value).
    fn read_group(&mut self, keys: Vec<Vec<u8>>, counts: &mut Counts) -> Result<GroupRead> {
        let mut group = GroupRead::default();
        let typed = self.read_types(keys, counts, &mut group)?;
        let whole = self.read_sizes(typed, counts, &mut group)?;
        self.read_values(whole, &mut group)?;
        Ok(group)
    }

    /// Step 1: `TYPE` and `PTTL` of each key; the supported ones with
    /// their kind and absolute expiry.
    fn read_types(
        &mut self,
        keys: Vec<Vec<u8>>,
        counts: &mut Counts,
        group: &mut GroupRead,
    ) -> Result<Vec<TypedKey>> {
        let deleted = &mut group.deleted;
        let mut pipeline = Vec::new();
        for k in &keys {
            pipeline.extend(encode_command(&[b"TYPE".as_slice(), k]));
            pipeline.extend(encode_command(&[b"PTTL".as_slice(), k]));
        }
        self.source.send_raw(&pipeline)?;
        let mut typed = Vec::new();
        for key in keys {
            let kind = self.source.read()?;
            let ttl = self.source.read()?;
            let now = crate::database::now_ms();
            let type_name = match &kind {
                Value::Simple(t) => String::from_utf8_lossy(t).into_owned(),
                other => {
                    return Err(self
                        .source
                        .fail(format!("TYPE answered {}", describe(other))))
                }
            };
            let expires_at = match ttl {
                Value::Integer(-2) => {
                    deleted.push((key, Outcome::Deleted));
                    continue;
                }
                Value::Integer(ms) if ms >= 0 => Some(now.saturating_add(ms.unsigned_abs())),
                Value::Integer(_) => None,
                other => {
                    return Err(self
                        .source
                        .fail(format!("PTTL answered {}", describe(&other))))
                }
            };
            match KINDS.iter().position(|k| *k == type_name) {
                Some(i) => typed.push((key, i, expires_at)),
                None if type_name == "none" => deleted.push((key, Outcome::Deleted)),
                None => {
                    counts.count_unsupported(&type_name);
                    // Whatever the target held under this name is stale.
                    deleted.push((key, Outcome::Cleared));
                }
            }
        }
        Ok(typed)
    }

    /// Step 2: the size of each key; strings and small collections are
    /// returned to be read whole, large collections noted to be copied in
    /// chunks.
    fn read_sizes(
        &mut self,
        typed: Vec<TypedKey>,
        counts: &mut Counts,
        group: &mut GroupRead,
    ) -> Result<Vec<TypedKey>> {
        let (deleted, unstable) = (&mut group.deleted, &mut group.unstable);
        let mut pipeline = Vec::new();
        for (k, kind, _) in &typed {
            let cmd: &[u8] = match *kind {
                0 => b"STRLEN",
                1 => b"LLEN",
                2 => b"SCARD",
                3 => b"HLEN",
                _ => b"ZCARD",
            };
            pipeline.extend(encode_command(&[cmd, k]));
            if *kind != 0 {
                pipeline.extend(encode_command(&[b"MEMORY".as_slice(), b"USAGE", k]));
            }
        }
        self.source.send_raw(&pipeline)?;
        let mut whole = Vec::new();
        let mut whole_bytes: u64 = 0;
        let mut chunked = Vec::new();
        for (key, kind, expires_at) in typed {
            let size = self.source.read()?;
            // An estimate in bytes (Redis samples a few elements); `None`
            // when the source does not answer it (renamed, denied, gone).
            let usage = if kind == 0 {
                None
            } else {
                match self.source.read()? {
                    Value::Integer(n) => u64::try_from(n).ok(),
                    _ => None,
                }
            };
            let size = match size {
                Value::Integer(n) => n,
                Value::Error(e) if e.starts_with(b"WRONGTYPE") => {
                    unstable.push(key);
                    continue;
                }
                other => {
                    return Err(self
                        .source
                        .fail(format!("a size query answered {}", describe(&other))))
                }
            };
            let size = usize::try_from(size).unwrap_or(0);
            let chunk = chunk_len(self.batch, size, usage);
            if kind == 0 && size > MAX_VALUE_LEN {
                counts.refused_too_large += 1;
                deleted.push((key, Outcome::Cleared));
            } else if kind != 0 && size == 0 {
                unstable.push(key);
            } else if kind != 0 && (size > chunk || usage.is_some_and(|u| u > WHOLE_READ_BYTES)) {
                chunked.push(ReadKey {
                    key,
                    kind,
                    expires_at,
                    elements: None,
                    chunk,
                });
            } else {
                // Strings: their length; collections: the source's estimate.
                let bytes = if kind == 0 {
                    size as u64
                } else {
                    usage.unwrap_or(0)
                };
                if !whole.is_empty() && whole_bytes.saturating_add(bytes) > GROUP_BYTES {
                    group.deferred.push(key);
                    continue;
                }
                whole_bytes = whole_bytes.saturating_add(bytes);
                whole.push((key, kind, expires_at));
            }
        }
        group.read.extend(chunked);
        Ok(whole)
    }

    /// Step 3: the values of strings and small collections.
    fn read_values(&mut self, whole: Vec<TypedKey>, group: &mut GroupRead) -> Result<()> {
        let mut pipeline = Vec::new();
        for (k, kind, _) in &whole {
            pipeline.extend(match *kind {
                0 => encode_command(&[b"GET".as_slice(), k]),
                1 => encode_command(&[b"LRANGE".as_slice(), k, b"0", b"-1"]),
                2 => encode_command(&[b"SMEMBERS".as_slice(), k]),
                3 => encode_command(&[b"HGETALL".as_slice(), k]),
                _ => encode_command(&[b"ZRANGE".as_slice(), k, b"0", b"-1", b"WITHSCORES"]),
            });
        }
        self.source.send_raw(&pipeline)?;
        for (key, kind, expires_at) in whole {
            let elements = match self.source.read()? {
                Value::Bulk(v) if kind == 0 => vec![v],
                Value::Array(items) if kind != 0 && !items.is_empty() => {
                    match bulk_items(items, kind) {
                        Some(e) => e,
                        None => {
                            return Err(self
                                .source
                                .fail("a collection read answered a non-string element"))
                        }
                    }
                }
                Value::Null | Value::Array(_) => {
                    group.unstable.push(key);
                    continue;
                }
                Value::Error(e) if e.starts_with(b"WRONGTYPE") => {
                    group.unstable.push(key);
                    continue;
                }
                other => {
                    return Err(self
                        .source
                        .fail(format!("a value read answered {}", describe(&other))))
                }
            };
            group.read.push(ReadKey {
                key,
                kind,
                expires_at,
                elements: Some(elements),
                chunk: self.batch,
            });
        }
        Ok(())
    }

    /// Writes a group: whole keys in `MULTI` blocks, then the chunked ones;
    /// returns the chunked keys that changed type or vanished mid-copy.
    fn write_group(
        &mut self,
        read: Vec<ReadKey>,
        deleted: Vec<(Vec<u8>, Outcome)>,
        pass: Pass,
        counts: &mut Counts,
    ) -> Result<Vec<Vec<u8>>> {
        let mut block = Block::default();
        for (key, outcome) in deleted {
            let cmd = encode_command(&[b"DEL".as_slice(), &key]);
            self.add_to_block(&mut block, key, vec![cmd], outcome, pass, counts)?;
        }
        let mut chunked = Vec::new();
        for r in read {
            let Some(elements) = &r.elements else {
                chunked.push(r);
                continue;
            };
            let commands = whole_key_commands(&r.key, r.kind, elements, r.expires_at);
            let bytes: usize = commands.iter().map(Vec::len).sum();
            if bytes > MAX_BLOCK_BYTES {
                chunked.push(r);
                continue;
            }
            let kind = r.kind;
            self.add_to_block(
                &mut block,
                r.key,
                commands,
                Outcome::Copied(kind),
                pass,
                counts,
            )?;
        }
        self.commit_block(&mut block, pass, counts)?;
        let mut unstable = Vec::new();
        for r in chunked {
            if !self.copy_in_chunks(&r, pass, counts)? {
                unstable.push(r.key);
            }
        }
        Ok(unstable)
    }

    fn add_to_block(
        &mut self,
        block: &mut Block,
        key: Vec<u8>,
        commands: Vec<Vec<u8>>,
        outcome: Outcome,
        pass: Pass,
        counts: &mut Counts,
    ) -> Result<()> {
        let bytes: usize = commands.iter().map(Vec::len).sum();
        if block.bytes > 0 && block.bytes + bytes > MAX_BLOCK_BYTES {
            self.commit_block(block, pass, counts)?;
        }
        block.bytes += bytes;
        block.keys.push((key, commands.len(), outcome));
        block.commands.extend(commands);
        Ok(())
    }

    /// Sends `MULTI`, the block's commands and `EXEC`; counts each key by
    /// its replies. A key whose write the target refused as too large is
    /// refused by name (and deleted, so no stale value stays); any other
    /// refusal stops the migration.
    fn commit_block(&mut self, block: &mut Block, pass: Pass, counts: &mut Counts) -> Result<()> {
        if block.keys.is_empty() {
            return Ok(());
        }
        let mut pipeline = encode_command(&["MULTI"]);
        for c in &block.commands {
            pipeline.extend_from_slice(c);
        }
        pipeline.extend(encode_command(&["EXEC"]));
        self.target.send_raw(&pipeline)?;
        let mut first_error = None;
        for _ in 0..=block.commands.len() {
            match self.target.read()? {
                Value::Simple(_) => {}
                Value::Error(e) => {
                    first_error.get_or_insert(String::from_utf8_lossy(&e).into_owned());
                }
                other => {
                    return Err(self
                        .target
                        .fail(format!("MULTI answered {}", describe(&other))))
                }
            }
        }
        let replies = match self.target.read()? {
            Value::Array(r) if r.len() == block.commands.len() => r,
            Value::Error(e) => {
                return Err(self.target.fail(format!(
                    "EXEC refused the block ({}{})",
                    String::from_utf8_lossy(&e),
                    first_error
                        .map(|f| format!("; first refusal: {f}"))
                        .unwrap_or_default()
                )))
            }
            other => {
                return Err(self
                    .target
                    .fail(format!("EXEC answered {}", describe(&other))))
            }
        };
        let mut replies = replies.into_iter();
        let mut refused = Vec::new();
        for (key, n, outcome) in std::mem::take(&mut block.keys) {
            let mut error = None;
            for r in replies.by_ref().take(n) {
                if let Value::Error(e) = r {
                    error.get_or_insert(String::from_utf8_lossy(&e).into_owned());
                }
            }
            match (error, outcome) {
                (None, Outcome::Copied(kind)) => match pass {
                    Pass::First => counts.count_copied(kind),
                    Pass::Again => counts.recopied += 1,
                },
                (None, Outcome::Deleted) => counts.vanished += 1,
                (None, Outcome::Cleared) => {}
                (Some(e), _) if is_size_refusal(&e) => {
                    counts.refused_too_large += 1;
                    refused.push(key);
                }
                (Some(e), _) => {
                    return Err(self.target.fail(format!("refused a key's write: {e}")))
                }
            }
        }
        block.commands.clear();
        block.bytes = 0;
        for key in refused {
            self.expect_integer(&[b"DEL".as_slice(), &key])?;
        }
        Ok(())
    }

    /// Copies one large collection through a temporary key (see the
    /// module docs); `false` (nothing changed on the target) when the key
    /// changed type or vanished during the copy.
    fn copy_in_chunks(&mut self, r: &ReadKey, pass: Pass, counts: &mut Counts) -> Result<bool> {
        let temp = temp_key()?;
        self.expect_integer(&[b"DEL".as_slice(), &temp])?;
        let mut position: u64 = 0;
        let mut cursor = b"0".to_vec();
        let mut wrote = false;
        loop {
            let chunk = self.read_chunk(&r.key, r.kind, r.chunk, position, &cursor)?;
            if chunk.changed || (!wrote && chunk.elements.is_empty()) {
                self.expect_integer(&[b"DEL".as_slice(), &temp])?;
                return Ok(false);
            }
            let done = match r.kind {
                2 | 3 => chunk.cursor.as_deref() == Some(b"0".as_slice()),
                _ => chunk.elements.len() < r.chunk * element_width(r.kind),
            };
            position += (chunk.elements.len() / element_width(r.kind)) as u64;
            if let Some(c) = chunk.cursor {
                cursor = c;
            }
            if !chunk.elements.is_empty() {
                if !self.append_chunk(&temp, r.kind, &chunk.elements)? {
                    self.expect_integer(&[b"DEL".as_slice(), &temp])?;
                    self.expect_integer(&[b"DEL".as_slice(), &r.key])?;
                    counts.refused_too_large += 1;
                    return Ok(true);
                }
                wrote = true;
            }
            if done {
                break;
            }
        }
        let mut pipeline = encode_command(&["MULTI"]);
        pipeline.extend(encode_command(&[b"RENAME".as_slice(), &temp, &r.key]));
        pipeline.extend(match r.expires_at {
            Some(at) => {
                encode_command(&[b"PEXPIREAT".as_slice(), &r.key, at.to_string().as_bytes()])
            }
            None => encode_command(&[b"PERSIST".as_slice(), &r.key]),
        });
        pipeline.extend(encode_command(&["EXEC"]));
        self.target.send_raw(&pipeline)?;
        for _ in 0..3 {
            self.target.read()?;
        }
        match self.target.read()? {
            Value::Array(replies) if !replies.iter().any(|v| matches!(v, Value::Error(_))) => {}
            other => {
                return Err(self.target.fail(format!(
                    "moving the temporary copy of a large collection into place answered {}",
                    describe(&other)
                )))
            }
        }
        match pass {
            Pass::First => counts.count_copied(r.kind),
            Pass::Again => counts.recopied += 1,
        }
        Ok(true)
    }

    /// One chunk of a large collection from the source.
    /// `len` elements from `position` (lists, sorted sets) or from
    /// `cursor` (sets, hashes: `COUNT len`, a hint).
    fn read_chunk(
        &mut self,
        key: &[u8],
        kind: usize,
        len: usize,
        position: u64,
        cursor: &[u8],
    ) -> Result<Chunk> {
        let count = len.to_string();
        let start = position.to_string();
        let stop = (position + len as u64 - 1).to_string();
        let reply = match kind {
            1 => {
                self.source
                    .call(&[b"LRANGE".as_slice(), key, start.as_bytes(), stop.as_bytes()])?
            }
            2 => {
                self.source
                    .call(&[b"SSCAN".as_slice(), key, cursor, b"COUNT", count.as_bytes()])?
            }
            3 => {
                self.source
                    .call(&[b"HSCAN".as_slice(), key, cursor, b"COUNT", count.as_bytes()])?
            }
            _ => self.source.call(&[
                b"ZRANGE".as_slice(),
                key,
                start.as_bytes(),
                stop.as_bytes(),
                b"WITHSCORES",
            ])?,
        };
        let bad = |conn: &RespConnection, v: &Value| {
            conn.fail(format!("a chunk read answered {}", describe(v)))
        };
        match (kind, reply) {
            (2 | 3, Value::Array(parts)) if parts.len() == 2 => {
                let mut parts = parts.into_iter();
                let next = parts.next().and_then(|c| c.as_bytes().map(<[u8]>::to_vec));
                match (next, parts.next()) {
                    (Some(next), Some(Value::Array(items))) => {
                        let elements = bulk_items(items, kind).ok_or_else(|| {
                            self.source.fail("a scan answered a non-string element")
                        })?;
                        Ok(Chunk {
                            elements,
                            cursor: Some(next),
                            changed: false,
                        })
                    }
                    _ => Err(self.source.fail("a scan answered an unexpected shape")),
                }
            }
            (1 | 4, Value::Array(items)) => Ok(Chunk {
                elements: bulk_items(items, kind).ok_or_else(|| {
                    self.source
                        .fail("a range read answered a non-string element")
                })?,
                cursor: None,
                changed: false,
            }),
            // The key changed type: what was copied so far is discarded.
            (_, Value::Error(e)) if e.starts_with(b"WRONGTYPE") => Ok(Chunk {
                elements: Vec::new(),
                cursor: None,
                changed: true,
            }),
            (_, other) => Err(bad(&self.source, &other)),
        }
    }

    /// Appends elements to the temporary key (in commands of at most
    /// [`MAX_COMMAND_BYTES`]) and refreshes its expiry. `Ok(false)` when
    /// the target refused the size.
    fn append_chunk(&mut self, temp: &[u8], kind: usize, elements: &[Vec<u8>]) -> Result<bool> {
        let commands = write_commands(temp, kind, elements);
        let n = commands.len();
        let mut pipeline: Vec<u8> = commands.concat();
        pipeline.extend(encode_command(&[
            b"PEXPIRE".as_slice(),
            temp,
            TEMP_KEY_TTL_MS.as_bytes(),
        ]));
        self.target.send_raw(&pipeline)?;
        let mut accepted = true;
        for _ in 0..=n {
            match self.target.read()? {
                Value::Integer(_) => {}
                Value::Error(e) => {
                    let e = String::from_utf8_lossy(&e).into_owned();
                    if !is_size_refusal(&e) {
                        return Err(self.target.fail(format!("refused a chunk write: {e}")));
                    }
                    accepted = false;
                }
                other => {
                    return Err(self
                        .target
                        .fail(format!("a chunk write answered {}", describe(&other))))
                }
            }
        }
        Ok(accepted)
    }

    fn expect_integer(&mut self, args: &[&[u8]]) -> Result<()> {
        match self.target.call(args)? {
            Value::Integer(_) => Ok(()),
            other => Err(self
                .target
                .fail(format!("DEL answered {}", describe(&other)))),
        }
    }
}

/// The commands of one `MULTI` block and the keys they write.
#[derive(Default)]
struct Block {
    commands: Vec<Vec<u8>>,
    /// Each key, how many of `commands` are its, and what it is.
    keys: Vec<(Vec<u8>, usize, Outcome)>,
    bytes: usize,
}

struct Chunk {
    elements: Vec<Vec<u8>>,
    /// The next `SSCAN`/`HSCAN` cursor.
    cursor: Option<Vec<u8>>,
    /// The key changed type.
    changed: bool,
}

/// Elements per chunk read of a collection of `size` elements taking
/// about `usage` bytes on the source: `batch`, or fewer so a chunk stays
/// near [`CHUNK_BYTES`] (at least 1).
fn chunk_len(batch: usize, size: usize, usage: Option<u64>) -> usize {
    let Some(usage) = usage.filter(|_| size > 0) else {
        return batch;
    };
    let per_element = (usage / size as u64).max(1);
    let fit = usize::try_from(CHUNK_BYTES as u64 / per_element).unwrap_or(batch);
    fit.clamp(1, batch)
}

/// Elements per item of a kind: 2 for hashes and sorted sets.
fn element_width(kind: usize) -> usize {
    if kind >= 3 {
        2
    } else {
        1
    }
}

/// The bulk strings of a read, with sorted-set pairs turned from
/// `member, score` (as `ZRANGE … WITHSCORES` answers) into `score, member`
/// (as `ZADD` takes them); `None` if an element is not a string or a pair
/// is incomplete.
fn bulk_items(items: Vec<Value>, kind: usize) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(items.len());
    for v in items {
        match v {
            Value::Bulk(b) => out.push(b),
            _ => return None,
        }
    }
    if kind >= 3 && out.len() % 2 != 0 {
        return None;
    }
    if kind == 4 {
        for pair in out.chunks_exact_mut(2) {
            pair.swap(0, 1);
        }
    }
    Some(out)
}

/// The commands that write a whole key: `SET … PXAT` for a string; `DEL`,
/// the type's writes and `PEXPIREAT` for a collection.
fn whole_key_commands(
    key: &[u8],
    kind: usize,
    elements: &[Vec<u8>],
    expires_at: Option<u64>,
) -> Vec<Vec<u8>> {
    let at = expires_at.map(|t| t.to_string());
    if kind == 0 {
        let value = elements.first().map_or(&[][..], Vec::as_slice);
        return vec![match &at {
            Some(t) => encode_command(&[b"SET".as_slice(), key, value, b"PXAT", t.as_bytes()]),
            None => encode_command(&[b"SET".as_slice(), key, value]),
        }];
    }
    let mut out = vec![encode_command(&[b"DEL".as_slice(), key])];
    out.extend(write_commands(key, kind, elements));
    if let Some(t) = &at {
        out.push(encode_command(&[
            b"PEXPIREAT".as_slice(),
            key,
            t.as_bytes(),
        ]));
    }
    out
}

/// `RPUSH`/`SADD`/`HSET`/`ZADD key …` for `elements`, split so no command
/// exceeds [`MAX_COMMAND_BYTES`] (pairs stay together).
fn write_commands(key: &[u8], kind: usize, elements: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let name: &[u8] = match kind {
        1 => b"RPUSH",
        2 => b"SADD",
        3 => b"HSET",
        _ => b"ZADD",
    };
    let mut out = Vec::new();
    let mut args: Vec<&[u8]> = vec![name, key];
    let mut bytes = 0;
    for item in elements.chunks(element_width(kind)) {
        let size: usize = item.iter().map(|e| e.len() + 16).sum();
        if args.len() > 2 && bytes + size > MAX_COMMAND_BYTES {
            out.push(encode_command(&args));
            args.truncate(2);
            bytes = 0;
        }
        args.extend(item.iter().map(Vec::as_slice));
        bytes += size;
    }
    if args.len() > 2 {
        out.push(encode_command(&args));
    }
    out
}

/// A target refusal that means "this key is too large for reddb" (a
/// transaction over the commit limit is not one: the blocks stay far
/// below it, so that one is an error).
fn is_size_refusal(e: &str) -> bool {
    (e.contains("too large") || e.contains("too long")) && !e.contains("transaction")
}

/// A fresh temporary key name on the target.
fn temp_key() -> Result<Vec<u8>> {
    let id: [u8; 8] = crate::crypto::random::array()?;
    Ok(format!("red-migrate:tmp:{}", hex::encode(id)).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_shrink_for_large_elements() {
        assert_eq!(chunk_len(1000, 5000, None), 1000);
        assert_eq!(chunk_len(1000, 5000, Some(500_000)), 1000);
        // 80 elements in 80 MiB: 4 per 4 MiB chunk.
        assert_eq!(chunk_len(1000, 80, Some(80 << 20)), 4);
        // One element larger than a chunk: one at a time.
        assert_eq!(chunk_len(1000, 2, Some(64 << 20)), 1);
        assert_eq!(chunk_len(1000, 0, Some(64 << 20)), 1000);
        assert_eq!(chunk_len(5, 10, Some(10)), 5);
    }

    #[test]
    fn only_per_key_size_refusals_count_as_too_large() {
        assert!(is_size_refusal(
            "ERR value too large (max 16777216 bytes per key)"
        ));
        assert!(is_size_refusal("ERR key too long (max 65536 bytes)"));
        assert!(!is_size_refusal(
            "ERR the command or transaction is too large for one commit (max 50331648 bytes)"
        ));
        assert!(!is_size_refusal(
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        ));
    }

    #[test]
    fn sorted_set_pairs_are_turned_for_zadd() {
        let items = vec![
            Value::Bulk(b"m1".to_vec()),
            Value::Bulk(b"1.5".to_vec()),
            Value::Bulk(b"m2".to_vec()),
            Value::Bulk(b"-inf".to_vec()),
        ];
        assert_eq!(
            bulk_items(items.clone(), 4).unwrap(),
            vec![
                b"1.5".to_vec(),
                b"m1".to_vec(),
                b"-inf".to_vec(),
                b"m2".to_vec()
            ]
        );
        assert_eq!(bulk_items(items.clone(), 3).unwrap().len(), 4);
        assert!(bulk_items(items[..3].to_vec(), 4).is_none());
        assert!(bulk_items(vec![Value::Integer(1)], 1).is_none());
    }

    #[test]
    fn writes_are_split_by_size_and_keep_pairs() {
        let big = vec![b'x'; MAX_COMMAND_BYTES / 3];
        let elements = vec![big.clone(), big.clone(), big.clone(), big.clone()];
        let cmds = write_commands(b"h", 3, &elements);
        assert_eq!(cmds.len(), 2, "two field/value pairs per command");
        let cmds = write_commands(b"l", 1, &elements);
        assert_eq!(cmds.len(), 2);
        assert!(cmds.iter().all(|c| c.len() <= MAX_COMMAND_BYTES + 1024));
        let set = whole_key_commands(b"k", 0, &[b"v".to_vec()], Some(5));
        assert_eq!(set, vec![encode_command(&["SET", "k", "v", "PXAT", "5"])]);
        let list = whole_key_commands(b"k", 1, &[b"a".to_vec()], None);
        assert_eq!(
            list,
            vec![
                encode_command(&["DEL", "k"]),
                encode_command(&["RPUSH", "k", "a"])
            ]
        );
    }
}
