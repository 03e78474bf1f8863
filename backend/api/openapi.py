"""The OpenAPI document with every 4xx an operation can answer, each in the shared error envelope.

Written once here instead of on each route: what an operation can refuse follows from what the document
already says of it (its security, parameters, body and method).

| status | documented on | because |
|---|---|---|
| 401 | routes that need a bearer token | no token, a bad or expired one, a disabled user |
| 403 | the same | the role or the site does not fit (`role_forbidden`, `site_required`) |
| 404 | routes that need a token or have a path parameter | the row, the site or a thing the body names is not there, or not yours |
| 409 | routes that change something (POST, PUT, PATCH, DELETE) | a state or version conflict |
| 400, 413 | routes with a body | the body cannot be read (not UTF-8, a broken form), or is over `max_body_bytes` |
| 422 | every route | a parameter or body fails its type (`validation_failed`) or a business rule |
| 401, 429 | the login | a wrong password, too many attempts |

A response a route declares itself (a 409 with its own description, a 422 with its own model) is
kept; FastAPI's default 422 (`HTTPValidationError`, not what this API answers) is replaced.

A 405 says in `Allow` every method the document lists for that path (routes of one path are often
declared apart — GET and POST /orders — and the router alone names only the first one's), plus HEAD
where GET is allowed.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.errors import ErrorEnvelope, envelope

ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
DESCRIPTIONS = {
    400: "the body could not be read (not UTF-8, a broken form)",
    401: "no bearer token, or one that is invalid, expired or revoked",
    403: "your role or site may not do this",
    404: "not found (or not yours: the same answer)",
    409: "conflicts with the current state",
    413: "the request body is too large",
    422: "invalid input: a parameter or the body fails its type or a business rule",
    429: "too many attempts: wait as long as `Retry-After` says",
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
LOGIN_PATHS = {"/api/v1/auth/token"}


def error_statuses(path: str, method: str, operation: dict) -> list[int]:
    """The 4xx statuses an operation can answer (see the table above), read from what it declares."""
    statuses = {422}
    if operation.get("security"):
        statuses |= {401, 403}
    if operation.get("security") or any(p["in"] == "path" for p in operation.get("parameters", [])):
        statuses.add(404)
    if method.upper() in WRITES:
        statuses.add(409)
    if "requestBody" in operation:
        statuses |= {400, 413}
    if path in LOGIN_PATHS:
        statuses |= {401, 429}
    return sorted(statuses)


def _error_response(status: int, declared: dict | None) -> dict:
    if declared is None:
        return {"description": DESCRIPTIONS[status], "content": {"application/json": {"schema": ENVELOPE_REF}}}
    content = declared.setdefault("content", {})
    media = content.setdefault("application/json", {})
    schema = media.get("schema")
    if schema is None or schema == {"$ref": "#/components/schemas/HTTPValidationError"}:
        media["schema"] = ENVELOPE_REF
    elif schema != ENVELOPE_REF and "anyOf" not in schema:
        media["schema"] = {"anyOf": [schema, ENVELOPE_REF]}  # (its own model, or a plain validation failure)
    return declared


def install_error_documentation(app: FastAPI) -> None:
    """Make `app.openapi()` document each operation's 4xx answers in the envelope."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                               description=app.description, routes=app.routes, tags=app.openapi_tags,
                               servers=app.servers)
        components = document.setdefault("components", {}).setdefault("schemas", {})
        envelope_schema = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(envelope_schema.pop("$defs", {}))
        components["ErrorEnvelope"] = envelope_schema
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                declared = {int(status) for status in responses if status.isdigit() and status.startswith("4")}
                for status in sorted(set(error_statuses(path, method, operation)) | declared):
                    responses[str(status)] = _error_response(status, responses.get(str(status)))
        for unused in ("HTTPValidationError", "ValidationError"):
            if not any(unused in str(p) for p in document["paths"].values()):
                components.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _template(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")


def install_allow_header(app: FastAPI) -> None:
    """405 answers in the envelope, with `Allow` naming every documented method of the path."""
    paths: list[tuple[re.Pattern[str], set[str]]] = []

    def allowed(path: str) -> list[str]:
        if not paths:
            for template, operations in app.openapi()["paths"].items():
                paths.append((_template(template), {m.upper() for m in operations}))
        methods: set[str] = set()
        for pattern, declared in paths:
            if pattern.match(path):
                methods |= declared
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)

    async def method_not_allowed(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        methods = allowed(request.url.path)
        if not methods:  # (not an API path: what the router said)
            methods = [m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()]
        return JSONResponse(envelope("method_not_allowed", f"{request.method} is not allowed here; allowed: "
                                     f"{', '.join(methods) or 'none'}"), 405, headers={"Allow": ", ".join(methods)})

    app.add_exception_handler(405, method_not_allowed)
