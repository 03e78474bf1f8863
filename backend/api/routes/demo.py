"""The demo's own pages: is this server a demo, and its scan sheet.

Served at the root (`/demo`, `/demo/scan-sheet.pdf`), beside /health and
/docs, not under /api/v1: they answer without sign-in, for the handheld's
sign-in screen, and every /api/v1 route wants a signed-in user. Only while
the database holds the demo site (`wes demo`) and the server is not in
production; anywhere else both answer 404 `not_a_demo`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from backend import demo
from backend.api.deps import RuntimeDep, SessionDep
from backend.errors import ErrorEnvelope, NotFound
from backend.models import Site
from printers.scan_sheet import scan_sheet_pdf

router = APIRouter(prefix="/demo", tags=["demo"])

SCAN_SHEET_PATH = "/demo/scan-sheet.pdf"


class DemoOut(BaseModel):
    site: str
    scan_sheet: str


def _demo_site(runtime, session) -> Site:  # noqa: ANN001
    site = None if runtime.settings.environment == "production" else demo.demo_site(session)
    if site is None:
        raise NotFound("this server runs no demo", code="not_a_demo")
    return site


NOT_A_DEMO = {404: {"model": ErrorEnvelope, "description": "this server runs no demo (`not_a_demo`)"}}


@router.get("", response_model=DemoOut, responses=NOT_A_DEMO)
def about(runtime: RuntimeDep, session: SessionDep) -> DemoOut:
    """Whether this server is the demo (the handheld's sign-in screen then links the scan sheet)."""
    site = _demo_site(runtime, session)
    return DemoOut(site=site.code, scan_sheet=SCAN_SHEET_PATH)


@router.get("/scan-sheet.pdf",
            responses={200: {"content": {"application/pdf": {}}, "description": "a PDF"}, **NOT_A_DEMO})
def scan_sheet(request: Request, runtime: RuntimeDep, session: SessionDep) -> Response:
    """The demo's scan sheet as of now: the barcodes of its users, places, totes, products, the next ASN's
    pallets and the live work (putaways, picks, totes to pack, cartons to ship). Enrollment QR codes appear
    only for the tokens `wes demo` printed in this server's process that are still unused."""
    site = _demo_site(runtime, session)
    enrollments = demo.usable_enrollments(session, site, getattr(request.app.state, "demo_enrollments", ()))
    sheet = demo.scan_sheet(session, site, server=str(request.base_url).rstrip("/"), enrollments=enrollments)
    session.rollback()  # read only; release the connection before the PDF is drawn
    return Response(scan_sheet_pdf(sheet), media_type="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="demo-scan-sheet.pdf"',
                             "Cache-Control": "no-store"})
