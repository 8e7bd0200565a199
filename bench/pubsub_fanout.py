"""PUBLISH fan-out, redis-server and red side by side (a script for
humans, not a test; bench/pubsub_fanout.sh builds red and runs this).

For each server: SUBSCRIBERS raw-socket subscribers on one channel (read
by one selector thread), one publisher sending MESSAGES `PUBLISH`es of
SIZE bytes, pipelined in batches of BATCH; the clock runs from the first
publish to the last message read by the last subscriber. Prints a
Markdown table: messages delivered per second and red / redis.

Every server started here is stopped on exit; every wait is bounded.
"""

import argparse
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

DEADLINE = 300.0


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect(port, password):
    deadline = time.monotonic() + 30
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    s.sendall(enc("AUTH", password))
    reply = s.recv(100)
    if not reply.startswith(b"+OK"):
        raise RuntimeError(f"AUTH on {port}: {reply!r}")
    return s


def read_until(s, marker, limit=1 << 20):
    buf = b""
    while marker not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("closed")
        buf += chunk
        if len(buf) > limit:
            raise RuntimeError("no marker")
    return buf


def run_one(port, password, subscribers, messages, size, batch):
    subs = []
    for _ in range(subscribers):
        s = connect(port, password)
        s.sendall(enc("SUBSCRIBE", "fanout"))
        read_until(s, b"fanout\r\n:1\r\n")
        s.setblocking(False)
        subs.append(s)
    payload = b"m" * size
    marker = b"$7\r\nmessage\r\n$6\r\nfanout\r\n"
    expected = messages
    counts = {id(s): 0 for s in subs}
    tails = {id(s): b"" for s in subs}
    done = threading.Event()
    finished_at = [0.0]

    def reader():
        sel = selectors.DefaultSelector()
        for s in subs:
            sel.register(s, selectors.EVENT_READ)
        remaining = len(subs)
        deadline = time.monotonic() + DEADLINE
        while remaining and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1.0):
                s = key.fileobj
                try:
                    data = s.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not data:
                    raise RuntimeError("a subscriber was disconnected")
                text = tails[id(s)] + data
                counts[id(s)] += text.count(marker)
                tails[id(s)] = text[-(len(marker) - 1):]
                if counts[id(s)] >= expected:
                    sel.unregister(s)
                    remaining -= 1
        finished_at[0] = time.monotonic()
        done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    pub = connect(port, password)
    command = enc("PUBLISH", "fanout", payload)
    started = time.monotonic()
    sent = 0
    while sent < messages:
        n = min(batch, messages - sent)
        pub.sendall(command * n)
        got = 0
        buf = b""
        while got < n:
            buf += pub.recv(65536)
            got = buf.count(b"\r\n")
        sent += n
    if not done.wait(DEADLINE):
        raise RuntimeError("the subscribers did not get every message in time")
    elapsed = finished_at[0] - started
    for s in subs + [pub]:
        s.close()
    delivered = sum(counts.values())
    return delivered / elapsed, elapsed, delivered


def start_redis(work, password):
    port = free_port()
    p = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--requirepass", password, "--dir", work],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return p, port


def start_red(red, work):
    port, http = free_port(), free_port()
    out = open(os.path.join(work, "red.out"), "w+")
    p = subprocess.Popen(
        [red, "server", "--path", os.path.join(work, "data.rdb"), "--dev",
         "--http-bind", f"127.0.0.1:{http}", "--wire-bind", f"127.0.0.1:{port}"],
        stdout=out, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    key = None
    while key is None and time.monotonic() < deadline:
        out.seek(0)
        for line in out.read().splitlines():
            if line.startswith("api key: "):
                key = line.split(": ", 1)[1].strip()
        time.sleep(0.1)
    if key is None:
        p.kill()
        raise RuntimeError("red printed no api key")
    return p, port, key


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--red", required=True)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=100)
    a = ap.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("missing redis-server (apt install redis-server)")
    work = tempfile.mkdtemp(prefix="reddb-fanout.")
    procs = []
    try:
        password = os.urandom(12).hex()
        rp, rport = start_redis(work, password)
        procs.append(rp)
        dp, dport, key = start_red(a.red, work)
        procs.append(dp)
        results = {}
        for name, port, pw in (("redis", rport, password), ("red", dport, key)):
            rate, elapsed, delivered = run_one(port, pw, a.subscribers, a.messages, a.size, a.batch)
            results[name] = rate
            print(f"{name}: {delivered} messages in {elapsed:.2f} s", file=sys.stderr)
        print(f"PUBLISH fan-out: {a.subscribers} subscribers, {a.messages} messages of "
              f"{a.size} bytes, pipelined by {a.batch}\n")
        print("| server | messages delivered/s |")
        print("|---|---:|")
        print(f"| redis-server 7.0.15 (no persistence) | {results['redis']:,.0f} |")
        print(f"| red (fsync always) | {results['red']:,.0f} |")
        print(f"| red / redis | {results['red'] / results['redis']:.2f} |")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
