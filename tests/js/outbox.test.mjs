// The offline outbox (handheld_pwa/lib/outbox.js) driven on its in-memory store: what is queued, in what
// order it is replayed, and that a command answered twice (websocket and HTTP) is settled once.
import assert from "node:assert/strict";
import { test } from "node:test";

import { MemoryCommandStore, Outbox, OutboxUnreachable, newCommandId } from "../../handheld_pwa/lib/outbox.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** An outbox whose websocket and HTTP are recordings; `live` says whether the websocket takes a command. */
function outboxWith({ live = false, post } = {}) {
  const sentLive = [];
  const posted = [];
  const answers = [];
  const store = new MemoryCommandStore();
  const outbox = new Outbox(store, {
    sendLive: (command) => {
      if (!live) return false;
      sentLive.push(command);
      return true;
    },
    postCommands: async (commands) => {
      posted.push(commands.map((c) => c.payload.n));
      if (post) return post(commands);
      return commands.map(({ id }) => ({ id, type: "result", ok: true }));
    },
  });
  outbox.addEventListener("answer", (e) => answers.push(e.detail.entry.payload.n));
  return { outbox, store, sentLive, posted, answers, setLive: (on) => { live = on; } };
}

test("a command is stored with a new v4 id before it is sent", async () => {
  const store = new MemoryCommandStore();
  const sent = [];
  const outbox = new Outbox(store, {
    sendLive: (command) => {
      sent.push({ command, storedFirst: [...store.rows.values()].some((row) => row.id === command.id) });
      return true;
    },
    postCommands: async () => assert.fail("nothing goes by HTTP while the websocket takes commands"),
  });
  const entry = await outbox.submit("confirm_pick", { task_id: 7 });
  assert.match(entry.id, UUID_V4);
  assert.deepEqual(sent, [{ command: { id: entry.id, type: "confirm_pick", payload: { task_id: 7 } }, storedFirst: true }]);
  assert.equal(outbox.size, 1);
  assert.deepEqual([...outbox.inFlight], [entry.id]);
});

test("a command sent on the websocket leaves the outbox when its result arrives", async () => {
  const { outbox, posted, answers } = outboxWith({ live: true });
  const changes = [];
  outbox.addEventListener("change", (e) => changes.push(e.detail.size));
  const entry = await outbox.submit("confirm_pick", { n: 1 });
  assert.equal(await outbox.answered({ id: entry.id, type: "result", ok: true }), true);
  assert.equal(outbox.size, 0);
  assert.deepEqual(changes, [1, 0]);
  assert.deepEqual(answers, [1]);
  assert.deepEqual(posted, []); // never went by HTTP
});

test("offline, commands are replayed by HTTP oldest first", async () => {
  const { outbox, posted, answers } = outboxWith({ live: false });
  await outbox.submit("confirm_pick", { n: 1 });
  await outbox.replay();
  await outbox.submit("confirm_pick", { n: 2 });
  await outbox.submit("confirm_pick", { n: 3 });
  await outbox.replay();
  assert.deepEqual(posted.flat(), [1, 2, 3]);
  assert.deepEqual(answers, [1, 2, 3]);
  assert.equal(outbox.size, 0);
});

test("a long queue is replayed in batches of 25, in order", async () => {
  const { outbox, store, posted, answers } = outboxWith({ live: false });
  for (let n = 1; n <= 60; n++) await store.add({ id: newCommandId(), type: "count", payload: { n } });
  await outbox.replay();
  assert.deepEqual(posted.map((batch) => batch.length), [25, 25, 10]);
  assert.deepEqual(answers, Array.from({ length: 60 }, (_, i) => i + 1));
});

test("a failed replay keeps every entry at the head, in order, and stops until the next try", async () => {
  let reachable = false;
  const { outbox, posted, answers } = outboxWith({
    live: false,
    post: (commands) => {
      if (!reachable) throw new OutboxUnreachable("offline");
      return commands.map(({ id }) => ({ id, type: "result", ok: true }));
    },
  });
  const stalls = [];
  outbox.addEventListener("stalled", (e) => stalls.push(e.detail.error.code));
  await outbox.submit("confirm_pick", { n: 1 });
  await outbox.submit("confirm_pick", { n: 2 });
  await outbox.replay();
  assert.equal(outbox.size, 2);
  assert.equal(outbox.lastError.name, "OutboxUnreachable");
  assert.ok(stalls.length >= 1 && stalls.every((code) => code === "network_error"));
  const failedTries = posted.length;
  reachable = true;
  await outbox.replay();
  assert.deepEqual(posted.slice(failedTries), [[1, 2]]);
  assert.deepEqual(answers, [1, 2]);
  assert.equal(outbox.lastError, null);
});

test("a business error is an answer: the entry leaves the outbox and replay goes on", async () => {
  const { outbox, answers } = outboxWith({
    live: false,
    post: (commands) => commands.map(({ id, payload }) => (payload.n === 1
      ? { id, type: "result", ok: false, error: { code: "short_pick" } }
      : { id, type: "result", ok: true })),
  });
  const messages = [];
  outbox.addEventListener("answer", (e) => messages.push(e.detail.message.ok));
  await outbox.submit("confirm_pick", { n: 1 });
  await outbox.submit("confirm_pick", { n: 2 });
  await outbox.replay();
  assert.deepEqual(answers, [1, 2]);
  assert.deepEqual(messages, [false, true]);
  assert.equal(outbox.size, 0);
});

test("a new command waits behind older unsent ones instead of overtaking them on the websocket", async () => {
  let reachable = false;
  const { outbox, sentLive, posted, setLive } = outboxWith({
    live: false,
    post: (commands) => {
      if (!reachable) throw new OutboxUnreachable("offline");
      return commands.map(({ id }) => ({ id, type: "result", ok: true }));
    },
  });
  await outbox.submit("confirm_pick", { n: 1 });
  await outbox.replay();
  setLive(true);
  reachable = true;
  await outbox.submit("confirm_pick", { n: 2 });
  await outbox.replay();
  assert.deepEqual(sentLive, []);
  assert.deepEqual(posted.at(-1), [1, 2]);
});

test("commands sent on a websocket that dropped unanswered go again by HTTP, under the same ids", async () => {
  const { outbox, sentLive, posted, answers } = outboxWith({ live: true });
  await outbox.submit("confirm_pick", { n: 1 });
  await outbox.submit("confirm_pick", { n: 2 });
  assert.deepEqual(sentLive.map((c) => c.payload.n), [1, 2]);
  outbox.liveLost();
  await outbox.replay();
  assert.deepEqual(posted, [[1, 2]]);
  assert.deepEqual(answers, [1, 2]);
  assert.equal(outbox.inFlight.size, 0);
});

test("the same command answered on the websocket and by HTTP is settled and announced once", async () => {
  const { outbox, sentLive, answers } = outboxWith({ live: true });
  const entry = await outbox.submit("confirm_pick", { n: 1 });
  outbox.liveLost();
  await outbox.replay(); // HTTP answers it first
  assert.equal(await outbox.answered({ id: entry.id, type: "result", ok: true }), false); // then the websocket
  assert.equal(await outbox.answered({ id: entry.id, type: "result", ok: true }), false);
  assert.equal(sentLive.length, 1);
  assert.deepEqual(answers, [1]);
  assert.equal(outbox.size, 0);
});

test("a websocket answer that arrives while HTTP replays the same command is announced once", async () => {
  let outbox;
  const { outbox: created, answers } = outboxWith({
    live: true,
    post: async (commands) => {
      // The late websocket result lands while the HTTP call is on its way; HTTP then answers the same id.
      for (const { id } of commands) assert.equal(await outbox.answered({ id, type: "result", ok: true }), true);
      return commands.map(({ id }) => ({ id, type: "result", ok: true }));
    },
  });
  outbox = created;
  await outbox.submit("confirm_pick", { n: 1 });
  outbox.liveLost();
  await outbox.replay();
  assert.deepEqual(answers, [1]);
  assert.equal(outbox.size, 0);
});

test("a result for a command this outbox never queued is ignored", async () => {
  const { outbox, answers } = outboxWith({ live: true });
  await outbox.submit("confirm_pick", { n: 1 });
  assert.equal(await outbox.answered({ id: newCommandId(), type: "result", ok: true }), false);
  assert.deepEqual(answers, []);
  assert.equal(outbox.size, 1);
});

test("replays asked for while one runs share it and run again once it is done", async () => {
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  const { outbox, store, posted } = outboxWith({
    live: false,
    post: async (commands) => {
      await gate;
      return commands.map(({ id }) => ({ id, type: "result", ok: true }));
    },
  });
  await store.add({ id: newCommandId(), type: "count", payload: { n: 1 } });
  const first = outbox.replay();
  await store.add({ id: newCommandId(), type: "count", payload: { n: 2 } });
  const second = outbox.replay();
  assert.equal(second, first);
  release();
  await first;
  assert.deepEqual(posted.flat(), [1, 2]);
  assert.equal(await store.count(), 0);
});

test("command ids are v4 UUIDs, also where crypto.randomUUID is missing (plain-http LAN server)", () => {
  assert.match(newCommandId(), UUID_V4);
  const webCrypto = globalThis.crypto;
  Object.defineProperty(globalThis, "crypto", { configurable: true, enumerable: true,
    get: () => ({ getRandomValues: (bytes) => webCrypto.getRandomValues(bytes) }) });
  try {
    const ids = new Set(Array.from({ length: 50 }, () => newCommandId()));
    assert.equal(ids.size, 50);
    for (const id of ids) assert.match(id, UUID_V4);
  } finally {
    Object.defineProperty(globalThis, "crypto", { configurable: true, enumerable: true, get: () => webCrypto });
  }
});
