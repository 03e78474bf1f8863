/*
 * Usage:
 *   const outbox = new Outbox(await IdbCommandStore.open(), {
 *     sendLive: (command) => link.send(command),           // true if it went out on the open websocket
 *     postCommands: (commands) => api.deviceCommands(commands),   // → results in order; throws when unreachable
 *   });
 *   outbox.addEventListener("answer", (e) => show(e.detail.entry, e.detail.message));
 *   outbox.addEventListener("change", () => header.count = outbox.size);
 *   await outbox.submit("confirm_pick", { task_id: 7, … });  // written first, then sent if it can be
 *   outbox.answered(resultMessage);                          // a websocket "result" arrived
 *   await outbox.replay();                                    // on reconnect / `online`: HTTP, in order
 *   // tests: new Outbox(new MemoryCommandStore(), {...}) drives the same logic without IndexedDB.
 *
 * Every command gets a client-made UUID and is stored (one store, auto-increment
 * keys = the order it was made) before anything is sent. An entry leaves the
 * store only when the server answered it (ok or a business error); the server
 * applies a command id once, so sending an entry twice (websocket, then HTTP
 * after a drop) is safe. Replay reads from the head and deletes only what was
 * answered, so an entry whose call failed is still at the head (a crash mid-call
 * loses nothing) and replay stops until the next try.
 */

const REPLAY_BATCH = 25;

export class OutboxUnreachable extends Error {
  constructor(message, { status = 0, code = "network_error" } = {}) {
    super(message);
    this.name = "OutboxUnreachable";
    this.status = status;
    this.code = code;
  }
}

export function newCommandId() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; a plain-http LAN server still gets a v4 UUID.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The outbox in IndexedDB: database "wes-outbox", store "commands" (key auto-increment, unique index on id). */
export class IdbCommandStore {
  static open(name = "wes-outbox") {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => {
        const store = request.result.createObjectStore("commands", { keyPath: "key", autoIncrement: true });
        store.createIndex("id", "id", { unique: true });
      };
      request.onsuccess = () => resolve(new IdbCommandStore(request.result));
      request.onerror = () => reject(request.error);
    });
  }

  constructor(db) {
    this.db = db;
  }

  #run(mode, work) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction("commands", mode);
      let value;
      work(tx.objectStore("commands"), (v) => { value = v; });
      tx.oncomplete = () => resolve(value);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  add(entry) {
    return this.#run("readwrite", (s, done) => { s.add(entry).onsuccess = (e) => done(e.target.result); });
  }

  head(limit) {
    return this.#run("readonly", (s, done) => { s.getAll(null, limit).onsuccess = (e) => done(e.target.result); });
  }

  byId(id) {
    return this.#run("readonly", (s, done) => { s.index("id").get(id).onsuccess = (e) => done(e.target.result ?? null); });
  }

  delete(key) {
    return this.#run("readwrite", (s) => { s.delete(key); });
  }

  count() {
    return this.#run("readonly", (s, done) => { s.count().onsuccess = (e) => done(e.target.result); });
  }
}

/** The same contract in memory (unit tests, browsers without IndexedDB). */
export class MemoryCommandStore {
  constructor() {
    this.rows = new Map();
    this.nextKey = 1;
  }

  async add(entry) {
    const key = this.nextKey++;
    this.rows.set(key, { ...entry, key });
    return key;
  }

  async head(limit) {
    return [...this.rows.values()].sort((a, b) => a.key - b.key).slice(0, limit);
  }

  async byId(id) {
    return [...this.rows.values()].find((r) => r.id === id) ?? null;
  }

  async delete(key) {
    this.rows.delete(key);
  }

  async count() {
    return this.rows.size;
  }
}

export class Outbox extends EventTarget {
  constructor(store, { sendLive = () => false, postCommands }) {
    super();
    this.store = store;
    this.sendLive = sendLive;
    this.postCommands = postCommands;
    this.size = 0;
    this.inFlight = new Set(); // ids sent on the current websocket, answer not yet seen
    this.replaying = null;
    this.replayAgain = false;
    this.lastError = null;
  }

  async refreshSize() {
    this.size = await this.store.count();
    this.dispatchEvent(new CustomEvent("change", { detail: { size: this.size } }));
    return this.size;
  }

  /** Store the command, then send it on the websocket if nothing older is waiting; else replay in order. */
  async submit(type, payload) {
    const entry = { id: newCommandId(), type, payload, queuedAt: new Date().toISOString() };
    entry.key = await this.store.add(entry);
    const size = await this.refreshSize();
    const olderWaiting = size - 1 - this.inFlight.size > 0;
    if (!olderWaiting && !this.replaying && this.sendLive({ id: entry.id, type, payload })) {
      this.inFlight.add(entry.id);
    } else {
      this.replay();
    }
    return entry;
  }

  /** The websocket closed: what was sent on it and not answered will go again by HTTP. */
  liveLost() {
    this.inFlight.clear();
  }

  /** A websocket "result" message: the entry leaves the outbox and its answer is announced. */
  async answered(message) {
    this.inFlight.delete(message.id);
    const entry = await this.store.byId(message.id);
    if (!entry) return false; // answered already (replayed over HTTP meanwhile)
    await this.#settle(entry, message);
    return true;
  }

  /** Send everything stored, oldest first, by HTTP; stops at the first call that fails. */
  replay() {
    if (this.replaying) {
      this.replayAgain = true;
      return this.replaying;
    }
    this.replaying = (async () => {
      try {
        do {
          this.replayAgain = false;
          if (!(await this.#drain())) break;
        } while (this.replayAgain);
      } finally {
        this.replaying = null;
      }
    })();
    return this.replaying;
  }

  async #drain() {
    for (;;) {
      const entries = await this.store.head(REPLAY_BATCH);
      if (entries.length === 0) {
        this.lastError = null;
        return true;
      }
      let results;
      try {
        results = await this.postCommands(entries.map(({ id, type, payload }) => ({ id, type, payload })));
      } catch (err) {
        // Nothing was deleted: the failed entries are still the head, in order, for the next try.
        this.lastError = err;
        this.dispatchEvent(new CustomEvent("stalled", { detail: { error: err, size: this.size } }));
        return false;
      }
      for (const message of results) {
        const entry = entries.find((e) => e.id === message.id);
        if (entry) await this.#settle(entry, message);
      }
    }
  }

  async #settle(entry, message) {
    if (!(await this.store.byId(entry.id))) return; // the other path (websocket or HTTP) settled it first
    await this.store.delete(entry.key);
    this.inFlight.delete(entry.id);
    await this.refreshSize();
    this.dispatchEvent(new CustomEvent("answer", { detail: { entry, message } }));
  }
}
