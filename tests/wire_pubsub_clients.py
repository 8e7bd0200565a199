"""Pub/sub through real Python clients, unchanged, pointed at red by URL:
redis-py's PubSub (get_message, listen in a thread, psubscribe, RESP3
pushes), keyspace notifications received through it, and rq enqueueing a
job that a Worker (which uses pub/sub and lists) runs. rq is pinned to
1.11.1 (`.ci/run`), the last release that keeps job results in the job's
hash: later ones write them to a stream (`XADD`), which reddb does not
have.

Run by tests/wire_pubsub_clients.rs:
  python3 tests/wire_pubsub_clients.py --url redis://:KEY@127.0.0.1:PORT/0 [--rq]
Exits non-zero on the first failed check.
"""

import argparse
import sys
import threading
import time

import redis

WAIT = 10.0


def check(cond, what):
    if not cond:
        print("FAIL:", what, flush=True)
        sys.exit(1)


def next_message(p, kinds=("message", "pmessage")):
    """The next message of one of `kinds` within WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.5)
        if m is not None and m["type"] in kinds:
            return m
    return None


def listener(url):
    r = redis.Redis.from_url(url, decode_responses=True)
    p = r.pubsub()
    p.subscribe("news", "sport")
    confirmations = [next_message(p, ("subscribe",)) for _ in range(2)]
    check(
        [(c["channel"], c["data"]) for c in confirmations] == [("news", 1), ("sport", 2)],
        f"subscribe confirmations: {confirmations}",
    )
    check(r.publish("news", "hello") == 1, "publish counts one receiver")
    m = next_message(p)
    check(m is not None and (m["channel"], m["data"]) == ("news", "hello"), f"message: {m}")
    check(r.pubsub_numsub("news", "none") == [("news", 1), ("none", 0)], "NUMSUB")
    check(sorted(r.pubsub_channels()) == ["news", "sport"], f"CHANNELS {r.pubsub_channels()}")
    p.psubscribe("user.*")
    check(next_message(p, ("psubscribe",))["channel"] == "user.*", "psubscribe confirmed")
    check(r.pubsub_numpat() == 1, "NUMPAT")
    r.publish("user.42", "login")
    m = next_message(p)
    check(
        m is not None and (m["type"], m["pattern"], m["channel"], m["data"])
        == ("pmessage", "user.*", "user.42", "login"),
        f"pmessage: {m}",
    )
    p.unsubscribe("sport")
    next_message(p, ("unsubscribe",))
    check(r.publish("sport", "x") == 0, "unsubscribed channel")
    # A handler called by a listening thread (the pattern most apps use).
    got = []
    done = threading.Event()

    def handler(message):
        got.append(message["data"])
        if len(got) == 3:
            done.set()

    p2 = r.pubsub(ignore_subscribe_messages=True)
    p2.subscribe(**{"jobs": handler})
    worker = p2.run_in_thread(sleep_time=0.05, daemon=True)
    deadline = time.monotonic() + WAIT
    while r.pubsub_numsub("jobs")[0][1] != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    for i in range(3):
        r.publish("jobs", f"job-{i}")
    check(done.wait(WAIT), f"the thread's handler got {got}")
    check(got == ["job-0", "job-1", "job-2"], f"in order: {got}")
    worker.stop()
    worker.join(timeout=WAIT)
    p.close()
    p2.close()
    print("ok listener", flush=True)


def keyspace_notifications(url):
    r = redis.Redis.from_url(url, decode_responses=True)
    r.config_set("notify-keyspace-events", "KEA")
    check(r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}, "CONFIG GET")
    p = r.pubsub(ignore_subscribe_messages=True)
    p.psubscribe("__keyspace@0__:ks:*")
    next_message(p, ("psubscribe",))
    r.set("ks:a", "1")
    r.expire("ks:a", 100)
    r.rpush("ks:list", "x")
    r.delete("ks:a")
    events = []
    for _ in range(4):
        m = next_message(p)
        check(m is not None, f"an event after {events}")
        events.append((m["channel"], m["data"]))
    check(
        events
        == [
            ("__keyspace@0__:ks:a", "set"),
            ("__keyspace@0__:ks:a", "expire"),
            ("__keyspace@0__:ks:list", "rpush"),
            ("__keyspace@0__:ks:a", "del"),
        ],
        f"events: {events}",
    )
    r.set("ks:short", "v", px=50)
    for event in ("set", "expire"):
        m = next_message(p)
        check(m is not None and (m["channel"], m["data"]) == ("__keyspace@0__:ks:short", event), f"{m}")
    m = next_message(p)
    check(
        m is not None and (m["channel"], m["data"]) == ("__keyspace@0__:ks:short", "expired"),
        f"expired: {m}",
    )
    r.config_set("notify-keyspace-events", "")
    p.close()
    print("ok keyspace notifications", flush=True)


def resp3_pushes(url):
    r = redis.Redis.from_url(url, decode_responses=True, protocol=3)
    p = r.pubsub()
    p.subscribe("r3")
    check(next_message(p, ("subscribe",))["channel"] == "r3", "RESP3 subscribe confirmed")
    check(r.publish("r3", "pushed") == 1, "RESP3 publish")
    m = next_message(p)
    check(m is not None and m["data"] == "pushed", f"RESP3 push message: {m}")
    p.close()
    print("ok resp3", flush=True)


def rq_job(url):
    from rq import Queue, Worker

    conn = redis.Redis.from_url(url)
    q = Queue("reddb-test", connection=conn)
    job = q.enqueue("operator.add", 2, 3)
    check(job.get_status() == "queued", f"queued: {job.get_status()}")
    w = Worker([q], connection=conn)
    w.work(burst=True)
    job.refresh()
    check(job.get_status() == "finished", f"finished: {job.get_status()} {job.exc_info}")
    check(not conn.exists("rq:pubsub:" + w.name), "the worker's channel is a channel, not a key")
    check(job.result == 5, f"result: {job.result}")
    print("ok rq", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--rq", action="store_true")
    a = ap.parse_args()
    if a.rq:
        rq_job(a.url)
        return
    listener(a.url)
    keyspace_notifications(a.url)
    resp3_pushes(a.url)


if __name__ == "__main__":
    main()
