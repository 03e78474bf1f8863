"""The demo tells the handheld it is a demo, and serves its scan sheet as of now; other servers say 404."""

from __future__ import annotations

import io
import json

from pypdf import PdfReader

from backend import demo
from backend.models import Company, Site


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_a_server_without_the_demo_site_says_so(api) -> None:  # noqa: ANN001
    for path in ("/demo", "/demo/scan-sheet.pdf"):
        r = api.client.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_a_demo", path


def test_the_demo_serves_its_scan_sheet_without_sign_in(api) -> None:  # noqa: ANN001
    demo.seed(api.runtime, seed=3)
    about = api.client.get("/demo")
    assert about.status_code == 200
    assert about.json() == {"site": demo.SITE_CODE, "scan_sheet": "/demo/scan-sheet.pdf"}

    r = api.client.get("/demo/scan-sheet.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "no-store"  # it is live: what was just received or packed shows up
    text = _text(r.content)
    for expected in ("TOTE-0001", "PACK-01", "SHIP-01", "DOCK-01", "picker1", "Pick (live)", "(00) "):
        assert expected in text, expected
    assert "Enroll handheld" not in text  # no tokens handed out by this process: no QR codes

    # `wes demo` keeps the tokens it printed on the app: the sheet shows those still unused, with this server
    enrollments = demo.handheld_enrollments(api.runtime)
    api.client.app.state.demo_enrollments = enrollments
    try:
        used = enrollments[0]
        api.add_user("hh", ["picker"], [demo.SITE_CODE])
        enrolled = api.as_("hh").post("/api/v1/devices/enroll", json={"enrollment_token": used.token})
        assert enrolled.status_code == 200, enrolled.text
        text = _text(api.client.get("/demo/scan-sheet.pdf").content)
    finally:
        del api.client.app.state.demo_enrollments
    assert used.token not in text
    for enrollment in enrollments[1:]:
        assert f"Enroll {enrollment.device}" in text and enrollment.token in text
    assert json.loads(enrollments[1].qr_payload("http://testserver"))["server"] == "http://testserver"


def test_a_production_server_is_never_a_demo(api) -> None:  # noqa: ANN001
    with api.runtime.sessions() as session:  # a site coded like the demo's is not enough
        company = Company(code="ACME", name="Acme")
        session.add(company)
        session.flush()
        session.add(Site(company_id=company.id, code=demo.SITE_CODE, name="Not a demo"))
        session.commit()
    assert api.client.get("/demo").status_code == 200
    settings = api.runtime.settings
    api.runtime.settings = settings.model_copy(update={"environment": "production"})
    try:
        r = api.client.get("/demo/scan-sheet.pdf")
    finally:
        api.runtime.settings = settings
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_a_demo"
