// The reconnect loop the handheld (DeviceLink) and the wall (WallLink) share, handheld_pwa/lib/socket-link.js,
// driven through both links against a fake WebSocket and timers the test runs by hand.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

import { DeviceLink } from "../../handheld_pwa/lib/device-link.js";
import { WallLink } from "../../handheld_pwa/wall/wall-link.js";
import { FakeWebSocket, manualTimers, memoryStorage, settle } from "./fakes.mjs";

let timers;
beforeEach(() => {
  timers = manualTimers();
  globalThis.setTimeout = timers.setTimeout;
  globalThis.clearTimeout = timers.clearTimeout;
  globalThis.WebSocket = FakeWebSocket;
  globalThis.window = new EventTarget(); // DeviceLink listens for online/offline on it
  FakeWebSocket.made = [];
  FakeWebSocket.refuse = false;
});

const lastSocket = () => FakeWebSocket.made.at(-1);

function deviceLink({ accessToken = async () => "a1" } = {}) {
  const storage = memoryStorage();
  storage.setItem("wes.device", JSON.stringify({ token: "d1", id: 4, name: "TC52-04", site: "S1" }));
  storage.setItem("wes.device.seq", "7");
  const link = new DeviceLink(storage, { accessToken, url: "ws://wes.test/ws/device" });
  return { link, storage, ...recorded(link) };
}

function wallLink({ accessToken = async () => "a1" } = {}) {
  const storage = memoryStorage();
  const link = new WallLink(storage, { accessToken, site: () => "S1", url: "ws://wes.test/ws/wall" });
  return { link, storage, ...recorded(link) };
}

function recorded(link) {
  const states = [];
  const refusals = [];
  link.addEventListener("status", (e) => states.push(e.detail.state));
  link.addEventListener("refused", (e) => refusals.push(e.detail));
  return { states, refusals };
}

/** Open the newest socket, let the auth go out, and have the server accept it. */
async function acceptAuth(extra = {}) {
  const socket = lastSocket();
  socket.accept();
  await settle();
  socket.say({ id: "auth", type: "auth_ok", ...extra });
  return socket;
}

test("the device link authenticates with the device token, a fresh access token and the last seq", async () => {
  const { link, states } = deviceLink();
  link.start();
  assert.equal(lastSocket().url, "ws://wes.test/ws/device");
  const socket = await acceptAuth();
  assert.deepEqual(socket.sent, [{ id: "auth", type: "auth", device_token: "d1", access_token: "a1", last_seq: 7 }]);
  assert.deepEqual(states, ["connecting", "online"]);
  assert.equal(link.state, "online");
});

test("the wall link authenticates with the token and the site, and after_seq once it has seen one", async () => {
  const { link, storage } = wallLink();
  link.start();
  const first = await acceptAuth({ seq: 12 });
  assert.deepEqual(first.sent, [{ id: "auth", type: "auth", access_token: "a1", site: "S1" }]);
  assert.equal(storage.getItem("wes.wall.seq"), "12");
  link.drop();
  await settle();
  timers.runAll();
  lastSocket().accept();
  await settle();
  assert.deepEqual(lastSocket().sent, [{ id: "auth", type: "auth", access_token: "a1", site: "S1", after_seq: 12 }]);
});

test("a token that cannot be renewed goes as null: the server decides", async () => {
  const { link } = deviceLink({ accessToken: async () => { throw new TypeError("Failed to fetch"); } });
  link.start();
  lastSocket().accept();
  await settle();
  assert.equal(lastSocket().sent[0].access_token, null);
});

test("a socket that closed while the token was on its way sends no auth", async () => {
  let release;
  const { link } = wallLink({ accessToken: () => new Promise((resolve) => { release = resolve; }) });
  link.start();
  const socket = lastSocket();
  socket.accept();
  socket.readyState = FakeWebSocket.CLOSED;
  release("a1");
  await settle();
  assert.deepEqual(socket.sent, []);
  assert.equal(link.state, "connecting");
});

test("server pings are answered with a pong of the same id", async () => {
  for (const { link } of [deviceLink(), wallLink()]) {
    link.start();
    const socket = await acceptAuth();
    socket.say({ id: "p9", type: "ping" });
    assert.deepEqual(socket.sent.at(-1), { id: "p9", type: "pong" });
    link.stop();
  }
});

test("text that is not JSON is ignored", async () => {
  const { link, states } = deviceLink();
  link.start();
  const socket = await acceptAuth();
  socket.say("not json");
  assert.deepEqual(states, ["connecting", "online"]);
  assert.equal(socket.sent.length, 1);
});

test("a dropped link reconnects after a jittered wait that grows to its cap, and starts over once accepted", async () => {
  for (const [{ link }, backoff] of [[deviceLink(), [500, 1000, 2000, 4000, 8000, 15000, 15000]],
    [wallLink(), [500, 1000, 2000, 5000, 10000, 10000]]]) {
    FakeWebSocket.made = [];
    link.start();
    const waits = [];
    for (const base of backoff) {
      lastSocket().hangUp();
      assert.equal(link.state, "offline");
      const [wait] = timers.due();
      assert.ok(wait >= base / 2 && wait <= base, `${wait} ms for a ${base} ms step`);
      waits.push(wait);
      timers.runAll();
      assert.equal(link.state, "connecting");
    }
    assert.equal(FakeWebSocket.made.length, backoff.length + 1);
    await acceptAuth();
    lastSocket().hangUp();
    const [wait] = timers.due();
    assert.ok(wait >= 250 && wait <= 500, `${wait} ms after a successful auth`);
    link.stop();
  }
});

test("a socket the browser will not make is retried too", () => {
  FakeWebSocket.refuse = true;
  const { link, states } = wallLink();
  link.start();
  assert.equal(FakeWebSocket.made.length, 0);
  assert.equal(timers.due().length, 1);
  FakeWebSocket.refuse = false;
  timers.runAll();
  assert.equal(FakeWebSocket.made.length, 1);
  assert.deepEqual(states, ["connecting"]);
});

test("the device link is refused for good on 4401, 4403 and 4410, with the auth error it was sent", async () => {
  for (const code of [4401, 4403, 4410]) {
    const { link, refusals } = deviceLink();
    link.start();
    const socket = lastSocket();
    socket.accept();
    await settle();
    socket.say({ id: "auth", type: "error", error: { code: "auth_failed", message: "Device revoked" } });
    socket.hangUp(code, "refused");
    assert.deepEqual(refusals, [{ code, reason: "refused", error: { code: "auth_failed", message: "Device revoked" } }]);
    assert.deepEqual(timers.due(), []);
    assert.equal(link.state, "offline");
    link.stop();
  }
});

test("the wall link is refused for good with a message to show, and stops wanting a socket", () => {
  const { link, refusals } = wallLink();
  link.start();
  lastSocket().hangUp(4401, "");
  assert.deepEqual(refusals, [{ code: 4401, error: null, message: "Sign in again" }]);
  assert.deepEqual(timers.due(), []);
  assert.equal(link.wanted, false);
});

test("stop closes the socket as signed out and nothing reconnects", async () => {
  const { link, storage, states } = wallLink();
  link.start();
  const socket = await acceptAuth({ seq: 3 });
  link.stop();
  assert.deepEqual(socket.closedWith, { code: 1000, reason: "signed out" });
  await settle(); // the close event arrives after stop: it is the old socket's, and ignored
  assert.deepEqual(timers.due(), []);
  assert.deepEqual(states, ["connecting", "online", "offline"]);
  assert.equal(storage.getItem("wes.wall.seq"), null);
});

test("a stop while a reconnect waits cancels it", () => {
  const { link } = deviceLink();
  link.start();
  lastSocket().hangUp();
  assert.equal(timers.due().length, 1);
  link.stop();
  assert.deepEqual(timers.due(), []);
});

test("a device that is not enrolled does not connect", () => {
  const link = new DeviceLink(memoryStorage(), { accessToken: async () => "a1", url: "ws://wes.test/ws/device" });
  link.start();
  assert.equal(FakeWebSocket.made.length, 0);
  assert.equal(link.state, "offline");
});

test("the device link connects at once when the browser comes online, and drops its socket when it goes offline", async () => {
  const { link } = deviceLink();
  link.start();
  lastSocket().hangUp();
  assert.equal(timers.due().length, 1);
  window.dispatchEvent(new Event("online"));
  assert.equal(FakeWebSocket.made.length, 2);
  assert.deepEqual(timers.due(), []);
  const socket = await acceptAuth();
  window.dispatchEvent(new Event("offline"));
  assert.equal(socket.closedWith.code, 1005);
  link.stop();
  window.dispatchEvent(new Event("online"));
  assert.equal(FakeWebSocket.made.length, 2);
});

test("the device link announces each server event once and keeps the highest seq", async () => {
  const { link, storage } = deviceLink();
  const events = [];
  link.addEventListener("server-event", (e) => events.push(e.detail.seq));
  link.start();
  const socket = await acceptAuth();
  for (const seq of [7, 8, 9, 8]) socket.say({ seq, type: "task.assigned" });
  assert.deepEqual(events, [8, 9]);
  assert.equal(storage.getItem("wes.device.seq"), "9");
  socket.say({ id: "x", type: "error", error: { code: "seq_ahead", details: { head: 3 } } });
  assert.equal(link.lastSeq, 3);
});

test("the device link sends commands only while online", async () => {
  const { link } = deviceLink();
  link.start();
  assert.equal(link.send({ id: "c1", type: "claim_next_task", payload: {} }), false);
  const socket = await acceptAuth();
  assert.equal(link.send({ id: "c1", type: "claim_next_task", payload: {} }), true);
  assert.deepEqual(socket.sent.at(-1), { id: "c1", type: "claim_next_task", payload: {} });
});

test("the wall link draws every state and tells each alert once, even when resent after a reconnect", async () => {
  const { link } = wallLink();
  const drawn = [];
  const told = [];
  link.addEventListener("state", (e) => drawn.push(e.detail.seq));
  link.addEventListener("alert", (e) => told.push(e.detail.seq));
  link.start();
  const socket = await acceptAuth();
  socket.say({ seq: 1, type: "wall.state", data: {} });
  socket.say({ seq: 2, type: "wall.alert", data: { kind: "short_pick" } });
  socket.say({ seq: 2, type: "wall.alert", data: { kind: "short_pick" } });
  socket.say({ seq: 1, type: "wall.state", data: {} });
  assert.deepEqual(drawn, [1, 1]);
  assert.deepEqual(told, [2]);
  assert.equal(link.lastSeq, 2);
});
