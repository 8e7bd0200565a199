#!/usr/bin/env python3
"""Login-flood bench for `red server` (standard library only).

Run through bench/login_flood.sh, which builds the release binary first.
Measures the latency of `GET /secrets/<key>` (sequential, one keep-alive
connection) alone and while N concurrent clients send wrong-password
`POST /auth/login` requests, and prints p50/p99 and the ratio.

The flood runs in a separate process so the measuring client does not share
a Python interpreter lock with 200 flooding threads. Every socket has a
timeout, every phase has a deadline, every flood client a cap on its
requests, and the server is killed on exit.

CPU pinning (default on when this process may run on at least 2 CPUs): the
server runs under `taskset -c SERVER_CPU`, the flood process under
`taskset -c CLIENT_CPU`, and this process -- the measuring reader -- pins
itself to READER_CPU (default: CLIENT_CPU) with the same system call
(`os.sched_setaffinity`). So the load generator never takes the server's
core, and the figure measures the server: the server's event loop and its
Argon2 worker threads share SERVER_CPU, as on a one-core machine. The reader
sits with the generator because it is a client too: on the server's core it
would steal the loop's time and would measure its own scheduling. On the
client core the flood process runs at niceness 19 (`--flood-nice`), so the
reader (niceness 0) is not queued behind 200 flood threads when its reply
arrives. What delay the reader still gets from its own core is measured
separately ("client jitter": short sleeps and their overshoot, no request)
in each phase, and the share of the server's CPU that other processes took
during each phase is printed, so a noisy run shows as one.
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


def cpu_ticks(cpu):
    """Busy and total clock ticks of one CPU so far (from /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] == f"cpu{cpu}":
                    v = [int(x) for x in parts[1:9]]
                    return sum(v) - v[3] - v[4], sum(v)
    except (OSError, ValueError):
        pass
    return None


def proc_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


class CpuShare:
    """What share of the server's CPU the server and everything else used
    between start() and stop() (only meaningful when the server is pinned)."""

    def __init__(self, cpu, pid):
        self.cpu, self.pid = cpu, pid
        self.a = self.p = None

    def start(self):
        if self.cpu is not None:
            self.a, self.p = cpu_ticks(self.cpu), proc_ticks(self.pid)
        return self

    def stop(self):
        if self.cpu is None or self.a is None or self.p is None:
            return ""
        b, q = cpu_ticks(self.cpu), proc_ticks(self.pid)
        if b is None or q is None or b[1] <= self.a[1]:
            return ""
        total = b[1] - self.a[1]
        server = 100.0 * (q - self.p) / total
        busy = 100.0 * (b[0] - self.a[0]) / total
        return (f"CPU {self.cpu}: server {server:.0f}%, "
                f"other processes {max(0.0, busy - server):.0f}%")


def client_jitter(seconds, sleep_s=0.0002):
    """How late this process wakes up on its own core: sleeps `sleep_s`
    repeatedly for `seconds` and returns the overshoot percentiles (ms).
    Bounded in time and count."""
    over = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(over) < 100000:
        t0 = time.perf_counter_ns()
        time.sleep(sleep_s)
        over.append(max(0.0, (time.perf_counter_ns() - t0) / 1e6 - sleep_s * 1e3))
    over.sort()
    return {"n": len(over), "p50": percentile(over, 50), "p99": percentile(over, 99),
            "max": over[-1] if over else float("nan")}


def flood_worker(args):
    """Runs in a child process: `threads` clients send wrong-password logins
    until stdin closes or `seconds` pass, then prints status counts as JSON."""
    if args.flood_nice:
        # Before any thread starts: Linux threads inherit their creator's.
        os.setpriority(os.PRIO_PROCESS, 0, args.flood_nice)
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
        while not stop.is_set() and n < args.max_logins_per_client:
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


def start_flood(script, port, threads, seconds, same_peer, max_logins, pin, nice):
    cmd = pin + [sys.executable, script, "--flood-worker", "--port", str(port),
                 "--threads", str(threads), "--seconds", str(seconds),
                 "--max-logins-per-client", str(max_logins), "--flood-nice", str(nice)]
    if same_peer:
        cmd.append("--same-peer")
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def plan_pinning(args):
    """Decides the CPUs: returns (server taskset prefix, flood taskset
    prefix, reader CPU or None, server CPU or None, description)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = list(range(os.cpu_count() or 1))
    if args.no_pin or len(allowed) < 2 or shutil.which("taskset") is None:
        why = ("--no-pin" if args.no_pin else
               f"only {len(allowed)} CPU(s) allowed" if len(allowed) < 2 else "no taskset")
        return [], [], None, None, f"not pinned ({why})"
    server = args.server_cpu if args.server_cpu is not None else allowed[0]
    client = args.client_cpu if args.client_cpu is not None else \
        next(c for c in allowed if c != server)
    reader = args.reader_cpu if args.reader_cpu is not None else client
    for name, cpu in (("--server-cpu", server), ("--client-cpu", client), ("--reader-cpu", reader)):
        if cpu not in allowed:
            raise SystemExit(f"{name} {cpu} is not one of the allowed CPUs {allowed}")
    if server == client:
        raise SystemExit("--server-cpu and --client-cpu must differ")
    desc = (f"pinned: server (event loop and Argon2 workers) on CPU {server}, "
            f"flood clients on CPU {client}, measuring reader on CPU {reader} "
            f"(of allowed CPUs {allowed})")
    return (["taskset", "-c", str(server)], ["taskset", "-c", str(client)], reader, server,
            desc)


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
    """Experiment knob: puts the server's Argon2 worker threads (named
    red-worker-N) in SCHED_OTHER at this niceness, to show how much of the
    tail latency is CPU contention between them and the event loop. The
    server starts them in SCHED_IDLE at niceness 19; `--renice-workers 0`
    (needs CAP_SYS_NICE, i.e. root) puts them level with the loop, as
    before that change."""
    done = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().startswith("red-worker"):
                    os.sched_setscheduler(int(tid), os.SCHED_OTHER, os.sched_param(0))
                    os.setpriority(os.PRIO_PROCESS, int(tid), niceness)
                    done.append(int(tid))
        except OSError:
            pass
    return done


def fmt(m):
    return (f"n={m['n']:5d}  p50={m['p50']:8.3f} ms  p99={m['p99']:8.3f} ms  "
            f"max={m['max']:8.3f} ms  non-200={m['errors']}")


def fmt_jitter(j):
    return (f"n={j['n']:5d}  p50={j['p50']:8.3f} ms  p99={j['p99']:8.3f} ms  "
            f"max={j['max']:8.3f} ms  (sleep overshoot, no request)")


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
                    help="experiment: run the server's Argon2 worker threads in SCHED_OTHER at "
                         "this niceness (the server's own: SCHED_IDLE; needs root)")
    ap.add_argument("--server-cpu", type=int, metavar="CPU",
                    help="CPU for the server (default: the first allowed CPU)")
    ap.add_argument("--client-cpu", type=int, metavar="CPU",
                    help="CPU for the flood clients (default: the next allowed CPU)")
    ap.add_argument("--reader-cpu", type=int, metavar="CPU",
                    help="CPU for the measuring reader (default: --client-cpu)")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin (the default pins when at least 2 CPUs are allowed)")
    ap.add_argument("--flood-nice", type=int, default=19,
                    help="niceness of the flood process (0: as the reader)")
    ap.add_argument("--jitter-seconds", type=float, default=1.0,
                    help="seconds of client-jitter probe per phase (0: none)")
    ap.add_argument("--max-logins-per-client", type=int, default=50000,
                    help="cap on each flood client's requests")
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
    args.jitter_seconds = max(0.0, min(args.jitter_seconds, 5.0))
    args.max_logins_per_client = max(1, min(args.max_logins_per_client, 1000000))
    server_pin, flood_pin, reader_cpu, server_cpu, pin_desc = plan_pinning(args)
    print(pin_desc, flush=True)
    if reader_cpu is not None:
        os.sched_setaffinity(0, {reader_cpu})

    tmp = tempfile.mkdtemp(prefix="reddb-flood-")
    port = free_port()
    log = open(os.path.join(tmp, "server.stderr"), "wb")
    server = subprocess.Popen(
        server_pin + [args.red, "server", "--path", os.path.join(tmp, "data.rdb"),
         "--http-bind", f"127.0.0.1:{port}", "--wire-bind", f"127.0.0.1:{free_port()}"]
        + (["--workers", str(args.server_workers)] if args.server_workers else []),
        env={}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    bench_started = time.monotonic()
    try:
        wait_healthy(port, server, 30)
        if args.renice_workers is not None:
            tids = renice_workers(server.pid, args.renice_workers)
            print(f"experiment: {len(tids)} Argon2 worker threads put in SCHED_OTHER at "
                  f"niceness {args.renice_workers}")
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
        share = CpuShare(server_cpu, server.pid).start()
        alone = measure(port, key, args.requests, args.max_seconds)
        print(f"alone:                                   {fmt(alone)}")
        print(f"  {share.stop()}")
        if args.jitter_seconds:
            print(f"  client jitter:                         "
                  f"{fmt_jitter(client_jitter(args.jitter_seconds))}")

        results = {}
        for label, same_peer in (("spread", False), ("one peer", True)):
            flood = start_flood(os.path.abspath(__file__), port, args.threads,
                                args.max_seconds + args.warmup + args.jitter_seconds + 5,
                                same_peer, args.max_logins_per_client, flood_pin,
                                args.flood_nice)
            jitter = None
            try:
                time.sleep(args.warmup)
                share = CpuShare(server_cpu, server.pid).start()
                m = measure(port, key, args.requests, args.max_seconds, args.min_seconds)
                cpu = share.stop()
                if args.jitter_seconds:
                    jitter = client_jitter(args.jitter_seconds)
            finally:
                stats = stop_flood(flood)
            results[label] = (m, stats)
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(stats["counts"].items()))
            where = ("200 addresses 127.77.0.x" if not same_peer else "one address 127.0.0.1")
            print(f"flood ({args.threads} clients, {where}):")
            print(f"  secret reads:                          {fmt(m)}")
            if cpu:
                print(f"  {cpu}")
            if jitter:
                print(f"  client jitter:                         {fmt_jitter(jitter)}")
            print(f"  login statuses in {stats['seconds']:.1f} s: {counts}")
            if not drain(port, 30):
                print("  (the login queue did not drain within 30 s)")

        print("ratio (under flood / alone):")
        for label, (m, _) in results.items():
            r50 = m["p50"] / alone["p50"] if alone["p50"] else float("nan")
            r99 = m["p99"] / alone["p99"] if alone["p99"] else float("nan")
            rmax = m["max"] / alone["max"] if alone["max"] else float("nan")
            print(f"  {label:9s} p50 x{r50:7.2f}   p99 x{r99:7.2f}   max x{rmax:7.2f}")
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
