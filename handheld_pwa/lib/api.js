/*
 * Usage:
 *   const api = new WesApi(session);            // session: see session.js
 *   await api.login("recv", "secret");          // stores the token in the session
 *   const me = await api.get("/auth/me");
 *   await api.post("/receipts", { site, dock, scan });
 *   await api.request("POST", "/device-commands", { body, contentType, headers: { "X-Device-Token": t } });
 *   try { … } catch (e) { if (e instanceof ApiError) show(e.code, e.message); }
 *
 * Paths are relative to /api/v1. Errors arrive as {"error": {code, message, details}}.
 */

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
  }

  async login(username, password) {
    const body = new URLSearchParams({ username, password });
    const token = await this.request("POST", "/auth/token", { body, anonymous: true });
    this.session.token = token.access_token;
    return token;
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }

  post(path, json) {
    return this.request("POST", path, { body: JSON.stringify(json), contentType: "application/json" });
  }

  async request(method, path, { query, body, contentType, headers: extra = {}, anonymous = false } = {}) {
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
    const apiError = new ApiError(response.status, error.code || `http_${response.status}`,
      error.message || `The server answered ${response.status}`, error.details ?? null);
    if (response.status === 401 && !anonymous) this.onUnauthorized(apiError);
    throw apiError;
  }
}
