// The signed-in session (handheld_pwa/lib/session.js) over a Storage-like object.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Session } from "../../handheld_pwa/lib/session.js";
import { memoryStorage } from "./fakes.mjs";

test("signed in means a token, a user and a site", () => {
  const session = new Session(memoryStorage());
  assert.equal(session.loggedIn, false);
  session.token = "access";
  session.me = { username: "pick", roles: ["picker"], sites: ["S1"] };
  assert.equal(session.loggedIn, false);
  session.site = "S1";
  assert.equal(session.loggedIn, true);
});

test("what it keeps survives a new Session over the same storage (a reload)", () => {
  const storage = memoryStorage();
  const first = new Session(storage);
  first.token = "access";
  first.refreshToken = "refresh";
  first.tokenExpiresAt = 1_700_000_900_000;
  first.me = { username: "recv", roles: ["receiver"] };
  first.site = "S1";
  const again = new Session(storage);
  assert.equal(again.token, "access");
  assert.equal(again.refreshToken, "refresh");
  assert.equal(again.tokenExpiresAt, 1_700_000_900_000);
  assert.deepEqual(again.me, { username: "recv", roles: ["receiver"] });
  assert.equal(again.site, "S1");
});

test("an unknown expiry reads as 0, and setting 0 or null forgets it", () => {
  const storage = memoryStorage();
  const session = new Session(storage);
  assert.equal(session.tokenExpiresAt, 0);
  session.tokenExpiresAt = 5;
  session.tokenExpiresAt = 0;
  assert.equal(storage.items.has("wes.token_expires_at"), false);
  assert.equal(session.tokenExpiresAt, 0);
});

test("setting null removes the key instead of storing the string 'null'", () => {
  const storage = memoryStorage();
  const session = new Session(storage);
  session.refreshToken = "refresh";
  session.refreshToken = null;
  session.me = null;
  assert.equal(session.refreshToken, null);
  assert.equal(session.me, null);
  assert.deepEqual([...storage.items.keys()], []);
});

test("hasRole is true when the user has any of the roles asked for", () => {
  const session = new Session(memoryStorage());
  assert.equal(session.hasRole("admin"), false);
  session.me = { username: "sup", roles: ["supervisor", "picker"] };
  assert.equal(session.hasRole("admin", "supervisor"), true);
  assert.equal(session.hasRole("receiver"), false);
});

test("clear signs out: every key of the session is gone, other keys stay", () => {
  const storage = memoryStorage();
  storage.setItem("wes.scanner", "{}");
  const session = new Session(storage);
  session.token = "access";
  session.refreshToken = "refresh";
  session.tokenExpiresAt = 1;
  session.me = { username: "pick" };
  session.site = "S1";
  session.clear();
  assert.deepEqual([...storage.items.keys()], ["wes.scanner"]);
  assert.equal(session.loggedIn, false);
});
