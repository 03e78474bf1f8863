/*
 * Usage:
 *   const link = new WallLink(sessionStorage, { accessToken: () => api.freshToken(), site: () => session.site });
 *   link.addEventListener("status", (e) => e.detail.state)   // "offline" | "connecting" | "online"
 *   link.addEventListener("state", (e) => draw(e.detail))    // a wall.state message: {seq, at, data}
 *   link.addEventListener("alert", (e) => show(e.detail))    // a wall.alert message, each seq once
 *   link.addEventListener("refused", (e) => e.detail.message) // sign-in refused: retrying will not help
 *   link.start(); link.stop(); link.drop();
 *
 * One websocket to /ws/wall (same origin). It authenticates with the signed-in
 * supervisor's token, the site and the last seq it saw (`after_seq`, kept in
 * sessionStorage), so alerts missed while away come again; answers pings; and
 * reconnects with capped, jittered backoff (socket-link.js's loop, shared with
 * the handheld). Every wall.state is a whole snapshot and is always drawn;
 * alerts are told once each.
 */

import { SocketLink } from "../lib/socket-link.js";

const SEQ_KEY = "wes.wall.seq";
const BACKOFF_MS = [500, 1000, 2000, 5000, 10000];

export class WallLink extends SocketLink {
  constructor(storage, { accessToken, site, url = defaultUrl() }) {
    super({ url, accessToken, backoffMs: BACKOFF_MS });
    this.storage = storage;
    this.site = site;
    this.refusal = null;
    this.alertsSeen = new Set();
  }

  get lastSeq() {
    return Number(this.storage.getItem(SEQ_KEY) || 0);
  }

  stop() {
    this.storage.removeItem(SEQ_KEY);
    super.stop();
  }

  authMessage(token) {
    const auth = { id: "auth", type: "auth", access_token: token, site: this.site() };
    if (this.lastSeq) auth.after_seq = this.lastSeq;
    return auth;
  }

  refused(event) {
    this.wanted = false;
    this.dispatchEvent(new CustomEvent("refused", { detail: {
      code: event.code, error: this.refusal,
      message: (this.refusal && this.refusal.message) || event.reason || "Sign in again" } }));
  }

  receive(message) {
    if (message.type === "auth_ok") {
      if (typeof message.seq === "number") this.#remember(message.seq);
      this.refusal = null;
      this.authenticated();
      return;
    }
    if (message.type === "error") {
      if (message.id === "auth") this.refusal = message.error;
      return;
    }
    if (typeof message.seq === "number") this.#remember(message.seq);
    if (message.type === "wall.state") {
      this.dispatchEvent(new CustomEvent("state", { detail: message }));
    } else if (message.type === "wall.alert") {
      const key = typeof message.seq === "number" ? message.seq : JSON.stringify(message.data);
      if (this.alertsSeen.has(key)) return; // resent after a reconnect: told once
      this.alertsSeen.add(key);
      if (this.alertsSeen.size > 500) this.alertsSeen.delete(this.alertsSeen.values().next().value);
      this.dispatchEvent(new CustomEvent("alert", { detail: message }));
    }
  }

  #remember(seq) {
    // The highest seen: alerts replayed on resume may carry a higher seq than the wall.state after them.
    if (seq > this.lastSeq) this.storage.setItem(SEQ_KEY, String(seq));
  }
}

function defaultUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/wall`;
}
