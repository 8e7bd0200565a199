#!/usr/bin/env python3
# Parser and body floods (security review item 7) against real `red server`
# binaries, with other clients measured throughout (python3 standard library
# only). Run through bench/parse_flood.sh, which builds the release binary.
#
# For each binary given (--red, and optionally --baseline-red, e.g. the
# previous release, so that both are measured side by side in one run), in a
# temporary directory, all on loopback:
#   1. starts `red server --dev --metrics-loopback` on free ports;
#   2. idle: measures the probes alone for a few seconds: GET /health on a
#      new connection, an authenticated RESP PING and GET on one connection;
#   3. three floods, one after the other, each for SECONDS while the probes
#      keep running:
#      - "heads":  CONNS connections write a 16,383-byte HTTP head (the largest
#        accepted) one byte per write, round-robin across the connections,
#        read the answer, and start again;
#      - "inline": CONNS anonymous wire connections write a 65,536-byte inline
#        RESP line (ECHO …) one byte per write the same way;
#      - "bodies": CONNS connections each POST a 1 MiB body with a bearer the
#        server refuses, as fast as they can, read the answer, start again;
#   4. reports, per phase: the probes' count, failures, p50/p99/max latency
#      (and p99 relative to idle), the server CPU seconds used (utime+stime
#      from /proc), the flood's completed requests and bytes, and the
#      server's peak VmRSS.
# Bounded: every socket has a timeout, every phase a deadline; the server is
# stopped (SIGTERM, then SIGKILL) at the end of its run.
import argparse
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HEAD_LEN = 16 * 1024 - 1
INLINE_LEN = 64 * 1024
BODY_LEN = 1024 * 1024
BAD_BEARER = "rdb_k_" + "0" * 32


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stat(pid):
    """(cpu seconds, VmRSS KiB) of pid."""
    cpu = 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        pass
    rss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return cpu, rss


def read_http(s):
    """Reads one response; returns its status."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status


def resp_cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def resp_line(s, buf):
    """Reads one reply line (+, -, :) or bulk ($) from s."""
    while True:
        if b"\r\n" in buf:
            line, _, rest = bytes(buf).partition(b"\r\n")
            if line.startswith(b"$"):
                n = int(line[1:])
                if n < 0:
                    buf[:] = rest
                    return line
                if len(rest) >= n + 2:
                    buf[:] = rest[n + 2:]
                    return rest[:n]
            else:
                buf[:] = rest
                return line
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a reply")
        buf += chunk


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


# --- floods (each runs in its own process, so the probes never wait for
# --- the flooders' interpreter)


def dribble_worker(kind, port, conns, pace, stop, done, sent):
    """Writes `conns` requests one byte per write, round-robin across the
    connections, sleeping `pace` seconds after each round (so that the
    server reads each byte on its own instead of several at once); counts
    completed requests in `done`, bytes in `sent`."""
    if kind == "heads":
        data = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: "
        data += b"p" * (HEAD_LEN - 4 - len(data)) + b"\r\n\r\n"
        ok = lambda s: read_http(s) == 200  # noqa: E731
    else:
        data = b"ECHO " + b"x" * (INLINE_LEN - 7) + b"\r\n"
        ok = lambda s: resp_line(s, bytearray()).startswith(b"-NOAUTH")  # noqa: E731
    mv = memoryview(data)
    while not stop.is_set():
        socks = []
        try:
            for _ in range(conns):
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                socks.append(s)
            for i in range(len(data)):
                if stop.is_set():
                    break
                b = mv[i:i + 1]
                for s in socks:
                    s.send(b)
                if pace:
                    time.sleep(pace)
                if i % 4096 == 4095:
                    with sent.get_lock():
                        sent.value += 4096 * len(socks)
            else:
                with sent.get_lock():
                    sent.value += (len(data) % 4096) * len(socks)
                for s in socks:
                    if ok(s):
                        with done.get_lock():
                            done.value += 1
        except OSError:
            time.sleep(0.05)
        finally:
            for s in socks:
                s.close()


def body_worker(port, stop, done, sent):
    """POSTs 1 MiB bodies with a refused bearer, as fast as it can."""
    body = b"{" + b" " * (BODY_LEN - 2) + b"}"
    head = (b"POST /secrets/red.secret.flood HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + BAD_BEARER.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                try:
                    s.sendall(head + body)
                    n = len(head) + len(body)
                except OSError:
                    n = len(head)  # answered and closed before the body
                with sent.get_lock():
                    sent.value += n
                try:
                    answered = read_http(s) in (401, 413)
                except OSError:
                    answered = False  # reset: the answer was lost with it
                if answered:
                    with done.get_lock():
                        done.value += 1
        except OSError:
            time.sleep(0.01)


class Probe(threading.Thread):
    """Other clients: GET /health on a new connection, an authenticated
    RESP PING and GET on one connection, in a loop."""

    def __init__(self, http, wire, key, pause):
        super().__init__(daemon=True)
        self.http, self.wire, self.key, self.pause = http, wire, key, pause
        self.lat = {"health": [], "ping": [], "get": []}
        self.fail = {k: 0 for k in self.lat}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.w = None
        self.wbuf = bytearray()

    def take(self):
        with self.lock:
            out = (self.lat, self.fail)
            self.lat = {k: [] for k in out[0]}
            self.fail = {k: 0 for k in out[0]}
        return out

    def _timed(self, name, fn):
        t = time.perf_counter()
        try:
            fn()
            ms = (time.perf_counter() - t) * 1000.0
            with self.lock:
                self.lat[name].append(ms)
        except Exception:  # noqa: BLE001 - every failure is counted
            with self.lock:
                self.fail[name] += 1
            if name != "health":
                self.w = None

    def health(self):
        with socket.create_connection(("127.0.0.1", self.http), timeout=10) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if read_http(s) != 200:
                raise RuntimeError("status")

    def _wire(self):
        if self.w is None:
            self.w = socket.create_connection(("127.0.0.1", self.wire), timeout=10)
            self.w.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.wbuf = bytearray()
            self.w.sendall(resp_cmd("AUTH", self.key))
            if resp_line(self.w, self.wbuf) != b"+OK":
                raise RuntimeError("AUTH")
        return self.w

    def ping(self):
        w = self._wire()
        w.sendall(resp_cmd("PING"))
        if resp_line(w, self.wbuf) != b"+PONG":
            raise RuntimeError("PING")

    def get(self):
        w = self._wire()
        w.sendall(resp_cmd("GET", "bench:parse"))
        if resp_line(w, self.wbuf) != b"probe-value":
            raise RuntimeError("GET")

    def run(self):
        while not self.stop.is_set():
            self._timed("health", self.health)
            self._timed("ping", self.ping)
            self._timed("get", self.get)
            self.stop.wait(self.pause)


def summarize(lat, fail, idle=None):
    out = {}
    for k, v in lat.items():
        p99 = pct(v, 99)
        row = {
            "ok": len(v),
            "failed": fail[k],
            "p50_ms": round(pct(v, 50), 3) if v else None,
            "p99_ms": round(p99, 3) if v else None,
            "max_ms": round(max(v), 3) if v else None,
        }
        if idle and idle.get(k, {}).get("p99_ms") and p99 is not None:
            row["p99_vs_idle"] = round(p99 / idle[k]["p99_ms"], 1)
        out[k] = row
    return out


def run_binary(label, red, a):
    tmp = tempfile.mkdtemp(prefix="reddb-parse-flood-")
    http, wire = free_port(), free_port()
    out = open(os.path.join(tmp, "stdout"), "w+")
    err = open(os.path.join(tmp, "stderr"), "w+")
    cmd = [red, "server", "--dev", "--metrics-loopback", "--path", os.path.join(tmp, "data.rdb"),
           "--http-bind", f"127.0.0.1:{http}", "--wire-bind", f"127.0.0.1:{wire}"]
    server = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                              env={"PATH": "/usr/bin:/bin"})
    result = {"binary": label, "path": red}
    try:
        key = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not key:
            if server.poll() is not None:
                err.seek(0)
                sys.exit(f"{label}: server exited {server.returncode}: {err.read()}")
            out.seek(0)
            m = re.search(r"^api key: (\S+)", out.read(), re.M)
            if m:
                try:
                    with socket.create_connection(("127.0.0.1", http), timeout=2) as s:
                        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        if read_http(s) == 200:
                            key = m.group(1)
                except OSError:
                    pass
            time.sleep(0.05)
        if not key:
            sys.exit(f"{label}: server did not come up in 30 s")
        with socket.create_connection(("127.0.0.1", wire), timeout=10) as s:
            b = bytearray()
            s.sendall(resp_cmd("AUTH", key) + resp_cmd("SET", "bench:parse", "probe-value"))
            assert resp_line(s, b) == b"+OK" and resp_line(s, b) == b"+OK"
        pid = server.pid
        probe = Probe(http, wire, key, a.pause)
        probe.start()
        time.sleep(0.5)
        probe.take()  # warm-up
        cpu0, rss0 = proc_stat(pid)
        time.sleep(a.idle)
        cpu1, _ = proc_stat(pid)
        lat, fail = probe.take()
        idle = summarize(lat, fail)
        result["rss_kib_at_start"] = rss0
        result["phases"] = {"idle": {"probes": idle, "server_cpu_s": round(cpu1 - cpu0, 2)}}
        per = max(1, a.conns // a.procs)
        for phase in ("heads", "inline", "bodies"):
            # A 64 KiB line takes ~7 s at the default pace: give it time to
            # complete (anonymous requests must within 10 s).
            seconds = a.seconds + 2 if phase == "inline" else a.seconds
            stop = mp.Event()
            done = mp.Value("q", 0)
            sent = mp.Value("q", 0)
            procs = []
            for _ in range(a.procs):
                if phase == "bodies":
                    target, args = body_worker, (http, stop, done, sent)
                else:
                    port = http if phase == "heads" else wire
                    target, args = dribble_worker, (phase, port, per, a.pace, stop, done, sent)
                p = mp.Process(target=target, args=args, daemon=True)
                p.start()
                procs.append(p)
            cpu_start, _ = proc_stat(pid)
            peak = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(0.25)
                peak = max(peak, proc_stat(pid)[1])
            cpu_end, _ = proc_stat(pid)
            lat, fail = probe.take()
            stop.set()
            for p in procs:
                p.join(timeout=5)
                if p.is_alive():
                    p.kill()
                    p.join()
            cpu = cpu_end - cpu_start
            result["phases"][phase] = {
                "seconds": seconds,
                "probes": summarize(lat, fail, idle),
                "server_cpu_s": round(cpu, 2),
                "server_cpu_us_per_flood_kib": round(cpu * 1e6 / max(1, sent.value / 1024), 1),
                "flood_requests_answered": done.value,
                "flood_mib_sent": round(sent.value / 1048576, 1),
                "server_peak_rss_kib": peak,
            }
            time.sleep(1.0)  # let the server drop the flood's connections
            probe.take()
        probe.stop.set()
        probe.join(timeout=15)
        result["server_alive_at_end"] = server.poll() is None
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def table(results):
    lines = ["| binary | phase | health p50 / p99 ms (×idle) | PING p99 ms (×idle) | GET p99 ms (×idle) | probes ok / failed | server CPU s (µs per flood KiB) | flood answered | flood MiB |",
             "|---|---|---|---|---|---|---:|---:|---:|"]
    for r in results:
        for name, ph in r["phases"].items():
            pr = ph["probes"]

            def cell(k, both=False):
                v = pr[k]
                if v["p99_ms"] is None:
                    return "—"
                x = f" (×{v['p99_vs_idle']})" if "p99_vs_idle" in v else ""
                return (f"{v['p50_ms']} / {v['p99_ms']}{x}" if both else f"{v['p99_ms']}{x}")
            ok = sum(v["ok"] for v in pr.values())
            failed = sum(v["failed"] for v in pr.values())
            lines.append(
                f"| {r['binary']} | {name} | {cell('health', True)} | {cell('ping')} | {cell('get')} | "
                f"{ok} / {failed} | {ph['server_cpu_s']}"
                + (f" ({ph['server_cpu_us_per_flood_kib']})" if "server_cpu_us_per_flood_kib" in ph else "")
                + f" | {ph.get('flood_requests_answered', '')} | "
                f"{ph.get('flood_mib_sent', '')} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--red", required=True, help="the binary under test")
    ap.add_argument("--baseline-red", help="a binary to measure first, side by side")
    ap.add_argument("--seconds", type=float, default=6.0,
                    help="length of the heads and bodies floods (inline: 2 s more)")
    ap.add_argument("--idle", type=float, default=3.0, help="length of the idle phase")
    ap.add_argument("--conns", type=int, default=16, help="dribbling connections per phase")
    ap.add_argument("--procs", type=int, default=4, help="flooder processes per phase")
    ap.add_argument("--pace", type=float, default=0.00002,
                    help="sleep after each round of one-byte writes (0: as fast as possible)")
    ap.add_argument("--pause", type=float, default=0.01, help="between probe rounds")
    a = ap.parse_args()
    runs = []
    if a.baseline_red:
        runs.append(("baseline", a.baseline_red))
    runs.append(("this build", a.red))
    results = [run_binary(label, red, a) for label, red in runs]
    print(json.dumps(results, indent=2))
    print()
    print(table(results))


if __name__ == "__main__":
    main()
