"""Security headers on every HTTP response: one pure ASGI middleware, wrapped around the whole app.

Every response (API, the handheld app and the wall under /app/, /docs, /metrics, errors — a 413 or even a 500
from Starlette's last-resort handler) gets:

- `Content-Security-Policy`: `APP_CSP` — scripts, styles, images, fonts, workers and connections (the
  websockets too) from this origin only, no inline script or style, no framing — unless the route set its
  own (the offline API docs, whose Swagger UI and ReDoc pages need inline code: `backend.app.DOCS_CSP`);
- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`;
- `Cache-Control: no-store` on /api/… and /metrics (tokens, stock, people: no cache keeps them), unless the
  route chose its own; static files keep their validators (ETag) and the service worker caches the shell;
- `Strict-Transport-Security` when the request came over HTTPS (behind a proxy: uvicorn's
  `--proxy-headers` from a trusted address), so a browser that once reached the server over TLS never
  falls back to plain HTTP.

A header the route already set is left alone. Websockets pass through untouched.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

APP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
           "font-src 'self'; connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; "
           "form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000; includeSubDomains"
COMMON = (
    ("content-security-policy", APP_CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
)
NO_STORE = (("cache-control", "no-store"),)
NOT_CACHED_PREFIXES = ("/api/", "/metrics")


class SecurityHeaders:
    """Adds `COMMON` (and `NO_STORE` on the API, HSTS over HTTPS) to each response start it sees."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = COMMON + NO_STORE if scope["path"].startswith(NOT_CACHED_PREFIXES) else COMMON
        if scope.get("scheme") == "https":
            added += (("strict-transport-security", HSTS),)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in added:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
