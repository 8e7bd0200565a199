//! `GET /metrics`: a small registry (counters, gauges, fixed-bucket
//! histograms) and a renderer for the Prometheus text exposition format
//! (version 0.0.4).
//!
//! Labels only ever carry values from fixed, bounded sets (route families
//! of the route table `http::route_table`,
//! status codes, namespace names): never a path, key name, username,
//! token or secret.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The content type of the exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request latency buckets, in seconds.
pub(crate) const REQUEST_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Flush (write + fsync) latency buckets, in seconds.
pub(crate) const FLUSH_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// A histogram with fixed upper bounds (the `+Inf` bucket is implied).
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    pub(crate) fn observe(&mut self, v: f64) {
        let v = if v.is_finite() && v >= 0.0 { v } else { 0.0 };
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    pub(crate) fn observe_duration(&mut self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Metric types of the exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        }
    }
}

/// Escapes a label value: backslash, double quote and newline.
pub(crate) fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes HELP text: backslash and newline.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Writes exposition text: one family header, then its samples.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    /// `# HELP` and `# TYPE` lines of a family.
    pub fn family(&mut self, name: &str, help: &str, kind: Type) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&format_value(value));
        self.out.push('\n');
    }

    /// A one-sample family.
    pub fn single(&mut self, name: &str, help: &str, kind: Type, value: f64) {
        self.family(name, help, kind);
        self.sample(name, &[], value);
    }

    /// The `_bucket`/`_sum`/`_count` samples of one labelled histogram
    /// (call [`Writer::family`] once before).
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (i, c) in h.counts.iter().enumerate() {
            cumulative += c;
            let le = h
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| format_value(*b));
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, cumulative as f64);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.sample(&format!("{name}_count"), labels, h.count as f64);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// What the event loop counts between scrapes.
#[derive(Debug)]
pub struct Metrics {
    /// (route family, status) → requests.
    requests: BTreeMap<(&'static str, u16), u64>,
    /// route family → latency.
    latency: BTreeMap<&'static str, Histogram>,
    auth_failures: u64,
    wire_commands: u64,
    flush: Histogram,
    commits: u64,
    reloads: u64,
    reads_paused: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: BTreeMap::new(),
            latency: BTreeMap::new(),
            auth_failures: 0,
            wire_commands: 0,
            flush: Histogram::new(FLUSH_BUCKETS),
            commits: 0,
            reloads: 0,
            reads_paused: 0,
        }
    }
}

/// Point-in-time values read at scrape time (all O(1)).
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub sealed: bool,
    pub bootstrapped: bool,
    pub open_connections: usize,
    /// Bytes held in connection buffers (the `--max-buffer-memory` budget).
    pub buffered_bytes: usize,
    pub buffer_budget_bytes: usize,
    /// Connections waiting in line for the budget.
    pub reads_waiting: usize,
    /// (namespace label, entries held).
    pub keys: Vec<(&'static str, usize)>,
    /// Present when the store is open.
    pub store: Option<reddb_storage::store::StoreStats>,
}

impl Metrics {
    /// One HTTP reply: its route family, status and latency (`None` when
    /// the request never fully arrived, e.g. a parse error or timeout).
    pub fn request(&mut self, route: &'static str, status: u16, elapsed: Option<Duration>) {
        *self.requests.entry((route, status)).or_insert(0) += 1;
        if status == 401 {
            self.auth_failures += 1;
        }
        if let Some(d) = elapsed {
            self.latency
                .entry(route)
                .or_insert_with(|| Histogram::new(REQUEST_BUCKETS))
                .observe_duration(d);
        }
    }

    pub(crate) fn wire_command(&mut self) {
        self.wire_commands += 1;
    }

    /// One group commit that wrote and synced pending frames.
    pub fn commit(&mut self, took: Duration) {
        self.commits += 1;
        self.flush.observe_duration(took);
    }

    pub fn reload(&mut self) {
        self.reloads += 1;
    }

    /// A connection's reads were paused by the buffer budget.
    pub(crate) fn read_paused(&mut self) {
        self.reads_paused += 1;
    }

    /// The exposition text of every metric.
    pub fn render(&self, g: &Gauges) -> String {
        let mut w = Writer::new();
        self.render_counters(&mut w);
        self.render_gauges(&mut w, g);
        render_store(&mut w, g);
        w.finish()
    }

    /// HTTP, wire, commit and reload counters.
    fn render_counters(&self, w: &mut Writer) {
        w.family(
            "reddb_http_requests_total",
            "HTTP requests answered, by route family and status code.",
            Type::Counter,
        );
        for ((route, status), n) in &self.requests {
            let status = status.to_string();
            w.sample(
                "reddb_http_requests_total",
                &[("route", route), ("status", &status)],
                *n as f64,
            );
        }
        w.family(
            "reddb_http_request_duration_seconds",
            "Time from a parsed HTTP request to its queued reply, by route family.",
            Type::Histogram,
        );
        for (route, h) in &self.latency {
            w.histogram(
                "reddb_http_request_duration_seconds",
                &[("route", route)],
                h,
            );
        }
        w.single(
            "reddb_http_auth_failures_total",
            "HTTP requests answered 401 Unauthorized.",
            Type::Counter,
            self.auth_failures as f64,
        );
        w.single(
            "reddb_wire_commands_total",
            "Commands received on the Redis wire protocol.",
            Type::Counter,
            self.wire_commands as f64,
        );
        w.single(
            "reddb_store_commits_total",
            "Group commits that wrote and synced log pages.",
            Type::Counter,
            self.commits as f64,
        );
        w.family(
            "reddb_store_flush_duration_seconds",
            "Time to write and fsync one group commit.",
            Type::Histogram,
        );
        w.histogram("reddb_store_flush_duration_seconds", &[], &self.flush);
        w.single(
            "reddb_reloads_total",
            "Configuration reloads (SIGHUP).",
            Type::Counter,
            self.reloads as f64,
        );
    }

    /// The daemon's state, its connections, the buffer budget and the
    /// entries held per namespace.
    fn render_gauges(&self, w: &mut Writer, g: &Gauges) {
        w.single(
            "reddb_sealed",
            "1 when the vault is sealed (or not bootstrapped), else 0.",
            Type::Gauge,
            f64::from(u8::from(g.sealed)),
        );
        w.single(
            "reddb_bootstrapped",
            "1 when the database has been bootstrapped, else 0.",
            Type::Gauge,
            f64::from(u8::from(g.bootstrapped)),
        );
        w.single(
            "reddb_open_connections",
            "Open client connections (HTTP and wire).",
            Type::Gauge,
            g.open_connections as f64,
        );
        w.single(
            "reddb_buffered_bytes",
            "Bytes held in connection buffers (input, pending output, incomplete requests).",
            Type::Gauge,
            g.buffered_bytes as f64,
        );
        w.single(
            "reddb_buffer_budget_bytes",
            "The --max-buffer-memory budget: past it, reads from sockets pause.",
            Type::Gauge,
            g.buffer_budget_bytes as f64,
        );
        w.single(
            "reddb_reads_waiting",
            "Connections whose reads wait in line for the buffer budget.",
            Type::Gauge,
            g.reads_waiting as f64,
        );
        w.single(
            "reddb_reads_paused_total",
            "Times a connection's reads were paused by the buffer budget.",
            Type::Counter,
            self.reads_paused as f64,
        );
        w.family(
            "reddb_store_keys",
            "Entries held in memory per namespace (expired entries not yet swept included).",
            Type::Gauge,
        );
        for (ns, n) in &g.keys {
            w.sample("reddb_store_keys", &[("namespace", ns)], *n as f64);
        }
    }
}

/// The store's counters (when it is open).
fn render_store(w: &mut Writer, g: &Gauges) {
    if let Some(s) = &g.store {
        w.single(
            "reddb_store_log_pages",
            "Pages in the live log chain.",
            Type::Gauge,
            s.chain_pages as f64,
        );
        w.single(
            "reddb_store_free_pages",
            "Free pages available for reuse.",
            Type::Gauge,
            s.free_pages as f64,
        );
        w.single(
            "reddb_store_file_pages",
            "Pages in the database file.",
            Type::Gauge,
            s.file_pages as f64,
        );
        w.single(
            "reddb_store_live_bytes",
            "Bytes of live data held in memory.",
            Type::Gauge,
            s.live_bytes as f64,
        );
        w.single(
            "reddb_store_compactions_total",
            "Compactions since the store was opened.",
            Type::Counter,
            s.compactions as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(5.0);
        let mut w = Writer::new();
        w.family("x_seconds", "help", Type::Histogram);
        w.histogram("x_seconds", &[("route", "a\"b\\c\nd")], &h);
        let text = w.finish();
        assert!(text.contains("x_seconds_bucket{route=\"a\\\"b\\\\c\\nd\",le=\"0.1\"} 1\n"));
        assert!(text.contains("le=\"1\"} 2\n"));
        assert!(text.contains("le=\"+Inf\"} 3\n"));
        assert!(text.contains("x_seconds_count{route=\"a\\\"b\\\\c\\nd\"} 3\n"));
        assert!(text.contains("x_seconds_sum{route="));
    }
}
