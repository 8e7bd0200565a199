#!/usr/bin/env python3
"""Login-flood bench for `red server` (standard library only).

Run through bench/login_flood.sh, which builds the release binary first.
Measures the latency of `GET /secrets/<key>` (sequential, one keep-alive
connection) alone and while N concurrent clients send wrong-password
`POST /auth/login` requests, and prints p50/p99 and the ratio.

The flood runs in a separate process so the measuring client does not share
a Python interpreter lock with 200 flooding threads. Every socket has a
timeout, every phase has a deadline, and the server is killed on exit.
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

IO_TIMEOUT = 15.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Conn:
    """A minimal keep-alive HTTP/1.1 client over one socket."""

    def __init__(self, port, source=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(IO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def request(self, method, path, body=None, bearer=None):
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if bearer:
            head += f"Authorization: Bearer {bearer}\r\n"
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + data)
        return self.read_response()

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by server")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        length = 0
        closing = False
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
            if k.strip().lower() == "connection" and v.strip().lower() == "close":
                closing = True
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside a body")
            rest += chunk
        body, self.buf = rest[:length], rest[length:]
        return status, body, closing


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values))) - 1))
    return sorted_values[i]


def measure(port, key, requests, max_seconds, min_seconds=0.0):
    """Sequential GETs on one keep-alive connection; latencies in ms. Runs
    at least `requests` GETs and `min_seconds`, at most `max_seconds`."""
    c = Conn(port)
    lat = []
    errors = 0
    started = time.monotonic()
    deadline = started + max_seconds
    path = "/secrets/red.secret.bench.key"
    try:
        while len(lat) < requests or time.monotonic() - started < min_seconds:
            if time.monotonic() > deadline:
                break
            t0 = time.perf_counter_ns()
            status, body, _ = c.request("GET", path, bearer=key)
            lat.append((time.perf_counter_ns() - t0) / 1e6)
            if status != 200:
                errors += 1
    finally:
        c.close()
    lat.sort()
    return {
        "n": len(lat),
        "errors": errors,
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "max": lat[-1] if lat else float("nan"),
    }


def flood_worker(args):
    """Runs in a child process: `threads` clients send wrong-password logins
    until stdin closes or `seconds` pass, then prints status counts as JSON."""
    stop = threading.Event()
    counts = {}  # status -> count, shared by all clients
    lock = threading.Lock()

    def watch_stdin():
        try:
            sys.stdin.read()
        finally:
            stop.set()

    def count(key):
        with lock:
            counts[key] = counts.get(key, 0) + 1

    def client(i):
        source = "127.0.0.1" if args.same_peer else f"127.77.{i // 250}.{i % 250 + 1}"
        n = 0
        conn = None
        while not stop.is_set():
            try:
                if conn is None:
                    conn = Conn(args.port, source)
                n += 1
                status, _, closing = conn.request(
                    "POST",
                    "/auth/login",
                    body={"username": f"flood{i}x{n}", "password": "wrong-password"},
                )
                count(str(status))
                if closing:
                    conn.close()
                    conn = None
            except (OSError, ConnectionError, ValueError, IndexError):
                count("io_error")
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
        if conn is not None:
            conn.close()

    threading.Thread(target=watch_stdin, daemon=True).start()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.threads)]
    started = time.monotonic()
    for t in threads:
        t.start()
    stop.wait(args.seconds)
    stop.set()
    elapsed = time.monotonic() - started
    # Clients blocked on a queued login are abandoned (daemon threads).
    deadline = time.monotonic() + 3
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    with lock:
        snapshot = dict(counts)
    snapshot["unfinished_clients"] = sum(1 for t in threads if t.is_alive())
    print(json.dumps({"seconds": elapsed, "counts": snapshot}), flush=True)
    os._exit(0)


def drain(port, timeout):
    """Waits until a login is no longer refused as busy (the Argon2 queue
    left by a flood has drained), so phases do not bleed into each other."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n += 1
        try:
            c = Conn(port, "127.78.0.1")
            status, _, _ = c.request("POST", "/auth/login",
                                     body={"username": f"drain{n}", "password": "wrong-password"})
            c.close()
            if status != 503:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def start_flood(script, port, threads, seconds, same_peer):
    cmd = [sys.executable, script, "--flood-worker", "--port", str(port),
           "--threads", str(threads), "--seconds", str(seconds)]
    if same_peer:
        cmd.append("--same-peer")
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def stop_flood(proc):
    # communicate() closes the worker's stdin: that is its signal to stop.
    try:
        out, _ = proc.communicate(timeout=IO_TIMEOUT + 10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"seconds": float("nan"), "counts": {"unparsed": out}}


def wait_healthy(port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"red server exited with {proc.returncode}")
        try:
            c = Conn(port)
            status, _, _ = c.request("GET", "/health")
            c.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("red server did not answer /health in time")


def renice_workers(pid, niceness):
    """Experiment knob: lowers the priority of the server's Argon2 worker
    threads (named red-worker-N) to show how much of the tail latency is
    CPU contention between them and the event loop."""
    done = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().startswith("red-worker"):
                    os.setpriority(os.PRIO_PROCESS, int(tid), niceness)
                    done.append(int(tid))
        except OSError:
            pass
    return done


def fmt(m):
    return (f"n={m['n']:5d}  p50={m['p50']:8.3f} ms  p99={m['p99']:8.3f} ms  "
            f"max={m['max']:8.3f} ms  non-200={m['errors']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--red", default="target/release/red")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=200)
    ap.add_argument("--max-seconds", type=float, default=30.0,
                    help="cap on each measured phase")
    ap.add_argument("--min-seconds", type=float, default=8.0,
                    help="measure at least this long under each flood")
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="seconds of flood before measuring")
    ap.add_argument("--server-workers", type=int, metavar="N",
                    help="pass --workers N to red server (Argon2 threads)")
    ap.add_argument("--renice-workers", type=int, metavar="NICE",
                    help="experiment: run the server's Argon2 worker threads at this niceness")
    ap.add_argument("--flood-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--same-peer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=40.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.flood_worker:
        flood_worker(args)
        return
    args.threads = max(1, min(args.threads, 1000))
    args.max_seconds = max(1.0, min(args.max_seconds, 40.0))
    args.min_seconds = max(0.0, min(args.min_seconds, args.max_seconds))

    tmp = tempfile.mkdtemp(prefix="reddb-flood-")
    port = free_port()
    log = open(os.path.join(tmp, "server.stderr"), "wb")
    server = subprocess.Popen(
        [args.red, "server", "--path", os.path.join(tmp, "data.rdb"),
         "--http-bind", f"127.0.0.1:{port}", "--wire-bind", f"127.0.0.1:{free_port()}"]
        + (["--workers", str(args.server_workers)] if args.server_workers else []),
        env={}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    bench_started = time.monotonic()
    try:
        wait_healthy(port, server, 30)
        if args.renice_workers is not None:
            tids = renice_workers(server.pid, args.renice_workers)
            print(f"reniced {len(tids)} Argon2 worker threads to {args.renice_workers}")
        c = Conn(port)
        status, body, _ = c.request("POST", "/auth/bootstrap",
                                    body={"username": "admin", "password": "change-me-now"})
        if status != 200:
            raise SystemExit(f"bootstrap failed: {status} {body!r}")
        key = json.loads(body)["api_key"]
        status, body, _ = c.request("POST", "/secrets/red.secret.bench.key",
                                    body={"value": "sk_live_bench"}, bearer=key)
        if status != 200:
            raise SystemExit(f"put failed: {status} {body!r}")
        c.close()
        workers = os.cpu_count()
        print(f"red server {args.red} on 127.0.0.1:{port}; {workers} CPUs; "
              f"at least {args.requests} sequential keep-alive GETs per phase "
              f"(under flood: at least {args.min_seconds:.0f} s, at most {args.max_seconds:.0f} s)")

        measure(port, key, 200, 5)  # warm-up
        alone = measure(port, key, args.requests, args.max_seconds)
        print(f"alone:                                   {fmt(alone)}")

        results = {}
        for label, same_peer in (("spread", False), ("one peer", True)):
            flood = start_flood(os.path.abspath(__file__), port, args.threads,
                                args.max_seconds + args.warmup + 5, same_peer)
            try:
                time.sleep(args.warmup)
                m = measure(port, key, args.requests, args.max_seconds, args.min_seconds)
            finally:
                stats = stop_flood(flood)
            results[label] = (m, stats)
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(stats["counts"].items()))
            where = ("200 addresses 127.77.0.x" if not same_peer else "one address 127.0.0.1")
            print(f"flood ({args.threads} clients, {where}):")
            print(f"  secret reads:                          {fmt(m)}")
            print(f"  login statuses in {stats['seconds']:.1f} s: {counts}")
            if not drain(port, 30):
                print("  (the login queue did not drain within 30 s)")

        print("ratio (under flood / alone):")
        for label, (m, _) in results.items():
            r50 = m["p50"] / alone["p50"] if alone["p50"] else float("nan")
            r99 = m["p99"] / alone["p99"] if alone["p99"] else float("nan")
            print(f"  {label:9s} p50 x{r50:7.2f}   p99 x{r99:7.2f}")
        print(f"total bench time {time.monotonic() - bench_started:.1f} s")
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()
        print(f"server exit code {server.returncode}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
