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
 * event, answers server pings, and reconnects with capped, jittered backoff
 * (the loop is socket-link.js's, shared with the wall).
 */

import { SocketLink } from "./socket-link.js";

const DEVICE_KEY = "wes.device";
const SEQ_KEY = "wes.device.seq";
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];

export class DeviceLink extends SocketLink {
  constructor(storage, { accessToken, url = defaultUrl() }) {
    super({ url, accessToken, backoffMs: BACKOFF_MS });
    this.storage = storage;
    this.lastRefusal = null;
    this.onOnline = () => { if (this.wanted) this.connectNow(); };
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
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    super.start();
  }

  stop() {
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    super.stop();
  }

  send(message) {
    if (this.state !== "online" || !this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  canConnect() {
    return this.enrolled;
  }

  authMessage(token) {
    return { id: "auth", type: "auth", device_token: this.device.token, access_token: token, last_seq: this.lastSeq };
  }

  refused(event) {
    this.dispatchEvent(new CustomEvent("refused", { detail: { code: event.code, reason: event.reason,
      error: this.lastRefusal } }));
  }

  receive(message) {
    if (message.type === "auth_ok") {
      this.lastRefusal = null;
      this.session = message;
      this.authenticated();
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
}

function defaultUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/device`;
}
