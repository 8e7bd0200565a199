//! The reader against files made by [`crate::write`]: every encoding,
//! every opcode, damaged files, and a property test that a hand-encoded
//! value reads back as itself.

use crate::write::{Encoding, RdbWriter};
use crate::{Checksum, ErrorKind, Item, Limits, RdbReader, RdbValue, Record, UnsupportedKind};
use proptest::prelude::*;

fn read_all(bytes: &[u8]) -> Result<(Vec<Record>, Checksum), crate::RdbError> {
    read_with(bytes, Limits::default())
}

fn read_with(bytes: &[u8], limits: Limits) -> Result<(Vec<Record>, Checksum), crate::RdbError> {
    let mut r = RdbReader::new(bytes, Some(bytes.len() as u64), limits)?;
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        out.push(rec);
    }
    Ok((out, r.checksum().expect("checksum seen at the end")))
}

fn items(bytes: &[u8]) -> Vec<Item> {
    read_all(bytes)
        .unwrap()
        .0
        .into_iter()
        .filter_map(|r| match r {
            Record::Item(i) => Some(i),
            Record::Unsupported { .. } => None,
        })
        .collect()
}

fn one(value: &RdbValue, encoding: Encoding) -> RdbValue {
    let mut w = RdbWriter::new(11);
    w.item(b"k", value, encoding);
    let got = items(&w.finish(true));
    assert_eq!(got.len(), 1);
    got.into_iter().next().unwrap().value
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn list_sample() -> Vec<Vec<u8>> {
    vec![
        b("a"),
        b("1"),
        b("-7"),
        b("100000"),
        b(""),
        vec![b'z'; 300],
        b("3.14"),
        b("x"),
    ]
}

#[test]
fn strings_plain_integer_and_compressed() {
    for s in [
        b("hello"),
        b("12"),
        b("-129"),
        b("70000"),
        b("-2147483648"),
        b("0012"),
        b(""),
    ] {
        for enc in [
            Encoding::Plain,
            Encoding::IntegerString,
            Encoding::Compressed,
        ] {
            let v = RdbValue::String(s.clone());
            assert_eq!(one(&v, enc), v, "{enc:?} {s:?}");
        }
    }
    let long = RdbValue::String(b"{\"client_id\":\"abc\",\"scopes\":[\"read\"]}".repeat(50));
    assert_eq!(one(&long, Encoding::Compressed), long);
}

#[test]
fn lists_in_every_encoding() {
    let v = RdbValue::List(list_sample());
    for enc in [
        Encoding::Plain,
        Encoding::Ziplist,
        Encoding::Quicklist,
        Encoding::Quicklist2(3),
        Encoding::Quicklist2(100),
    ] {
        assert_eq!(one(&v, enc), v, "{enc:?}");
    }
}

#[test]
fn sets_in_every_encoding() {
    let v = RdbValue::Set(list_sample());
    assert_eq!(one(&v, Encoding::Plain), v);
    assert_eq!(one(&v, Encoding::Listpack), v);
    for width in [2, 4, 8] {
        let ints = RdbValue::Set(vec![b("-5"), b("0"), b("3"), b("1000")]);
        assert_eq!(one(&ints, Encoding::Intset(width)), ints);
    }
    let wide = RdbValue::Set(vec![b("-9223372036854775808"), b("9223372036854775807")]);
    assert_eq!(one(&wide, Encoding::Intset(8)), wide);
}

#[test]
fn sorted_sets_in_every_encoding() {
    let v = RdbValue::SortedSet(vec![
        (b("a"), 1.0),
        (b("b"), -2.5),
        (b("c"), 1e300),
        (b("d"), f64::INFINITY),
        (b("e"), f64::NEG_INFINITY),
        (b("f"), 0.1),
        (b("7"), 3.0),
    ]);
    for enc in [
        Encoding::Plain,
        Encoding::TextScores,
        Encoding::Ziplist,
        Encoding::Listpack,
    ] {
        assert_eq!(one(&v, enc), v, "{enc:?}");
    }
}

#[test]
fn hashes_in_every_encoding() {
    let v = RdbValue::Hash(vec![
        (b("field"), b("value")),
        (b("n"), b("42")),
        (b("big"), vec![b'v'; 400]),
        (b(""), b("")),
    ]);
    for enc in [
        Encoding::Plain,
        Encoding::Ziplist,
        Encoding::Listpack,
        Encoding::Zipmap,
    ] {
        assert_eq!(one(&v, enc), v, "{enc:?}");
    }
}

#[test]
fn databases_expiry_and_the_other_opcodes() {
    let mut w = RdbWriter::new(10);
    w.aux("redis-ver", "7.0.15")
        .aux("redis-bits", "64")
        .select_db(0)
        .resize_db(2, 1)
        .expire_ms(1_900_000_000_123)
        .item(b"a", &RdbValue::String(b("1")), Encoding::Plain)
        .item(b"b", &RdbValue::String(b("2")), Encoding::Plain)
        .select_db(3)
        .expire_secs(1_900_000_000)
        .raw(&[0xf9, 5]) // FREQ
        .item(b"c", &RdbValue::String(b("3")), Encoding::Plain)
        .raw(&[0xf8, 0x40, 200]) // IDLE 200
        .item(b"d", &RdbValue::String(b("4")), Encoding::Plain)
        .raw(&[0xf4, 1, 2, 3]); // SLOT_INFO
    let got = items(&w.finish(true));
    let summary: Vec<(u64, Vec<u8>, Option<u64>)> = got
        .into_iter()
        .map(|i| (i.db, i.key, i.expires_at_ms))
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, b("a"), Some(1_900_000_000_123)),
            (0, b("b"), None),
            (3, b("c"), Some(1_900_000_000_000)),
            (3, b("d"), None),
        ]
    );
}

#[test]
fn aux_fields_and_version_are_reported() {
    let mut w = RdbWriter::new(9);
    w.aux("redis-ver", "6.2.14");
    let bytes = w.finish(true);
    let mut r = RdbReader::new(&bytes[..], None, Limits::default()).unwrap();
    assert_eq!(r.version(), 9);
    assert!(r.next_record().unwrap().is_none());
    assert_eq!(r.aux(), &[(b("redis-ver"), b("6.2.14"))]);
    assert!(matches!(r.checksum(), Some(Checksum::Verified(_))));
}

#[test]
fn a_zero_checksum_means_disabled() {
    let mut w = RdbWriter::new(10);
    w.item(b"k", &RdbValue::String(b("v")), Encoding::Plain);
    let (_, sum) = read_all(&w.finish(false)).unwrap();
    assert_eq!(sum, Checksum::Disabled);
}

/// A stream key (type 21) with one group, one pending entry and one
/// consumer, as Redis 7.2 lays it out.
fn stream_bytes(w: &mut RdbWriter) {
    w.raw(&[21]).string(b"events");
    w.length(1).string(&[0u8; 16]).string(b"listpack-bytes");
    w.length(1).length(5).length(0); // length, last id
    w.length(5).length(0).length(0).length(0).length(1); // first, max deleted, added
    w.length(1).string(b"group").length(5).length(0).length(1); // group, last id, read
    w.length(1).raw(&[0u8; 16]).raw(&[0u8; 8]).length(1); // PEL
    w.length(1)
        .string(b"consumer")
        .raw(&[0u8; 8])
        .raw(&[0u8; 8]);
    w.length(1).raw(&[0u8; 16]);
}

#[test]
fn unsupported_things_are_named_and_skipped_exactly() {
    let mut w = RdbWriter::new(12);
    w.item(b"before", &RdbValue::String(b("1")), Encoding::Plain);
    stream_bytes(&mut w);
    // A module value (type 7): id, then uint, string, double, EOF.
    w.raw(&[7]).string(b"json").length(12345);
    w.length(2)
        .length(7)
        .length(5)
        .string(b"payload")
        .length(4)
        .raw(&[0; 8])
        .length(0);
    // Module aux: id, when opcode 2, when, then EOF.
    w.raw(&[0xf7]).length(999).length(2).length(1).length(0);
    // A function library.
    w.raw(&[0xf5])
        .string(b"#!lua name=lib\nredis.register_function('f', function() end)");
    // Hashes with field TTLs: metadata (24) and listpack-ex (25).
    w.raw(&[24])
        .string(b"httl")
        .raw(&1_900_000_000_000u64.to_le_bytes());
    w.length(1).length(0).string(b"f").string(b"v");
    w.raw(&[25]).string(b"hlp").raw(&[0; 8]).string(b"blob");
    w.item(b"after", &RdbValue::String(b("2")), Encoding::Plain);
    let (records, _) = read_all(&w.finish(true)).unwrap();
    let kinds: Vec<String> = records
        .iter()
        .map(|r| match r {
            Record::Item(i) => String::from_utf8_lossy(&i.key).into_owned(),
            Record::Unsupported { kind, .. } => kind.name().to_string(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "before",
            UnsupportedKind::Stream.name(),
            UnsupportedKind::Module.name(),
            UnsupportedKind::ModuleAux.name(),
            UnsupportedKind::Function.name(),
            UnsupportedKind::HashWithFieldTtl.name(),
            UnsupportedKind::HashWithFieldTtl.name(),
            "after"
        ]
    );
}

fn sample_file() -> Vec<u8> {
    let mut w = RdbWriter::new(11);
    w.aux("redis-ver", "7.2.4")
        .select_db(0)
        .item(b"s", &RdbValue::String(b("hello world")), Encoding::Plain)
        .item(
            b"l",
            &RdbValue::List(list_sample()),
            Encoding::Quicklist2(3),
        )
        .item(
            b"h",
            &RdbValue::Hash(vec![(b("f"), b("v"))]),
            Encoding::Listpack,
        )
        .expire_ms(1_900_000_000_000)
        .item(
            b"z",
            &RdbValue::SortedSet(vec![(b("m"), 1.5)]),
            Encoding::Listpack,
        );
    w.finish(true)
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let file = sample_file();
    assert!(read_all(&file).is_ok());
    for cut in 0..file.len() {
        let err = read_all(&file[..cut]).unwrap_err();
        assert!(err.kind.is_damage(), "cut at {cut}: {err}");
        // Without the file length the reader notices at the end instead.
        let mut r = RdbReader::new(&file[..cut], None, Limits::default());
        if let Ok(r) = &mut r {
            let mut last = Ok(None);
            for _ in 0..100 {
                last = r.next_record();
                if !matches!(last, Ok(Some(_))) {
                    break;
                }
            }
            assert!(last.is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn every_flipped_byte_is_caught() {
    // A flip anywhere is an error: the structure breaks, or the CRC does.
    let file = sample_file();
    for i in 0..file.len() {
        let mut bad = file.clone();
        bad[i] ^= 0x55;
        assert!(read_all(&bad).is_err(), "flip at {i}");
    }
}

#[test]
fn a_bad_checksum_names_both_values() {
    let mut file = sample_file();
    let n = file.len();
    file[n - 1] ^= 1;
    let err = read_all(&file).unwrap_err();
    assert_eq!(err.offset, (n - 8) as u64);
    assert!(matches!(err.kind, ErrorKind::BadChecksum { .. }), "{err}");
    assert!(err.to_string().contains("checksum mismatch"));
}

#[test]
fn header_errors() {
    assert_eq!(read_all(b"").unwrap_err().kind, ErrorKind::BadMagic);
    assert_eq!(
        read_all(b"REDIX0011\xff").unwrap_err().kind,
        ErrorKind::BadMagic
    );
    assert_eq!(
        read_all(b"REDIS00a1\xff").unwrap_err().kind,
        ErrorKind::BadMagic
    );
    assert_eq!(
        read_all(b"REDIS0008\xff").unwrap_err().kind,
        ErrorKind::UnsupportedVersion(8)
    );
    assert_eq!(
        read_all(b"REDIS0013\xff").unwrap_err().kind,
        ErrorKind::UnsupportedVersion(13)
    );
}

#[test]
fn bad_lengths_are_typed_errors_with_offsets() {
    // A string length that claims more than the file holds.
    let mut w = RdbWriter::new(11);
    w.raw(&[0])
        .string(b"k")
        .raw(&[0x80, 0x7f, 0xff, 0xff, 0xff])
        .raw(b"short");
    let err = read_all(&w.finish(true)).unwrap_err();
    assert_eq!(err.offset, 12, "{err}");
    assert!(matches!(err.kind, ErrorKind::BadLength(_)), "{err}");
    // The 64-bit length form with an absurd value.
    let mut w = RdbWriter::new(11);
    w.raw(&[0])
        .string(b"k")
        .raw(&[0x81])
        .raw(&u64::MAX.to_be_bytes());
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::BadLength(_) | ErrorKind::TooLarge { .. }
    ));
    // An unknown length prefix (10xxxxxx other than 0x80/0x81).
    let mut w = RdbWriter::new(11);
    w.raw(&[0]).string(b"k").raw(&[0x85]);
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::BadLength(_)
    ));
    // An unknown string encoding (11xxxxxx beyond LZF).
    let mut w = RdbWriter::new(11);
    w.raw(&[0]).string(b"k").raw(&[0xc7]);
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::BadLength(_)
    ));
    // An encoded integer where a collection count belongs.
    let mut w = RdbWriter::new(11);
    w.raw(&[2]).string(b"k").raw(&[0xc0, 1]);
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::BadLength(_)
    ));
    // A list that claims more elements than it holds.
    let mut w = RdbWriter::new(11);
    w.raw(&[1]).string(b"k").length(1_000_000).string(b"one");
    assert!(read_all(&w.finish(true)).unwrap_err().kind.is_damage());
}

#[test]
fn unknown_types_and_pre_ga_encodings() {
    for t in [8u8, 26, 100, 0xf3] {
        let mut w = RdbWriter::new(11);
        w.raw(&[t]).string(b"k");
        let err = read_all(&w.finish(true)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownType(t));
        assert_eq!(err.offset, 9);
    }
    let mut w = RdbWriter::new(11);
    w.raw(&[6]).string(b"k");
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::Unskippable(_)
    ));
}

#[test]
fn nan_scores_and_bad_inner_encodings_are_refused() {
    let mut w = RdbWriter::new(11);
    w.raw(&[5])
        .string(b"z")
        .length(1)
        .string(b"m")
        .raw(&f64::NAN.to_le_bytes());
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::Malformed { .. }
    ));
    let mut w = RdbWriter::new(11);
    w.raw(&[3]).string(b"z").length(1).string(b"m").raw(&[253]);
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::Malformed { .. }
    ));
    let mut w = RdbWriter::new(11);
    w.raw(&[3])
        .string(b"z")
        .length(1)
        .string(b"m")
        .raw(&[3])
        .raw(b"1x2");
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::Malformed { .. }
    ));
    // A listpack blob that is not a listpack.
    let mut w = RdbWriter::new(11);
    w.raw(&[20]).string(b"s").string(b"garbage");
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::Malformed { .. }
    ));
    // A hash listpack with an odd number of entries.
    let mut w = RdbWriter::new(11);
    w.raw(&[16])
        .string(b"h")
        .string(&crate::packed::encode::listpack(&[b("f")], false));
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::Malformed { .. }
    ));
    // LZF data that does not decompress to its declared length.
    let mut w = RdbWriter::new(11);
    w.raw(&[0])
        .string(b"k")
        .raw(&[0xc3])
        .length(2)
        .length(5)
        .raw(&[0, b'a']);
    assert!(matches!(
        read_all(&w.finish(true)).unwrap_err().kind,
        ErrorKind::Malformed { .. }
    ));
}

#[test]
fn limits_refuse_before_allocating() {
    let limits = Limits {
        max_string: 100,
        max_value_bytes: 1000,
    };
    let mut w = RdbWriter::new(11);
    w.item(b"k", &RdbValue::String(vec![b'x'; 101]), Encoding::Plain);
    let err = read_with(&w.finish(true), limits).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::TooLarge { .. }));
    assert!(!err.kind.is_damage());
    // Many small elements add up past the value budget.
    let mut w = RdbWriter::new(11);
    w.item(
        b"k",
        &RdbValue::Set((0..200).map(|i| format!("m{i}").into_bytes()).collect()),
        Encoding::Plain,
    );
    assert!(matches!(
        read_with(&w.finish(true), limits).unwrap_err().kind,
        ErrorKind::TooLarge { .. }
    ));
    // A compressed string is charged at its decompressed size.
    let mut w = RdbWriter::new(11);
    w.item(
        b"k",
        &RdbValue::String(vec![b'a'; 5000]),
        Encoding::Compressed,
    );
    assert!(matches!(
        read_with(&w.finish(true), limits).unwrap_err().kind,
        ErrorKind::TooLarge { .. }
    ));
}

#[test]
fn the_reader_is_fused_after_an_error() {
    let mut file = sample_file();
    file[20] = 0xee; // somewhere inside the first records
    let mut r = RdbReader::new(&file[..], None, Limits::default()).unwrap();
    let mut saw_error = false;
    for _ in 0..20 {
        match r.next_record() {
            Err(_) => saw_error = true,
            Ok(Some(_)) => assert!(!saw_error, "a record after an error"),
            Ok(None) => break,
        }
    }
    assert!(saw_error);
    assert!(r.next_record().unwrap().is_none());
}

#[test]
fn trailing_bytes_are_refused() {
    let mut file = sample_file();
    file.push(0);
    assert_eq!(read_all(&file).unwrap_err().kind, ErrorKind::TrailingBytes);
}

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        (-100_000i64..100_000).prop_map(|i| i.to_string().into_bytes()),
        proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b')], 0..600),
    ]
}

fn value_strategy() -> impl Strategy<Value = (RdbValue, Encoding)> {
    let items = || proptest::collection::vec(bytes_strategy(), 1..20);
    let score = prop_oneof![
        any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
        (-1000i32..1000).prop_map(f64::from),
    ];
    prop_oneof![
        (
            bytes_strategy(),
            prop_oneof![
                Just(Encoding::Plain),
                Just(Encoding::Compressed),
                Just(Encoding::IntegerString)
            ]
        )
            .prop_map(|(s, e)| (RdbValue::String(s), e)),
        (
            items(),
            prop_oneof![
                Just(Encoding::Plain),
                Just(Encoding::Ziplist),
                Just(Encoding::Quicklist),
                (1usize..5).prop_map(Encoding::Quicklist2)
            ]
        )
            .prop_map(|(v, e)| (RdbValue::List(v), e)),
        (
            items(),
            prop_oneof![Just(Encoding::Plain), Just(Encoding::Listpack)]
        )
            .prop_map(|(v, e)| (RdbValue::Set(v), e)),
        (
            proptest::collection::vec((bytes_strategy(), score), 1..10),
            prop_oneof![
                Just(Encoding::Plain),
                Just(Encoding::TextScores),
                Just(Encoding::Ziplist),
                Just(Encoding::Listpack)
            ]
        )
            .prop_map(|(v, e)| (RdbValue::SortedSet(v), e)),
        (
            proptest::collection::vec((bytes_strategy(), bytes_strategy()), 1..10),
            prop_oneof![
                Just(Encoding::Plain),
                Just(Encoding::Ziplist),
                Just(Encoding::Listpack),
                Just(Encoding::Zipmap)
            ]
        )
            .prop_map(|(v, e)| (RdbValue::Hash(v), e)),
    ]
}

proptest! {
    #[test]
    fn a_hand_encoded_value_reads_back_as_itself(
        (value, encoding) in value_strategy(),
        db in 0u64..16,
        expiry in proptest::option::of(0u64..4_000_000_000_000),
        version in 9u32..=12,
    ) {
        let mut w = RdbWriter::new(version);
        w.select_db(db);
        if let Some(ms) = expiry {
            w.expire_ms(ms);
        }
        w.item(b"key", &value, encoding);
        let got = items(&w.finish(true));
        prop_assert_eq!(got, vec![Item { db, key: b("key"), value, expires_at_ms: expiry }]);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut file = b"REDIS0011".to_vec();
        file.extend_from_slice(&tail);
        let _ = read_all(&file);
        let mut r = RdbReader::new(&file[..], None, Limits::default()).unwrap();
        for _ in 0..400 {
            if !matches!(r.next_record(), Ok(Some(_))) {
                break;
            }
        }
    }
}

/// Dumps written by a real redis-server 7.0 (`tests/fixtures/rdb/make_fixtures.sh`).
const ALL_ENCODINGS: &[u8] = include_bytes!("../../../tests/fixtures/rdb/all-encodings.rdb");
const STREAM: &[u8] = include_bytes!("../../../tests/fixtures/rdb/stream.rdb");

#[test]
fn a_real_dump_with_every_encoding() {
    let (records, sum) = read_all(ALL_ENCODINGS).unwrap();
    assert!(matches!(sum, Checksum::Verified(_)));
    let by_key: std::collections::BTreeMap<(u64, Vec<u8>), Item> = records
        .into_iter()
        .map(|r| match r {
            Record::Item(i) => ((i.db, i.key.clone()), i),
            Record::Unsupported { .. } => panic!("nothing unsupported here"),
        })
        .collect();
    assert_eq!(by_key.len(), 27);
    let get = |db: u64, k: &str| &by_key[&(db, b(k))];
    assert_eq!(get(0, "int:small").value, RdbValue::String(b("7")));
    assert_eq!(get(0, "int:neg").value, RdbValue::String(b("-129")));
    assert_eq!(get(0, "int:padded").value, RdbValue::String(b("007")));
    assert_eq!(
        get(0, "oauth:token:jti-1").expires_at_ms,
        Some(4_102_444_800_000)
    );
    let lzf = (1..=60)
        .map(|i| format!("client_abc123:refresh:{i};"))
        .collect::<String>();
    assert_eq!(get(0, "lzf").value, RdbValue::String(lzf.into_bytes()));
    assert_eq!(
        by_key[&(0, b"bin:\x01\xfe".to_vec())].value,
        RdbValue::String(b"\x00\xff\r\nbin-value\x01".to_vec())
    );
    assert_eq!(
        get(0, "list:nodes").value,
        RdbValue::List((1..=11).map(|i| i.to_string().into_bytes()).collect())
    );
    match &get(0, "list:plain").value {
        RdbValue::List(l) => {
            assert_eq!(l.len(), 3);
            assert_eq!(l[1], vec![b'x'; 9000]);
        }
        other => panic!("{other:?}"),
    }
    let mut int64 = match &get(0, "set:int64").value {
        RdbValue::Set(s) => s.clone(),
        other => panic!("{other:?}"),
    };
    int64.sort();
    assert_eq!(
        int64,
        vec![b("-9223372036854775808"), b("1"), b("9223372036854775807")]
    );
    match &get(0, "zset:small").value {
        RdbValue::SortedSet(z) => assert!(z.contains(&(b("d"), f64::INFINITY)) && z.len() == 5),
        other => panic!("{other:?}"),
    }
    match (
        &get(0, "zset:big").value,
        &get(0, "hash:big").value,
        &get(0, "set:big").value,
    ) {
        (RdbValue::SortedSet(z), RdbValue::Hash(h), RdbValue::Set(s)) => {
            assert_eq!((z.len(), h.len(), s.len()), (200, 200, 200));
            assert!(z.contains(&(b("m17"), 17.25)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        get(3, "db3:list").value,
        RdbValue::List(vec![b("x"), b("y")])
    );
    assert_eq!(get(15, "db15:key").expires_at_ms, Some(4_102_444_800_000));
}

#[test]
fn a_real_dump_with_a_stream() {
    let (records, _) = read_all(STREAM).unwrap();
    assert_eq!(records.len(), 3);
    assert!(records.iter().any(|r| matches!(r, Record::Unsupported { kind: UnsupportedKind::Stream, key: Some(k), .. } if k == b"events")));
}

#[test]
fn every_cut_and_flip_of_a_real_dump_is_refused() {
    for cut in (0..ALL_ENCODINGS.len()).step_by(7) {
        assert!(read_all(&ALL_ENCODINGS[..cut]).is_err(), "cut at {cut}");
    }
    for i in (0..ALL_ENCODINGS.len()).step_by(5) {
        let mut bad = ALL_ENCODINGS.to_vec();
        bad[i] ^= 0x20;
        assert!(read_all(&bad).is_err(), "flip at {i}");
    }
}
