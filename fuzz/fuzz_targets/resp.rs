//! The RESP2/RESP3 codec: `CommandParser::parse` under both the
//! authenticated and the pre-AUTH limits, and `parse_value`. Properties:
//! never panics; the bytes a command consumes lie within the input; parsing
//! resumed after a prefix gives the same result as parsing all at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reddb::server::wire::resp::{parse_value, CommandParser, Limits};

fuzz_target!(|data: &[u8]| {
    for limits in [Limits::AUTHENTICATED, Limits::UNAUTHENTICATED] {
        let whole = CommandParser::new().parse(data, &limits);
        if let Ok(Some((_, used))) = &whole {
            assert!(*used <= data.len(), "consumed past the input");
        }
        let cut = data.first().map_or(0, |b| usize::from(*b)) % (data.len() + 1);
        let mut p = CommandParser::new();
        let resumed = match p.parse(&data[..cut], &limits) {
            Ok(None) => p.parse(data, &limits),
            other => other,
        };
        if let (Ok(Some(a)), Ok(Some(b))) = (&whole, &resumed) {
            if cut == data.len() || a.1 > cut {
                assert_eq!(a, b, "resumed parse differs from a whole parse");
            }
        }
    }
    if let Ok(Some((_, used))) = parse_value(data) {
        assert!(used <= data.len());
    }
});
