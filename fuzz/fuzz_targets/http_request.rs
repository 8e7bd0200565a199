//! The HTTP front end: `http::request::parse` on raw bytes (default and tiny
//! limits), and every request it accepts routed against a fresh, in-memory
//! service (path matching, authentication, JSON body handling). Properties:
//! never panics; consumed bytes lie within the input; errors carry a
//! 4xx/5xx status; the resumable `Parser` fed the input in two reads
//! returns the request a single read returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reddb::server::http::request::{parse, Limits, Parser};
use reddb::server::http::routes::{route, Routed};
use reddb::service::{DbState, Service, ServiceConfig};
use reddb_fuzz::MemFile;

fuzz_target!(|data: &[u8]| {
    for limits in [Limits::default(), Limits { max_head: 64, max_body: 16 }] {
        let whole = parse(data, &limits);
        let cut = data.first().map_or(0, |b| usize::from(*b)) % (data.len() + 1);
        let mut p = Parser::new();
        let resumed = match p.parse(&data[..cut], &limits) {
            Ok(None) => p.parse(data, &limits),
            other => other,
        };
        if let Ok(Some(a)) = &whole {
            let b = resumed.as_ref().ok().and_then(Option::as_ref);
            assert_eq!(Some(a), b, "resumed parse differs from a whole parse");
        }
        match whole {
            Ok(Some((req, used))) => {
                assert!(used <= data.len());
                let pager = reddb::pager::Pager::create(Box::new(MemFile::default()), 4096).expect("in-memory pager");
                let mut svc = Service::new(DbState::Fresh(Box::new(pager)), ServiceConfig::default());
                match route(&req, &mut svc, "127.0.0.1".parse().expect("ip")) {
                    Routed::Reply(resp) => assert!((200..600).contains(&resp.status)),
                    Routed::Defer(_) => {}
                }
            }
            Ok(None) => {}
            Err(e) => assert!((400..600).contains(&e.status())),
        }
    }
});
