// ioredis running Lua scripts against a running reddb wire listener (run
// by tests/wire_node_scripts.rs):
//
//   node tests/node_clients/script.mjs PORT API_KEY
//
// defineCommand (EVALSHA first, EVAL after NOSCRIPT), a script with keys
// and arguments, the reply types (integer, bulk, array, nil, status,
// error), evalsha of a SCRIPT LOAD, and a pipeline of defined commands.
// Prints "ioredis scripts ok"; exits non-zero on the first failure.
import Redis from "ioredis";

const [port, password] = process.argv.slice(2);

function check(cond, what) {
  if (!cond) {
    throw new Error(`check failed: ${what}`);
  }
}

const redis = new Redis({
  host: "127.0.0.1",
  port: Number(port),
  password,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: true,
});

try {
  await redis.script("FLUSH");
  // A sliding-window limiter as applications write it.
  redis.defineCommand("slide", {
    numberOfKeys: 1,
    lua: `
      local now = tonumber(ARGV[1])
      local window = tonumber(ARGV[2])
      local limit = tonumber(ARGV[3])
      redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
      local count = redis.call('ZCARD', KEYS[1])
      if count >= limit then return 0 end
      redis.call('ZADD', KEYS[1], now, ARGV[4])
      redis.call('PEXPIRE', KEYS[1], window)
      return 1`,
  });
  const now = Date.now();
  const results = [];
  for (let i = 0; i < 5; i++) {
    results.push(await redis.slide("node:slide", now + i, 1000, 3, `m${i}`));
  }
  check(JSON.stringify(results) === "[1,1,1,0,0]", `limiter results ${results}`);
  check((await redis.zcard("node:slide")) === 3, "three members kept");
  const pttl = await redis.pttl("node:slide");
  check(pttl > 0 && pttl <= 1000, `PEXPIRE from the script: ${pttl}`);

  redis.defineCommand("echoTypes", {
    numberOfKeys: 2,
    lua: "return {KEYS[1], KEYS[2], ARGV[1], 42, 3.9, redis.call('get', 'node:none')}",
  });
  const types = await redis.echoTypes("a", "b", "arg");
  check(
    JSON.stringify(types) === JSON.stringify(["a", "b", "arg", 42, 3, null]),
    `conversions: ${JSON.stringify(types)}`
  );

  const sha = await redis.script("LOAD", "return redis.status_reply('FINE')");
  check(/^[0-9a-f]{40}$/.test(sha), `sha ${sha}`);
  check((await redis.evalsha(sha, 0)) === "FINE", "evalsha status reply");
  const exists = await redis.script("EXISTS", sha, "0000000000000000000000000000000000000000");
  check(JSON.stringify(exists) === "[1,0]", `SCRIPT EXISTS ${exists}`);

  let raised = null;
  try {
    await redis.eval("return redis.error_reply('MYERR custom failure')", 0);
  } catch (e) {
    raised = e;
  }
  check(raised && raised.message === "MYERR custom failure", `error reply: ${raised}`);

  const pipeline = redis.pipeline();
  for (let i = 0; i < 4; i++) {
    pipeline.slide("node:pipe", now + i, 1000, 2, `p${i}`);
  }
  const piped = (await pipeline.exec()).map(([err, v]) => (err ? `err:${err.message}` : v));
  check(JSON.stringify(piped) === "[1,1,0,0]", `pipelined ${JSON.stringify(piped)}`);

  // After SCRIPT FLUSH, defined commands load their script again.
  await redis.script("FLUSH");
  check((await redis.slide("node:again", now, 1000, 1, "x")) === 1, "reloaded after flush");
  console.log("ioredis scripts ok");
} finally {
  redis.disconnect();
}
