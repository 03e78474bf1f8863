// Tokens in the handheld's API client (handheld_pwa/lib/api.js): an expired access token is renewed with
// the refresh token (one trade at a time) and the request repeated; a refused trade signs the worker out.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, WesApi } from "../../handheld_pwa/lib/api.js";
import { Session } from "../../handheld_pwa/lib/session.js";
import { memoryStorage } from "./fakes.mjs";

globalThis.location = new URL("http://wes.test/app/"); // WesApi builds its URLs on location.origin

const EXPIRED = { error: { code: "invalid_token", message: "Token expired", details: null } };

/** A fake server: `answer(call)` → [status, json] for every request; `calls` records them in order. */
function fakeServer(answer) {
  const calls = [];
  const fetchImpl = async (url, { method, headers, body }) => {
    const call = { method, path: url.pathname + url.search, authorization: headers.Authorization ?? null,
      body: typeof body === "string" ? JSON.parse(body) : body ? Object.fromEntries(body) : null };
    calls.push(call);
    const [status, json] = await answer(call);
    return { ok: status >= 200 && status < 300, status, text: async () => (json === undefined ? "" : JSON.stringify(json)) };
  };
  return { calls, fetchImpl };
}

function signedIn({ token = "a1", refreshToken = "r1", expiresInMs = 600_000 } = {}) {
  const session = new Session(memoryStorage());
  session.token = token;
  session.refreshToken = refreshToken;
  session.tokenExpiresAt = expiresInMs === null ? 0 : Date.now() + expiresInMs;
  return session;
}

/** The server's access tokens: "a1" has run out, the refresh trade "r1" → ("a2", "r2") works once. */
function tokenServer({ refresh = () => [200, { access_token: "a2", refresh_token: "r2", expires_in: 900 }] } = {}) {
  return fakeServer((call) => {
    if (call.path === "/api/v1/auth/refresh") return refresh(call);
    if (call.authorization === "Bearer a1") return [401, EXPIRED];
    return [200, { path: call.path }];
  });
}

test("an expired access token is traded for a new pair and the request repeated once", async () => {
  const server = tokenServer();
  const session = signedIn();
  const unauthorized = [];
  const api = new WesApi(session, { fetchImpl: server.fetchImpl, onUnauthorized: (e) => unauthorized.push(e) });
  const before = Date.now();
  assert.deepEqual(await api.get("/auth/me"), { path: "/api/v1/auth/me" });
  assert.deepEqual(server.calls.map((c) => [c.method, c.path, c.authorization]), [
    ["GET", "/api/v1/auth/me", "Bearer a1"],
    ["POST", "/api/v1/auth/refresh", null],
    ["GET", "/api/v1/auth/me", "Bearer a2"],
  ]);
  assert.deepEqual(server.calls[1].body, { refresh_token: "r1" });
  assert.equal(session.token, "a2");
  assert.equal(session.refreshToken, "r2");
  assert.ok(session.tokenExpiresAt >= before + 900_000 && session.tokenExpiresAt <= Date.now() + 900_000);
  assert.deepEqual(unauthorized, []);
});

test("requests that find the token expired together share one refresh trade", async () => {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  const server = tokenServer({ refresh: async () => {
    await held;
    return [200, { access_token: "a2", refresh_token: "r2", expires_in: 900 }];
  } });
  const api = new WesApi(signedIn(), { fetchImpl: server.fetchImpl });
  const answers = Promise.all([api.get("/tasks"), api.post("/receipts", { dock: "D1" }), api.get("/auth/me")]);
  setTimeout(release, 10);
  assert.equal((await answers).length, 3);
  assert.equal(server.calls.filter((c) => c.path === "/api/v1/auth/refresh").length, 1);
  assert.deepEqual(server.calls.filter((c) => c.authorization === "Bearer a2").map((c) => c.path).sort(),
    ["/api/v1/auth/me", "/api/v1/receipts", "/api/v1/tasks"]);
});

test("a refused refresh trade signs the worker out and the request is not repeated", async () => {
  const refused = { error: { code: "invalid_refresh_token", message: "Used already", details: null } };
  const server = tokenServer({ refresh: () => [401, refused] });
  const unauthorized = [];
  const api = new WesApi(signedIn(), { fetchImpl: server.fetchImpl, onUnauthorized: (e) => unauthorized.push(e.code) });
  await assert.rejects(api.get("/tasks"), (err) => err instanceof ApiError && err.code === "invalid_refresh_token");
  assert.deepEqual(unauthorized, ["invalid_refresh_token"]);
  assert.deepEqual(server.calls.map((c) => c.path), ["/api/v1/tasks", "/api/v1/auth/refresh"]);
});

test("a 401 that is not an expired token, or with no refresh token kept, signs out without a trade", async () => {
  const server = fakeServer(() => [401, { error: { code: "invalid_credentials", message: "No" } }]);
  const unauthorized = [];
  const api = new WesApi(signedIn(), { fetchImpl: server.fetchImpl, onUnauthorized: (e) => unauthorized.push(e.code) });
  await assert.rejects(api.get("/tasks"), { status: 401, code: "invalid_credentials" });

  const expired = tokenServer();
  const noRefresh = new WesApi(signedIn({ refreshToken: null }), { fetchImpl: expired.fetchImpl,
    onUnauthorized: (e) => unauthorized.push(e.code) });
  await assert.rejects(noRefresh.get("/tasks"), { status: 401, code: "invalid_token" });
  assert.deepEqual(unauthorized, ["invalid_credentials", "invalid_token"]);
  assert.deepEqual([...server.calls, ...expired.calls].map((c) => c.path), ["/api/v1/tasks", "/api/v1/tasks"]);
});

test("a refused sign-in (anonymous) is only an error: no trade, no sign-out", async () => {
  const server = fakeServer(() => [401, { error: { code: "invalid_credentials", message: "Wrong password" } }]);
  const unauthorized = [];
  const session = new Session(memoryStorage());
  const api = new WesApi(session, { fetchImpl: server.fetchImpl, onUnauthorized: (e) => unauthorized.push(e) });
  await assert.rejects(api.login("pick", "nope"), { status: 401, code: "invalid_credentials",
    message: "Wrong password" });
  assert.deepEqual(unauthorized, []);
  assert.deepEqual(server.calls.map((c) => [c.path, c.body]), [["/api/v1/auth/token", { username: "pick", password: "nope" }]]);
  assert.equal(session.token, null);
});

test("signing in keeps the pair and when the access token runs out (0 when the server does not say)", async () => {
  const server = fakeServer(() => [200, { access_token: "a1", refresh_token: "r1", expires_in: 900 }]);
  const session = new Session(memoryStorage());
  const before = Date.now();
  await new WesApi(session, { fetchImpl: server.fetchImpl }).login("pick", "secret");
  assert.equal(session.token, "a1");
  assert.equal(session.refreshToken, "r1");
  assert.ok(session.tokenExpiresAt >= before + 900_000 && session.tokenExpiresAt <= Date.now() + 900_000);

  const bare = fakeServer(() => [200, { access_token: "a9" }]);
  await new WesApi(session, { fetchImpl: bare.fetchImpl }).login("pick", "secret");
  assert.equal(session.token, "a9");
  assert.equal(session.refreshToken, null);
  assert.equal(session.tokenExpiresAt, 0);
});

test("freshToken renews a token with less than a minute left, and leaves a longer one alone", async () => {
  const server = tokenServer();
  const soon = signedIn({ expiresInMs: 59_000 });
  assert.equal(await new WesApi(soon, { fetchImpl: server.fetchImpl }).freshToken(), "a2");
  const later = signedIn({ expiresInMs: 61_000 });
  assert.equal(await new WesApi(later, { fetchImpl: server.fetchImpl }).freshToken(), "a1");
  const unknown = signedIn({ expiresInMs: null });
  assert.equal(await new WesApi(unknown, { fetchImpl: server.fetchImpl }).freshToken(), "a1");
  assert.equal(server.calls.length, 1);
});

test("freshToken: a refused trade signs out; no connection is thrown to the caller", async () => {
  const refused = tokenServer({ refresh: () => [401, { error: { code: "invalid_refresh_token", message: "No" } }] });
  const unauthorized = [];
  const api = new WesApi(signedIn({ expiresInMs: 1_000 }), { fetchImpl: refused.fetchImpl,
    onUnauthorized: (e) => unauthorized.push(e.code) });
  assert.equal(await api.freshToken(), "a1");
  assert.deepEqual(unauthorized, ["invalid_refresh_token"]);

  const offline = new WesApi(signedIn({ expiresInMs: 1_000 }), { fetchImpl: async () => { throw new TypeError("Failed to fetch"); } });
  await assert.rejects(offline.freshToken(), { status: 0, code: "network_error" });
});

test("errors carry the envelope's code, message and details; a body that is not JSON still gives a code", async () => {
  const server = fakeServer((call) => (call.path.startsWith("/api/v1/locations")
    ? [409, { error: { code: "location_blocked", message: "Blocked", details: { location: "R1-01" } } }]
    : [502, undefined]));
  const api = new WesApi(signedIn(), { fetchImpl: server.fetchImpl });
  await assert.rejects(api.get("/locations/R1-01"), { status: 409, code: "location_blocked", message: "Blocked",
    details: { location: "R1-01" } });
  await assert.rejects(api.get("/tasks"), { status: 502, code: "http_502", message: "The server answered 502", details: null });
});

test("query parameters that are null or undefined are left out", async () => {
  const server = fakeServer(() => [200, []]);
  await new WesApi(signedIn(), { fetchImpl: server.fetchImpl }).get("/tasks", { site: "S1", kind: undefined, zone: null });
  assert.equal(server.calls[0].path, "/api/v1/tasks?site=S1");
});
