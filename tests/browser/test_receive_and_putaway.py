"""Receiving and putaway on the handheld PWA at 360×640, scanned as the shipped scanner profiles send it.

A receiver scans the dock door and a pallet's SSCC label with the AIM prefix the Zebra TC52 profile
sends, then a GS1-128 case label whose group separator arrives as that profile delivers it (a key
event, or the profile's substitute character) — never filled into an input. The dock's ASNs show
each line's progress; "Add to LPN" belongs to one ASN; an over-receipt goes to a supervisor and the
screen says so; the new LPN's label prints at the dock's (virtual, TCP) printer. Then the pallets are
put away by scanning their LPN labels with the AIM prefix, "Next task" going straight to the next one,
and a mixed LPN no location takes whole is put away one product at a time.
"""

from __future__ import annotations


import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from backend.firmware import ScannerProfile, load_profiles
from backend.models import Location, Site
from printers.zpl import field_texts
from tests.browser.handheld import enrolled, shot, sign_in
from tests.helpers import SKU_A, SKU_B, SKU_C, add_site_users, build_site, gtin13, gtin14_case, sscc

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("live_server", ["sqlite", pytest.param(
    "postgresql", marks=pytest.mark.postgres)], indirect=True)]

GS = "\x1d"
TC52 = load_profiles().scanner("zebra-tc52")
CT40 = load_profiles().scanner("honeywell-ct40")
CASE_OF_B = f"]C101{gtin14_case(2)}17270331" + "10LOT7" + GS + "372"  # 2 cases of 6 × SKU-B, lot LOT7, exp 2027-03-31
CASE_OF_A = f"]C101{gtin14_case(1)}"  # one case of 12 × SKU-A


# --- the scanner, as its firmware profile delivers a scan --------------------------------------------


def wedge_scan(page: Page, raw: str, profile: ScannerProfile = TC52) -> None:
    """A keystroke-wedge scan: the data as key events, then the profile's suffix key.

    GS travels as the profile says: a profile whose substitute is GS itself has DataWedge send GS as
    a control-character key event (`keystroke_send_control_chars_as_events`), sent here as a trusted
    key event through the DevTools protocol; any other profile types its substitute character.
    """
    session = getattr(page, "_wedge_cdp", None)
    if session is None:
        session = page._wedge_cdp = page.context.new_cdp_session(page)  # noqa: SLF001
    data = profile.prefix + raw
    if profile.gs_substitute != GS:
        data = data.replace(GS, profile.gs_substitute)
    for index, chunk in enumerate(data.split(GS)):
        if index:
            session.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": GS, "text": GS, "unmodifiedText": GS})
            session.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": GS})
        if chunk:
            page.keyboard.type(chunk, delay=5)
    page.keyboard.press({"\n": "Enter", "\r": "Enter", "\t": "Tab"}[profile.suffix])


def in_view(page: Page, selector: str) -> bool:
    """Wholly inside the 360×640 viewport: no scrolling needed to reach it."""
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 640 and box["x"] + box["width"] <= 360


def banner(page: Page):  # noqa: ANN201
    return page.locator("wes-feedback")


@pytest.fixture(autouse=True)
def patient_scanner(page: Page) -> None:
    """The scanner settings of the device under test. A loaded test machine (other suites running beside this
    one) can stall the browser between two keys of a burst for longer than a scanner's gap; a burst cut in two
    would lose its start, so the gap allowed here is wider than on a handheld (still slower than typing)."""
    page.add_init_script("localStorage.setItem('wes.scanner', JSON.stringify({ maxGapMs: 400 }));")


@pytest.fixture
def dock(live_server):  # noqa: ANN001, ANN201
    """S1 (tests.helpers.build_site) with two ASNs: ASN-CASES (cases: 24 × SKU-B lot LOT7, 24 × SKU-A) and
    ASN-PALLETS (pallet sscc(1): 48 × SKU-A + 30 × SKU-B; pallet sscc(2): 20 × SKU-C)."""
    build_site(live_server)
    add_site_users(live_server)
    integ = live_server.as_("integ")
    for reference, lines in (
        ("ASN-CASES", [{"line_no": 1, "sku": SKU_B, "quantity": 24, "lot": "LOT7", "expiry": "2027-03-31"},
                       {"line_no": 2, "sku": SKU_A, "quantity": 24}]),
        ("ASN-PALLETS", [{"line_no": 1, "sku": SKU_A, "quantity": 48, "sscc": sscc(1)},
                         {"line_no": 2, "sku": SKU_B, "quantity": 30, "lot": "LOT7", "expiry": "2027-03-31",
                          "sscc": sscc(1)},
                         {"line_no": 3, "sku": SKU_C, "quantity": 20, "sscc": sscc(2)}]),
    ):
        r = integ.post("/api/v1/inbound-shipments", json={"site": "S1", "reference": reference, "supplier": "ACME",
                                                          "lines": lines})
        assert r.status_code == 201, r.text
    return live_server


def at_the_dock(page: Page, profile: ScannerProfile = TC52) -> None:
    page.locator(".tile[data-route=receive]").click()
    expect(page.get_by_role("button", name="DOCK-1")).to_be_visible()
    wedge_scan(page, "]C0DOCK-1", profile)  # the dock door's Code 128 label, AIM prefix and all
    expect(page.locator(".dock-code")).to_have_text("DOCK-1")
    expect(banner(page)).to_have_attribute("data-kind", "ok")


def asn_card(page: Page, reference: str):  # noqa: ANN201
    return page.locator(f".asn[data-asn='{reference}']")


# --- receiving ------------------------------------------------------------------------------------


def test_a_receiver_receives_a_pallet_by_its_sscc_with_the_aim_prefix(dock, page: Page) -> None:  # noqa: ANN001
    sign_in(page, "recv")
    at_the_dock(page)
    expect(page.locator(".asn .asn-ref")).to_have_text(["ASN-CASES", "ASN-PALLETS"])
    expect(asn_card(page, "ASN-PALLETS").locator(".asn-progress")).to_contain_text("0/3 lines · 0/98 units")

    wedge_scan(page, "]C100" + sscc(1))  # the supplier's pallet label: ]C1 (GS1-128), AI 00, the SSCC
    expect(banner(page)).to_have_attribute("data-kind", "ok")
    expect(banner(page)).to_contain_text(f"Received 2 lines, 78 units on {sscc(1)}")
    expect(page.locator(".receipt-result .lpn")).to_have_text(sscc(1))
    rows = page.locator(".receipt-result table.lines tbody tr")
    expect(rows.locator("td.sku")).to_have_text([SKU_A, SKU_B])
    expect(rows.locator("td.num")).to_have_text(["48", "30"])
    expect(page.locator(".receipt-result .label-line")).to_contain_text("keeps its supplier's SSCC label")
    expect(page.locator(".receipt-result .putaway-plan li")).to_contain_text("R2-01")
    # The ASN being unloaded opens with its lines' progress; the dock's list puts it first.
    pallets = asn_card(page, "ASN-PALLETS")
    expect(pallets).to_have_class("asn current")
    expect(pallets.locator(".asn-progress")).to_contain_text("2/3 lines · 78/98 units")
    expect(pallets.locator(".asn-line.done")).to_have_count(2)
    expect(pallets.locator(".asn-line[data-line='3'] .received")).to_have_text("0")
    expect(page.locator(".asn .asn-ref").first).to_have_text("ASN-PALLETS")
    assert in_view(page, "wes-scan-field input")
    expect(page.locator("input.scan-input")).to_have_value("")
    shot(page, "receive-pallet-sscc-360x640.png")

    stock = dock.as_("recv").get("/api/v1/inventory", params={"site": "S1", "lpn": sscc(1)}).json()
    assert {q["sku"]: (q["location"], q["on_hand"]) for q in stock["data"]} == {
        SKU_A: ("DOCK-1", 48), SKU_B: ("DOCK-1", 30)}


@pytest.mark.parametrize("profile", [TC52, CT40], ids=lambda p: p.id)
def test_a_receiver_receives_a_gs1_128_case_label_with_its_group_separator(dock, page: Page, virtual_printer,  # noqa: ANN001
                                                                           profile: ScannerProfile) -> None:
    r = dock.as_("sup").post("/api/v1/printers", json={"site": "S1", "code": "ZT-DOCK1", "name": "Dock 1 printer",
                                                       "host": "127.0.0.1", "port": virtual_printer.port,
                                                       "profile": "zebra-zt411-203", "station": "DOCK-1"})
    assert r.status_code in (200, 201), r.text
    if profile.gs_substitute != GS:  # the device's scanner settings name the profile's stand-in for GS
        page.add_init_script(f"""localStorage.setItem('wes.scanner', JSON.stringify(
            {{ maxGapMs: 400, gsSubstitute: {profile.gs_substitute!r} }}));""")
    sign_in(page, "recv")
    at_the_dock(page, profile)

    wedge_scan(page, CASE_OF_B, profile)
    expect(banner(page)).to_have_attribute("data-kind", "ok")
    expect(banner(page)).to_contain_text("Received 1 line, 12 units on ")
    row = page.locator(".receipt-result table.lines tbody tr td")
    expect(row.nth(0)).to_have_text(SKU_B)
    expect(row.nth(1)).to_have_text("12")
    expect(row.nth(2)).to_contain_text("LOT7")
    expect(row.nth(2)).to_contain_text("exp 2027-03-31")
    expect(row.nth(3)).to_have_text("ASN-CASES #1")
    lpn = page.locator(".receipt-result .lpn").inner_text()
    expect(page.locator(".receipt-result .label-line")).to_have_text("🖨 LPN label printing at Dock 1 printer.")
    cases = asn_card(page, "ASN-CASES")
    expect(cases.locator(".asn-line[data-line='1'] .received")).to_have_text("12")

    # More cases of the same ASN onto the same LPN; the second line finishes it.
    keep = page.locator(".keep-lpn-box")
    expect(keep).to_contain_text(f"Add to {lpn} (ASN-CASES)")
    keep.locator("input").check()
    wedge_scan(page, CASE_OF_B, profile)
    expect(banner(page)).to_contain_text(f"Received 1 line, 12 units on {lpn}")
    expect(cases.locator(".asn-line[data-line='1']")).to_have_class("asn-line done")
    expect(keep.locator("input")).to_be_checked()
    shot(page, f"receive-case-gs1-{profile.id}-360x640.png")

    # The label printed at the dock's printer: the LPN's SSCC under its barcode.
    for _ in range(100):  # the spool sends it after the receipt's commit
        if virtual_printer.labels:
            break
        page.wait_for_timeout(100)
    (label,) = virtual_printer.labels
    texts = field_texts(label)
    assert lpn in texts and SKU_B in texts
    container = dock.as_("recv").get(f"/api/v1/containers/{lpn}", params={"site": "S1"}).json()
    assert f"(00) {container['sscc']}" in texts

    # One case more than the ASN allows (24 expected, 26 at most): sent to a supervisor, said as such.
    wedge_scan(page, CASE_OF_B, profile)
    expect(banner(page)).to_have_attribute("data-kind", "attention")
    expect(banner(page)).to_contain_text("Sent to a supervisor for approval")
    expect(page.locator(".receipt-result .over-receipt .prompt")).to_have_text("Sent to a supervisor for approval")
    exception_id = page.locator(".over-receipt .exception-id").inner_text()
    queue = dock.as_("sup").get("/api/v1/exceptions", params={"site": "S1", "kind": "over_receipt"}).json()["data"]
    assert [str(e["id"]) for e in queue] == [exception_id]

    # "Add to LPN" belongs to ASN-CASES: choosing another ASN clears it.
    page.locator(".asn-card[data-asn='ASN-PALLETS']").click()
    expect(keep).to_be_hidden()
    expect(keep.locator("input")).not_to_be_checked()


def test_a_case_of_another_asn_goes_onto_a_new_lpn_by_itself(dock, page: Page) -> None:  # noqa: ANN001
    sign_in(page, "recv")
    at_the_dock(page)
    wedge_scan(page, CASE_OF_A)
    expect(banner(page)).to_contain_text("Received 1 line, 12 units on ")
    first_lpn = page.locator(".receipt-result .lpn").inner_text()
    page.locator(".keep-lpn-box input").check()

    page.locator(".quantity").fill("4")
    wedge_scan(page, "]E0" + gtin13(3))  # EAN-13 of SKU-C: on ASN-PALLETS, not on ASN-CASES
    expect(banner(page)).to_have_attribute("data-kind", "ok")
    expect(banner(page)).to_contain_text("Received 1 line, 4 units on ")
    expect(banner(page)).to_contain_text("ASN-PALLETS does not go on the old one")
    assert page.locator(".receipt-result .lpn").inner_text() != first_lpn
    expect(page.locator(".keep-lpn-box input")).not_to_be_checked()
    stock = dock.as_("recv").get("/api/v1/inventory", params={"site": "S1", "lpn": first_lpn}).json()["data"]
    assert [(q["sku"], q["on_hand"]) for q in stock] == [(SKU_A, 12)]


def test_blind_receipt_is_offered_only_to_the_roles_the_site_allows(dock, page: Page) -> None:  # noqa: ANN001
    r = dock.as_("root").post("/api/v1/products", json={"products": [
        {"sku": "SKU-D", "description": "Doormat", "gtins": {"each": gtin13(4)}}]})
    assert r.status_code == 200, r.text
    stranger = "]E0" + gtin13(4)  # on no ASN
    sign_in(page, "recv")
    at_the_dock(page)
    expect(page.locator(".blind-box")).to_be_hidden()
    wedge_scan(page, stranger)
    expect(banner(page)).to_have_attribute("data-kind", "error")
    expect(banner(page)).to_contain_text("Set it aside for a supervisor")
    expect(page.locator(".receive-blind")).to_have_count(0)

    with dock.runtime.sessions() as session:
        site = session.exec(select(Site).where(Site.code == "S1")).one()
        site.allow_blind_receipt_by_receivers = True
        session.add(site)
        session.commit()
    page.locator(".change-dock").click()
    wedge_scan(page, "]C0DOCK-1")
    expect(page.locator(".blind-box")).to_be_visible()
    wedge_scan(page, stranger)
    expect(banner(page)).to_have_attribute("data-kind", "error")
    expect(page.locator(".receive-blind")).to_be_visible()
    page.get_by_role("button", name="Receive it blind").click()
    expect(banner(page)).to_have_attribute("data-kind", "ok")
    expect(page.locator(".receipt-result table.lines td").nth(3)).to_have_text("blind")
    stock = dock.as_("recv").get("/api/v1/inventory", params={"site": "S1", "location": "DOCK-1"}).json()["data"]
    assert [(q["sku"], q["on_hand"]) for q in stock] == [("SKU-D", 1)]


# --- putaway ----------------------------------------------------------------------------------------


def _received_pallets(server) -> dict[str, dict]:  # noqa: ANN001
    tasks = {}
    for n in (1, 2):
        r = server.as_("recv").post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": sscc(n)})
        assert r.status_code == 201, r.text
        tasks[sscc(n)] = server.as_("recv").get(f"/api/v1/tasks/{r.json()['putaway_task_id']}").json()
    return tasks


def test_a_receiver_puts_away_by_scanning_the_lpn_with_its_aim_prefix(dock, page: Page) -> None:  # noqa: ANN001
    tasks = _received_pallets(dock)
    mixed, lemonade = tasks[sscc(1)], tasks[sscc(2)]
    assert mixed["to_location"] == "R2-01" and lemonade["to_location"].startswith("R3-")
    enrolled(page, dock, "recv")
    page.locator(".tile[data-route=putaway]").click()
    expect(page.locator(".task-card")).to_have_count(2)

    wedge_scan(page, "]C100" + sscc(1))  # the pallet's SSCC label as the TC52 sends it
    expect(banner(page)).to_have_attribute("data-kind", "ok")
    expect(page.locator(".putaway-task .to-location")).to_have_text("R2-01")
    expect(page.locator(".putaway-task .task-lpn-code")).to_have_text(sscc(1))
    expect(page.locator(".putaway-qty")).to_have_text("mixed × 78")
    assert in_view(page, ".putaway-task .to-location") and in_view(page, "wes-scan-field input")
    shot(page, "putaway-task-360x640.png")

    wedge_scan(page, "]C0R2-01")  # the location's Code 128 label
    expect(page.locator(".task-state .state")).to_have_text("done")
    expect(banner(page)).to_have_attribute("data-kind", "ok")

    # "Next task": straight to the next putaway (the server gives it to this worker), not back to the list.
    page.get_by_role("button", name="Next task").click()
    expect(page.locator(".putaway-task .task-lpn-code")).to_have_text(sscc(2))
    expect(page.locator(".putaway-task .to-location")).to_have_text(lemonade["to_location"])
    assert dock.as_("recv").get(f"/api/v1/tasks/{lemonade['id']}").json()["assigned_to"] == dock.user_id("recv")
    wedge_scan(page, "]C0" + lemonade["to_location"])
    expect(page.locator(".task-state .state")).to_have_text("done")
    page.get_by_role("button", name="Next task").click()
    expect(banner(page)).to_contain_text("No putaway waiting")
    expect(page.locator(".task-list")).to_contain_text("No open putaway tasks.")

    stock = dock.as_("recv").get("/api/v1/inventory", params={"site": "S1", "location": "R2-01"}).json()["data"]
    assert {q["sku"]: q["on_hand"] for q in stock} == {SKU_A: 48, SKU_B: 30}


def test_a_putaway_scan_that_is_not_an_lpn_says_what_to_scan(dock, page: Page) -> None:  # noqa: ANN001
    _received_pallets(dock)
    sign_in(page, "recv")
    page.locator(".tile[data-route=putaway]").click()
    expect(page.locator(".task-card")).to_have_count(2)
    wedge_scan(page, "]C0R1-01")
    expect(banner(page)).to_have_attribute("data-kind", "error")
    expect(banner(page)).to_contain_text("R1-01 is a location: scan the LPN label on the pallet.")


def test_a_mixed_lpn_no_location_takes_whole_is_put_away_one_product_at_a_time(dock, page: Page) -> None:  # noqa: ANN001
    with dock.runtime.sessions() as session:  # like the demo: no storage location takes mixed stock
        for loc in session.exec(select(Location).where(Location.code.like("R2-%"))).all():
            loc.mixed_products = False
            session.add(loc)
        session.commit()
    recv = dock.as_("recv")
    r = recv.post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": CASE_OF_A})
    assert r.status_code == 201, r.text
    lpn = r.json()["lpn"]
    r = recv.post("/api/v1/receipts", json={"site": "S1", "dock": "DOCK-1", "scan": CASE_OF_B, "lpn": lpn})
    assert r.status_code == 201, r.text
    assert [(p["sku"], p["to_location"]) for p in r.json()["putaway"]] == [(SKU_A, "PF-01"), (SKU_B, "R1-01")]
    label_sscc = recv.get(f"/api/v1/containers/{lpn}", params={"site": "S1"}).json()["sscc"]

    sign_in(page, "recv")
    page.locator(".tile[data-route=putaway]").click()
    wedge_scan(page, "]C100" + label_sscc)  # the LPN label printed at the dock
    expect(page.locator(".putaway-part")).to_have_text("part 1 of 2")
    expect(page.locator(".putaway-instruction")).to_have_text("Mixed LPN, nothing takes it whole: one product at a time.")
    expect(page.locator(".putaway-task .to-location")).to_have_text("PF-01")
    expect(page.locator(".putaway-qty")).to_have_text(f"{SKU_A} × 12")
    shot(page, "putaway-mixed-lpn-part-360x640.png")
    wedge_scan(page, "]C0PF-01")
    expect(page.locator(".task-state .state")).to_have_text("done")
    page.get_by_role("button", name="Next task").click()
    expect(page.locator(".putaway-part")).to_have_text("part 2 of 2")
    expect(page.locator(".putaway-task .to-location")).to_have_text("R1-01")
    wedge_scan(page, "]C0R1-01")
    expect(page.locator(".task-state .state")).to_have_text("done")
    stock = recv.get("/api/v1/inventory", params={"site": "S1", "lpn": lpn}).json()["data"]
    assert [(q["sku"], q["location"], q["on_hand"]) for q in stock] == [(SKU_B, "R1-01", 12)]
