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
 * reconnects with capped, jittered backoff. Every wall.state is a whole
 * snapshot and is always drawn; alerts are told once each.
 */

const SEQ_KEY = "wes.wall.seq";
const BACKOFF_MS = [500, 1000, 2000, 5000, 10000];
const NO_RETRY = new Set([4401, 4403, 4410]); // sign-in refused, signed off: retrying will not help

export class WallLink extends EventTarget {
  constructor(storage, { accessToken, site, url = defaultUrl() }) {
    super();
    this.storage = storage;
    this.accessToken = accessToken;
    this.site = site;
    this.url = url;
    this.state = "offline";
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.wanted = false;
    this.refusal = null;
    this.alertsSeen = new Set();
  }

  get lastSeq() {
    return Number(this.storage.getItem(SEQ_KEY) || 0);
  }

  start() {
    if (this.wanted) return;
    this.wanted = true;
    this.#connectNow();
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, "signed out");
    this.socket = null;
    this.storage.removeItem(SEQ_KEY);
    this.#setState("offline");
  }

  /** Drop the socket as a network failure would (tests): the link reconnects and resumes. */
  drop() {
    if (this.socket) this.socket.close();
  }

  #connectNow() {
    clearTimeout(this.timer);
    if (!this.wanted || this.socket) return;
    this.#setState("connecting");
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.#retry();
      return;
    }
    this.socket = socket;
    socket.onopen = async () => {
      let token;
      try {
        token = await this.accessToken(); // renewed first when about to expire
      } catch {
        token = null;
      }
      if (this.socket !== socket || socket.readyState !== WebSocket.OPEN) return;
      const auth = { id: "auth", type: "auth", access_token: token, site: this.site() };
      if (this.lastSeq) auth.after_seq = this.lastSeq;
      socket.send(JSON.stringify(auth));
    };
    socket.onmessage = (event) => this.#receive(socket, event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.#setState("offline");
      if (NO_RETRY.has(event.code)) {
        this.wanted = false;
        this.dispatchEvent(new CustomEvent("refused", { detail: {
          code: event.code, error: this.refusal,
          message: (this.refusal && this.refusal.message) || event.reason || "Sign in again" } }));
        return;
      }
      this.#retry();
    };
  }

  #retry() {
    if (!this.wanted) return;
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.timer = setTimeout(() => this.#connectNow(), base / 2 + Math.random() * base / 2);
  }

  #receive(socket, text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === "ping") {
      socket.send(JSON.stringify({ id: message.id, type: "pong" }));
      return;
    }
    if (message.type === "auth_ok") {
      this.attempt = 0;
      if (typeof message.seq === "number") this.#remember(message.seq);
      this.refusal = null;
      this.#setState("online");
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

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state } }));
  }
}

function defaultUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/wall`;
}
