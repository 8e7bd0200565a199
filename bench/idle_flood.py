#!/usr/bin/env python3
# Idle-connection flood plus slowloris against a real `red server` (python3
# standard library only). Run through bench/idle_flood.sh, which builds the
# release binary and raises the open-file limit.
#
# What it does, in a temporary directory, all on loopback:
#   1. starts `red server --dev --metrics-loopback` (bootstraps, prints the
#      admin API key once) on free HTTP and wire ports;
#   2. measures a baseline for a few seconds: GET /health on a new
#      connection, an authenticated GET /secrets/... on a keep-alive
#      connection, and an authenticated RESP PING and GET (one connection);
#   3. opens N idle TCP connections (default 5,000), half to the HTTP
#      listener and half to the wire listener, sending nothing;
#   4. starts slowloris clients: an HTTP header trickle (one byte every few
#      seconds, never finishing the head), an HTTP body trickle (complete
#      head, Content-Length 4096, one body byte every few seconds) and a RESP
#      trickle (one byte of a command every few seconds, anonymous);
#   5. keeps measuring the normal clients for SECONDS, sampling the server's
#      VmRSS / VmHWM from /proc/PID/status, reddb_open_connections from
#      /metrics and how many idle sockets the server has closed;
#   6. prints p50/p99/max latency and success counts (baseline vs flood),
#      memory before / during / peak, idle connections open vs closed over
#      time, and when and how each slowloris connection ended.
# Everything is bounded in time; the server is stopped (SIGTERM, then
# SIGKILL) on exit.
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def http_once(port, path, token=None, timeout=10.0):
    """One request on a new connection; (status, body) or raises."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request(path, token, close=True))
        return read_response(s)


def request(path, token=None, close=False):
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode()


def read_response(s, buf=None):
    buf = buf if buf is not None else bytearray()
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a body")
        rest += chunk
    buf.clear()
    buf += rest[n:]
    return status, rest[:n]


def resp_cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def resp_read(s, buf):
    """Reads one simple reply (+, -, :, $) from s; returns its bytes."""
    while True:
        if buf.startswith((b"+", b"-", b":")) and b"\r\n" in buf:
            line, _, rest = bytes(buf).partition(b"\r\n")
            buf.clear()
            buf += rest
            return line
        if buf.startswith(b"$") and b"\r\n" in buf:
            line, _, rest = bytes(buf).partition(b"\r\n")
            n = int(line[1:])
            if n < 0:
                buf.clear()
                buf += rest
                return line
            if len(rest) >= n + 2:
                buf.clear()
                buf += rest[n + 2:]
                return rest[:n]
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a reply")
        buf += chunk


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Probe:
    """Normal clients, measured in a loop until stopped."""

    def __init__(self, http, wire, key):
        self.http, self.wire, self.key = http, wire, key
        self.lat = {"health": [], "secret": [], "ping": [], "get": []}
        self.fail = {k: 0 for k in self.lat}
        self.errors = []
        self.stop = threading.Event()
        self.kconn = None
        self.kbuf = bytearray()
        self.wconn = None
        self.wbuf = bytearray()

    def reset(self):
        for k in self.lat:
            self.lat[k] = []
            self.fail[k] = 0

    def _timed(self, name, fn):
        t = time.perf_counter()
        try:
            fn()
            self.lat[name].append((time.perf_counter() - t) * 1000.0)
        except Exception as e:  # noqa: BLE001 - every failure is counted
            self.fail[name] += 1
            if len(self.errors) < 20:
                self.errors.append(f"{name}: {e!r}")
            if name == "secret":
                self.kconn = None
            if name in ("ping", "get"):
                self.wconn = None

    def health(self):
        st, _ = http_once(self.http, "/health")
        if st != 200:
            raise RuntimeError(f"status {st}")

    def secret(self):
        if self.kconn is None:
            self.kconn = socket.create_connection(("127.0.0.1", self.http), timeout=10)
            self.kbuf = bytearray()
        self.kconn.sendall(request("/secrets/red.secret.bench.flood", self.key))
        st, body = read_response(self.kconn, self.kbuf)
        if st != 200 or b"flood-value" not in body:
            raise RuntimeError(f"status {st}")

    def _wire(self):
        if self.wconn is None:
            self.wconn = socket.create_connection(("127.0.0.1", self.wire), timeout=10)
            self.wbuf = bytearray()
            self.wconn.sendall(resp_cmd("AUTH", self.key))
            r = resp_read(self.wconn, self.wbuf)
            if r != b"+OK":
                raise RuntimeError(f"AUTH: {r!r}")
        return self.wconn

    def ping(self):
        c = self._wire()
        c.sendall(resp_cmd("PING"))
        r = resp_read(c, self.wbuf)
        if r != b"+PONG":
            raise RuntimeError(f"PING: {r!r}")

    def get(self):
        c = self._wire()
        c.sendall(resp_cmd("GET", "bench:flood"))
        r = resp_read(c, self.wbuf)
        if r != b"wire-value":
            raise RuntimeError(f"GET: {r!r}")

    def run(self, pause):
        while not self.stop.is_set():
            self._timed("health", self.health)
            self._timed("secret", self.secret)
            self._timed("ping", self.ping)
            self._timed("get", self.get)
            self.stop.wait(pause)

    def summary(self):
        return {
            k: {
                "ok": len(v),
                "failed": self.fail[k],
                "p50_ms": round(pct(v, 50), 3),
                "p99_ms": round(pct(v, 99), 3),
                "max_ms": round(max(v), 3) if v else None,
            }
            for k, v in self.lat.items()
        }


class Slowloris(threading.Thread):
    """One connection that sends `prefix` then one byte of `trickle` every
    `every` seconds; records when and how the server ended it."""

    def __init__(self, name, port, prefix, trickle, every, t0):
        super().__init__(daemon=True)
        self.name_, self.port, self.prefix, self.trickle = name, port, prefix, trickle
        self.every, self.t0 = every, t0
        self.sent = 0
        self.outcome = "still open at the end"
        self.closed_after = None
        self.reply = b""
        self.stop = threading.Event()

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        except OSError as e:
            self.outcome = f"connect failed: {e}"
            return
        start = time.monotonic()
        try:
            if self.prefix:
                s.sendall(self.prefix)
            s.setblocking(False)
            i = 0
            while not self.stop.is_set():
                try:
                    data = s.recv(65536)
                    if data == b"":
                        self.outcome = "closed by the server"
                        self.closed_after = time.monotonic() - start
                        return
                    self.reply += data
                except BlockingIOError:
                    pass
                try:
                    s.send(self.trickle[i % len(self.trickle):][:1])
                    self.sent += 1
                    i += 1
                except (BrokenPipeError, ConnectionResetError):
                    self.outcome = "reset by the server (on send)"
                    self.closed_after = time.monotonic() - start
                    return
                self.stop.wait(self.every)
        except ConnectionResetError:
            self.outcome = "reset by the server"
            self.closed_after = time.monotonic() - start
        finally:
            s.close()

    def report(self):
        first = self.reply.split(b"\r\n", 1)[0].decode("latin-1") if self.reply else ""
        return {
            "client": self.name_,
            "outcome": self.outcome,
            "closed_after_s": round(self.closed_after, 1) if self.closed_after else None,
            "bytes_trickled": self.sent,
            "server_said": first,
        }


def count_open(socks):
    """(open, closed by the server) among `socks`, without blocking."""
    open_, closed = 0, 0
    for s in socks:
        try:
            d = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            if d == b"":
                closed += 1
            else:
                open_ += 1  # the server sent something (a 503, -ERR): counted open
        except BlockingIOError:
            open_ += 1
        except OSError:
            closed += 1
    return open_, closed


def metrics_open(port):
    try:
        st, body = http_once(port, "/metrics", timeout=5)
        m = re.search(rb"^reddb_open_connections (\d+)", body, re.M)
        return int(m.group(1)) if st == 200 and m else None
    except Exception:  # noqa: BLE001
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--red", required=True)
    ap.add_argument("--seconds", type=float, default=75.0, help="flood phase length")
    ap.add_argument("--idle", type=int, default=5000, help="idle connections")
    ap.add_argument("--baseline", type=float, default=5.0, help="baseline phase length")
    ap.add_argument("--trickle-every", type=float, default=2.0)
    ap.add_argument("--pause", type=float, default=0.02, help="between probe rounds")
    ap.add_argument("--server-arg", action="append", default=[])
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.idle + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        sys.exit(f"RLIMIT_NOFILE {soft} (hard {hard}) is below {want}: raise it (ulimit -Hn)")

    tmp = tempfile.mkdtemp(prefix="reddb-idle-flood-")
    http, wire = free_port(), free_port()
    out = open(os.path.join(tmp, "stdout"), "w+")
    err = open(os.path.join(tmp, "stderr"), "w+")
    cmd = [a.red, "server", "--dev", "--metrics-loopback", "--path", os.path.join(tmp, "data.rdb"),
           "--http-bind", f"127.0.0.1:{http}", "--wire-bind", f"127.0.0.1:{wire}"] + a.server_arg
    env = {"PATH": "/usr/bin:/bin"}
    server = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    idle = []
    loris = []
    try:
        deadline = time.monotonic() + 30
        key = None
        while time.monotonic() < deadline:
            if server.poll() is not None:
                err.seek(0)
                sys.exit(f"server exited {server.returncode}: {err.read()}")
            out.seek(0)
            m = re.search(r"^api key: (\S+)", out.read(), re.M)
            if m:
                try:
                    if http_once(http, "/health", timeout=2)[0] == 200:
                        key = m.group(1)
                        break
                except OSError:
                    pass
            time.sleep(0.05)
        if not key:
            sys.exit("server did not come up in 30 s")
        pid = server.pid
        # Data the probes read.
        body = json.dumps({"value": "flood-value"}).encode()
        with socket.create_connection(("127.0.0.1", http), timeout=10) as s:
            s.sendall(b"POST /secrets/red.secret.bench.flood HTTP/1.1\r\nHost: x\r\n"
                      b"Authorization: Bearer " + key.encode() + b"\r\nContent-Type: application/json\r\n"
                      b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            st, _ = read_response(s)
            assert st == 200, st
        with socket.create_connection(("127.0.0.1", wire), timeout=10) as s:
            b = bytearray()
            s.sendall(resp_cmd("AUTH", key) + resp_cmd("SET", "bench:flood", "wire-value"))
            assert resp_read(s, b) == b"+OK" and resp_read(s, b) == b"+OK"

        probe = Probe(http, wire, key)
        base_mem = proc_status(pid)
        base_fds = fd_count(pid)
        t = threading.Thread(target=probe.run, args=(a.pause,), daemon=True)
        t.start()
        time.sleep(a.baseline)
        baseline = probe.summary()
        probe.reset()

        # The flood.
        t_open = time.monotonic()
        refused_at_connect = 0
        for i in range(a.idle):
            port = http if i % 2 == 0 else wire
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.setblocking(False)  # so count_open never waits
                idle.append(s)
            except OSError:
                refused_at_connect += 1
        open_secs = time.monotonic() - t_open
        t0 = time.monotonic()
        loris = [
            Slowloris("HTTP header trickle", http, b"GET /health HTTP/1.1\r\n",
                      b"X-Slow: " + b"a" * 64, a.trickle_every, t0),
            Slowloris("HTTP body trickle", http,
                      b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 4096\r\n\r\n", b"{" + b" " * 64, a.trickle_every, t0),
            Slowloris("RESP trickle (anonymous)", wire, b"",
                      b"*2\r\n$4\r\nPING\r\n$64\r\n" + b"x" * 64, a.trickle_every, t0),
        ]
        for l in loris:
            l.start()

        samples = []
        end = t0 + a.seconds
        next_sample = t0
        peak_rss = 0
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                mem = proc_status(pid)
                fds = fd_count(pid)
                peak_rss = max(peak_rss, mem.get("VmRSS", 0))
                o, c = count_open(idle)
                samples.append({
                    "t_s": round(now - t0, 1),
                    "rss_kib": mem.get("VmRSS"),
                    "server_fds": fds,
                    "open_connections_metric": metrics_open(http),
                    "idle_open": o,
                    "idle_closed_by_server": c,
                })
                next_sample += 5
            time.sleep(0.2)
        probe.stop.set()
        t.join(timeout=30)
        for l in loris:
            l.stop.set()
        for l in loris:
            l.join(timeout=10)
        flood = probe.summary()
        end_mem = proc_status(pid)
        o, c = count_open(idle)
        alive = server.poll() is None
        result = {
            "idle_requested": a.idle,
            "idle_connected": len(idle),
            "idle_connect_failures": refused_at_connect,
            "seconds_to_open_idle": round(open_secs, 2),
            "flood_seconds": a.seconds,
            "server_alive_at_end": alive,
            "memory_kib": {
                "rss_before": base_mem.get("VmRSS"),
                "rss_peak_sampled": peak_rss,
                "rss_end": end_mem.get("VmRSS"),
                "hwm_end": end_mem.get("VmHWM"),
                "threads": end_mem.get("Threads"),
            },
            "server_fds_before": base_fds,
            "idle_at_end": {"open": o, "closed_by_server": c},
            "baseline": baseline,
            "during_flood": flood,
            "slowloris": [l.report() for l in loris],
            "samples": samples,
            "probe_errors": probe.errors[:10],
        }
        print(json.dumps(result, indent=2))
        err.seek(0)
        log = err.read()
        warn = [l for l in log.splitlines() if l.startswith(("<3>", "<4>"))]
        print(f"server warnings/errors in the log: {len(warn)}", file=sys.stderr)
        for l in warn[:5]:
            print("  " + l, file=sys.stderr)
    finally:
        for s in idle:
            s.close()
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
