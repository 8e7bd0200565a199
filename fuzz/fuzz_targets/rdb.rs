//! The RDB reader of `red import` (`reddb_rdb::RdbReader`), two ways,
//! chosen by the first byte:
//!
//! * even: the rest is an RDB file. It is read to the end (at most 10,000
//!   records) under small limits twice — with its length known and
//!   without — and the two reads must yield the same records; a read that
//!   reaches the end must have consumed every byte and found a matching or
//!   zero checksum, and re-encoding its items with `reddb_rdb::write` must
//!   read back as the same items. `lzf::decompress` also gets the bytes.
//! * odd: the rest is read through `arbitrary` as a list of (db, expiry,
//!   key, value, encoding); the file `RdbWriter` makes of it must read back
//!   as exactly those items, and every strict prefix of it must fail.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use reddb_rdb::write::{Encoding, RdbWriter};
use reddb_rdb::{lzf, Checksum, Item, Limits, RdbReader, RdbValue, Record};

const LIMITS: Limits = Limits {
    max_string: 1 << 20,
    max_value_bytes: 4 << 20,
};
const MAX_RECORDS: usize = 10_000;

fn read_all(bytes: &[u8], known_len: bool) -> (Vec<Record>, Result<Option<Checksum>, reddb_rdb::RdbError>, u64) {
    let len = known_len.then_some(bytes.len() as u64);
    let mut reader = match RdbReader::new(bytes, len, LIMITS) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Err(e), 0),
    };
    let mut out = Vec::new();
    for _ in 0..MAX_RECORDS {
        match reader.next_record() {
            Ok(Some(r)) => out.push(r),
            Ok(None) => return (out, Ok(reader.checksum()), reader.offset()),
            Err(e) => {
                assert!(reader.next_record().unwrap().is_none(), "a record after an error");
                return (out, Err(e), reader.offset());
            }
        }
    }
    (out, Ok(None), reader.offset())
}

/// An item's encoding as the writer takes it, picked by a byte.
fn encoding_for(value: &RdbValue, pick: u8) -> Encoding {
    let choices: &[Encoding] = match value {
        RdbValue::String(_) => &[Encoding::Plain, Encoding::Compressed, Encoding::IntegerString],
        RdbValue::List(_) => &[
            Encoding::Plain,
            Encoding::Ziplist,
            Encoding::Quicklist,
            Encoding::Quicklist2(1),
            Encoding::Quicklist2(3),
        ],
        RdbValue::Set(_) => &[Encoding::Plain, Encoding::Listpack],
        RdbValue::SortedSet(_) => &[
            Encoding::Plain,
            Encoding::TextScores,
            Encoding::Ziplist,
            Encoding::Listpack,
        ],
        RdbValue::Hash(_) => &[
            Encoding::Plain,
            Encoding::Ziplist,
            Encoding::Listpack,
            Encoding::Zipmap,
        ],
    };
    choices[usize::from(pick) % choices.len()]
}

fn write_items(items: &[(Item, Encoding)]) -> Vec<u8> {
    let mut w = RdbWriter::new(11);
    for (item, encoding) in items {
        w.select_db(item.db);
        if let Some(ms) = item.expires_at_ms {
            w.expire_ms(ms);
        }
        w.item(&item.key, &item.value, *encoding);
    }
    w.finish(true)
}

fn items_of(records: Vec<Record>) -> Vec<Item> {
    records
        .into_iter()
        .filter_map(|r| match r {
            Record::Item(i) => Some(i),
            Record::Unsupported { .. } => None,
        })
        .collect()
}

fn raw(bytes: &[u8]) {
    let (with_len, end_a, consumed) = read_all(bytes, true);
    let (without_len, end_b, _) = read_all(bytes, false);
    assert_eq!(with_len, without_len, "knowing the length changed the records");
    assert_eq!(end_a.is_ok(), end_b.is_ok(), "{end_a:?} vs {end_b:?}");
    if let Ok(Some(sum)) = end_a {
        assert_eq!(consumed, bytes.len() as u64, "the end was reached before the last byte");
        if let Checksum::Verified(v) = sum {
            assert_ne!(v, 0);
        }
        // What was read re-encodes (in some encoding) to the same items.
        let items = items_of(with_len);
        let encoded: Vec<(Item, Encoding)> = items
            .iter()
            .cloned()
            .filter(|i| !i.value.is_empty_collection())
            .map(|i| {
                let e = Encoding::Plain;
                (i, e)
            })
            .collect();
        let again = read_all(&write_items(&encoded), true);
        assert!(again.1.is_ok(), "{:?}", again.1);
        let want: Vec<Item> = encoded.into_iter().map(|(i, _)| i).collect();
        assert_eq!(items_of(again.0), want);
    }
    let _ = lzf::decompress(bytes, bytes.len().saturating_mul(3).min(1 << 16));
}

#[derive(Arbitrary, Debug)]
enum ArbValue {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    /// Scores as small integers and eighths (text forms stay exact).
    SortedSet(Vec<(Vec<u8>, i32)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

#[derive(Arbitrary, Debug)]
struct ArbItem {
    db: u8,
    expires_at_ms: Option<u64>,
    key: Vec<u8>,
    value: ArbValue,
    encoding: u8,
}

fn structured(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(list) = Vec::<ArbItem>::arbitrary(&mut u) else {
        return;
    };
    let mut items = Vec::new();
    for a in list.into_iter().take(32) {
        let value = match a.value {
            ArbValue::String(s) => RdbValue::String(s),
            ArbValue::List(v) => RdbValue::List(v),
            ArbValue::Set(v) => {
                // Members of a set are distinct (an intset/listpack of
                // duplicates is not something Redis writes).
                let mut seen = std::collections::BTreeSet::new();
                RdbValue::Set(v.into_iter().filter(|m| seen.insert(m.clone())).collect())
            }
            ArbValue::SortedSet(v) => {
                RdbValue::SortedSet(v.into_iter().map(|(m, s)| (m, f64::from(s) / 8.0)).collect())
            }
            ArbValue::Hash(v) => RdbValue::Hash(v),
        };
        if value.is_empty_collection() {
            continue;
        }
        let encoding = encoding_for(&value, a.encoding);
        let item = Item {
            db: u64::from(a.db),
            key: a.key,
            value,
            expires_at_ms: a.expires_at_ms,
        };
        items.push((item, encoding));
    }
    let file = write_items(&items);
    let (records, end, _) = read_all(&file, true);
    assert!(end.is_ok(), "a written file did not read: {end:?}");
    let want: Vec<Item> = items.into_iter().map(|(i, _)| i).collect();
    assert_eq!(items_of(records), want);
    // Every strict prefix fails (cut chosen from the file's length).
    if !file.is_empty() {
        let cut = data.len() % file.len();
        let (_, end, _) = read_all(&file[..cut], true);
        assert!(end.is_err(), "a prefix of {cut} bytes read as a whole file");
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 0 => raw(rest),
        Some((_, rest)) => structured(rest),
        None => {}
    }
});
