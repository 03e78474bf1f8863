"""Printers, routing rules and print jobs through the API, on SQLite and PostgreSQL (spool switched off)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import select

from backend.app import create_app
from backend.firmware import DEFAULT_ROOT, ProfileError
from backend.models import AuditEntry, PrintJob
from tests.conftest import Api, make_settings
from tests.helpers import add_site_users, build_site

API = "/api/v1"
SSCC = "376123450000000016"


@pytest.fixture
def papi(database_url: str) -> Iterator[Api]:
    """The app without its spool worker, so jobs stay exactly as the API leaves them."""
    app = create_app(make_settings(database_url, print_spool_enabled=False))
    with TestClient(app) as client:
        a = Api(client)
        a.add_user("root", ["admin"], all_sites=True)
        yield a


def printers_site(api: Api, code: str = "S1") -> None:
    build_site(api, code)
    root = api.as_("root")
    for printer in (
        {"code": "ZT-DOCK", "host": "10.0.0.11", "profile": "zebra-zt411-203", "station": "DOCK-1"},
        {"code": "ZT-300", "host": "10.0.0.12", "profile": "zebra-zt411-300"},
        {"code": "ZD-PF", "host": "10.0.0.13", "profile": "zebra-zd421-203", "zone": "PF"},
    ):
        r = root.post(f"{API}/printers", json={"site": code, **printer})
        assert r.status_code == 201, r.text


def _job(api: Api, user: str = "root", **body):  # noqa: ANN003, ANN202
    return api.as_(user).post(f"{API}/print-jobs", json={"site": "S1", **body})


# --- printers ---------------------------------------------------------------------------------


def test_printers_are_upserted_by_code_with_an_installed_profile(papi):  # noqa: ANN001
    printers_site(papi)
    add_site_users(papi)
    root = papi.as_("root")
    r = root.post(f"{API}/printers", json={"site": "S1", "code": "ZT-300", "host": "10.0.0.99", "port": 6101,
                                           "profile": "zebra-zt411-300", "name": "Dock printer, 300 dpi"})
    assert r.status_code == 200, r.text
    assert (r.json()["host"], r.json()["port"], r.json()["dpi"]) == ("10.0.0.99", 6101, 300)
    listed = papi.as_("pick").get(f"{API}/printers", params={"site": "S1"}).json()
    assert [p["code"] for p in listed["data"]] == ["ZD-PF", "ZT-300", "ZT-DOCK"]
    assert {p["code"]: (p["zone"], p["station"], p["port"]) for p in listed["data"]} == {
        "ZD-PF": ("PF", None, 9100), "ZT-300": (None, None, 6101), "ZT-DOCK": (None, "DOCK-1", 9100)}

    r = root.post(f"{API}/printers", json={"site": "S1", "code": "X", "host": "h", "profile": "zebra-zt999-203"})
    assert r.status_code == 422
    assert (r.json()["error"]["code"], r.json()["error"]["details"]["field"]) == ("unknown_profile", "profile")
    assert "zebra-zt411-203" in r.json()["error"]["message"]
    r = root.post(f"{API}/printers", json={"site": "S1", "code": "X", "host": "h", "profile": "zebra-zt411-203",
                                           "zone": "NOPE"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_zone"
    assert papi.as_("sup").get(f"{API}/printers", params={"site": "S1"}).json()["count"] == 3


# --- print jobs -------------------------------------------------------------------------------


def test_a_job_is_rendered_for_its_printer_s_dpi_at_creation(papi):  # noqa: ANN001
    printers_site(papi)
    at_203 = _job(papi, label_type="tote", data={"tote_code": "T-1"}, printer="ZT-DOCK")
    at_300 = _job(papi, label_type="tote", data={"tote_code": "T-1"}, printer="ZT-300")
    assert at_203.status_code == at_300.status_code == 201, at_203.text
    assert at_203.json()["state"] == "queued" and at_203.json()["sequence"] == 1
    zpl_203 = papi.as_("root").get(f"{API}/print-jobs/{at_203.json()['id']}").json()["zpl"]
    zpl_300 = papi.as_("root").get(f"{API}/print-jobs/{at_300.json()['id']}").json()["zpl"]
    assert zpl_203.startswith("^XA") and zpl_203.rstrip().endswith("^XZ")
    assert "^PW812" in zpl_203 and "^PW1219" in zpl_300
    with papi.runtime.sessions() as session:
        assert "print_job.create" in session.exec(select(AuditEntry.action)).all()


@pytest.mark.parametrize(("label_type", "data", "field"), [
    ("lpn", {"sscc": "376123450000000017", "lpn": "P1"}, "data.sscc"),
    ("lpn", {"sscc": SSCC}, "data.lpn"),
    ("tote", {"tote_code": "T-1", "colour": "red"}, "data.colour"),
    ("location", {"code": "A-01", "check_digits": "4x"}, "data.check_digits"),
    ("shipping", {"sscc": SSCC, "ship_to": {"name": ""}, "ship_from": {"name": "Us"}, "carrier": "DHL",
                  "service": "x", "order_reference": "SO-1", "carton_number": 1, "carton_count": 1,
                  "weight_kg": "1.5"}, "data.ship_to.name"),
    ("product", {"gtin": "05012345678900", "expiry": "31/01/2025"}, "data.expiry"),
])
def test_bad_label_data_is_a_422_naming_the_field_and_queues_nothing(papi, label_type, data, field):  # noqa: ANN001
    printers_site(papi)
    r = _job(papi, label_type=label_type, data=data, printer="ZT-DOCK")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_label_data" and error["details"]["field"] == field
    assert error["message"].startswith(field + ":")
    assert papi.as_("root").get(f"{API}/print-jobs", params={"site": "S1"}).json()["count"] == 0


def test_unknown_label_type_printer_and_missing_route_are_refused(papi):  # noqa: ANN001
    printers_site(papi)
    r = _job(papi, label_type="sticker", data={}, printer="ZT-DOCK")
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    r = _job(papi, label_type="tote", data={"tote_code": "T-1"}, printer="NOPE")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_printer"
    r = _job(papi, label_type="tote", data={"tote_code": "T-1"}, station="NOWHERE")
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_printer_route"
    papi.as_("root").post(f"{API}/printers", json={"site": "S1", "code": "ZT-300", "host": "10.0.0.12",
                                                   "profile": "zebra-zt411-300", "enabled": False})
    r = _job(papi, label_type="tote", data={"tote_code": "T-1"}, printer="ZT-300")
    assert r.status_code == 409 and r.json()["error"]["code"] == "printer_disabled"


def _set_state(api: Api, job_id: int, state: str) -> None:
    with api.runtime.sessions() as session:
        session.execute(update(PrintJob).where(PrintJob.id == job_id).values(state=state))
        session.commit()


def test_reprint_is_an_explicit_new_job_and_only_for_finished_jobs(papi):  # noqa: ANN001
    printers_site(papi)
    add_site_users(papi)
    sup = papi.as_("sup")
    original = _job(papi, label_type="tote", data={"tote_code": "T-9"}, printer="ZT-DOCK").json()
    r = sup.post(f"{API}/print-jobs/{original['id']}/reprint", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "print_job_not_finished"

    for state in ("sent", "failed", "cancelled"):
        _set_state(papi, original["id"], state)
        r = sup.post(f"{API}/print-jobs/{original['id']}/reprint", json={})
        assert r.status_code == 201, r.text
        copy = r.json()
        assert copy["reprint_of"] == original["id"] and copy["state"] == "queued"
        assert copy["data"] == original["data"] and copy["printer"] == "ZT-DOCK"
        assert copy["sequence"] > original["sequence"]

    elsewhere = sup.post(f"{API}/print-jobs/{original['id']}/reprint", json={"printer": "ZT-300"}).json()
    assert elsewhere["printer"] == "ZT-300"
    assert "^PW1219" in sup.get(f"{API}/print-jobs/{elsewhere['id']}").json()["zpl"]
    copies = sup.get(f"{API}/print-jobs", params={"site": "S1", "reprint_of": original["id"]}).json()
    assert copies["count"] == 4
    # the original is untouched: reprinting never resets or resends it
    assert sup.get(f"{API}/print-jobs/{original['id']}").json()["state"] == "cancelled"


def test_only_a_queued_job_can_be_cancelled(papi):  # noqa: ANN001
    printers_site(papi)
    add_site_users(papi)
    recv = papi.as_("recv")
    job = _job(papi, label_type="tote", data={"tote_code": "T-1"}, printer="ZT-DOCK").json()
    r = recv.post(f"{API}/print-jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    r = recv.post(f"{API}/print-jobs/{job['id']}/cancel")
    assert r.status_code == 409 and r.json()["error"]["code"] == "print_job_not_cancellable"
    for state in ("sending", "sent", "failed"):
        other = _job(papi, label_type="tote", data={"tote_code": "T-2"}, printer="ZT-DOCK").json()
        _set_state(papi, other["id"], state)
        r = recv.post(f"{API}/print-jobs/{other['id']}/cancel")
        assert r.status_code == 409, state
        assert recv.get(f"{API}/print-jobs/{other['id']}").json()["state"] == state
    listed = recv.get(f"{API}/print-jobs", params={"site": "S1", "state": "cancelled"}).json()
    assert [j["id"] for j in listed["data"]] == [job["id"]]


def test_a_job_previews_as_a_pdf(papi):  # noqa: ANN001
    from io import BytesIO

    from pypdf import PdfReader

    printers_site(papi)
    job = _job(papi, label_type="location", data={"code": "R1-01", "check_digits": "47"}, printer="ZT-DOCK").json()
    r = papi.as_("root").get(f"{API}/print-jobs/{job['id']}/label.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    reader = PdfReader(BytesIO(r.content))
    assert len(reader.pages) == 1 and "R1-01" in reader.pages[0].extract_text()


# --- routing ----------------------------------------------------------------------------------


def _resolve(api: Api, **params) -> tuple[str, str] | str:  # noqa: ANN003
    r = api.as_("root").get(f"{API}/printer-routes/resolve", params={"site": "S1", **params})
    if r.status_code != 200:
        return r.json()["error"]["code"]
    return r.json()["printer"], r.json()["rule"]


def test_routing_follows_the_documented_order(papi):  # noqa: ANN001
    build_site(papi)
    root = papi.as_("root")
    r = root.post(f"{API}/locations", json={"site": "S1", "locations": [
        {"code": "PACK-7", "kind": "pack", "zone": "PF"}]})
    assert r.status_code == 200, r.text
    codes = ["P-EXPLICIT", "P-STATION-SHIP", "P-STATION", "P-AT-STATION", "P-ZONE-SHIP", "P-ZONE", "P-IN-ZONE",
             "P-SITE-SHIP", "P-SITE"]
    for code in codes:
        body = {"site": "S1", "code": code, "host": "10.0.0.1", "profile": "zebra-zt411-203"}
        if code == "P-AT-STATION":
            body["station"] = "PACK-7"
        if code == "P-IN-ZONE":
            body["zone"] = "PF"
        assert root.post(f"{API}/printers", json=body).status_code == 201
    routes = [
        {"station": "PACK-7", "label_type": "shipping", "printer": "P-STATION-SHIP"},
        {"station": "PACK-7", "printer": "P-STATION"},
        {"zone": "PF", "label_type": "shipping", "printer": "P-ZONE-SHIP"},
        {"zone": "PF", "printer": "P-ZONE"},
        {"label_type": "shipping", "printer": "P-SITE-SHIP"},
        {"printer": "P-SITE"},
    ]
    r = root.put(f"{API}/printer-routes", json={"site": "S1", "routes": routes})
    assert r.status_code == 200 and r.json()["count"] == 6, r.text

    def disable(code: str) -> None:
        r = root.post(f"{API}/printers", json={"site": "S1", "code": code, "host": "10.0.0.1",
                                               "profile": "zebra-zt411-203", "enabled": False,
                                               "station": "PACK-7" if code == "P-AT-STATION" else None,
                                               "zone": "PF" if code == "P-IN-ZONE" else None})
        assert r.status_code == 200, r.text

    assert _resolve(papi, label_type="shipping", station="PACK-7", printer="P-EXPLICIT") == ("P-EXPLICIT", "explicit")
    # station PACK-7 is a pack bench in zone PF: each step falls through to the next as printers go out of service
    expected = [
        ("P-STATION-SHIP", "station+label_type"), ("P-STATION", "station"), ("P-AT-STATION", "station_printer"),
        ("P-ZONE-SHIP", "zone+label_type"), ("P-ZONE", "zone"), ("P-IN-ZONE", "zone_printer"),
        ("P-SITE-SHIP", "site+label_type"), ("P-SITE", "site"),
    ]
    for printer, rule in expected:
        assert _resolve(papi, label_type="shipping", station="PACK-7") == (printer, rule)
        disable(printer)
    assert _resolve(papi, label_type="shipping", station="PACK-7") == "no_printer_route"


def test_routing_by_label_type_station_and_zone(papi):  # noqa: ANN001
    printers_site(papi)
    root = papi.as_("root")
    r = root.put(f"{API}/printer-routes", json={"site": "S1", "routes": [
        {"station": "DOCK-1", "label_type": "lpn", "printer": "ZT-300"},
        {"zone": "RES", "printer": "ZT-300"},
        {"label_type": "location", "printer": "ZD-PF"},
    ]})
    assert r.status_code == 200, r.text
    assert {(x["station"], x["zone"], x["label_type"], x["printer"]) for x in r.json()["data"]} == {
        ("DOCK-1", None, "lpn", "ZT-300"), (None, "RES", None, "ZT-300"), (None, None, "location", "ZD-PF")}
    assert _resolve(papi, label_type="lpn", station="DOCK-1") == ("ZT-300", "station+label_type")
    assert _resolve(papi, label_type="tote", station="DOCK-1") == ("ZT-DOCK", "station_printer")
    assert _resolve(papi, label_type="tote", zone="PF") == ("ZD-PF", "zone_printer")
    assert _resolve(papi, label_type="tote", zone="RES") == ("ZT-300", "zone")
    # R1-01 is a reserve location in zone RES: a station named by a location code brings its zone
    assert _resolve(papi, label_type="tote", station="R1-01") == ("ZT-300", "zone")
    assert _resolve(papi, label_type="location") == ("ZD-PF", "site+label_type")
    assert _resolve(papi, label_type="tote") == "no_printer_route"

    # a job created by station is routed the same way
    job = _job(papi, label_type="lpn", data={"sscc": SSCC, "lpn": "P-1"}, station="DOCK-1").json()
    assert job["printer"] == "ZT-300"

    bad = [
        ({"station": "DOCK-1", "zone": "PF", "printer": "ZT-300"}, "invalid_route"),
        ({"zone": "NOPE", "printer": "ZT-300"}, "unknown_zone"),
        ({"printer": "NOPE"}, "unknown_printer"),
    ]
    for route, code in bad:
        r = root.put(f"{API}/printer-routes", json={"site": "S1", "routes": [route]})
        assert r.json()["error"]["code"] == code, route
    r = root.put(f"{API}/printer-routes", json={"site": "S1", "routes": [{"printer": "ZT-300"}, {"printer": "ZD-PF"}]})
    assert r.json()["error"]["code"] == "duplicate_route"
    # refused replacements changed nothing
    assert root.get(f"{API}/printer-routes", params={"site": "S1"}).json()["count"] == 3


# --- sites kept apart -------------------------------------------------------------------------


def test_another_site_s_printers_and_jobs_look_like_missing_ones(papi):  # noqa: ANN001
    printers_site(papi, "S1")
    job = _job(papi, label_type="tote", data={"tote_code": "T-1"}, printer="ZT-DOCK").json()
    _set_state(papi, job["id"], "sent")
    build_site_two(papi)
    papi.add_user("s2-sup", ["supervisor"], ["S2"])
    papi.add_user("s2-pack", ["packer"], ["S2"])
    for user in ("s2-sup", "s2-pack"):
        client = papi.as_(user)
        for path in ("/printers", "/print-jobs", "/printer-routes"):
            r = client.get(API + path, params={"site": "S1"})
            assert (r.status_code, r.json()["error"]["code"]) == (404, "site_not_found"), (user, path)
        for method, path in (("GET", f"/print-jobs/{job['id']}"), ("GET", f"/print-jobs/{job['id']}/label.pdf"),
                             ("POST", f"/print-jobs/{job['id']}/reprint"),
                             ("POST", f"/print-jobs/{job['id']}/cancel")):
            r = client.client.request(method, API + path, json={} if method == "POST" else None,
                                      headers=client.headers)
            assert (r.status_code, r.json()["error"]["code"]) == (404, "unknown_print_job"), (user, path)
        r = client.post(f"{API}/print-jobs", json={"site": "S1", "label_type": "tote",
                                                   "data": {"tote_code": "T-2"}, "printer": "ZT-DOCK"})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "site_not_found")
        # a printer code of S1 is not known at S2
        r = client.post(f"{API}/print-jobs", json={"site": "S2", "label_type": "tote",
                                                   "data": {"tote_code": "T-2"}, "printer": "ZT-DOCK"})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "unknown_printer")
    r = papi.as_("s2-sup").post(f"{API}/printers", json={"site": "S1", "code": "ZT-DOCK", "host": "6.6.6.6",
                                                          "profile": "zebra-zt411-203"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "site_not_found")
    r = papi.as_("s2-sup").put(f"{API}/printer-routes", json={"site": "S1", "routes": []})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "site_not_found")
    s1 = papi.as_("root").get(f"{API}/printers", params={"site": "S1"}).json()["data"]
    assert {p["code"]: p["host"] for p in s1}["ZT-DOCK"] == "10.0.0.11"
    with papi.runtime.sessions() as session:
        assert len(session.exec(select(PrintJob)).all()) == 1


def build_site_two(api: Api) -> None:
    root = api.as_("root")
    r = root.post(f"{API}/sites", json={"code": "S2", "name": "Site S2", "company": "C1"})
    assert r.status_code == 201, r.text


# --- firmware profiles at start-up ------------------------------------------------------------


def test_a_broken_printer_profile_stops_the_app_from_starting_and_names_the_file(tmp_path, sqlite_url):  # noqa: ANN001
    profiles = tmp_path / "profiles"
    shutil.copytree(DEFAULT_ROOT, profiles)
    broken = profiles / "printers" / "zebra-zd421-203.json"
    document = json.loads(broken.read_text())
    document["darkness"] = "very dark"
    broken.write_text(json.dumps(document))
    app = create_app(make_settings(sqlite_url, firmware_profiles_dir=profiles))
    with pytest.raises(ProfileError) as caught, TestClient(app):
        pass
    assert caught.value.path == broken
    assert "zebra-zd421-203.json" in str(caught.value) and "/darkness" in str(caught.value)


def test_the_shipped_profiles_are_loaded_at_start_up_for_everyone_to_use(papi):  # noqa: ANN001
    profiles = papi.runtime.firmware_profiles
    assert {"zebra-zt411-203", "zebra-zt411-300", "zebra-zd421-203", "zebra-zq520-203"} <= set(profiles.printers)
    assert {"zebra-tc52", "honeywell-ct40"} <= set(profiles.scanners)
    assert Path(profiles.root) == DEFAULT_ROOT
