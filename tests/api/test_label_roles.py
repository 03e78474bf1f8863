"""Who may print which label with data of their own, and where printers may be (the printing perimeter)."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import select

from backend.api.deps import ALL_ROLES
from backend.models import PrintJob
from backend.printing import label_json
from backend.printing.service import LABEL_MAKERS
from printers.samples import SAMPLE_LABELS
from tests.api.test_access_control import add_user_with_token
from tests.api.test_printing_api import API, papi, printers_site  # noqa: F401 (papi: the app without its spool)
from tests.conftest import Api

EXPECTED_MAKERS = {  # the decision, written out once more: a change to LABEL_MAKERS must change this too
    "shipping": {"packer", "supervisor", "admin"},
    "lpn": {"receiver", "packer", "supervisor", "admin"},
    "tote": {"picker", "receiver", "packer", "supervisor", "admin"},
    "location": {"supervisor", "admin", "integration"},
    "product": {"receiver", "supervisor", "admin", "integration"},
    "enrollment": {"supervisor", "admin"},
}


def _role_clients(api: Api) -> dict:
    printers_site(api)
    return {role: add_user_with_token(api, f"only-{role}", [role], ["S1"]) for role in ALL_ROLES}


def _print(client, label_type: str):  # noqa: ANN001, ANN202
    return client.post(f"{API}/print-jobs", json={"site": "S1", "label_type": label_type, "printer": "ZT-DOCK",
                                                  "data": label_json(SAMPLE_LABELS[label_type])})


def test_each_label_type_is_printed_only_by_the_roles_that_make_it(papi: Api) -> None:  # noqa: F811
    assert {kind: set(roles) for kind, roles in LABEL_MAKERS.items()} == EXPECTED_MAKERS
    clients = _role_clients(papi)
    wrong = []
    for label_type, makers in sorted(EXPECTED_MAKERS.items()):
        for role, client in clients.items():
            r = _print(client, label_type)
            if role in makers and r.status_code != 201:
                wrong.append((label_type, role, "refused", r.status_code, r.text[:200]))
            if role not in makers:
                error = r.json().get("error") or {}
                if (r.status_code, error.get("code")) != (403, "label_type_forbidden"):
                    wrong.append((label_type, role, "not refused", r.status_code, r.text[:200]))
                elif set(error["details"]["roles"]) != makers or error["details"]["field"] != "label_type":
                    wrong.append((label_type, role, "details", error["details"]))
    assert wrong == []
    with papi.runtime.sessions() as session:
        made = set(session.exec(select(PrintJob.label_type, PrintJob.created_by)).all())
    assert len(made) == sum(len(makers) for makers in EXPECTED_MAKERS.values())


def test_a_picker_cannot_print_a_shipping_label_or_an_enrollment_code(papi: Api) -> None:  # noqa: F811
    picker = _role_clients(papi)["picker"]
    for label_type in ("shipping", "lpn", "enrollment", "location", "product"):
        r = _print(picker, label_type)
        assert r.status_code == 403 and r.json()["error"]["code"] == "label_type_forbidden", label_type
    assert _print(picker, "tote").status_code == 201  # a tote whose label tore: what a tour needs


def _finished(api: Api, job_id: int) -> None:
    with api.runtime.sessions() as session:
        session.execute(update(PrintJob).where(PrintJob.id == job_id).values(state="sent"))
        session.commit()


def test_reprints_follow_the_same_table(papi: Api) -> None:  # noqa: F811
    clients = _role_clients(papi)
    enrollment = _print(clients["supervisor"], "enrollment").json()["id"]
    lpn = _print(clients["supervisor"], "lpn").json()["id"]
    for job_id in (enrollment, lpn):
        _finished(papi, job_id)
    r = clients["packer"].post(f"{API}/print-jobs/{enrollment}/reprint", json={})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "label_type_forbidden")
    assert clients["receiver"].post(f"{API}/print-jobs/{lpn}/reprint", json={}).status_code == 201
    assert clients["supervisor"].post(f"{API}/print-jobs/{enrollment}/reprint", json={}).status_code == 201


def test_an_enrollment_code_is_readable_only_by_those_who_make_them(papi: Api) -> None:  # noqa: F811
    clients = _role_clients(papi)
    job_id = _print(clients["supervisor"], "enrollment").json()["id"]
    url = SAMPLE_LABELS["enrollment"].enrollment_url
    mine = clients["supervisor"].get(f"{API}/print-jobs/{job_id}").json()
    assert mine["data"]["enrollment_url"] == url and "^XA" in mine["zpl"]
    for role in ("picker", "packer", "receiver", "integration"):
        one = clients[role].get(f"{API}/print-jobs/{job_id}")
        listed = clients[role].get(f"{API}/print-jobs", params={"site": "S1"})
        assert one.status_code == 200 and listed.status_code == 200
        assert url not in one.text and url not in listed.text and one.json()["zpl"] is None, role
        assert set(one.json()["data"]) == set(mine["data"])  # the fields are there, their values are not
        pdf = clients[role].get(f"{API}/print-jobs/{job_id}/label.pdf")
        assert (pdf.status_code, pdf.json()["error"]["code"]) == (403, "label_type_forbidden"), role
    assert clients["admin"].get(f"{API}/print-jobs/{job_id}/label.pdf").status_code == 200


def test_a_printer_host_outside_the_printer_networks_is_a_422_in_the_envelope(papi: Api) -> None:  # noqa: F811
    printers_site(papi)
    root = papi.as_("root")
    body = {"site": "S1", "code": "ZT-DOCK", "profile": "zebra-zt411-203"}
    for host in ("8.8.8.8", "169.254.169.254", "100.64.0.1", "2001:4860:4860::8888"):
        r = root.post(f"{API}/printers", json={**body, "host": host, "port": 22})
        assert r.status_code == 422, (host, r.text)
        error = r.json()["error"]
        assert error["code"] == "printer_host_not_allowed" and error["details"]["field"] == "host", host
        assert "10.0.0.0/8" in error["details"]["networks"]
    r = root.post(f"{API}/printers", json={**body, "host": "no-such-printer.invalid"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "printer_host_unresolvable"
    printers = root.get(f"{API}/printers", params={"site": "S1"}).json()["data"]
    assert {p["code"]: (p["host"], p["port"]) for p in printers}["ZT-DOCK"] == ("10.0.0.11", 9100)
    for host in ("192.168.10.5", "172.20.0.9", "127.0.0.1", "fd00::12"):  # private networks and loopback
        assert root.post(f"{API}/printers", json={**body, "host": host}).status_code == 200, host
