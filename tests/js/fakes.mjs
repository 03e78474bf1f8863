// Stand-ins for the browser objects the handheld's modules are given (not a test file: no tests here).

/** sessionStorage/localStorage's contract (strings in, strings or null out) over a Map. */
export function memoryStorage() {
  const items = new Map();
  return {
    items,
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
}

/** A WebSocket the test plays the server of: `FakeWebSocket.made` lists every socket in the order made. */
export class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static made = [];
  static refuse = false; // the constructor throws, as it does for a URL the browser will not open

  constructor(url) {
    if (FakeWebSocket.refuse) throw new SyntaxError("The URL is invalid");
    this.url = url;
    this.readyState = FakeWebSocket.CONNECTING;
    this.sent = [];
    this.closedWith = null;
    FakeWebSocket.made.push(this);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  /** The client closes: the close event follows later, as in a browser. */
  close(code = 1005, reason = "") {
    this.closedWith = { code, reason };
    this.readyState = FakeWebSocket.CLOSED;
    setImmediate(() => this.onclose && this.onclose({ code, reason }));
  }

  // The server's side.
  accept() {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen();
  }

  say(message) {
    this.onmessage({ data: typeof message === "string" ? message : JSON.stringify(message) });
  }

  hangUp(code = 1006, reason = "") {
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose({ code, reason });
  }
}

/** setTimeout/clearTimeout that only run when the test says: `due()` lists the delays waiting, `runAll()` runs them. */
export function manualTimers() {
  const waiting = new Map();
  let next = 1;
  return {
    setTimeout: (fn, ms) => { waiting.set(next, { fn, ms }); return next++; },
    clearTimeout: (id) => { waiting.delete(id); },
    due: () => [...waiting.values()].map((t) => t.ms),
    runAll() {
      const now = [...waiting.values()];
      waiting.clear();
      for (const t of now) t.fn();
    },
  };
}

/** Lets pending promise callbacks and setImmediate callbacks run. */
export const settle = () => new Promise((resolve) => setImmediate(resolve));
