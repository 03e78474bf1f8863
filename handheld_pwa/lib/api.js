/*
 * Usage:
 *   const api = new WesApi(session);            // session: see session.js
 *   await api.login("recv", "secret");          // stores the tokens in the session
 *   const me = await api.get("/auth/me");        // an expired access token is renewed once, transparently
 *   const token = await api.freshToken();       // for a websocket's auth message: renewed when about to expire
 *   await api.post("/receipts", { site, dock, scan });
 *   await api.request("POST", "/device-commands", { body, contentType, headers: { "X-Device-Token": t } });
 *   try { … } catch (e) { if (e instanceof ApiError) show(e.code, e.message); }
 *
 * Paths are relative to /api/v1. Errors arrive as {"error": {code, message, details}}.
 * A 401 `invalid_token` (expired, or revoked by a password change) is answered by trading the refresh token at
 * /auth/refresh (one trade at a time: the refresh token works once) and repeating the request; only when that
 * trade is refused does `onUnauthorized` run (the app shows the sign-in screen). Offline, the trade waits.
 */

const RENEW_BEFORE_MS = 60_000; // a websocket's auth gets a token with at least a minute left

export const API_ROOT = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message, details = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export class WesApi {
  constructor(session, { fetchImpl = (...a) => fetch(...a), onUnauthorized = () => {} } = {}) {
    this.session = session;
    this.fetch = fetchImpl;
    this.onUnauthorized = onUnauthorized;
    this.renewing = null;
  }

  async login(username, password) {
    const body = new URLSearchParams({ username, password });
    const token = await this.request("POST", "/auth/token", { body, anonymous: true });
    this.#keep(token);
    return token;
  }

  /** The access token, renewed first when it expires within a minute (null when signed out). */
  async freshToken() {
    if (this.session.token && this.session.refreshToken && this.session.tokenExpiresAt
        && this.session.tokenExpiresAt - Date.now() < RENEW_BEFORE_MS) {
      try {
        await this.renew();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) this.onUnauthorized(err);
        else throw err;
      }
    }
    return this.session.token;
  }

  /** Trade the refresh token for a new pair; concurrent callers share one trade. Throws ApiError. */
  renew() {
    if (!this.renewing) {
      const refreshToken = this.session.refreshToken;
      this.renewing = (async () => {
        if (!refreshToken) throw new ApiError(401, "invalid_refresh_token", "Signed out");
        const token = await this.request("POST", "/auth/refresh", {
          body: JSON.stringify({ refresh_token: refreshToken }), contentType: "application/json", anonymous: true });
        this.#keep(token);
        return token;
      })().finally(() => { this.renewing = null; });
    }
    return this.renewing;
  }

  #keep(token) {
    this.session.token = token.access_token;
    this.session.refreshToken = token.refresh_token || null;
    this.session.tokenExpiresAt = token.expires_in ? Date.now() + token.expires_in * 1000 : 0;
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }

  post(path, json) {
    return this.request("POST", path, { body: JSON.stringify(json), contentType: "application/json" });
  }

  async request(method, path, options = {}) {
    try {
      return await this.#send(method, path, options);
    } catch (err) {
      const expired = err instanceof ApiError && err.status === 401 && err.code === "invalid_token";
      if (!expired || options.anonymous || !this.session.refreshToken) {
        if (err instanceof ApiError && err.status === 401 && !options.anonymous) this.onUnauthorized(err);
        throw err;
      }
      try {
        await this.renew();
      } catch (renewErr) {
        if (renewErr instanceof ApiError && renewErr.status === 401) this.onUnauthorized(renewErr);
        throw renewErr;
      }
      const retried = await this.#send(method, path, options).catch((again) => {
        if (again instanceof ApiError && again.status === 401) this.onUnauthorized(again);
        throw again;
      });
      return retried;
    }
  }

  async #send(method, path, { query, body, contentType, headers: extra = {}, anonymous = false } = {}) {
    const url = new URL(API_ROOT + path, location.origin);
    for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null) url.searchParams.set(k, v);
    const headers = { Accept: "application/json", ...extra };
    if (contentType) headers["Content-Type"] = contentType;
    if (!anonymous && this.session.token) headers.Authorization = `Bearer ${this.session.token}`;
    let response;
    try {
      response = await this.fetch(url, { method, headers, body });
    } catch (err) {
      throw new ApiError(0, "network_error", "No connection to the server. Check Wi-Fi and try again.");
    }
    const text = await response.text();
    let payload = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      payload = null;
    }
    if (response.ok) return payload;
    const error = (payload && payload.error) || {};
    throw new ApiError(response.status, error.code || `http_${response.status}`,
      error.message || `The server answered ${response.status}`, error.details ?? null);
  }
}
