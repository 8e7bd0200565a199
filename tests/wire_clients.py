#!/usr/bin/env python3
"""redis-py against a running reddb wire listener, used exactly as the
seed documents use Redis (run by tests/wire_clients.rs).

  python3 tests/wire_clients.py --port P --password API_KEY --admin-password PW

Checks: a plain connection with a password, redis.from_url with the
password in the URL, a 50-connection pool shared by 50 threads, pipelines
with and without transaction=True, decode_responses=True, RESP3, the list
family with a BLPOP woken by another client's push, a
username/password login, and the OAuth key patterns of the seed (TTLs,
user token sets, SCAN MATCH), and each data family's commands (sorted sets
included) as redis-py calls them. Exits non-zero on the first failure.
"""

import argparse
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import redis


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def plain(port, password):
    r = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=30)
    check(r.ping() is True, "PING")
    check(r.set("py:k", b"v\x00\xff") is True, "SET")
    check(r.get("py:k") == b"v\x00\xff", "GET binary")
    check(r.get("py:missing") is None, "GET missing")
    check(r.set("py:k", "w", nx=True) is None, "SET NX on an existing key")
    check(r.set("py:ttl", "v", ex=100) is True, "SET EX")
    check(80 <= r.ttl("py:ttl") <= 100, "TTL")
    check(r.expire("py:k", 50) is True, "EXPIRE")
    check(r.persist("py:k") is True, "PERSIST")
    check(r.incr("py:n") == 1 and r.incrby("py:n", 5) == 6, "INCR/INCRBY")
    check(r.decr("py:n") == 5, "DECR")
    check(r.sadd("py:s", "a", "b") == 2, "SADD")
    check(r.smembers("py:s") == {b"a", b"b"}, "SMEMBERS")
    check(r.sismember("py:s", "a"), "SISMEMBER")
    check(r.srem("py:s", "a") == 1 and r.scard("py:s") == 1, "SREM/SCARD")
    check(r.hset("py:h", mapping={"f1": "1", "f2": "2"}) == 2, "HSET mapping")
    check(r.hgetall("py:h") == {b"f1": b"1", b"f2": b"2"}, "HGETALL")
    check(r.hget("py:h", "f1") == b"1" and r.hlen("py:h") == 2, "HGET/HLEN")
    check(r.hmget("py:h", ["f1", "nope"]) == [b"1", None], "HMGET")
    check(r.hdel("py:h", "f1") == 1 and r.hexists("py:h", "f1") is False, "HDEL")
    check(r.type("py:h") == b"hash", "TYPE")
    check(r.exists("py:k", "py:h", "nope") == 2, "EXISTS")
    check(r.mset({"py:a": "1", "py:b": "2"}) is True, "MSET")
    check(r.mget(["py:a", "py:b", "nope"]) == [b"1", b"2", None], "MGET")
    check(r.getdel("py:a") == b"1", "GETDEL")
    check(r.delete("py:b", "nope") == 1, "DEL")
    check(r.dbsize() >= 5, "DBSIZE")
    info = r.info()
    check(info["redis_version"] == "7.0.0", f"INFO redis_version: {info.get('redis_version')}")
    check("used_memory" in r.info("memory"), "INFO memory")
    check("db0" in r.info("keyspace"), "INFO keyspace")
    check(r.config_get("maxmemory") == {"maxmemory": "0"}, "CONFIG GET")
    check(r.client_setname("py-plain") is True, "CLIENT SETNAME")
    check(r.client_getname() == "py-plain", "CLIENT GETNAME")
    check(isinstance(r.client_id(), int), "CLIENT ID")
    check(any(c.get("name") == "py-plain" for c in r.client_list()), "CLIENT LIST")
    check(isinstance(r.slowlog_get(), list), "SLOWLOG GET")
    check(isinstance(r.lastsave(), object), "LASTSAVE")
    try:
        r.set("red.secret.x", "v")
        raise AssertionError("red.secret.* must be refused")
    except redis.ResponseError as e:
        check("vault" in str(e), f"vault key error: {e}")
    try:
        r.get("py:s")
        raise AssertionError("WRONGTYPE expected")
    except redis.ResponseError as e:
        check(str(e).startswith("WRONGTYPE"), f"WRONGTYPE: {e}")
    r.close()


def from_url(port, password):
    r = redis.from_url(
        f"redis://:{password}@127.0.0.1:{port}/0", decode_responses=True, max_connections=50
    )
    check(r.ping() is True, "from_url PING")
    check(r.set("url:k", "v") is True and r.get("url:k") == "v", "from_url decoded GET")
    # The seed's OAuth patterns.
    state = uuid.uuid4().hex
    check(r.set(f"oauth:state:{state}", "{}", ex=300), "state with TTL")
    check(280 <= r.ttl(f"oauth:state:{state}") <= 300, "state TTL")
    r.set("oauth:token:jti_1", '{"scope":"mcp:*"}', ex=30 * 86400)
    r.set("oauth:token:jti_2", '{"scope":"mcp:*"}', ex=30 * 86400)
    r.set("oauth:client:client_1", '{"client_id":"client_1"}')
    check(r.sadd("oauth:user_tokens:alice", "jti_1", "jti_2") == 2, "user token index")
    check(r.smembers("oauth:user_tokens:alice") == {"jti_1", "jti_2"}, "SMEMBERS decoded")
    check(r.srem("oauth:user_tokens:alice", "jti_1") == 1, "SREM")
    check(r.delete("oauth:token:jti_1") == 1, "revoke")
    check(sorted(r.keys("oauth:client:*")) == ["oauth:client:client_1"], "KEYS")
    found = set(r.scan_iter(match="oauth:*", count=3))
    check(
        {"oauth:token:jti_2", "oauth:client:client_1", f"oauth:state:{state}"} <= found,
        f"SCAN MATCH: {found}",
    )
    check("oauth:token:jti_1" not in found, "deleted key not scanned")
    r.close()


def pool_from_threads(port, password):
    pool = redis.ConnectionPool(
        host="127.0.0.1", port=port, password=password, max_connections=50, socket_timeout=30
    )
    r = redis.Redis(connection_pool=pool, decode_responses=False)
    errors = []
    barrier = threading.Barrier(50)

    def work(t):
        try:
            barrier.wait(timeout=30)
            for i in range(100):
                k = f"pool:{t}:{i}"
                r.set(k, str(i))
                if r.get(k) != str(i).encode():
                    errors.append(f"{k} read back wrong")
                    return
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    with ThreadPoolExecutor(max_workers=50) as ex:
        list(ex.map(work, range(50)))
    check(not errors, f"pool errors: {errors[:3]}")
    created = len(pool._available_connections) + len(pool._in_use_connections)
    check(1 <= created <= 50, f"pool size {created}")
    check(r.dbsize() >= 5000, "5000 pooled writes")
    clients = r.client_list()
    check(len(clients) >= created, f"CLIENT LIST shows {len(clients)} < {created}")
    pool.disconnect()


def pipelines(port, password):
    r = redis.Redis(host="127.0.0.1", port=port, password=password, decode_responses=True)
    with r.pipeline(transaction=True) as p:
        p.set("tx:a", "1").incr("tx:a").sadd("tx:s", "x").hset("tx:h", "f", "v").get("tx:a")
        res = p.execute()
    check(res == [True, 2, 1, 1, "2"], f"MULTI/EXEC results {res}")
    with r.pipeline(transaction=False) as p:
        for i in range(100):
            p.set(f"pl:{i}", i)
        for i in range(100):
            p.get(f"pl:{i}")
        res = p.execute()
    check(res[:100] == [True] * 100 and res[100:] == [str(i) for i in range(100)], "pipeline")
    # A failing command inside a transaction raises on execute.
    with r.pipeline(transaction=True) as p:
        p.set("tx:str", "x").incr("tx:str")
        try:
            p.execute()
            raise AssertionError("INCR on a string must fail")
        except redis.ResponseError:
            pass
    check(r.get("tx:str") == "x", "the rest of the transaction applied")
    r.close()


def info_sections(port, password):
    """INFO as redis-py parses it: the fields clients read, every section."""
    r = redis.Redis(host="127.0.0.1", port=port, password=password, decode_responses=True)
    r.set("info:ttl", "v", ex=1000)
    info = r.info()
    for field in [
        "redis_version", "redis_mode", "os", "arch_bits", "tcp_port", "uptime_in_seconds",
        "connected_clients", "used_memory", "used_memory_human", "maxmemory", "loading",
        "rdb_changes_since_last_save", "aof_enabled", "total_connections_received",
        "total_commands_processed", "instantaneous_ops_per_sec", "keyspace_hits",
        "keyspace_misses", "role", "connected_slaves", "master_repl_offset", "used_cpu_sys",
        "used_cpu_user", "cluster_enabled",
    ]:
        check(field in info, f"INFO has {field}: {sorted(info)}")
    check(info["cluster_enabled"] == 0 and info["role"] == "master", "INFO cluster/role")
    check(info["db0"]["expires"] >= 1 and info["db0"]["avg_ttl"] > 0, f"INFO db0 {info['db0']}")
    stats = r.info("commandstats")
    check(stats["cmdstat_set"]["calls"] >= 1, f"INFO commandstats {stats}")
    try:
        r.execute_command("GET")
    except redis.ResponseError:
        pass
    check(r.info("errorstats")["errorstat_ERR"]["count"] >= 1, "INFO errorstats")
    both = r.info("cpu", "cluster") if redis.__version__ >= "4.6" else r.info("cpu")
    check("used_cpu_user" in both, f"INFO cpu cluster {both}")
    check(r.execute_command("WAIT", 0, 100) == 0, "WAIT 0 100")
    check("cmdstat_get" in r.info("everything"), "INFO everything")
    r.close()


def strings_and_keys(port, password):
    """GETSET APPEND STRLEN GETRANGE RENAME RENAMENX TOUCH, decoded and RESP3."""
    for proto, r in decoded_clients(port, password):
        p = f"sk{proto}:"
        check(r.getset(p + "a", "1") is None and r.getset(p + "a", "2") == "1", "GETSET")
        check(r.append(p + "a", "345") == 4 and r.strlen(p + "a") == 4, "APPEND/STRLEN")
        check(r.getrange(p + "a", 1, -2) == "34" and r.getrange(p + "none", 0, -1) == "", "GETRANGE")
        r.set(p + "t", "v", ex=1000)
        check(r.rename(p + "t", p + "u") is True and r.ttl(p + "u") > 900, "RENAME keeps the TTL")
        check(r.renamenx(p + "u", p + "a") is False and r.renamenx(p + "u", p + "v"), "RENAMENX")
        check(r.touch(p + "a", p + "v", p + "none") == 2, "TOUCH")
        try:
            r.rename(p + "none", p + "x")
            raise AssertionError("RENAME of a missing key must fail")
        except redis.ResponseError as e:
            check(str(e) == "no such key", f"RENAME missing: {e}")


def strings_and_hashes_added(port, password):
    """SETRANGE MSETNX EXPIRETIME PEXPIRETIME RANDOMKEY COPY HINCRBY HSETNX
    HKEYS HVALS HSTRLEN HRANDFIELD HSCAN, decoded, RESP2 and RESP3."""
    for proto, r in decoded_clients(port, password):
        p = f"sh{proto}:"
        check(r.setrange(p + "s", 3, "ab") == 5 and r.get(p + "s") == "\x00\x00\x00ab", "SETRANGE")
        try:
            r.setrange(p + "s", -1, "x")
            raise AssertionError("SETRANGE with a negative offset must fail")
        except redis.ResponseError as e:
            check(str(e) == "offset is out of range", f"SETRANGE -1: {e}")
        check(r.msetnx({p + "m1": "1", p + "m2": "2"}) is True, "MSETNX new keys")
        check(r.msetnx({p + "m2": "x", p + "m3": "3"}) is False and r.get(p + "m3") is None, "MSETNX")
        r.set(p + "t", "v", exat=4102444800)
        check(r.expiretime(p + "t") == 4102444800, "EXPIRETIME")
        check(r.pexpiretime(p + "t") == 4102444800000 and r.expiretime(p + "none") == -2, "PEXPIRETIME")
        check(r.randomkey() is not None, "RANDOMKEY")
        check(r.copy(p + "t", p + "t2") is True and r.get(p + "t2") == "v", "COPY")
        check(r.copy(p + "t", p + "t2") is False and r.copy(p + "t", p + "t2", replace=True), "COPY REPLACE")
        check(r.expiretime(p + "t2") == 4102444800, "COPY keeps the TTL")
        h = p + "h"
        check(r.hincrby(h, "n", 5) == 5 and r.hincrby(h, "n", -7) == -2, "HINCRBY")
        check(r.hsetnx(h, "a", "x") == 1 and r.hsetnx(h, "a", "y") == 0, "HSETNX")
        check(sorted(r.hkeys(h)) == ["a", "n"] and sorted(r.hvals(h)) == ["-2", "x"], "HKEYS/HVALS")
        check(r.hstrlen(h, "n") == 2 and r.hstrlen(h, "none") == 0, "HSTRLEN")
        check(r.hrandfield(h) in ("a", "n") and r.hrandfield(p + "none") is None, "HRANDFIELD")
        check(sorted(r.hrandfield(h, 5)) == ["a", "n"] and len(r.hrandfield(h, -5)) == 5, "HRANDFIELD n")
        pairs = r.hrandfield(h, 2, withvalues=True)
        if proto == 3:
            got = sorted(tuple(x) for x in pairs)
        else:
            got = sorted(zip(pairs[0::2], pairs[1::2]))
        check(got == [("a", "x"), ("n", "-2")], f"HRANDFIELD WITHVALUES (RESP{proto}): {pairs}")
        r.hset(p + "big", mapping={f"f{i}": str(i) for i in range(100)})
        seen = dict(r.hscan_iter(p + "big", count=7))
        check(seen == {f"f{i}": str(i) for i in range(100)}, "HSCAN iteration")
        check(dict(r.hscan_iter(p + "big", match="f9*")) == {"f9": "9", **{f"f9{i}": f"9{i}" for i in range(10)}}, "HSCAN MATCH")


def sets(port, password):
    """SMISMEMBER SPOP SRANDMEMBER SMOVE SINTER/SUNION/SDIFF(+STORE) SINTERCARD SSCAN."""
    for proto, r in decoded_clients(port, password):
        p = f"st{proto}:"
        r.sadd(p + "a", "1", "2", "3")
        r.sadd(p + "b", "2", "3", "4")
        check(r.smismember(p + "a", ["1", "9"]) == [1, 0], "SMISMEMBER")
        check(set(r.sinter(p + "a", p + "b")) == {"2", "3"}, "SINTER")
        check(set(r.sunion(p + "a", p + "b")) == {"1", "2", "3", "4"}, "SUNION")
        check(set(r.sdiff(p + "a", p + "b")) == {"1"}, "SDIFF")
        check(r.sinterstore(p + "i", [p + "a", p + "b"]) == 2, "SINTERSTORE")
        check(r.sunionstore(p + "u", [p + "a", p + "b"]) == 4, "SUNIONSTORE")
        check(r.sdiffstore(p + "d", [p + "a", p + "none"]) == 3, "SDIFFSTORE")
        check(r.sinterstore(p + "d", [p + "a", p + "none"]) == 0 and r.exists(p + "d") == 0,
              "an empty STORE deletes the destination")
        if hasattr(r, "sintercard"):
            check(r.sintercard(2, [p + "a", p + "b"]) == 2, "SINTERCARD")
            check(r.sintercard(2, [p + "a", p + "b"], limit=1) == 1, "SINTERCARD LIMIT")
        check(r.smove(p + "a", p + "b", "1") is True and r.sismember(p + "b", "1"), "SMOVE")
        check(r.srandmember(p + "u") in {"1", "2", "3", "4"}, "SRANDMEMBER")
        many = r.srandmember(p + "u", -10)
        check(len(many) == 10 and set(many) <= {"1", "2", "3", "4"}, f"SRANDMEMBER -10 {many}")
        check(len(set(r.srandmember(p + "u", 3))) == 3, "SRANDMEMBER 3")
        popped = r.spop(p + "u", 2)
        check(len(popped) == 2 and r.scard(p + "u") == 2, f"SPOP 2 {popped}")
        check(r.spop(p + "none") is None, "SPOP of a missing key")
        members = {f"m{i}" for i in range(40)}
        r.sadd(p + "big", *members)
        check(set(r.sscan_iter(p + "big", match="m1*", count=5)) == {m for m in members if m.startswith("m1")},
              "SSCAN MATCH COUNT")


def lists(port, password):
    """The list family, decoded, RESP2 and RESP3, and a BLPOP woken by a
    push from another client."""
    for proto, r in decoded_clients(port, password):
        p = f"ls{proto}:"
        l = p + "l"
        check(r.rpush(l, "a", "b", "c") == 3 and r.lpush(l, "z") == 4, "RPUSH/LPUSH")
        check(r.lpushx(p + "none", "x") == 0 and r.rpushx(l, "d") == 5, "LPUSHX/RPUSHX")
        check(r.lrange(l, 0, -1) == ["z", "a", "b", "c", "d"] and r.llen(l) == 5, "LRANGE/LLEN")
        check(r.lindex(l, -1) == "d" and r.lindex(l, 9) is None, "LINDEX")
        check(r.lset(l, 0, "Z") is True, "LSET")
        try:
            r.lset(l, 99, "x")
            raise AssertionError("LSET past the end must fail")
        except redis.ResponseError as e:
            check(str(e) == "index out of range", f"LSET 99: {e}")
        check(r.linsert(l, "AFTER", "a", "a2") == 6 and r.linsert(l, "BEFORE", "nope", "x") == -1, "LINSERT")
        check(r.lpos(l, "b") == 3 and r.lpos(l, "nope") is None, "LPOS")
        r.rpush(l, "a")
        check(r.lpos(l, "a", rank=-1) == 6 and r.lpos(l, "a", count=0) == [1, 6], "LPOS RANK/COUNT")
        check(r.lrem(l, -1, "a") == 1, "LREM")
        check(r.lpop(l) == "Z" and r.rpop(l, 2) == ["d", "c"] and r.lpop(p + "none", 2) is None, "LPOP/RPOP count")
        check(r.ltrim(l, 0, 1) is True and r.lrange(l, 0, -1) == ["a", "a2"], "LTRIM")
        check(r.lmove(l, p + "m", "LEFT", "RIGHT") == "a" and r.rpoplpush(l, p + "m") == "a2", "LMOVE/RPOPLPUSH")
        check(r.exists(l) == 0 and r.lrange(p + "m", 0, -1) == ["a2", "a"], "an emptied list is deleted")
        check(r.rpoplpush(p + "m", p + "m") == "a" and r.lrange(p + "m", 0, -1) == ["a", "a2"], "rotation")
        if hasattr(r, "lmpop"):
            check(list(r.lmpop(2, p + "none", p + "m", direction="RIGHT", count=5)) == [p + "m", ["a2", "a"]], "LMPOP")
            check(r.lmpop(1, p + "none", direction="LEFT") is None, "LMPOP of missing keys")
        r.rpush(p + "q", "1", "2", "3")
        check(list(r.blpop([p + "none", p + "q"], timeout=1)) == [p + "q", "1"], "BLPOP of a full list")
        check(list(r.brpop([p + "q"], timeout=1)) == [p + "q", "3"], "BRPOP")
        check(r.blmove(p + "q", p + "q2", 0.5, "LEFT", "LEFT") == "2", "BLMOVE")
        check(r.brpoplpush(p + "q2", p + "q3", 0.5) == "2", "BRPOPLPUSH")
        check(r.blpop([p + "none"], timeout=0.05) is None, "BLPOP times out with None")
        check(r.blmove(p + "none", p + "x", 0.05, "LEFT", "LEFT") is None, "BLMOVE times out")
        if hasattr(r, "blmpop"):
            r.rpush(p + "q4", "x", "y")
            check(list(r.blmpop(0.5, 1, p + "q4", direction="RIGHT", count=5)) == [p + "q4", ["y", "x"]], "BLMPOP")
            check(r.blmpop(0.05, 1, p + "none", direction="LEFT") is None, "BLMPOP times out")
        woken_by_another_client(r, p)


def woken_by_another_client(r, p):
    """A BLPOP in a thread, woken by a push from this client."""
    waiter = redis.Redis(connection_pool=redis.ConnectionPool(**r.connection_pool.connection_kwargs))
    got = []

    def wait():
        got.append(waiter.blpop([p + "wake"], timeout=20))

    t = threading.Thread(target=wait)
    t.start()
    deadline = time.monotonic() + 20
    while r.info("clients")["blocked_clients"] < 1:
        check(time.monotonic() < deadline, "the waiter never blocked")
        time.sleep(0.01)
    check(r.rpush(p + "wake", "hello") == 1, "the push")
    t.join(timeout=30)
    check(not t.is_alive() and got and list(got[0]) == [p + "wake", "hello"], f"the woken BLPOP: {got}")
    check(r.exists(p + "wake") == 0, "the waiter took the item")
    waiter.close()
def sorted_sets(port, password):
    """The sorted-set family as redis-py calls it, decoded, RESP2 and RESP3
    (scores come back as floats either way), and a sliding-window rate
    limiter in a transaction pipeline."""
    for proto, r in decoded_clients(port, password):
        p = f"zs{proto}:"
        z = p + "z"
        pairs = lambda v: [tuple(x) for x in v]
        check(r.zadd(z, {"a": 1.1, "b": 2, "c": 3}) == 3, "ZADD mapping")
        check(r.zscore(z, "a") == 1.1 and r.zscore(z, "none") is None, "ZSCORE as a float")
        check(r.zmscore(z, ["a", "none"]) == [1.1, None], "ZMSCORE")
        check(r.zadd(z, {"a": 5, "d": 4}, nx=True) == 1 and r.zscore(z, "a") == 1.1, "ZADD NX")
        check(r.zadd(z, {"a": 0.5, "b": 7}, gt=True, ch=True) == 1, "ZADD GT CH")
        check(r.zadd(z, {"a": 2}, incr=True) == 3.1, "ZADD INCR")
        check(r.zincrby(z, 0.25, "c") == 3.25, "ZINCRBY")
        check(r.zadd(z, {"none": 1}, xx=True, incr=True) is None, "ZADD XX INCR on a missing member")
        try:
            r.zadd(z, {"a": 1}, nx=True, xx=True)
            raise AssertionError("NX and XX together must fail")
        except redis.DataError:
            pass  # redis-py refuses it before sending
        try:
            r.zincrby(z, float("-inf"), "b") and r.zincrby(z, float("inf"), "b")
            raise AssertionError("opposite infinities must fail")
        except redis.ResponseError as e:
            check("not a number" in str(e), f"ZINCRBY NaN: {e}")
        r.zadd(z, {"b": 7})
        check(r.zcard(z) == 4 and r.zcount(z, 3, "(7") == 3, "ZCARD/ZCOUNT")
        check(r.zrange(z, 0, -1) == ["a", "c", "d", "b"], f"ZRANGE {r.zrange(z, 0, -1)}")
        check(pairs(r.zrange(z, 0, 1, withscores=True)) == [("a", 3.1), ("c", 3.25)], "ZRANGE WITHSCORES")
        check(r.zrange(z, 0, 1, desc=True) == ["b", "d"], "ZRANGE REV")
        check(r.zrange(z, "(3.1", "+inf", byscore=True, offset=1, num=2) == ["d", "b"], "ZRANGE BYSCORE LIMIT")
        check(r.zrangebyscore(z, 3, 5) == ["a", "c", "d"] and r.zrevrangebyscore(z, 5, 3) == ["d", "c", "a"],
              "ZRANGEBYSCORE/ZREVRANGEBYSCORE")
        check(pairs(r.zrevrange(z, 0, 0, withscores=True)) == [("b", 7.0)], "ZREVRANGE WITHSCORES")
        check(r.zrank(z, "c") == 1 and r.zrevrank(z, "c") == 2 and r.zrank(z, "none") is None, "ZRANK")
        lex = p + "lex"
        r.zadd(lex, {m: 0 for m in ["apple", "banana", "cherry", "date"]})
        check(r.zrangebylex(lex, "[b", "(d") == ["banana", "cherry"], "ZRANGEBYLEX")
        check(r.zrevrangebylex(lex, "+", "-", start=0, num=1) == ["date"], "ZREVRANGEBYLEX LIMIT")
        check(r.zrange(lex, "[c", "+", bylex=True) == ["cherry", "date"], "ZRANGE BYLEX")
        check(r.zlexcount(lex, "-", "+") == 4 and r.zremrangebylex(lex, "-", "(b") == 1, "ZLEXCOUNT/ZREMRANGEBYLEX")
        check(r.zrangestore(p + "st", z, 0, 1) == 2 and r.zrange(p + "st", 0, -1) == ["a", "c"], "ZRANGESTORE")
        w = p + "w"
        r.zadd(w, {"a": 10, "x": 1})
        check(r.zunionstore(p + "u", {z: 1, w: 2}) == 5 and r.zscore(p + "u", "a") == 23.1, "ZUNIONSTORE WEIGHTS")
        check(r.zinterstore(p + "i", [z, w], aggregate="MAX") == 1 and r.zscore(p + "i", "a") == 10, "ZINTERSTORE MAX")
        check(pairs(r.zunion([z, w], withscores=True))[:2] == [("x", 1.0), ("c", 3.25)], "ZUNION WITHSCORES")
        check(r.zinter([z, w]) == ["a"] and r.zdiff([z, w]) == ["c", "d", "b"], "ZINTER/ZDIFF")
        check(r.zdiffstore(p + "d", [z, w]) == 3, "ZDIFFSTORE")
        if hasattr(r, "zintercard"):
            check(r.zintercard(2, [z, w]) == 1, "ZINTERCARD")
        check(r.zrandmember(z) in {"a", "b", "c", "d"}, "ZRANDMEMBER")
        raw = r.zrandmember(z, 2, withscores=True)
        # redis-py leaves RESP2's flat member, score list as it comes.
        drawn = pairs(raw) if proto == 3 else list(zip(raw[0::2], raw[1::2]))
        check(len(drawn) == 2 and all(r.zscore(z, m) == float(s) for m, s in drawn),
              f"ZRANDMEMBER WITHSCORES (RESP{proto}): {raw}")
        check(len(r.zrandmember(z, -6)) == 6, "ZRANDMEMBER with repeats")
        big = p + "big"
        r.zadd(big, {f"m{i}": i for i in range(300)})
        check(dict(r.zscan_iter(big, count=20)) == {f"m{i}": float(i) for i in range(300)}, "ZSCAN iteration")
        check(pairs(r.zpopmin(big, 2)) == [("m0", 0.0), ("m1", 1.0)], "ZPOPMIN")
        top = r.zpopmax(big)
        # Without a count, RESP3 answers one flat member, score pair.
        want = ["m299", 299.0] if proto == 3 else [("m299", 299.0)]
        check(top == want, f"ZPOPMAX (RESP{proto}): {top}")
        check(r.zremrangebyrank(big, 0, 9) == 10 and r.zremrangebyscore(big, "(250", "+inf") == 48, "ZREMRANGEBY…")
        check(r.zrem(big, "m100", "none") == 1 and r.zcard(big) == 238, "ZREM")
        # A sliding-window limiter: at most 5 requests per 10 s window.
        key, now = p + "rate", 1_700_000_000.0
        allowed = []
        for i in range(8):
            t = now + i
            with r.pipeline(transaction=True) as tx:
                tx.zremrangebyscore(key, "-inf", t - 10)
                tx.zadd(key, {f"req{i}": t})
                tx.zcard(key)
                tx.expire(key, 10)
                _, _, count, _ = tx.execute()
            allowed.append(count <= 5)
        check(allowed == [True] * 5 + [False] * 3, f"rate limiter {allowed}")


def bits_floats_watch_and_control(port, password):
    """SETBIT GETBIT BITCOUNT BITPOS INCRBYFLOAT HINCRBYFLOAT OBJECT, WATCH in
    a pipeline (WatchError when another client writes), CLIENT KILL, CLIENT
    PAUSE and MONITOR (redis-py parses its lines), decoded, RESP2/3."""
    for proto, r in decoded_clients(port, password):
        p = f"bf{proto}:"
        check(r.setbit(p + "b", 7, 1) == 0 and r.getbit(p + "b", 7) == 1, "SETBIT/GETBIT")
        r.set(p + "s", "foobar")
        check(r.bitcount(p + "s") == 26 and r.bitcount(p + "s", 1, 1) == 6, "BITCOUNT")
        check(r.bitpos(p + "s", 1) == 1 and r.bitpos(p + "none", 0) == 0, "BITPOS")
        r.set(p + "f", "10.5")
        check(r.incrbyfloat(p + "f", 0.1) == 10.6, "INCRBYFLOAT")
        check(r.get(p + "f") == "10.6", "INCRBYFLOAT stores Redis's text")
        check(r.hincrbyfloat(p + "h", "x", "3.0e3") == 3000.0, "HINCRBYFLOAT")
        check(r.object("encoding", p + "s") == "embstr", "OBJECT ENCODING")
        # Optimistic locking: a write by another connection fails EXEC.
        other = redis.Redis(host="127.0.0.1", port=port, password=password, decode_responses=True)
        with r.pipeline() as pipe:
            pipe.watch(p + "w")
            other.set(p + "w", "changed")
            pipe.multi()
            pipe.set(p + "w", "mine")
            try:
                pipe.execute()
                raise AssertionError("EXEC after a watched key changed must fail")
            except redis.WatchError:
                pass
        with r.pipeline() as pipe:
            pipe.watch(p + "w")
            pipe.multi()
            pipe.set(p + "w", "mine")
            check(pipe.execute() == [True], "EXEC with an untouched watched key")
        check(r.get(p + "w") == "mine", "the transaction ran")
        # CLIENT KILL by ID, CLIENT PAUSE (writes wait, then run).
        victim_id = other.client_id()
        check(r.client_kill_filter(_id=victim_id) == 1, "CLIENT KILL ID")
        check(r.client_pause(200, all=False) is True, "CLIENT PAUSE WRITE")
        t = time.monotonic()
        check(r.get(p + "w") == "mine", "reads run during a WRITE pause")
        r.set(p + "w", "after")
        check(time.monotonic() - t >= 0.15, "a write waits for the pause to end")
        other.close()
        # MONITOR: redis-py parses the lines.
        with r.monitor() as m:
            other = redis.Redis(host="127.0.0.1", port=port, password=password, decode_responses=True)
            other.set(p + "m", "v")
            seen = []
            for _ in range(20):
                cmd = m.next_command()
                seen.append(cmd["command"])
                if cmd["command"] == f"SET {p}m v":
                    break
            check(f"SET {p}m v" in seen, f"MONITOR shows the SET: {seen}")
            check(any(c.startswith("AUTH") and "(redacted)" in c for c in seen) or
                  any(c.startswith("HELLO") for c in seen), f"MONITOR shows the login: {seen}")
            check(all(password not in c for c in seen), "MONITOR never shows a password")
            other.close()


def server_commands(port, password):
    """CONFIG GET with several patterns, CONFIG SET of the slow log (the
    settings redis-py's slowlog fixture saves and restores), SLOWLOG,
    CLIENT LIST by ID, ACL WHOAMI/CAT, COMMAND GETKEYSANDFLAGS and INFO
    errorstats, as redis-py calls and parses them, decoded, RESP2/3."""
    for proto, r in decoded_clients(port, password):
        got = r.config_get("*max-*-entries*", "maxmemory")
        check(got.get("maxmemory") == "0" and got.get("hash-max-listpack-entries") == "512",
              f"CONFIG GET patterns: {got}")
        check(r.config_get()["databases"] == "16", "CONFIG GET * databases")
        saved = r.config_get()
        old = (saved["slowlog-log-slower-than"], saved["slowlog-max-len"])
        check(r.config_set("slowlog-log-slower-than", 0) is True, "CONFIG SET slowlog-log-slower-than")
        check(r.config_set("slowlog-max-len", 128) is True, "CONFIG SET slowlog-max-len")
        try:
            r.config_set("timeout", 70)
            raise AssertionError("CONFIG SET timeout must be refused")
        except redis.ResponseError as e:
            check("command line and environment" in str(e), f"CONFIG SET timeout: {e}")
        check(r.slowlog_reset() is True, "SLOWLOG RESET")
        r.get(f"sl{proto}:key")
        entries = r.slowlog_get()
        # redis-py leaves the command line as bytes, even decoded.
        commands = [e["command"].decode() for e in entries]
        check(commands[:2] == [f"GET sl{proto}:key", "SLOWLOG RESET"], f"SLOWLOG GET: {commands}")
        check(len(r.slowlog_get(1)) == 1 and isinstance(r.slowlog_len(), int), "SLOWLOG GET 1, LEN")
        check(r.config_set("slowlog-log-slower-than", old[0]) is True, "restore")
        check(r.config_set("slowlog-max-len", old[1]) is True, "restore")
        others = [redis.Redis(host="127.0.0.1", port=port, password=password) for _ in range(3)]
        ids = [str(o.client_id()) for o in others]
        listed = r.client_list(client_id=ids)
        check(sorted(c["id"] for c in listed) == sorted(ids), f"CLIENT LIST ID: {listed}")
        for o in others:
            o.close()
        check(r.acl_whoami() == "admin", "ACL WHOAMI")
        check("read" in r.acl_cat() and "get" in r.acl_cat("read"), "ACL CAT")
        flags = r.command_getkeysandflags("LMOVE", "mylist1", "mylist2", "left", "left")
        check(flags == [["mylist1", ["RW", "access", "delete"]], ["mylist2", ["RW", "insert"]]],
              f"COMMAND GETKEYSANDFLAGS: {flags}")
        r.config_resetstat()
        r.set(f"sl{proto}:s", "v")
        try:
            r.lpush(f"sl{proto}:s", "x")
        except redis.ResponseError:
            pass
        check(r.info("errorstats").get("errorstat_WRONGTYPE") == {"count": 1},
              f"INFO errorstats: {r.info('errorstats')}")


def decoded_clients(port, password):
    """One decoded client per protocol this redis-py speaks (RESP2, and
    RESP3 where it can), closed after its turn."""
    for proto in ([2, 3] if has_resp3() else [2]):
        kw = {"protocol": proto} if has_resp3() else {}
        r = redis.Redis(host="127.0.0.1", port=port, password=password, decode_responses=True, **kw)
        try:
            yield proto, r
        finally:
            r.close()


def has_resp3():
    major = int(redis.__version__.split(".")[0])
    return major >= 5


def resp3_and_users(port, password, admin_password):
    if has_resp3():
        r = redis.Redis(
            host="127.0.0.1", port=port, password=password, protocol=3, decode_responses=True
        )
        check(r.ping() is True, "RESP3 PING")
        r.hset("r3:h", mapping={"a": "1"})
        check(r.hgetall("r3:h") == {"a": "1"}, "RESP3 HGETALL map")
        r.sadd("r3:s", "m")
        check(r.smembers("r3:s") == {"m"}, "RESP3 set")
        check(r.get("r3:none") is None, "RESP3 null")
        r.close()
        u3 = redis.Redis(
            host="127.0.0.1", port=port, username="admin", password=admin_password, protocol=3
        )
        check(u3.ping() is True, "HELLO 3 AUTH admin <password>")
        u3.close()
    else:
        print(f"note: redis-py {redis.__version__} has no RESP3; RESP3 checks skipped")
    u = redis.Redis(host="127.0.0.1", port=port, username="admin", password=admin_password)
    check(u.ping() is True, "AUTH admin <password>")
    u.close()
    # The seed's "secure environment" client: password + decode_responses.
    vault = redis.Redis(host="localhost", port=port, password=password, decode_responses=True)
    operational = vault
    check(operational.set("env:x", "1") and vault.get("env:x") == "1", "secure environment alias")
    vault.close()
    for bad in [
        dict(password="wrong-password"),
        dict(username="admin", password="wrong-password"),
        dict(),
    ]:
        b = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30, **bad)
        try:
            b.ping()
            raise AssertionError(f"{bad}: must not authenticate")
        except redis.AuthenticationError:
            pass
        except redis.ResponseError as e:
            # redis-py retries a failed handshake, so the login limiter may
            # answer instead of the password check.
            msg = str(e)
            check(
                "NOAUTH" in msg or "WRONGPASS" in msg or "too many failed logins" in msg,
                f"{bad}: {e}",
            )
        b.close()


def scripting(port, password):
    """EVAL/EVALSHA/SCRIPT as redis-py calls them (register_script,
    eval, evalsha, script_* helpers), decoded, RESP2 and RESP3."""
    for protocol in (2, 3):
        r = redis.Redis(host="127.0.0.1", port=port, password=password,
                        protocol=protocol, decode_responses=True, socket_timeout=30)
        r.script_flush()
        check(r.eval("return {KEYS[1], ARGV[1], 3.9, true, false}", 1, "k", "a")
              == ["k", "a", 3, 1, None], "EVAL conversions")
        incr = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        r.delete("py:script:n")
        check(incr(keys=["py:script:n"], args=[5]) == 5, "a registered script (EVALSHA, then EVAL)")
        check(incr(keys=["py:script:n"], args=[2]) == 7, "a registered script again")
        check(r.script_exists(incr.sha) == [True], "SCRIPT EXISTS")
        sha = r.script_load("return redis.status_reply('FINE')")
        check(r.evalsha(sha, 0) == "FINE", "EVALSHA of SCRIPT LOAD")
        check(r.evalsha_ro(sha, 0) == "FINE", "EVALSHA_RO")
        try:
            r.eval_ro("return redis.call('SET', 'x', 'y')", 0)
            raise AssertionError("a write from EVAL_RO was accepted")
        except redis.ResponseError as e:
            check("Write commands are not allowed from read-only scripts" in str(e), str(e))
        try:
            r.eval("return redis.call('GET', 'red.secret.x')", 0)
            raise AssertionError("a vault key was read from a script")
        except redis.ResponseError as e:
            check("red.secret" in str(e), str(e))
        p = r.pipeline(transaction=True)
        p.eval("return redis.call('INCR', KEYS[1])", 1, "py:script:n")
        p.get("py:script:n")
        check(p.execute() == [8, "8"], "EVAL inside MULTI")
        r.script_flush()
        check(r.script_exists(sha) == [False], "SCRIPT FLUSH")
        check(incr(keys=["py:script:n"], args=[1]) == 9, "reloaded after NOSCRIPT")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--admin-password", required=True)
    a = ap.parse_args()
    steps = [
        ("plain connection", lambda: plain(a.port, a.password)),
        ("from_url + decode_responses", lambda: from_url(a.port, a.password)),
        ("50-connection pool from 50 threads", lambda: pool_from_threads(a.port, a.password)),
        ("pipelines (transaction=True/False)", lambda: pipelines(a.port, a.password)),
        ("strings and keys (decoded, RESP2/3)", lambda: strings_and_keys(a.port, a.password)),
        ("more strings, keys, hashes (RESP2/3)", lambda: strings_and_hashes_added(a.port, a.password)),
        ("sets (decoded, RESP2/3)", lambda: sets(a.port, a.password)),
        ("lists and a woken BLPOP (decoded, RESP2/3)", lambda: lists(a.port, a.password)),
        ("sorted sets (decoded, RESP2/3)", lambda: sorted_sets(a.port, a.password)),
        ("bits, floats, WATCH, CLIENT KILL/PAUSE, MONITOR", lambda: bits_floats_watch_and_control(a.port, a.password)),
        ("INFO sections and WAIT", lambda: info_sections(a.port, a.password)),
        ("CONFIG, SLOWLOG, CLIENT LIST, ACL, GETKEYSANDFLAGS", lambda: server_commands(a.port, a.password)),
        ("RESP3, users, bad passwords", lambda: resp3_and_users(a.port, a.password, a.admin_password)),
        ("EVAL, EVALSHA, SCRIPT (decoded, RESP2/3)", lambda: scripting(a.port, a.password)),
    ]
    print(f"redis-py {redis.__version__}")
    for name, fn in steps:
        t = time.monotonic()
        fn()
        print(f"ok   {name} ({time.monotonic() - t:.2f} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        print(f"FAIL {e!r}")
        sys.exit(1)
