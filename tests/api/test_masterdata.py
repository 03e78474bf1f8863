"""Master data at scale: idempotent bulk upserts, check digits, SSCCs; health and metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from backend.app import create_app
from backend.gs1 import is_valid_sscc
from backend.models import Location, Product, ProductGtin
from tests.conftest import Api, make_settings
from tests.helpers import SKU_C, build_site, gtin13, gtin14_case

API = "/api/v1"
MANY = 10_000


def _count(api: Api, table) -> int:  # noqa: ANN001
    with api.runtime.sessions() as session:
        return session.exec(select(func.count()).select_from(table)).one()


def _site_with_zones(api: Api) -> None:
    root = api.as_("root")
    assert root.post(f"{API}/companies", json={"code": "C1", "name": "Company one"}).status_code == 201
    assert root.post(f"{API}/sites", json={"code": "S1", "name": "Site one", "company": "C1"}).status_code == 201
    r = root.post(f"{API}/zones", json={"site": "S1", "zones": [{"code": "RES"}, {"code": "PF"}]})
    assert r.status_code == 200, r.text


def _all_locations(api: Api) -> dict[str, dict]:
    r = api.as_("root").get(f"{API}/locations", params={"site": "S1", "limit": MANY})
    assert r.status_code == 200, r.text
    return {loc["code"]: loc for loc in r.json()["data"]}


def test_ten_thousand_locations_upsert_in_one_request_and_again_without_duplicates(api):  # noqa: ANN001
    _site_with_zones(api)
    rows = [
        {"code": f"A{i // 1000:02d}-{i % 1000:03d}", "kind": "pick_face" if i % 10 == 0 else "reserve",
         "zone": "PF" if i % 10 == 0 else "RES", "capacity": 100 + i % 7, "aisle": f"A{i // 1000:02d}",
         "bay": f"{i % 1000 // 10:02d}", "level": str(i % 10), "x": float(i // 1000), "y": float(i % 1000)}
        for i in range(MANY)
    ]
    root = api.as_("root")
    first = root.post(f"{API}/locations", json={"site": "S1", "locations": rows})
    assert first.status_code == 200, first.text
    assert first.json() == {"created": MANY, "updated": 0, "count": MANY}
    stored = _all_locations(api)
    assert len(stored) == MANY
    assert stored["A03-457"]["kind"] == "reserve" and stored["A03-457"]["capacity"] == 100 + 3457 % 7
    assert stored["A03-450"]["zone"] == "PF" and stored["A03-450"]["level"] == "0"
    check_digits = {code: loc["check_digits"] for code, loc in stored.items()}
    assert all(re.fullmatch(r"\d\d", cd) for cd in check_digits.values())
    # Spread out: neighbouring bins do not share their digits by pattern.
    assert len(set(check_digits.values())) > 80

    again = root.post(f"{API}/locations", json={"site": "S1", "locations": rows})
    assert again.status_code == 200, again.text
    assert again.json() == {"created": 0, "updated": MANY, "count": MANY}
    assert _count(api, Location) == MANY
    after = _all_locations(api)
    assert {code: loc["check_digits"] for code, loc in after.items()} == check_digits
    assert {code: loc["id"] for code, loc in after.items()} == {code: loc["id"] for code, loc in stored.items()}

    changed = [{**row, "capacity": 5} if row["code"].startswith("A09-") else row for row in rows]
    r = root.post(f"{API}/locations", json={"site": "S1", "locations": changed})
    assert r.json() == {"created": 0, "updated": MANY, "count": MANY}
    listed = root.get(f"{API}/locations", params={"site": "S1", "code_prefix": "A09-", "limit": 1}).json()
    assert listed["count"] == 1000 and listed["data"][0]["capacity"] == 5
    assert root.get(f"{API}/locations/A08-999", params={"site": "S1"}).json()["capacity"] == 100 + 8999 % 7


def test_ten_thousand_products_with_gtins_upsert_in_one_request_and_again_without_duplicates(api):  # noqa: ANN001
    rows = [
        {"sku": f"SKU-{i:05d}", "description": f"Product {i}", "category": "grocery" if i % 2 else "hardware",
         "gtins": {"each": gtin13(100_000 + i), "case": gtin14_case(100_000 + i)}, "units_per_case": 6 + i % 6}
        for i in range(MANY)
    ]
    root = api.as_("root")
    # Products belong to a company: with one company, it is the one meant.
    assert root.post(f"{API}/companies", json={"code": "C1", "name": "Company one"}).status_code == 201
    first = root.post(f"{API}/products", json={"products": rows})
    assert first.status_code == 200, first.text
    assert first.json() == {"created": MANY, "updated": 0, "count": MANY}
    again = root.post(f"{API}/products", json={"products": rows})
    assert again.status_code == 200, again.text
    assert again.json() == {"created": 0, "updated": MANY, "count": MANY}
    assert _count(api, Product) == MANY and _count(api, ProductGtin) == 2 * MANY
    assert root.get(f"{API}/products", params={"limit": 1}).json()["count"] == MANY

    by_case = root.get(f"{API}/products", params={"gtin": gtin14_case(107_777)}).json()["data"]
    assert [(p["sku"], p["units_per_case"], p["gtins"]["each"]) for p in by_case] == [
        ("SKU-07777", 6 + 7777 % 6, gtin13(107_777).zfill(14))]
    # A GTIN-13 and its 14-digit form name the same product.
    assert root.get(f"{API}/products", params={"gtin": gtin13(104_242)}).json()["data"][0]["sku"] == "SKU-04242"

    renamed = [{**row, "description": "Renamed"} if row["sku"] == "SKU-00042" else row for row in rows]
    assert root.post(f"{API}/products", json={"products": renamed}).json()["updated"] == MANY
    assert root.get(f"{API}/products/SKU-00042").json()["description"] == "Renamed"
    assert _count(api, Product) == MANY and _count(api, ProductGtin) == 2 * MANY


@pytest.fixture
def own_prefix_api(database_url: str) -> Iterator[Api]:
    app = create_app(make_settings(database_url, gs1_company_prefix="950110153", sscc_extension_digit=3))
    with TestClient(app) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        yield api


def test_containers_get_valid_unique_ssccs_from_the_configured_company_prefix(own_prefix_api):  # noqa: ANN001
    api = own_prefix_api
    build_site(api)
    root = api.as_("root")
    made = []
    for count in (1, 25, 7):
        r = root.post(f"{API}/containers", json={"site": "S1", "kind": "pallet", "count": count, "sscc": True})
        assert r.status_code == 201, r.text
        assert r.json()["count"] == count
        made += r.json()["data"]
    ssccs = [c["sscc"] for c in made]
    assert all(is_valid_sscc(s) for s in ssccs)
    assert all(s.startswith("3" + "950110153") for s in ssccs)
    assert len(set(ssccs)) == len(ssccs) == 33
    # An SSCC container is known by its SSCC, and can be fetched by it.
    assert [c["code"] for c in made] == ssccs
    fetched = root.get(f"{API}/containers/{ssccs[5]}", params={"site": "S1"}).json()
    assert fetched["sscc"] == ssccs[5] and fetched["kind"] == "pallet"

    plain = root.post(f"{API}/containers", json={"site": "S1", "kind": "tote", "count": 2}).json()["data"]
    assert [c["sscc"] for c in plain] == [None, None]
    assert len({c["code"] for c in plain} | set(ssccs)) == 35


def test_health_answers_with_the_database_in_use(api):  # noqa: ANN001
    r = api.client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": api.runtime.engine.dialect.name}


def test_metrics_answer_in_prometheus_text_and_count_moves(api):  # noqa: ANN001
    build_site(api)
    root = api.as_("root")  # an all-sites admin (or WES_METRICS_TOKEN): tests/api/test_perimeter.py
    r = root.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples = [line for line in r.text.splitlines() if line and not line.startswith("#")]
    assert all(re.fullmatch(r'[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? \d+(\.\d+)?', s) for s in samples)
    assert "wes_moves_total 0" in samples

    r = root.post(f"{API}/receipts", json={"site": "S1", "dock": "DOCK-1", "sku": SKU_C, "quantity": 3,
                                           "blind": True})
    assert r.status_code == 201, r.text
    text = root.get("/metrics").text
    assert "wes_moves_total 1" in text.splitlines()
    assert 'wes_tasks{kind="putaway",state="pending"} 1' in text.splitlines()
