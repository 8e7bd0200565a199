//! HTTP/1.1 front end: parse (pure, fuzzed), read JSON bodies into typed
//! requests, route (dispatch only, from the one route table), render typed
//! results as JSON, respond, and describe the API (OpenAPI 3.1).

pub mod body;
pub mod openapi;
pub mod render;
pub mod request;
pub mod response;
pub mod route_table;
pub mod routes;
