"""/docs and /redoc work on a closed network: every script, style and icon comes from the app itself."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")
_ABSOLUTE_URL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _references(html: str) -> list[str]:
    return [a or b for a, b in _REFERENCE.findall(html)]


@pytest.mark.parametrize("path, expected", [
    ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
    ("/redoc", {"redoc.standalone.js", "favicon.png"}),
])
def test_the_docs_pages_load_only_same_origin_assets_and_those_are_served(api, path: str, expected: set) -> None:  # noqa: ANN001
    page = api.client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert not _ABSOLUTE_URL.search(page.text), "a docs page names another host"
    # and the browser is told to load nothing from elsewhere (ReDoc's bundle would fetch its logo from a CDN)
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["img-src"] == "'self' data:"
    assert all("http" not in sources and "*" not in sources for sources in policy.values())
    references = _references(page.text)
    assert {ref.rsplit("/", 1)[-1] for ref in references} == expected
    for ref in references:
        assert not urlsplit(ref).netloc and ref.startswith("/"), ref
        asset = api.client.get(ref)
        assert asset.status_code == 200, ref
        suffix = ref[ref.rindex("."):]
        assert asset.headers["content-type"].startswith(_TYPES[suffix]), (ref, asset.headers["content-type"])
        assert len(asset.content) > (1000 if suffix != ".png" else 100)
    # the page points the UI at this app's own OpenAPI document
    assert "/openapi.json" in page.text and api.client.get("/openapi.json").json()["info"]["title"].startswith("WES")


def test_swagger_ui_asks_no_online_validator_and_its_oauth2_redirect_is_local(api) -> None:  # noqa: ANN001
    page = api.client.get("/docs").text
    assert '"validatorUrl": null' in page  # Swagger UI would otherwise load a badge from validator.swagger.io
    redirect = api.client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and not _ABSOLUTE_URL.search(redirect.text)


def test_the_docs_pages_are_not_part_of_the_api_schema(api) -> None:  # noqa: ANN001
    paths = api.client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith(("/docs", "/redoc")) for p in paths)
