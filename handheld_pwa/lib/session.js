/*
 * Usage:
 *   const session = new Session(sessionStorage);
 *   session.token = "…"; session.me = {username, roles, sites}; session.site = "S1";
 *   session.hasRole("receiver", "admin"); session.clear();
 *
 * The bearer token lives in sessionStorage only: closing the tab logs out.
 */

const KEYS = { token: "wes.token", me: "wes.me", site: "wes.site" };

export class Session {
  constructor(storage) {
    this.storage = storage;
  }

  get token() { return this.storage.getItem(KEYS.token); }
  set token(value) { this.#put(KEYS.token, value); }

  get me() {
    const raw = this.storage.getItem(KEYS.me);
    return raw ? JSON.parse(raw) : null;
  }
  set me(value) { this.#put(KEYS.me, value ? JSON.stringify(value) : null); }

  get site() { return this.storage.getItem(KEYS.site); }
  set site(value) { this.#put(KEYS.site, value); }

  get loggedIn() { return Boolean(this.token && this.me && this.site); }

  hasRole(...roles) {
    const mine = (this.me && this.me.roles) || [];
    return roles.some((r) => mine.includes(r));
  }

  clear() {
    for (const key of Object.values(KEYS)) this.storage.removeItem(key);
  }

  #put(key, value) {
    if (value === null || value === undefined) this.storage.removeItem(key);
    else this.storage.setItem(key, value);
  }
}
