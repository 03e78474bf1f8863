"""The README's "A day on the demo", step by step as written, on the demo's own data, at 360×640.

The site is what `wes demo` seeds (seed 1, 300 orders, one released wave), its virtual printer on an
ephemeral TCP port instead of 9100, and its handheld enrollment tokens made the way `wes demo` makes them.
Every barcode scanned is one the demo's scan sheet prints (`backend.demo.scan_sheet`, the data behind
/demo/scan-sheet.pdf), typed as a TC52 keyboard-wedge scanner types it: a burst of keys, some with the
AIM symbology identifier the demo's scanner profile sends (`]C1` GS1-128, `]C0` Code 128, `]E0` EAN-13,
`]Q1` QR), then Enter. Buttons and tiles are tapped by the names the README gives them. One function per
README step; when the README and the app disagree, this test fails at that step.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlmodel import select

from backend import demo
from backend.gs1 import is_valid_sscc
from backend.inventory.ledger import ledger_disagreements
from backend.models import InboundLine, Product
from printers.scan_sheet import SheetCode
from printers.virtual import VirtualPrinter
from printers.zpl import field_texts

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("live_server", ["sqlite", pytest.param(
    "postgresql", marks=pytest.mark.postgres)], indirect=True)]

ARTIFACTS = Path(__file__).parent / "artifacts"
SITE = demo.SITE_CODE
PASSWORDS = {user.username: user.password for user in demo.DEMO_USERS}
# What the demo's TC52 profile (aim_identifier: true) puts before each symbology's data.
AIM_PREFIX = {"code128": "]C0", "location": "]C0", "gs1-128": "]C1", "ean13": "]E0", "qr": "]Q1"}
UNIT_SCANS_UP_TO = 5  # the README: "once per unit, or key how many when there are more than five"
README = Path(__file__).resolve().parents[2] / "README.md"
# The README's words for what the walk below signs in with, scans and taps (its line breaks aside): a step
# reworded there fails here until the walk follows it again.
README_SAYS = (
    "`receiver1` / `red-dock-door-7`", "`handheld-1` QR code", "Tap **Receive**", "`DOCK-01`",
    "the first pallet label under \"Receive: pallets of the next ASN\"", "nothing new prints",
    "Tap ◀, then **Putaway**", "Scan the same pallet label", "(\"Put away to …\")",
    "`picker1` / `green-tote-cart-7`", "Tap **Pick**", "**Get a tour**", "empty tote (the \"Totes\" section)",
    "once per unit, or key how many when there are more than five", "the tote the screen names",
    "scan `PACK-01`", "`packer1` / `brown-carton-tape-7`", "Tap **Pack**", "one of your totes", "Scan each item",
    "tap a carton size, key the weight and tap **Close carton**", "the shipping label prints",
    "Tap ◀, then **Ship**", "Scan `SHIP-01`, then the carton's label", "tap **Ship SO-…**",
)


# --- the demo site, as `wes demo` makes it ----------------------------------------------------------


@pytest.fixture
def demo_server(live_server, virtual_printer):  # noqa: ANN001, ANN201
    """`wes demo` on the live server: the demo's seed (its defaults: seed 1, 300 orders) with the labels routed
    to the virtual printer, and one enrollment token per handheld, kept where the served scan sheet finds them."""
    demo.seed(live_server.runtime, printer_port=virtual_printer.port)
    live_server.app.state.demo_enrollments = demo.handheld_enrollments(live_server.runtime)
    return live_server


def scan_sheet(server) -> dict[str, tuple[SheetCode, ...]]:  # noqa: ANN001
    """The scan sheet as it is now (what the app's link /demo/scan-sheet.pdf shows): its cards by section."""
    with server.runtime.sessions() as session:
        site = demo.demo_site(session)
        enrollments = demo.usable_enrollments(session, site, server.app.state.demo_enrollments)
        sheet = demo.scan_sheet(session, site, server=server.base_url, enrollments=enrollments)
    return {section.title: section.codes for section in sheet.sections}


def card(sheet: dict, section: str, caption: str) -> SheetCode:  # noqa: ANN001
    """The card of `section` with this caption."""
    for code in sheet[section]:
        if code.caption == caption:
            return code
    raise AssertionError(f"the scan sheet's {section!r} section has no card {caption!r}: "
                         f"{[c.caption for c in sheet[section]]}")


def scanner_sends(code: SheetCode, *, aim: bool) -> str:
    """What a keyboard-wedge scanner types for this card's barcode (before its Enter suffix)."""
    if code.symbology == "gs1-128":
        assert all(ai in ("00", "01") for ai, _ in code.gs1), code  # fixed length: no GS separator needed
        data = "".join(ai + value for ai, value in code.gs1)
    elif code.symbology == "ean13":
        data = code.data[-13:]  # the symbol holds 13 digits (a GTIN-14 with its leading 0 dropped)
    else:
        assert code.symbology in AIM_PREFIX, code
        data = code.data
    return (AIM_PREFIX[code.symbology] if aim else "") + data


# --- a person with a handheld -------------------------------------------------------------------------


class Walk:
    """The handheld in the browser: scans, taps and keyed fields, counted per README step."""

    def __init__(self, page: Page, server) -> None:  # noqa: ANN001
        self.page = page
        self.server = server
        self.step = ""
        self.counts: dict[str, Counter] = {}

    def begin(self, step: str) -> None:
        self.step = step
        self.counts[step] = Counter()

    @property
    def banner(self):  # noqa: ANN201
        return self.page.locator("wes-feedback")

    def scan(self, code: SheetCode, *, aim: bool = False) -> None:
        """Scan a card of the sheet, as the TC52 types it: key events a few ms apart, then Enter."""
        self.page.keyboard.type(scanner_sends(code, aim=aim), delay=5)
        self.page.keyboard.press("Enter")
        self.counts[self.step]["scans"] += 1
        expect(self.banner).to_have_attribute("data-kind", "ok")  # every scan of the walk is a right one

    def tap(self, target) -> None:  # noqa: ANN001
        target.click()
        self.counts[self.step]["taps"] += 1

    def key(self, field, text: str) -> None:  # noqa: ANN001
        field.fill(text)  # typed by a person on the soft keyboard, not a scan
        self.counts[self.step]["keyed"] += 1

    def tile(self, name: str) -> None:
        """Tap a home tile by its name (its link also carries the count waiting and a hint)."""
        self.tap(self.page.get_by_role("link", name=re.compile(rf"^{re.escape(name)}\b")))

    def back(self) -> None:
        self.tap(self.page.locator("header button", has_text="◀"))
        expect(self.page.locator("wes-home")).to_be_visible()

    def log_out(self) -> None:
        self.tap(self.page.get_by_role("button", name="Log out"))
        expect(self.page.get_by_role("button", name="Sign in")).to_be_visible()

    def sign_in(self, username: str) -> None:
        page = self.page
        if not page.get_by_role("button", name="Sign in").is_visible():
            page.goto("/app/")
        expect(page.get_by_role("link", name="Demo scan sheet (PDF): barcodes to scan")).to_be_visible()
        self.key(page.get_by_label("User name"), username)
        self.key(page.get_by_label("Password"), PASSWORDS[username])
        self.tap(page.get_by_role("button", name="Sign in"))
        expect(page.locator("wes-home")).to_be_visible()
        expect(page.locator(".device-bar .who")).to_contain_text(f"{username} @ {SITE}")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"readme-walk-{name}.png"))


def in_view(locator) -> bool:  # noqa: ANN001
    """Wholly inside the 360×640 viewport: no scrolling needed to reach it."""
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 640 and box["x"] + box["width"] <= 360


def labels(printer: VirtualPrinter) -> list[list[str]]:
    return [field_texts(label) for label in printer.labels]


def sscc_of(texts: list[str]) -> str | None:
    return next((t.removeprefix("(00) ").replace(" ", "") for t in texts if t.startswith("(00) ")), None)


# --- the README's steps ---------------------------------------------------------------------------------


def step_1_receive(walk: Walk, printer: VirtualPrinter) -> dict:
    """Sign in as receiver1, enroll with handheld-1's QR code, Receive, DOCK-01, the first pallet of the next ASN."""
    walk.begin("1. Receive")
    page, paper = walk.page, scan_sheet(walk.server)  # the sheet `wes demo` wrote, before anything happened
    pallet, put_to = paper["Receive: pallets of the next ASN"][:2]  # "Put away to …" is printed beside the pallet
    assert pallet.caption.endswith(" pallet") and put_to.caption.startswith("Put away to "), (pallet, put_to)
    sscc = pallet.gs1[0][1]
    enroll = card(paper, "Sign in and enroll", "Enroll handheld-1")
    page.goto("/app/")
    served = served_sheet_text(page)  # the sheet the app links carries the same codes
    assert f"(00) {sscc}" in served and json.loads(enroll.data)["token"] in served

    walk.sign_in("receiver1")
    walk.scan(enroll, aim=True)
    expect(walk.banner).to_contain_text(f"This device is handheld-1 at {SITE}")
    expect(page.locator(".device-bar .link-state")).to_have_text("online")
    walk.tile("Receive")
    walk.scan(card(paper, "Places", "DOCK-01"))
    expect(page.locator(".dock-code")).to_have_text("DOCK-01")
    walk.scan(pallet, aim=True)
    expect(page.locator(".receipt-result .lpn")).to_have_text(sscc)
    # "the whole pallet is received": every line announced under its SSCC, in full
    with walk.server.runtime.sessions() as session:
        announced = session.exec(select(Product.sku, InboundLine.quantity_expected, InboundLine.quantity_received)
                                 .join(Product, Product.id == InboundLine.product_id)
                                 .where(InboundLine.sscc == sscc)).all()
    assert announced and all(expected == received for _, expected, received in announced)
    rows = page.locator(".receipt-result table.lines tbody tr")
    expect(rows.locator("td.sku")).to_have_text([sku for sku, _, _ in announced])
    expect(rows.locator("td.num")).to_have_text([str(quantity) for _, quantity, _ in announced])
    # "its SSCC label stays its LPN label": nothing new prints
    expect(page.locator(".label-line")).to_have_attribute("data-status", "has_label")
    expect(page.locator(".label-line")).to_contain_text(f"Pallet {sscc} keeps its supplier's SSCC label")
    walk.shot("receive")
    assert printer.labels == []
    return {"pallet": pallet, "sscc": sscc, "put_to": put_to}


def step_2_put_away(walk: Walk, received: dict) -> None:
    """◀, Putaway, the same pallet label, then the location label the sheet prints beside it."""
    walk.begin("2. Put away")
    page, destination = walk.page, received["put_to"].data
    walk.back()
    walk.tile("Putaway")
    expect(page.locator(".putaway-list")).to_be_visible()
    walk.scan(received["pallet"])
    expect(page.locator(".putaway-task .task-lpn-code")).to_have_text(received["sscc"])
    expect(page.locator(".putaway-task .to-location")).to_have_text(destination)  # where the sheet said
    assert card(scan_sheet(walk.server), "Put away: LPNs waiting (live)", f"Put away to {destination}")
    walk.shot("putaway")
    walk.scan(received["put_to"], aim=True)
    expect(page.locator(".putaway-done .to-location")).to_have_text(destination)
    stock = walk.server.as_("root").get("/api/v1/inventory", params={"site": SITE, "lpn": received["sscc"]})
    assert {q["location"] for q in stock.json()["data"]} == {destination}


def step_3_pick(walk: Walk) -> dict:
    """picker1: Pick, Get a tour, an empty tote per slot, every stop (location, product, tote), then PACK-01."""
    walk.begin("3. Pick")
    page = walk.page
    walk.log_out()
    walk.sign_in("picker1")
    walk.tile("Pick")
    walk.tap(page.get_by_role("button", name="Get a tour"))

    # The cart: an empty tote from the sheet's "Totes" section into each slot the screen asks for.
    expect(page.locator(".tour-start")).to_be_visible()
    walk.shot("pick-tour-start")
    free = [c for c in scan_sheet(walk.server)["Totes"] if c.note == "free"]
    slots = page.locator(".slot-list li").count()
    assert 0 < slots <= len(free)
    for n in range(slots):
        slot = page.locator(".slot-now").inner_text()
        walk.scan(free[n], aim=n % 2 == 0)
        expect(walk.banner).to_contain_text(f"Tote {free[n].data} is in slot {slot}")

    # "the sheet's 'Pick' section lists your tour in walking order": its location labels and products
    expect(page.locator(".pick-card")).to_be_visible()
    tour_id = page.evaluate("window.wes.work.tasksOf('pick')[0].tour_id")
    tour = walk.server.as_("root").get(f"/api/v1/tours/{tour_id}").json()
    sheet = scan_sheet(walk.server)
    stops = [c for c in sheet["Pick (live)"] if c.caption.startswith(f"Tour {tour['number']} · stop ")]
    assert [c.data for c in stops] == [p["location"] for p in tour["picks"]], "the sheet's Pick section"
    products = {c.caption.split(" × ", 1)[1]: c for c in sheet["Pick (live)"] if " × " in c.caption}

    picked = 0
    while True:
        now = page.locator(".pick-card, .pick-waiting, .tour-end").first
        expect(now).to_be_visible()
        if page.locator(".tour-end").count():
            break
        assert not page.locator(".pick-waiting").count(), (
            "the demo's first tour now has a pick waiting for a replenishment: walk the README's picker2 aside here")
        task = now.get_attribute("data-task")
        location = page.locator(".pick-location").inner_text()
        sku = page.locator(".pick-sku").inner_text()
        quantity = int(page.locator(".pick-qty").inner_text())
        tote = page.locator(".pick-tote").inner_text()  # "the tote the screen names"
        if picked == 0:
            walk.shot("pick")
        expect(now).to_have_attribute("data-step", "location")
        walk.scan(next(c for c in stops if c.data == location), aim=picked % 2 == 1)
        expect(now).to_have_attribute("data-step", "product")
        walk.scan(products[sku], aim=picked == 0)
        if quantity > UNIT_SCANS_UP_TO:  # "key how many when there are more than five"
            expect(now).to_have_attribute("data-step", "quantity")
            walk.key(page.get_by_label("How many you took"), str(quantity))
            walk.tap(page.get_by_role("button", name="OK", exact=True))
        else:  # "once per unit"
            for _ in range(quantity - 1):
                walk.scan(products[sku])
        expect(now).to_have_attribute("data-step", "tote")
        walk.scan(card(sheet, "Totes", tote))
        expect(page.locator(f".pick-card[data-task='{task}']")).to_have_count(0)
        expect(walk.banner).to_contain_text(f"Picked {quantity} into tote {tote}")
        picked += 1
    assert picked == len(tour["picks"])

    # "At the end the screen says where the totes go: scan PACK-01" (the next tour is pushed meanwhile)
    expect(page.locator(".drop-location")).to_have_text("PACK-01")
    walk.shot("pick-drop")
    walk.scan(card(sheet, "Places", "PACK-01"))
    expect(walk.banner).to_contain_text("Totes left at PACK-01: the cart is free")
    # the cart is free: the next tour, pushed meanwhile, starts with its totes (or there is none)
    expect(page.locator(".tour-start, .pick-empty").first).to_be_visible()
    walk.shot("pick-after-drop")
    tour = walk.server.as_("root").get(f"/api/v1/tours/{tour_id}").json()
    assert tour["dropped_at"] and all(p["state"] == "done" for p in tour["picks"])
    return tour


def step_4_pack(walk: Walk, tour: dict, printer: VirtualPrinter) -> dict:
    """packer1: Pack, PACK-01, one of the tour's totes, each item, a carton size, the weight, Close carton."""
    walk.begin("4. Pack")
    page = walk.page
    walk.log_out()
    walk.sign_in("packer1")
    walk.tile("Pack")
    sheet = scan_sheet(walk.server)
    walk.scan(card(sheet, "Places", "PACK-01"), aim=True)
    expect(page.locator(".pack-bench")).to_have_text("PACK-01")

    # "the sheet's 'Pack' section lists the totes at the pack stations and what is in them"
    pack = list(sheet["Pack: totes at the pack stations (live)"])
    ours = {slot["tote"]: slot["order"] for slot in tour["slots"] if slot["tote"]}
    tote = next(c for c in pack if c.data in ours and c.caption == f"{c.data} at PACK-01")
    walk.scan(tote)
    order = ours[tote.data]
    expect(page.locator(".pack-order")).to_have_text(order)  # "its order's lines appear"
    after = pack[pack.index(tote) + 1:]
    in_tote = after[:next((i for i, c in enumerate(after) if c.note == "scan the tote first"), len(after))]

    lines = page.locator(".pack-line")
    for n in range(lines.count()):
        line = lines.nth(n)
        sku = line.locator(".pack-line-sku").inner_text()
        quantity = int(line.locator(".pack-line-quantity").inner_text())
        product = card({"tote": in_tote}, "tote", f"{quantity} × {sku}")
        for unit in range(quantity):  # "Scan each item"
            walk.scan(product, aim=unit == 0)
        expect(line.locator(".pack-line-scanned")).to_have_text(str(quantity))
    walk.tap(page.get_by_role("button", name="M", exact=True))  # "tap a carton size"
    walk.key(page.get_by_label("Carton weight in kg"), "1.8")
    walk.shot("pack")
    close = page.get_by_role("button", name="Close carton")
    assert in_view(close)
    walk.tap(close)

    # "the shipping label prints": at the bench's printer, over TCP, with the carton's SSCC
    expect(page.locator(".print-status[data-carton='1']")).to_have_attribute("data-state", "sent")
    expect(walk.banner).to_contain_text(f"Carton 1 of 1 of {order} closed")
    walk.shot("pack-label-printed")
    (carton,) = walk.server.as_("root").get("/api/v1/containers", params={
        "site": SITE, "kind": "carton"}).json()["data"]  # the demo's first carton
    assert is_valid_sscc(carton["sscc"])
    assert [sscc_of(texts) for texts in labels(printer) if "CARTON" in texts] == [carton["sscc"]]
    order_now = walk.server.as_("root").get(f"/api/v1/orders/{order}", params={"site": SITE}).json()
    assert order_now["status"] == "packed"
    return {"order": order, "tote": tote.data, "sscc": carton["sscc"]}


def step_5_ship(walk: Walk, packed: dict) -> None:
    """◀, Ship, SHIP-01, the carton's label (the sheet's 'Ship' section), Ship."""
    walk.begin("5. Ship")
    page, reference = walk.page, packed["order"]
    walk.back()
    walk.tile("Ship")
    sheet = scan_sheet(walk.server)
    assert f"(00) {packed['sscc']}" in served_sheet_text(page)
    walk.scan(card(sheet, "Places", "SHIP-01"), aim=True)
    expect(page.locator(".ship-door")).to_have_text("SHIP-01")
    carton = card(sheet, "Ship: closed cartons (live)", f"{reference} carton 1")
    assert carton.gs1 == (("00", packed["sscc"]),)  # the label that printed
    walk.scan(carton, aim=True)
    order = page.locator(f".ship-order[data-order='{reference}']")
    expect(order).to_have_attribute("data-complete", "true")
    expect(walk.banner).to_contain_text(f"{reference} is complete: ship it")
    ship = order.get_by_role("button", name=f"Ship {reference}")
    assert in_view(ship)
    walk.shot("ship")
    walk.tap(ship)
    expect(walk.banner).to_contain_text(f"{reference} shipped from SHIP-01: 1 carton")


def served_sheet_text(page: Page) -> str:
    """The text of the scan sheet the app links (/demo/scan-sheet.pdf), as served now."""
    pdf = page.request.get("/demo/scan-sheet.pdf")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.body()))
    return " ".join(" ".join(p.extract_text() for p in reader.pages).split())


# --- the walk -------------------------------------------------------------------------------------------


def test_a_day_on_the_demo_as_the_readme_tells_it(demo_server, virtual_printer, page: Page) -> None:  # noqa: ANN001
    day = " ".join(README.read_text().split("### A day on the demo", 1)[1].split("\n#", 1)[0].split())
    assert [words for words in README_SAYS if words not in day] == [], "the README's walk changed: follow it here"
    walk = Walk(page, demo_server)
    received = step_1_receive(walk, virtual_printer)
    step_2_put_away(walk, received)
    tour = step_3_pick(walk)
    packed = step_4_pack(walk, tour, virtual_printer)
    step_5_ship(walk, packed)

    # The order left: nothing of it is on hand in its tote or its carton any more, and the books balance.
    api = demo_server.as_("root")
    order = api.get(f"/api/v1/orders/{packed['order']}", params={"site": SITE}).json()
    assert order["status"] == "shipped"
    for lpn in (packed["tote"], packed["sscc"]):
        assert api.get("/api/v1/inventory", params={"site": SITE, "lpn": lpn}).json()["count"] == 0
    with demo_server.runtime.sessions() as session:
        assert ledger_disagreements(session, demo.demo_site(session).id) == []
    for step, counts in walk.counts.items():
        print(f"README walk, step {step}: {counts['scans']} scans, {counts['taps']} taps, "
              f"{counts['keyed']} fields keyed")
