//! HTTP responses: status lines, the fixed security headers, JSON bodies,
//! and the error shape `{"ok": false, "error": {"code", "message"}}`.

use reddb_service::{Kind, ServiceError};
use serde_json::{json, Value as Json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// Close the connection after sending.
    pub close: bool,
    pub extra_headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

impl Response {
    pub fn json(status: u16, body: &Json) -> Self {
        Self {
            status,
            body: serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()),
            close: false,
            extra_headers: Vec::new(),
            content_type: "application/json",
        }
    }

    /// A non-JSON body (e.g. the Prometheus exposition text).
    pub fn text(status: u16, content_type: &'static str, body: String) -> Self {
        Self {
            status,
            body: body.into_bytes(),
            close: false,
            extra_headers: Vec::new(),
            content_type,
        }
    }

    pub fn ok(body: &Json) -> Self {
        Self::json(200, body)
    }

    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            &json!({"ok": false, "error": {"code": code, "message": message}}),
        )
    }

    pub(crate) fn from_service_error(e: &ServiceError) -> Self {
        let status = match e.kind {
            Kind::BadRequest => 400,
            Kind::Unauthorized => 401,
            Kind::Forbidden => 403,
            Kind::NotFound => 404,
            Kind::Conflict => 409,
            Kind::TooLarge => 413,
            Kind::RateLimited => 429,
            Kind::Sealed | Kind::Busy => 503,
            Kind::Internal => 500,
        };
        let mut r = Self::error(status, e.code, &e.message);
        if status == 401 {
            r.extra_headers
                .push(("WWW-Authenticate", "Bearer".to_string()));
        }
        if status == 429 || e.kind == Kind::Busy {
            let after = e.retry_after_s.unwrap_or(1);
            r.extra_headers.push(("Retry-After", after.to_string()));
        }
        r
    }

    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// Appends the wire form to `out`.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>, keep_alive: bool) {
        let keep = keep_alive && !self.close;
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len(),
            if keep { "keep-alive" } else { "close" }
        );
        for (k, v) in &self.extra_headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&self.body);
    }
}
