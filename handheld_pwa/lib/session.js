/*
 * Usage:
 *   const session = new Session(sessionStorage);
 *   session.token = "…"; session.me = {username, roles, sites}; session.site = "S1";
 *   session.refreshToken = "…"; session.tokenExpiresAt = Date.now() + 900_000;
 *   session.hasRole("receiver", "admin"); session.clear();
 *
 * The tokens live in sessionStorage only: closing the tab logs out. The access token is short (15 min);
 * WesApi trades the refresh token (used once, a shift long) for the next pair when it runs out.
 */

const KEYS = { token: "wes.token", refreshToken: "wes.refresh", tokenExpiresAt: "wes.token_expires_at", me: "wes.me",
  site: "wes.site" };

export class Session {
  constructor(storage) {
    this.storage = storage;
  }

  get token() { return this.storage.getItem(KEYS.token); }
  set token(value) { this.#put(KEYS.token, value); }

  get refreshToken() { return this.storage.getItem(KEYS.refreshToken); }
  set refreshToken(value) { this.#put(KEYS.refreshToken, value); }

  /** When the access token runs out (ms since the epoch; 0 when unknown). */
  get tokenExpiresAt() { return Number(this.storage.getItem(KEYS.tokenExpiresAt) || 0); }
  set tokenExpiresAt(value) { this.#put(KEYS.tokenExpiresAt, value ? String(value) : null); }

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
