//! HTTP/1.1 front end: parse (pure, fuzzed), route (translation only),
//! respond.

pub mod request;
pub mod response;
pub mod routes;
