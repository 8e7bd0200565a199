//! The HTTP front end: `http::request::parse` on raw bytes (default and tiny
//! limits), and every request it accepts routed against a fresh, in-memory
//! service (path matching, authentication, JSON body handling). Properties:
//! never panics; consumed bytes lie within the input; errors carry a
//! 4xx/5xx status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reddb::server::http::request::{parse, Limits};
use reddb::server::http::routes::{route, Routed};
use reddb::service::{DbState, Service, ServiceConfig};
use reddb_fuzz::MemFile;

fuzz_target!(|data: &[u8]| {
    for limits in [Limits::default(), Limits { max_head: 64, max_body: 16 }] {
        match parse(data, &limits) {
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
