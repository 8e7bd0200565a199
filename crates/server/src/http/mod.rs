//! HTTP/1.1 front end: parse (pure, fuzzed), read JSON bodies into typed
//! requests, route (dispatch only), render typed results as JSON, respond.

pub mod body;
pub mod render;
pub mod request;
pub mod response;
pub mod routes;
