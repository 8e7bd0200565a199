//! `GET /metrics` (`docs/OPERATIONS.md`, "Metrics") against the real
//! `red server` binary on a loopback port: 401 without credentials by default, 403 for a non-admin
//! API key, 200 for an admin API key and for the admin token, and 200
//! without credentials under `--metrics-loopback` from 127.0.0.1. The body
//! is checked by a strict exposition-format parser written here (always)
//! and by `promtool check metrics` when promtool is installed (required
//! when `REDDB_REQUIRE_PROMTOOL` is set). Counters grow with requests, and
//! no secret value, token, key name or username ever appears in the text.

mod harness;

use harness::cli::program;
use harness::daemon::{fresh_bootstrapped, Daemon, Options};
use harness::http::{Conn, Resp};
use harness::tmp;
use harness::wait_until;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const ADMIN_TOKEN: &str = "metrics-admin-token-5d1f0a9c7e3b5a";

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

/// Parses `{k="v",...}` from the front of `s`; returns the labels and the
/// rest after `}`.
fn parse_labels(s: &str, line: &str) -> (Vec<(String, String)>, String) {
    let mut labels = Vec::new();
    let mut rest = s;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return (labels, r.to_string());
        }
        let eq = rest
            .find('=')
            .unwrap_or_else(|| panic!("label without '=': {line}"));
        let name = &rest[..eq];
        assert!(is_label_name(name), "bad label name {name:?}: {line}");
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .unwrap_or_else(|| panic!("label value not quoted: {line}"));
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => panic!("bad escape {other:?} in label value: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, '\n')) => panic!("raw newline in label value: {line}"),
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        };
        assert!(
            !labels.iter().any(|(n, _): &(String, String)| n == name),
            "duplicate label {name}: {line}"
        );
        labels.push((name.to_string(), value));
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else {
            assert!(rest.starts_with('}'), "expected ',' or '}}': {line}");
        }
    }
}

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// The strict parser: every line is `# HELP`, `# TYPE` or a sample; every
/// family has HELP then TYPE before its samples and appears once; sample
/// names belong to the current family; histograms are cumulative, end with
/// `le="+Inf"` equal to `_count`, and have a `_sum`. Returns the samples.
fn parse_exposition(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "the text ends with a newline");
    let mut samples = Vec::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<(String, String)> = None; // (family, type)
    let mut series = BTreeSet::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "no empty lines");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(is_metric_name(name), "bad family name: {line}");
            assert!(helped.insert(name.to_string()), "HELP twice: {line}");
            assert!(!types.contains_key(name), "HELP after TYPE: {line}");
            current = None;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("TYPE without a type: {line}"));
            assert!(is_metric_name(name), "bad family name: {line}");
            assert!(helped.contains(name), "TYPE before HELP: {line}");
            assert!(
                matches!(kind, "counter" | "gauge" | "histogram"),
                "unexpected type: {line}"
            );
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice: {line}"
            );
            current = Some((name.to_string(), kind.to_string()));
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment: {line}");
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value: {line}"));
        let name = &line[..name_end];
        assert!(is_metric_name(name), "bad metric name {name:?}: {line}");
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end + 1..], line)
        } else {
            (Vec::new(), line[name_end..].to_string())
        };
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("one space before the value: {line}"));
        assert!(!value.contains(' '), "no timestamp expected: {line}");
        let value = parse_value(value).unwrap_or_else(|| panic!("bad value: {line}"));
        let (family, kind) = current
            .clone()
            .unwrap_or_else(|| panic!("sample before HELP/TYPE: {line}"));
        let ok = match kind.as_str() {
            "histogram" => [
                format!("{family}_bucket"),
                format!("{family}_sum"),
                format!("{family}_count"),
            ]
            .contains(&name.to_string()),
            _ => name == family,
        };
        assert!(ok, "sample {name} outside its family {family}: {line}");
        if kind == "counter" {
            assert!(value >= 0.0, "negative counter: {line}");
        }
        assert!(
            series.insert(format!("{name}{labels:?}")),
            "duplicate series: {line}"
        );
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    for (family, kind) in &types {
        if kind == "histogram" {
            check_histogram(family, &samples);
        }
    }
    samples
}

type Labels = Vec<(String, String)>;

fn check_histogram(family: &str, samples: &[Sample]) {
    let without_le = |s: &Sample| -> Labels {
        s.labels
            .iter()
            .filter(|(k, _)| k != "le")
            .cloned()
            .collect()
    };
    let mut buckets: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.name == format!("{family}_bucket"))
    {
        let le = s
            .labels
            .iter()
            .find(|(k, _)| k == "le")
            .unwrap_or_else(|| panic!("{family} bucket without le"));
        let le = parse_value(&le.1).unwrap_or_else(|| panic!("bad le {:?}", le.1));
        buckets
            .entry(without_le(s))
            .or_default()
            .push((le, s.value));
    }
    let counts: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == format!("{family}_count"))
        .collect();
    assert_eq!(
        counts.len(),
        buckets.len(),
        "{family}: one _count per bucket series"
    );
    for (labels, bs) in &buckets {
        for w in bs.windows(2) {
            assert!(w[0].0 < w[1].0, "{family}{labels:?}: le ascending");
            assert!(w[0].1 <= w[1].1, "{family}{labels:?}: buckets cumulative");
        }
        let last = bs.last().expect("a bucket");
        assert_eq!(last.0, f64::INFINITY, "{family}{labels:?}: ends with +Inf");
        let count = counts
            .iter()
            .find(|s| &s.labels == labels)
            .unwrap_or_else(|| panic!("{family}{labels:?}: no _count"));
        assert_eq!(last.1, count.value, "{family}{labels:?}: +Inf == _count");
        assert!(
            samples
                .iter()
                .any(|s| s.name == format!("{family}_sum") && &s.labels == labels),
            "{family}{labels:?}: no _sum"
        );
    }
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
        })
        .map(|s| s.value)
}

/// Asserts that the sample `name{labels}` is exposed with a value of at
/// least `min`; `what` says what it counts.
fn assert_at_least(samples: &[Sample], name: &str, labels: &[(&str, &str)], min: f64, what: &str) {
    let got = value(samples, name, labels);
    assert!(
        got.is_some_and(|v| v >= min),
        "{what}: {name}{labels:?} is {got:?}, expected at least {min}"
    );
}

/// `promtool check metrics` on `text`; `false` when promtool is missing
/// (a failure when `REDDB_REQUIRE_PROMTOOL` is set).
fn promtool_check(text: &str) -> bool {
    let run = program("promtool", &["check", "metrics"])
        .stdin(text)
        .try_run();
    let out = match run {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("REDDB_REQUIRE_PROMTOOL").is_none(),
                "REDDB_REQUIRE_PROMTOOL is set but promtool is not installed"
            );
            eprintln!("promtool not found: only the built-in parser checked the output");
            return false;
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    assert!(
        out.success(),
        "promtool check metrics failed:\n{}{}\n--- text ---\n{text}",
        out.stdout,
        out.stderr
    );
    true
}

fn scrape(d: &Daemon, bearer: Option<&str>) -> (Resp, Vec<Sample>) {
    let r = d.get("/metrics", bearer);
    assert_eq!(r.status, 200, "/metrics: {}", r.text());
    let ct = r.header("Content-Type").unwrap_or_default().to_string();
    assert!(
        ct.starts_with("text/plain") && ct.contains("version=0.0.4"),
        "content type {ct}"
    );
    let text = r.text();
    let samples = parse_exposition(&text);
    promtool_check(&text);
    (r, samples)
}

#[test]
fn metrics_need_an_admin_by_default_and_count_requests() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new().admin_token(ADMIN_TOKEN));
    let k = boot.api_key.as_str();

    // Default: no loopback exemption.
    let r = d.get("/metrics", None);
    r.expect_error(401, "unauthorized", "no credentials");
    d.get("/metrics", Some("rdb_k_00000000000000000000000000000000"))
        .expect_error(401, "unauthorized", "unknown key");
    assert_eq!(d.post("/metrics", Some(k), &json!({})).status, 405);

    // A non-admin user's key is refused.
    let user = "metrics-user-7c2e";
    d.create_user(k, user, "metrics-user-password-1", "user")
        .ok("create user");
    let user_key = d
        .mint_api_key(
            k,
            &json!({"owner": user, "label": "metrics-label-x"}),
            "mint user key",
        )
        .token;
    assert_eq!(d.get("/metrics", Some(&user_key)).status, 403);

    let (_, before) = scrape(&d, Some(k));
    let (_, _) = scrape(&d, Some(ADMIN_TOKEN));
    assert_eq!(value(&before, "reddb_sealed", &[]), Some(0.0));
    assert_eq!(value(&before, "reddb_bootstrapped", &[]), Some(1.0));
    assert_at_least(
        &before,
        "reddb_open_connections",
        &[],
        1.0,
        "this connection is open",
    );
    assert!(value(&before, "reddb_store_log_pages", &[]).is_some());
    assert!(value(&before, "reddb_store_free_pages", &[]).is_some());
    assert!(value(&before, "reddb_store_file_pages", &[]).is_some_and(|v| v > 0.0));
    assert!(value(&before, "reddb_store_keys", &[("namespace", "vault")]).is_some_and(|v| v > 0.0));
    assert_at_least(
        &before,
        "reddb_http_auth_failures_total",
        &[],
        2.0,
        "the two 401s were counted",
    );
    let secrets_ok = |s: &[Sample]| {
        value(
            s,
            "reddb_http_requests_total",
            &[("route", "secrets"), ("status", "200")],
        )
        .unwrap_or(0.0)
    };
    let commits = |s: &[Sample]| value(s, "reddb_store_commits_total", &[]).unwrap_or(-1.0);
    let flushes =
        |s: &[Sample]| value(s, "reddb_store_flush_duration_seconds_count", &[]).unwrap_or(-1.0);
    let secrets_keys =
        |s: &[Sample]| value(s, "reddb_store_keys", &[("namespace", "secrets")]).unwrap_or(-1.0);

    // Requests with a distinctive key name and value.
    let key = "red.secret.metrics-key-name-91ab";
    let secret = "metrics-secret-value-e04d";
    d.post_value(&format!("/secrets/{key}"), k, secret)
        .ok("put secret");
    let got = d.get(&format!("/secrets/{key}"), Some(k)).ok("get secret");
    assert_eq!(got["value"], secret, "{got}");
    d.get(&format!("/no/such/{key}"), Some(k));

    let (r, after) = scrape(&d, Some(k));
    assert!(secrets_ok(&after) >= secrets_ok(&before) + 2.0);
    assert!(commits(&after) > commits(&before), "commits counted");
    assert!(flushes(&after) > flushes(&before), "flushes timed");
    assert!(secrets_keys(&after) > secrets_keys(&before));
    assert_at_least(
        &after,
        "reddb_http_requests_total",
        &[("route", "other"), ("status", "404")],
        1.0,
        "an unknown path counts as route=\"other\"",
    );
    assert_at_least(
        &after,
        "reddb_http_request_duration_seconds_count",
        &[("route", "secrets")],
        2.0,
        "latency observed",
    );
    // Only bounded route labels, never paths.
    for s in &after {
        for (l, v) in &s.labels {
            if l == "route" {
                assert!(
                    [
                        "health", "auth", "secrets", "config", "policies", "admin", "metrics",
                        "other"
                    ]
                    .contains(&v.as_str()),
                    "unbounded route label {v}"
                );
            }
        }
    }
    let text = r.text();
    for needle in [
        secret,
        key,
        "metrics-key-name",
        k,
        &k[6..],
        user_key.as_str(),
        &user_key[6..],
        user,
        "metrics-label-x",
        ADMIN_TOKEN,
        &boot.certificate,
    ] {
        assert!(!text.contains(needle), "{needle:?} leaked into /metrics");
    }

    // SIGHUP reloads are counted.
    d.signal(libc::SIGHUP);
    assert!(
        wait_until(std::time::Duration::from_secs(10), || {
            let r = d.get("/metrics", Some(k));
            value(&parse_exposition(&r.text()), "reddb_reloads_total", &[]) == Some(1.0)
        }),
        "reddb_reloads_total reaches 1 after SIGHUP"
    );
}

#[test]
fn wire_commands_are_counted_and_keys_stay_out() {
    let dir = tmp();
    let s = Daemon::start_dev(dir.path(), &["--metrics-loopback"]);
    let scrape_wire = || {
        let r = Conn::open(s.http_port).call("GET", "/metrics", None, None);
        assert_eq!(r.status, 200, "{}", r.text());
        let text = r.text();
        (parse_exposition(&text), text)
    };
    let wire = |x: &[Sample]| value(x, "reddb_wire_commands_total", &[]).unwrap_or(-1.0);
    let (before, _) = scrape_wire();
    let mut c = s.authed();
    let key = "wire-key-name-3b9f";
    let val = "wire-value-c71a";
    c.cmd(&["SET", key, val]);
    c.cmd(&["GET", key]);
    let (after, text) = scrape_wire();
    assert!(
        wire(&after) >= wire(&before) + 3.0,
        "AUTH, SET and GET counted"
    );
    assert_at_least(
        &after,
        "reddb_store_keys",
        &[("namespace", "keyspace")],
        1.0,
        "the SET key is counted",
    );
    promtool_check(&text);
    for needle in [key, val, s.api_key(), s.admin_password()] {
        assert!(!text.contains(needle), "{needle:?} leaked into /metrics");
    }
}

#[test]
fn metrics_loopback_needs_no_credentials_from_127_0_0_1() {
    let dir = tmp();
    // Not bootstrapped yet: the scrape still works, and says so.
    let d = Daemon::start(
        &dir.path().join("data.rdb"),
        &Options::new().arg("--metrics-loopback"),
    );
    let (_, s) = scrape(&d, None);
    assert_eq!(value(&s, "reddb_sealed", &[]), Some(1.0));
    assert_eq!(value(&s, "reddb_bootstrapped", &[]), Some(0.0));
    assert!(value(&s, "reddb_store_log_pages", &[]).is_none());
    let boot = d.bootstrap();
    let (_, s) = scrape(&d, None);
    assert_eq!(value(&s, "reddb_sealed", &[]), Some(0.0));
    assert_at_least(
        &s,
        "reddb_http_requests_total",
        &[("route", "metrics"), ("status", "200")],
        1.0,
        "the earlier scrape was counted",
    );
    assert_at_least(
        &s,
        "reddb_http_requests_total",
        &[("route", "auth"), ("status", "200")],
        1.0,
        "the bootstrap (parked on a worker) was counted",
    );
    // Credentials are still accepted.
    scrape(&d, Some(&boot.api_key));
}

#[test]
fn promtool_is_present_when_required() {
    if std::env::var_os("REDDB_REQUIRE_PROMTOOL").is_some() {
        assert!(
            promtool_check("# HELP x_total x\n# TYPE x_total counter\nx_total 1\n"),
            "REDDB_REQUIRE_PROMTOOL is set: promtool must run"
        );
    }
}

#[test]
fn the_strict_parser_rejects_malformed_text() {
    let good = "# HELP h_seconds h\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"1\"} 1\nh_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_sum 3\nh_seconds_count 2\n";
    assert_eq!(parse_exposition(good).len(), 4);
    let bad = [
        // no HELP/TYPE
        "x_total 1\n",
        // TYPE before HELP
        "# TYPE x_total counter\n# HELP x_total x\nx_total 1\n",
        // bad name
        "# HELP 1x x\n# TYPE 1x gauge\n1x 1\n",
        // unescaped quote / bad escape
        "# HELP g g\n# TYPE g gauge\ng{a=\"x\\q\"} 1\n",
        // sample of another family
        "# HELP g g\n# TYPE g gauge\nh 1\n",
        // not cumulative
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        // +Inf != _count
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
        // no +Inf
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        // bad value
        "# HELP g g\n# TYPE g gauge\ng one\n",
    ];
    for text in bad {
        let r = std::panic::catch_unwind(|| parse_exposition(text));
        assert!(r.is_err(), "accepted:\n{text}");
    }
}
