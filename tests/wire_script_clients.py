#!/usr/bin/env python3
"""Libraries that run Lua scripts, against a running reddb wire listener
(run by tests/wire_script_clients.rs):

  python3 tests/wire_script_clients.py --port P --password API_KEY

- redis-py's Lock (EVALSHA of its scripts, EVAL after NOSCRIPT): acquire,
  a second owner refused while held, extend, release, a release by
  another owner refused with LockNotOwnedError, release after expiry
  refused; RESP2 and RESP3.
- the `limits` library with its redis storage (URL
  redis://default:KEY@127.0.0.1:PORT): fixed window and moving window hit
  until refused, the window statistics, then reset (clear) and expiry.

Exits non-zero on the first failure.
"""

import argparse
import sys
import time

import redis
from redis.exceptions import LockError, LockNotOwnedError


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def lock_steps(r, name):
    r.script_flush()
    lock = r.lock(name, timeout=5)
    check(lock.acquire(blocking=False) is True, "acquire")
    check(lock.locked() and lock.owned(), "locked and owned")
    rival = r.lock(name, timeout=5)
    check(rival.acquire(blocking=False) is False, "a second owner is refused while held")
    check(lock.extend(10) is True, "extend")
    check(8000 < r.pttl(name) <= 15000, "extend added time: %r" % r.pttl(name))
    check(lock.reacquire() is True, "reacquire")
    # Another owner (another token) may not release it.
    thief = r.lock(name, timeout=5)
    thief.local.token = b"not-the-owner" if not r.get_connection_kwargs().get(
        "decode_responses") else "not-the-owner"
    try:
        thief.release()
        raise AssertionError("release by another owner was accepted")
    except LockNotOwnedError:
        pass
    check(lock.owned(), "still owned after the refused release")
    lock.release()
    check(r.get(name) is None, "released")
    check(rival.acquire(blocking=False) is True, "free again for another owner")
    rival.release()
    # A lock that expired cannot be released or extended.
    short = r.lock(name, timeout=0.2)
    check(short.acquire(blocking=False), "acquire a short lock")
    time.sleep(0.4)
    try:
        short.release()
        raise AssertionError("release after expiry was accepted")
    except LockNotOwnedError:
        pass
    try:
        short.extend(1)
        raise AssertionError("extend after expiry was accepted")
    except LockError:
        pass
    # The context-manager form.
    with r.lock(name, timeout=5, blocking_timeout=2):
        check(r.get(name) is not None, "held inside with")
    check(r.get(name) is None, "released by with")


def locks(port, password):
    for protocol in (2, 3):
        for decode in (False, True):
            r = redis.Redis(host="127.0.0.1", port=port, password=password,
                            protocol=protocol, decode_responses=decode, socket_timeout=30)
            lock_steps(r, "py:lock:%d:%s" % (protocol, decode))
    print("redis-py Lock ok")


def rate_limits(port, password):
    from limits import RateLimitItemPerSecond, RateLimitItemPerMinute
    from limits.storage import storage_from_string
    from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

    storage = storage_from_string("redis://default:%s@127.0.0.1:%d" % (password, port))
    check(storage.check(), "storage check (PING)")
    for name, strategy in (("fixed", FixedWindowRateLimiter), ("moving", MovingWindowRateLimiter)):
        limiter = strategy(storage)
        per_minute = RateLimitItemPerMinute(5)
        for i in range(5):
            check(limiter.hit(per_minute, name, "client-a"), "%s hit %d allowed" % (name, i + 1))
        check(not limiter.hit(per_minute, name, "client-a"), "%s 6th hit refused" % name)
        check(not limiter.test(per_minute, name, "client-a"), "%s test says refused" % name)
        check(limiter.hit(per_minute, name, "client-b"), "%s another client is counted apart" % name)
        stats = limiter.get_window_stats(per_minute, name, "client-a")
        check(stats.remaining == 0, "%s stats: %r" % (name, stats))
        check(stats.reset_time > time.time(), "%s reset time ahead: %r" % (name, stats))
        limiter.clear(per_minute, name, "client-a")
        check(limiter.hit(per_minute, name, "client-a"), "%s allowed again after clear" % name)
        # Expiry: a two-per-second window refuses the third hit, then
        # lets hits through once the second has passed.
        per_second = RateLimitItemPerSecond(2)
        check(limiter.hit(per_second, name, "fast"), "%s 1/2 per second" % name)
        check(limiter.hit(per_second, name, "fast"), "%s 2/2 per second" % name)
        check(not limiter.hit(per_second, name, "fast"), "%s 3rd in the second refused" % name)
        time.sleep(1.2)
        check(limiter.hit(per_second, name, "fast"), "%s allowed after the window passed" % name)
        # A weighted hit (cost) counts as many.
        check(limiter.hit(per_minute, name, "heavy", cost=5), "%s cost 5 fits" % name)
        check(not limiter.hit(per_minute, name, "heavy"), "%s then full" % name)
    storage.reset()
    print("limits ok")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--password", required=True)
    a = p.parse_args()
    locks(a.port, a.password)
    rate_limits(a.port, a.password)
    print("all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
