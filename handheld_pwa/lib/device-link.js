/*
 * Usage:
 *   const link = new DeviceLink(localStorage, { accessToken: () => api.freshToken() });  // a token or its promise
 *   link.enrolled                         // a device token is kept in localStorage
 *   link.saveEnrollment(enrolledOut)      // the answer of POST /devices/enroll
 *   link.addEventListener("status", …)    // detail.state: "offline" | "connecting" | "online"
 *   link.addEventListener("server-event", (e) => e.detail)   // task.assigned, task.revoked, message…
 *   link.addEventListener("result", (e) => e.detail)         // a command's answer on the websocket
 *   link.start(); link.send({ id, type, payload }) → true if sent; link.stop();
 *
 * One websocket to /ws/device (same origin). It authenticates with the device
 * token, the signed-in user's access token and the last event seq kept in
 * localStorage (so missed events come first), stores the seq after every
 * event, answers server pings, and reconnects with capped, jittered backoff.
 */

const DEVICE_KEY = "wes.device";
const SEQ_KEY = "wes.device.seq";
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
// Authentication refused, device revoked, worker signed off (disabled, signed out): retrying will not help.
const NO_RETRY = new Set([4401, 4403, 4410]);

export class DeviceLink extends EventTarget {
  constructor(storage, { accessToken, url = defaultUrl() }) {
    super();
    this.storage = storage;
    this.accessToken = accessToken;
    this.url = url;
    this.state = "offline";
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.wanted = false;
    this.lastRefusal = null;
    this.onOnline = () => { if (this.wanted) this.#connectNow(); };
    this.onOffline = () => { if (this.socket) this.socket.close(); };
  }

  get device() {
    const raw = this.storage.getItem(DEVICE_KEY);
    return raw ? JSON.parse(raw) : null;
  }

  get enrolled() {
    return Boolean(this.device && this.device.token);
  }

  get lastSeq() {
    return Number(this.storage.getItem(SEQ_KEY) || 0);
  }

  saveEnrollment(enrolled) {
    const { device, device_token: token } = enrolled;
    this.storage.setItem(DEVICE_KEY, JSON.stringify({ token, id: device.id, name: device.name, site: device.site }));
    this.storage.setItem(SEQ_KEY, "0"); // a new device stream starts at the beginning
  }

  forget() {
    this.stop();
    this.storage.removeItem(DEVICE_KEY);
    this.storage.removeItem(SEQ_KEY);
  }

  start() {
    if (this.wanted) return;
    this.wanted = true;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.#connectNow();
  }

  stop() {
    this.wanted = false;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, "signed out");
    this.socket = null;
    this.#setState("offline");
  }

  send(message) {
    if (this.state !== "online" || !this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Drop the socket as a dead spot would (tests, "reconnect" button). */
  drop() {
    if (this.socket) this.socket.close();
  }

  #connectNow() {
    clearTimeout(this.timer);
    if (!this.wanted || !this.enrolled || this.socket) return;
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
        token = null; // no renewal (offline): the server answers auth_failed and the app decides
      }
      if (this.socket !== socket || socket.readyState !== WebSocket.OPEN) return;
      socket.send(JSON.stringify({ id: "auth", type: "auth", device_token: this.device.token,
        access_token: token, last_seq: this.lastSeq }));
    };
    socket.onmessage = (event) => this.#receive(socket, event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.#setState("offline");
      if (NO_RETRY.has(event.code)) {
        this.dispatchEvent(new CustomEvent("refused", { detail: { code: event.code, reason: event.reason,
          error: this.lastRefusal } }));
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
    } else if (message.type === "auth_ok") {
      this.attempt = 0;
      this.lastRefusal = null;
      this.session = message;
      this.#setState("online");
    } else if (message.type === "result") {
      this.dispatchEvent(new CustomEvent("result", { detail: message }));
    } else if (message.type === "error") {
      if (message.id === "auth") this.lastRefusal = message.error;
      if (message.error && message.error.code === "seq_ahead") this.storage.setItem(SEQ_KEY, String(message.error.details.head));
      this.dispatchEvent(new CustomEvent("protocol-error", { detail: message }));
    } else if (typeof message.seq === "number") {
      if (message.seq <= this.lastSeq) return; // had it already
      this.dispatchEvent(new CustomEvent("server-event", { detail: message }));
      this.storage.setItem(SEQ_KEY, String(message.seq));
    }
  }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state } }));
  }
}

function defaultUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/device`;
}
