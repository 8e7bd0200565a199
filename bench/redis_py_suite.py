#!/usr/bin/env python3
"""Compare two JUnit XML files from redis-py's test suite: one run against
redis-server (the oracle), one against reddb.

    bench/redis_py_suite.py [--groups command-groups.json] [--max-per-family N]
                            REDIS.xml REDDB.xml

Prints the tests that pass on redis-server, how many of those pass on reddb,
a per-family pass table, and reddb's failures (among the tests redis-server
passes) grouped by Redis command family, each with the first line of its
failure. A test's family comes from its name (test_zadd_nx -> zadd -> sorted-set),
using the command -> group map from redis-server's COMMAND DOCS (--groups,
written by bench/redis_py_suite.sh); tests of test_pipeline.py,
test_pubsub.py, test_scripting.py and test_connection.py are grouped by file.
Failures whose first line is an "unknown command/subcommand" (or "... is not
supported") error are tagged [missing] and counted per command; the other
failure lines are counted separately, since those point at wrong replies,
errors or behaviours rather than absent commands. Standard library only.
"""

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict

# Used when no --groups file is given (and for names COMMAND DOCS lacks).
FALLBACK_GROUPS = {
    "sorted-set": "bzmpop bzpopmax bzpopmin zadd zcard zcount zdiff zdiffstore zincrby "
    "zinter zintercard zinterstore zlexcount zmpop zmscore zpopmax zpopmin zrandmember "
    "zrange zrangebylex zrangebyscore zrangestore zrank zrem zremrangebylex "
    "zremrangebyrank zremrangebyscore zrevrange zrevrangebylex zrevrangebyscore "
    "zrevrank zscan zscore zunion zunionstore",
    "list": "blmove blmpop blpop brpop brpoplpush lindex linsert llen lmove lmpop lpop "
    "lpos lpush lpushx lrange lrem lset ltrim rpop rpoplpush rpush rpushx",
    "hash": "hdel hexists hget hgetall hincrby hincrbyfloat hkeys hlen hmget hmset "
    "hrandfield hscan hset hsetnx hstrlen hvals hexpire hpexpire hexpireat hpexpireat "
    "httl hpttl hexpiretime hpexpiretime hpersist hgetdel hgetex hsetex",
    "set": "sadd scard sdiff sdiffstore sinter sintercard sinterstore sismember "
    "smembers smismember smove spop srandmember srem sscan sunion sunionstore",
    "string": "append decr decrby get getdel getex getrange getset incr incrby "
    "incrbyfloat lcs mget mset msetnx psetex set setex setnx setrange strlen substr stralgo",
    "transactions": "discard exec multi unwatch watch",
}

FILE_FAMILY = {
    "test_pipeline": "pipeline",
    "test_pubsub": "pubsub",
    "test_scripting": "scripting",
    "test_connection": "connection (client library)",
}


def load(path):
    """{test id: (status, message, file)} from a JUnit XML file."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        sys.exit(f"cannot read {path}: {e}")
    out = {}
    for tc in root.iter("testcase"):
        cls = tc.get("classname", "")
        name = tc.get("name", "")
        status, msg = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = tc.find(tag)
            if el is not None:
                status = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                msg = first_line(el.get("message") or el.text or "")
                break
        out[f"{cls}::{name}"] = (status, msg, tc.get("file", ""))
    return out


def first_line(text):
    for line in text.strip().splitlines():
        line = line.strip()
        if line:
            return line[:220]
    return ""


def family_of(test_id, groups):
    cls, name = test_id.split("::", 1)
    module = cls.split(".")[1] if cls.startswith("tests.") else cls
    base = re.sub(r"\[.*\]$", "", name)
    base = re.sub(r"^test_", "", base)
    toks = [t for t in base.split("_") if t]
    if module in FILE_FAMILY:
        return FILE_FAMILY[module]
    # The longest run of name tokens that is a command (with or without
    # separators: "client_list" -> "client", "zrangebyscore" -> itself).
    for i, tok in enumerate(toks):
        for j in range(len(toks), i, -1):
            for cand in ("".join(toks[i:j]), " ".join(toks[i:j])):
                if cand in groups:
                    return groups[cand]
    if module == "test_commands":  # (always so by now, unless --files adds others)
        # Parametrised ids often name the command: test_zaggregate_...[zunion-...].
        m = re.search(r"\[(.*)\]$", name)
        for tok in re.split(r"[-_]", m.group(1)) if m else []:
            if tok.lower() in groups:
                return groups[tok.lower()]
        for prefix, fam in (("z", "sorted-set"), ("x", "stream"), ("geo", "geo"),
                            ("bit", "bitmap"), ("pf", "hyperloglog"), ("acl", "server")):
            if toks and toks[0].startswith(prefix):
                return fam
    return "other"


def missing_command(msg):
    """The command named by an 'unknown command/subcommand' error, or None."""
    m = re.search(r"unknown command '([^']*)'", msg, re.I)
    if m:
        return m.group(1).upper()
    m = re.search(r"unknown subcommand '([^']*)'\. Try (\w+) HELP", msg, re.I)
    if m:
        return f"{m.group(2).upper()} {m.group(1).upper()}"
    if "is not supported" in msg or "not implemented" in msg.lower():
        m = re.search(r"([A-Z][A-Z ]+?) is not supported", msg)
        return (m.group(1).strip() if m else msg[:60]) + " (not supported)"
    return None


def load_groups(path):
    groups = {}
    for fam, names in FALLBACK_GROUPS.items():
        for n in names.split():
            groups[n] = fam
    if path:
        try:
            with open(path) as f:
                groups.update({k.lower(): v for k, v in json.load(f).items()})
        except OSError as e:
            print(f"(no command groups from {path}: {e}; using the built-in table)")
    # Name fragments in redis-py test names that are not commands themselves.
    groups.setdefault("sort", "generic")
    for n in ("ro",):
        groups.pop(n, None)
    return groups


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("redis_xml")
    ap.add_argument("reddb_xml")
    ap.add_argument("--groups", help="JSON map command -> COMMAND DOCS group")
    ap.add_argument("--max-per-family", type=int, default=1000,
                    help="failures listed per family (default all)")
    ap.add_argument("--top-reasons", type=int, default=30,
                    help="non-missing-command failure lines to list (default 30)")
    a = ap.parse_args()

    groups = load_groups(a.groups)
    ref = load(a.redis_xml)
    red = load(a.reddb_xml)

    ref_status = Counter(s for s, _, _ in ref.values())
    red_status = Counter(s for s, _, _ in red.values())
    print(f"redis-server: {len(ref)} tests: " + ", ".join(f"{k} {v}" for k, v in sorted(ref_status.items())))
    print(f"reddb:        {len(red)} tests: " + ", ".join(f"{k} {v}" for k, v in sorted(red_status.items())))

    oracle = [t for t, (s, _, _) in ref.items() if s == "passed"]
    ok = [t for t in oracle if red.get(t, ("missing",))[0] == "passed"]
    ratio = len(ok) / len(oracle) if oracle else 0.0
    print(f"\npassed on redis-server: {len(oracle)}; of those pass on reddb: {len(ok)} ({ratio:.1%})")
    other = Counter(red.get(t, ("missing",))[0] for t in oracle if t not in set(ok))
    if other:
        print("  the rest on reddb: " + ", ".join(f"{k} {v}" for k, v in sorted(other.items())))
    extra = [t for t, (s, _, _) in red.items() if s == "passed" and ref.get(t, ("missing",))[0] != "passed"]
    if extra:
        print(f"  ({len(extra)} pass on reddb but not on redis-server: "
              + ", ".join(t.split("::", 1)[1] for t in extra[:8]) + (" ..." if len(extra) > 8 else "") + ")")

    per_fam = defaultdict(lambda: [0, 0])
    fails = defaultdict(list)
    for t in oracle:
        fam = family_of(t, groups)
        per_fam[fam][0] += 1
        st, msg, _ = red.get(t, ("missing", "not run on reddb", ""))
        if st == "passed":
            per_fam[fam][1] += 1
        else:
            fails[fam].append((t, st, msg))

    print("\nper family (tests that pass on redis-server):")
    print(f"  {'family':<28} {'reddb/redis':>12}  {'ratio':>6}")
    for fam, (n, k) in sorted(per_fam.items(), key=lambda kv: (-(kv[1][0] - kv[1][1]), kv[0])):
        print(f"  {fam:<28} {f'{k}/{n}':>12}  {k / n:>6.0%}")

    missing, reasons = Counter(), Counter()
    for fam in fails:
        for _, st, msg in fails[fam]:
            cmd = missing_command(msg)
            if cmd:
                missing[cmd] += 1
            else:
                reasons[normalise(msg)] += 1
    n_missing = sum(missing.values())
    print(f"\nfailures from a missing/unsupported command or subcommand: {n_missing}"
          f" (of {n_missing + sum(reasons.values())})")
    print("  " + ", ".join(f"{c} {n}" for c, n in missing.most_common()))
    print("\ncommonest other failure lines (values collapsed):")
    for msg, n in reasons.most_common(a.top_reasons):
        print(f"  {n:4d}  {msg}")

    print("\nfailures on reddb by family:")
    for fam in sorted(fails, key=lambda f: (-len(fails[f]), f)):
        lst = fails[fam]
        print(f"\n[{fam}] {len(lst)} failing")
        for t, st, msg in lst[: a.max_per_family]:
            cls, name = t.split("::", 1)
            where = cls.split(".")[1] if cls.startswith("tests.") else cls
            tag = "" if st == "failed" else f" ({st})"
            if missing_command(msg):
                tag += " [missing]"
            print(f"  {where}::{name}{tag}: {msg}")
        if len(lst) > a.max_per_family:
            print(f"  ... {len(lst) - a.max_per_family} more")


def normalise(msg):
    """Collapse values so that failures with the same cause count together."""
    m = re.sub(r"'[^']*'", "'…'", msg)
    m = re.sub(r'"[^"]*"', '"…"', m)
    m = re.sub(r"b'…'", "'…'", m)
    m = re.sub(r"\b\d+(\.\d+)?\b", "N", m)
    return m[:160]


if __name__ == "__main__":
    main()
