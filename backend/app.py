"""create_app(settings): the only place an app, its engine and its workers are built."""

from __future__ import annotations

import gc
import logging
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api.openapi import install_allow_header, install_error_documentation
from backend.api.router import api_router
from backend.api.routes import demo as demo_pages
from backend.auth.login import LoginGuard
from backend.api.routes import ops as ops_routes
from backend.auth.security import PasswordHashing, TokenIssuer
from backend.background import COMPONENTS
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.errors import envelope, install_error_handlers
from backend.migrate import upgrade
from backend.realtime.endpoints import mount as mount_realtime
from backend.runtime import Runtime
from backend.security_headers import SecurityHeaders

log = logging.getLogger("wes")

PWA_DIR = Path(__file__).resolve().parent.parent / "handheld_pwa"


class BodySizeLimit:
    """Refuse bodies over the configured size before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def limited_receive():  # noqa: ANN202
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse(
            envelope("request_too_large", f"request body exceeds {self.max_bytes} bytes"), status_code=413
        )
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class _TooLarge(StarletteHTTPException):
    # An HTTPException, because FastAPI turns any other error raised while it
    # reads the body into "400 error parsing the body".
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body exceeds {max_bytes} bytes")


def build_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings.database_url)
    passwords = PasswordHashing(time_cost=settings.password_hash_time_cost,
                                memory_kib=settings.password_hash_memory_kib,
                                parallelism=settings.password_hash_parallelism)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        passwords=passwords,
        tokens=TokenIssuer(settings.secret_key, settings.access_token_minutes),
        logins=LoginGuard(settings, passwords),
    )


def tune_gc_for_latency() -> None:
    """Garbage collection for a server whose every answer someone waits on (`wes serve`, one app a process).

    CPython's full collections walk every tracked object, holding the GIL: with the start-up heap
    (modules, mappings, tables, fonts: ~200,000 objects) they stopped the event loop for 100-180 ms on
    a 2-core machine, and 300 handhelds' tasks and coroutines (~100,000 more) set one off every few
    seconds. Frozen, the start-up heap is never walked again; and collecting the youngest generation
    every 10,000 allocations instead of 700 means far fewer in-flight objects (a command being
    answered) survive into the old generations, so full collections become rare.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


DOCS_ASSETS = "/docs-assets"
# Everything from this server (inline scripts and styles are the pages' own; ReDoc runs its search in a blob: worker).
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' blob:; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
            "frame-ancestors 'none'")


def mount_offline_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their scripts, styles and icon served by the app itself.

    Warehouses run on closed networks: nothing here may come from the internet. The files are those
    the `fastapi-offline` package ships (Swagger UI and ReDoc bundles, kept current by its releases);
    Swagger UI's online validator badge is switched off and ReDoc does without Google Fonts.
    """
    import fastapi_offline
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    assets = Path(fastapi_offline.__file__).resolve().parent / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")
    oauth2_redirect = app.swagger_ui_oauth2_redirect_url

    def same_origin_only(page: HTMLResponse) -> HTMLResponse:
        # The browser itself keeps the pages off the internet: ReDoc's bundle, for one, always asks
        # cdn.redoc.ly for the logo of its "API docs by Redocly" link (it hides the image when that fails).
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return same_origin_only(get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} · API docs",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url=f"{root}{oauth2_redirect}" if oauth2_redirect else None,
            swagger_ui_parameters={"validatorUrl": None}))

    if oauth2_redirect:
        @app.get(oauth2_redirect, include_in_schema=False)
        def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return same_origin_only(get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} · ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png", with_google_fonts=False))


def announce_mode(settings: Settings) -> None:
    """One loud log line at start-up unless in production: who can forge tokens, and that this is no server for a floor."""
    if settings.environment == "production":
        log.info("wes runs in production mode")
        return
    if settings.uses_public_secret:
        log.warning("wes runs in %s mode with the PUBLIC development secret: anyone can sign a token for any user "
                    "(an all-sites admin too). Never expose this server; in production set WES_ENVIRONMENT=production "
                    "and WES_SECRET_KEY (wes secret prints one).", settings.environment.upper())
    else:
        log.warning("wes runs in %s mode (WES_ENVIRONMENT): secrets are not checked; not for production.",
                    settings.environment.upper())


def create_app(settings: Settings | None = None, *, tune_gc: bool = False) -> FastAPI:
    """The app; `tune_gc` (for `wes serve`, which runs one app per process): see `tune_gc_for_latency`."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        announce_mode(settings)
        runtime = build_runtime(settings)
        if settings.auto_migrate:
            upgrade(runtime.engine)
        app.state.runtime = runtime
        try:
            async with AsyncExitStack() as stack:
                # Background parts (realtime hub, print spool, …) start in order, stop in reverse.
                for component in COMPONENTS:
                    await stack.enter_async_context(component(runtime))
                log.info("wes started on %s", runtime.engine.url.get_backend_name())
                if tune_gc:
                    tune_gc_for_latency()
                yield
        finally:
            runtime.engine.dispose()

    app = FastAPI(
        title="WES — warehouse execution system",
        version="1.0.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served below from the app's own assets: FastAPI's pages load them from a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    mount_offline_docs(app)
    app.include_router(api_router, prefix="/api/v1")
    app.include_router(demo_pages.router)  # /demo, /demo/scan-sheet.pdf: public, for the sign-in screen
    mount_realtime(app, echo=settings.echo_socket_enabled)  # /ws/device, /ws/wall (+ /ws/echo for the benchmark)
    install_error_documentation(app)  # every operation's 4xx in /openapi.json
    install_allow_header(app)

    @app.get("/health", tags=["ops"])
    def health() -> dict:
        runtime: Runtime = app.state.runtime
        with runtime.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok", "database": runtime.engine.dialect.name}

    app.include_router(ops_routes.router)  # /metrics: the metrics token or an all-sites admin

    if PWA_DIR.is_dir() and (PWA_DIR / "index.html").exists():
        from fastapi.staticfiles import StaticFiles

        app.mount("/app", StaticFiles(directory=PWA_DIR, html=True), name="pwa")

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse("/app/")

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Outermost, around Starlette's own error middleware too: even its last-resort 500 gets the headers.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build_stack())  # type: ignore[method-assign]
    return app
