#!/usr/bin/env python3
"""Credential-flood bench for `red server` (standard library only).

Run through bench/auth_flood.sh, which builds the release binary first.
One peer (127.0.0.1) floods the server with the refusals of the security
review's items 4 and 5, one kind at a time:

  bearer     HTTP requests with a bad bearer token (pipelined)
  wire_auth  wire `AUTH <bad token>` (pipelined)
  noauth     wire commands before `AUTH` (pipelined)
  login      `POST /auth/login` with wrong passwords under new usernames

while another client (127.0.0.2) measures its own latency: an HTTP config
read with an API key (authenticated, but not audited on success, so the
audit count is the flood's own) and a wire `GET` on keep-alive connections,
alternately; and a third (127.0.0.4) logs in correctly every 0.5 s (its
password check waits in the same Argon2 queue as a login flood's). Prints p50/p99
per phase, the p99 ratio against the idle phase, the flood's request rate
and how many audit events the phase added. With `--before BINARY` the same
phases run against a second binary in the same run (side by side).

Every socket has a timeout, every phase a deadline; servers are killed on
exit.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from login_flood import IO_TIMEOUT, Conn, free_port, percentile, wait_healthy  # noqa: E402

ADMIN_TOKEN = "bench-admin-token-0123456789abcdef0123456789"
BAD_TOKEN = "rdb_k_0123456789abcdef0123456789abcdef"
KINDS = ("bearer", "wire_auth", "noauth", "login")
# The audit action each flood's refusals are recorded under.
ACTIONS = {"bearer": "secret.read", "wire_auth": "auth.token", "noauth": "request",
           "login": "auth.login"}
# Fold windows last 10 s: waiting this long before counting lets every
# summary event be written.
FOLD_WAIT = 11.0
PIPELINE = 50


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
    return b"".join(out)


class Wire(Conn):
    """A minimal RESP client over the same socket set-up as `Conn`."""

    def replies(self, n):
        """Reads `n` one-line replies (simple strings, errors, integers) or
        bulk strings; returns the first lines."""
        lines = []
        while len(lines) < n:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed by server")
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\r\n")
            if line.startswith(b"$") and line != b"$-1":
                size = int(line[1:])
                while len(self.buf) < size + 2:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed inside a bulk")
                    self.buf += chunk
                self.buf = self.buf[size + 2:]
            lines.append(line)
        return lines

    def cmd(self, *args):
        self.sock.sendall(resp(*args))
        return self.replies(1)[0]


def flood_worker(args):
    """Child process: `threads` clients send one kind of refused request from
    127.0.0.1 until stdin closes or `seconds` pass; prints counts as JSON."""
    stop = threading.Event()
    sent = [0]
    errors = [0]
    lock = threading.Lock()

    def add(n, e=0):
        with lock:
            sent[0] += n
            errors[0] += e

    def bearer():
        c = Conn(args.port, "127.0.0.1")
        one = (f"GET /secrets/red.secret.bench.key HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {BAD_TOKEN}\r\n\r\n").encode()
        while not stop.is_set():
            c.sock.sendall(one * PIPELINE)
            for _ in range(PIPELINE):
                c.read_response()
            add(PIPELINE)

    def wire_auth():
        w = Wire(args.wire_port, "127.0.0.1")
        batch = resp("AUTH", BAD_TOKEN) * PIPELINE
        while not stop.is_set():
            w.sock.sendall(batch)
            w.replies(PIPELINE)
            add(PIPELINE)

    def noauth():
        w = Wire(args.wire_port, "127.0.0.1")
        batch = resp("GET", "k") * PIPELINE
        while not stop.is_set():
            w.sock.sendall(batch)
            w.replies(PIPELINE)
            add(PIPELINE)

    def login(i):
        c = Conn(args.port, "127.0.0.1")
        n = 0
        while not stop.is_set():
            n += 1
            status, _, closing = c.request(
                "POST", "/auth/login",
                body={"username": f"flood{i}x{n}", "password": "wrong-password"})
            add(1, int(status not in (401, 429, 503)))
            if closing:
                c.close()
                c = Conn(args.port, "127.0.0.1")

    def client(i):
        while not stop.is_set():
            try:
                if args.kind == "bearer":
                    bearer()
                elif args.kind == "wire_auth":
                    wire_auth()
                elif args.kind == "noauth":
                    noauth()
                else:
                    login(i)
            except (OSError, ConnectionError, ValueError, IndexError):
                add(0, 1)
                time.sleep(0.01)

    def watch_stdin():
        try:
            sys.stdin.read()
        finally:
            stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    threads = [threading.Thread(target=client, args=(i,), daemon=True)
               for i in range(args.threads)]
    started = time.monotonic()
    for t in threads:
        t.start()
    stop.wait(args.seconds)
    stop.set()
    elapsed = time.monotonic() - started
    with lock:
        print(json.dumps({"seconds": elapsed, "sent": sent[0], "errors": errors[0]}),
              flush=True)
    os._exit(0)


def measure(port, wire_port, key, seconds):
    """Alternating HTTP config reads and wire GETs from 127.0.0.2 for
    `seconds`; latencies in ms."""
    h = Conn(port, "127.0.0.2")
    w = Wire(wire_port, "127.0.0.2")
    http, wire, logins = [], [], []
    bad = 0
    stop = threading.Event()

    def log_in():
        # A correct login by another user every 0.5 s, from another address:
        # the Argon2 queue it waits in is shared with any login flood.
        while not stop.is_set():
            c = Conn(port, "127.0.0.4")
            try:
                t0 = time.perf_counter_ns()
                status, _, _ = c.request("POST", "/auth/login",
                                         body={"username": "admin", "password": "change-me-now"})
                logins.append(((time.perf_counter_ns() - t0) / 1e6, status))
            except (OSError, ConnectionError, ValueError):
                logins.append((float("nan"), 0))
            finally:
                c.close()
            stop.wait(0.5)

    prober = threading.Thread(target=log_in, daemon=True)
    prober.start()
    try:
        if w.cmd("AUTH", key) != b"+OK":
            raise SystemExit("wire AUTH with the API key failed")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            t0 = time.perf_counter_ns()
            status, _, _ = h.request("GET", "/config/red.config.bench", bearer=key)
            http.append((time.perf_counter_ns() - t0) / 1e6)
            bad += int(status != 200)
            t0 = time.perf_counter_ns()
            line = w.cmd("GET", "bench:k")
            wire.append((time.perf_counter_ns() - t0) / 1e6)
            bad += int(not line.startswith(b"$"))
    finally:
        stop.set()
        prober.join(IO_TIMEOUT)
        h.close()
        w.close()
    http.sort()
    wire.sort()
    ok_logins = sorted(ms for ms, status in logins if status == 200)
    return {
        "n": len(http), "bad": bad,
        "logins": len(logins), "logins_ok": len(ok_logins),
        "login_p50": percentile(ok_logins, 50),
        "login_max": ok_logins[-1] if ok_logins else float("nan"),
        "http_p50": percentile(http, 50), "http_p99": percentile(http, 99),
        "wire_p50": percentile(wire, 50), "wire_p99": percentile(wire, 99),
    }


def audit_count(port, action):
    """Refusals recorded under `action` in the last hour: every event of the
    action but the successful ones (the probe's own `AUTH`). The query caps
    at 10,000 events."""
    counts = []
    for query in (f"action={action}", f"action={action}&outcome=ok"):
        c = Conn(port, "127.0.0.3")
        try:
            status, body, _ = c.request("GET", f"/admin/audit?since=1h&limit=10000&{query}",
                                        bearer=ADMIN_TOKEN)
        finally:
            c.close()
        if status != 200:
            return -1
        counts.append(len(json.loads(body)["events"]))
    return counts[0] if counts[0] >= 10000 else counts[0] - counts[1]


def run_binary(red, args):
    tmp = tempfile.mkdtemp(prefix="reddb-authflood-")
    port, wire_port = free_port(), free_port()
    log = open(os.path.join(tmp, "server.stderr"), "wb")
    server = subprocess.Popen(
        [red, "server", "--path", os.path.join(tmp, "data.rdb"),
         "--http-bind", f"127.0.0.1:{port}", "--wire-bind", f"127.0.0.1:{wire_port}"],
        env={"RED_ADMIN_TOKEN": ADMIN_TOKEN},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    rows = []
    try:
        wait_healthy(port, server, 30)
        c = Conn(port)
        status, body, _ = c.request("POST", "/auth/bootstrap",
                                    body={"username": "admin", "password": "change-me-now"})
        if status != 200:
            raise SystemExit(f"bootstrap failed: {status} {body!r}")
        key = json.loads(body)["api_key"]
        status, body, _ = c.request("POST", "/config/red.config.bench",
                                    body={"value": "v" * 100}, bearer=key)
        c.close()
        if status != 200:
            raise SystemExit(f"put failed: {status} {body!r}")
        w = Wire(wire_port)
        w.cmd("AUTH", key)
        w.cmd("SET", "bench:k", "v" * 100)
        w.close()
        measure(port, wire_port, key, 1.0)  # warm-up
        idle = measure(port, wire_port, key, args.seconds)
        rows.append(("idle", idle, None, 0))
        for kind in args.kinds:
            cmd = [sys.executable, os.path.abspath(__file__), "--flood-worker",
                   "--kind", kind, "--port", str(port), "--wire-port", str(wire_port),
                   "--threads", str(args.threads),
                   "--seconds", str(args.seconds + args.warmup + 5)]
            flood = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
            try:
                time.sleep(args.warmup)
                m = measure(port, wire_port, key, args.seconds)
            finally:
                try:
                    out, _ = flood.communicate(timeout=IO_TIMEOUT + 10)
                except subprocess.TimeoutExpired:
                    flood.kill()
                    out, _ = flood.communicate()
            try:
                stats = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                stats = {"seconds": float("nan"), "sent": 0, "errors": -1}
            time.sleep(1.0)  # a login queue drains
            rows.append([kind, m, stats, -1])
        # Every refusal of a flood is recorded under its own action, and
        # nothing else writes those actions here: count them once the fold
        # windows have closed and their summaries are written.
        time.sleep(FOLD_WAIT)
        for row in rows[1:]:
            row[3] = audit_count(port, ACTIONS[row[0]])
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def report(label, rows):
    idle = rows[0][1]
    print(f"{label}")
    print(f"  {'phase':10s} {'flood req/s':>11s} {'http p50':>9s} {'http p99':>9s} "
          f"{'wire p50':>9s} {'wire p99':>9s} {'p99 x idle (http/wire)':>23s} "
          f"{'audit events':>12s}  {'correct logins ok, p50 / max ms':>31s}")
    for kind, m, stats, events in rows:
        rate = "-" if stats is None else f"{stats['sent'] / max(stats['seconds'], 1e-9):11.0f}"
        ratio = (f"{m['http_p99'] / idle['http_p99']:9.2f} / {m['wire_p99'] / idle['wire_p99']:5.2f}"
                 if idle["http_p99"] and idle["wire_p99"] else "-")
        ev = "≥10000" if events >= 10000 else str(events)
        logins = (f"{m['logins_ok']}/{m['logins']}, {m['login_p50']:.0f} / "
                  f"{m['login_max']:.0f}")
        print(f"  {kind:10s} {rate:>11s} {m['http_p50']:9.3f} {m['http_p99']:9.3f} "
              f"{m['wire_p50']:9.3f} {m['wire_p99']:9.3f} {ratio:>23s} {ev:>12s}  {logins:>31s}"
              + (f"  ({m['bad']} bad replies)" if m["bad"] else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--red", default="target/release/red")
    ap.add_argument("--before", help="a second binary to run the same phases against")
    ap.add_argument("--seconds", type=float, default=6.0, help="measured seconds per phase")
    ap.add_argument("--warmup", type=float, default=1.0, help="flood seconds before measuring")
    ap.add_argument("--threads", type=int, default=8, help="flooding clients")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--flood-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--wire-port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.flood_worker:
        flood_worker(args)
        return
    args.kinds = [k for k in args.kinds.split(",") if k in KINDS]
    args.seconds = max(1.0, min(args.seconds, 30.0))
    args.threads = max(1, min(args.threads, 64))
    started = time.monotonic()
    print(f"{os.cpu_count()} CPUs; {args.threads} flooding clients from 127.0.0.1, "
          f"{args.seconds:.0f} s measured per phase from 127.0.0.2 "
          f"(HTTP config read + wire GET, alternating)")
    results = [(f"this build: {args.red}", run_binary(args.red, args))]
    if args.before:
        results.append((f"before: {args.before}", run_binary(args.before, args)))
    for label, rows in results:
        report(label, rows)
    print(f"total bench time {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
