/*
 * Usage:
 *   class WallLink extends SocketLink {
 *     constructor(…) { super({ url, backoffMs: [500, 1000, 2000, 5000, 10000] }); }
 *     authMessage(token) { return { id: "auth", type: "auth", access_token: token, … }; }
 *     receive(message) { if (message.type === "auth_ok") this.authenticated(); … }   // anything but a ping
 *     refused(event) { this.dispatchEvent(…); }                                      // closed with 4401/4403/4410
 *   }
 *   link.addEventListener("status", (e) => e.detail.state)   // "offline" | "connecting" | "online"
 *   link.start(); link.stop(); link.drop();
 *
 * The reconnect loop shared by the handheld's device link and the wall's link:
 * one websocket at a time; on open, the signed-in user's access token (renewed
 * first when about to expire; null when that fails, and the server decides) goes
 * in the subclass's auth message; server pings are answered; a close that says
 * retrying will not help is handed to refused(); any other close or a socket
 * that cannot be made is retried after a capped, jittered backoff, reset once
 * the server accepts the auth.
 */

// Authentication refused, device revoked, worker signed off (disabled, signed out): retrying will not help.
export const NO_RETRY = new Set([4401, 4403, 4410]);

export class SocketLink extends EventTarget {
  constructor({ url, accessToken, backoffMs }) {
    super();
    this.url = url;
    this.accessToken = accessToken;
    this.backoffMs = backoffMs;
    this.state = "offline";
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.wanted = false;
  }

  start() {
    if (this.wanted) return;
    this.wanted = true;
    this.connectNow();
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, "signed out");
    this.socket = null;
    this.setState("offline");
  }

  /** Drop the socket as a network failure or a dead spot would (tests, "reconnect"): the link reconnects. */
  drop() {
    if (this.socket) this.socket.close();
  }

  /** Whether a socket may be opened now (besides being wanted and not having one). */
  canConnect() {
    return true;
  }

  /** The server accepted the auth: the backoff starts again from its first step, and the link is online. */
  authenticated() {
    this.attempt = 0;
    this.setState("online");
  }

  connectNow() {
    clearTimeout(this.timer);
    if (!this.wanted || this.socket || !this.canConnect()) return;
    this.setState("connecting");
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
      socket.send(JSON.stringify(this.authMessage(token)));
    };
    socket.onmessage = (event) => this.#receive(socket, event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.setState("offline");
      if (NO_RETRY.has(event.code)) {
        this.refused(event);
        return;
      }
      this.#retry();
    };
  }

  #retry() {
    if (!this.wanted) return;
    const base = this.backoffMs[Math.min(this.attempt, this.backoffMs.length - 1)];
    this.attempt += 1;
    this.timer = setTimeout(() => this.connectNow(), base / 2 + Math.random() * base / 2);
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
    this.receive(message);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state } }));
  }
}
