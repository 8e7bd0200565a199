// ioredis, unchanged, pointed at red by URL only: a subscriber receives
// what a publisher sends on a channel and on a pattern, and the
// subscriber's connection refuses other commands while subscribed, as
// Redis's. Run by tests/wire_node_pubsub.rs:
//   node tests/node_clients/subscribe.mjs redis://:KEY@127.0.0.1:PORT/0
// Exits non-zero on the first failed check.
import Redis from "ioredis";

const url = process.argv[2];
if (!url) {
  console.error("usage: subscribe.mjs URL");
  process.exit(2);
}

function fail(what) {
  console.error(`FAIL: ${what}`);
  process.exit(1);
}

async function within(ms, promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const sub = new Redis(url, { maxRetriesPerRequest: 1 });
const pub = new Redis(url, { maxRetriesPerRequest: 1 });

try {
  const count = await sub.subscribe("orders", "alerts");
  if (count !== 2) fail(`subscribe count ${count}`);
  const psub = await sub.psubscribe("audit.*");
  if (psub !== 3) fail(`psubscribe count ${psub}`);

  const received = [];
  const allArrived = new Promise((resolve) => {
    const seen = () => {
      if (received.length === 3) resolve();
    };
    sub.on("message", (channel, message) => {
      received.push(["message", channel, message]);
      seen();
    });
    sub.on("pmessage", (pattern, channel, message) => {
      received.push(["pmessage", pattern, channel, message]);
      seen();
    });
  });

  if ((await pub.publish("orders", "o-1")) !== 1) fail("publish orders");
  if ((await pub.publish("audit.login", "alice")) !== 1) fail("publish audit.login");
  if ((await pub.publish("nobody", "x")) !== 0) fail("publish to nobody");
  if ((await pub.publish("alerts", "a-1")) !== 1) fail("publish alerts");
  await within(10000, allArrived, "three messages");
  const want = JSON.stringify([
    ["message", "orders", "o-1"],
    ["pmessage", "audit.*", "audit.login", "alice"],
    ["message", "alerts", "a-1"],
  ]);
  if (JSON.stringify(received) !== want) fail(`received ${JSON.stringify(received)}`);

  const numsub = await pub.pubsub("NUMSUB", "orders");
  if (JSON.stringify(numsub) !== JSON.stringify(["orders", 1])) fail(`NUMSUB ${numsub}`);

  await sub.unsubscribe("orders", "alerts");
  await sub.punsubscribe("audit.*");
  if ((await pub.publish("orders", "late")) !== 0) fail("publish after unsubscribe");
  // Out of subscribed mode, the connection runs commands again.
  if ((await sub.ping()) !== "PONG") fail("ping after unsubscribe");
  console.log("ok ioredis subscribe");
} catch (e) {
  fail(e && e.stack ? e.stack : String(e));
} finally {
  sub.disconnect();
  pub.disconnect();
}
