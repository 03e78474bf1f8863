"""Text a user or an ERP supplies prints literally and can never start, end or command a label."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printers import (
    Address,
    EnrollmentLabel,
    LabelDataError,
    LpnLabel,
    PrinterSetup,
    ProductLabel,
    ShippingLabel,
    count_commands,
    decode_field_hex,
    escape_field,
    field_texts,
    render_zpl,
)
from printers.layout import MIN_WIDTH_RATIO, text_advance
from printers.templates import SHIPPING_LAYOUT

HOSTILE = [
    "^XA^FDpwned^FS^XZ",
    "~JR",
    "a~b_c^d",
    "two\nlines\r\n",
    "Łódź",
    "東京",
    "Ελλάδα",
    "_5E_7E already escaped?",
    "^XZ~JA^XA",
    "nul\x00esc\x1bdel\x7f",
    "tab\there",
    "^FS^FO0,0^GB800,800,800^FS",
]


def assert_one_safe_label(zpl: bytes) -> None:
    assert count_commands(zpl, "^XA") == 1
    assert count_commands(zpl, "^XZ") == 1
    assert zpl.startswith(b"^XA\n^CI28\n")
    assert zpl.rstrip().endswith(b"^XZ")
    # the only tilde command is the darkness setting we put in the header
    assert zpl.count(b"~") == 1 and b"~SD" in zpl
    assert all(byte == 0x0A or 0x20 <= byte < 0x7F for byte in zpl)


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_field_has_no_command_characters_and_decodes_back(text: str) -> None:
    escaped = escape_field(text)
    assert not set(escaped) & {"^", "~", "\n", "\r"}
    assert escaped.isascii() and escaped.isprintable()
    assert decode_field_hex(escaped) == text


def test_underscore_is_escaped_so_look_alike_hex_stays_literal() -> None:
    assert escape_field("_41") == "_5F41"
    assert decode_field_hex(escape_field("_41")) == "_41"


def test_non_ascii_text_is_sent_as_utf8_hex() -> None:
    assert escape_field("Łódź") == "_C5_81_C3_B3d_C5_BA"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_shipping_name_and_address_print_literally_on_one_label(text: str) -> None:
    label = ShippingLabel(
        sscc="376123450000000023",
        ship_to=Address(name=text, lines=(f"1 {text}",), city=text, postcode="1000", country="PL"),
        ship_from=Address(name=f"From {text}", lines=(text,), city="Rotterdam"),
        carrier="DHL",
        service="Express",
        order_reference=text[:40],
        carton_number=1,
        carton_count=1,
        weight_kg=Decimal("1.5"),
    )
    for dpi in (203, 300):
        zpl = render_zpl("shipping", label, PrinterSetup.for_dpi(dpi))
        assert_one_safe_label(zpl)
        texts = field_texts(zpl)
        assert text in texts
        assert f"1 {text}" in texts
        assert f"From {text}" in texts
        assert f"1000 {text}" in texts


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_lot_and_description_on_an_lpn_label_print_literally(text: str) -> None:
    label = LpnLabel(sscc="376123450000000016", lpn="LPN-1", description=text, lot=text, sku=text[:40])
    zpl = render_zpl("lpn", label)
    assert_one_safe_label(zpl)
    texts = field_texts(zpl)
    assert texts.count(text) >= 2  # the lot and the one-line description
    assert text[:40] in texts


def test_hostile_device_name_on_an_enrollment_label_prints_literally() -> None:
    label = EnrollmentLabel(enrollment_url="https://wes.local/e?t=a_b~c", device_name="^XA~JR 東京")
    zpl = render_zpl("enrollment", label)
    assert_one_safe_label(zpl)
    assert "^XA~JR 東京" in field_texts(zpl)
    assert "MA,https://wes.local/e?t=a_b~c" in field_texts(zpl)


@pytest.mark.parametrize("lot", ["^XA", "~JR", "two\nlines", "Łódź", "", "x" * 21])
def test_product_lot_outside_the_gs1_character_set_is_refused(lot: str) -> None:
    with pytest.raises(LabelDataError) as caught:
        ProductLabel(gtin="05012345678900", lot=lot, expiry=date(2025, 1, 31))
    assert caught.value.field == "lot"


def test_gs1_lot_with_zpl_special_characters_keeps_one_label_and_its_text() -> None:
    lot = "A_>B<%&"
    for symbology in ("gs1-128", "gs1-datamatrix"):
        zpl = render_zpl("product", ProductLabel(gtin="05012345678900", lot=lot, symbology=symbology))
        assert_one_safe_label(zpl)
        assert lot in field_texts(zpl)


def test_field_texts_reads_fields_in_order() -> None:
    zpl = b"^XA^FO1,1^A0N,20,20^FH_^FDa_5Eb^FS^FO1,1^FDplain_5E^FS^XZ"
    assert field_texts(zpl) == ["a^b", "plain_5E"]


# --- properties: any text at all -----------------------------------------------------------------

# Everything a field could be handed: command characters, controls, the hex indicator, any Unicode.
FIELD_TEXT = st.one_of(st.text(), st.text(alphabet="^~_\\\r\n\x00\x1b\x7fAZ09 ,:Łó東", max_size=60))


@settings(max_examples=500, deadline=None)
@given(text=FIELD_TEXT)
def test_any_escaped_text_is_printable_ascii_without_command_characters_and_decodes_back(text: str) -> None:
    escaped = escape_field(text)
    assert not set(escaped) & {"^", "~", "\n", "\r"}
    assert escaped == "" or (escaped.isascii() and escaped.isprintable())
    assert decode_field_hex(escaped) == text


# The ship-to name's box on the shipping label (mm): text that fits it, condensed at most, prints whole.
_TO_NAME = next(e for e in SHIPPING_LAYOUT.elements if getattr(e, "field", None) == "to_name")
TO_NAME_HEIGHT_MM, TO_NAME_WIDTH_MM = _TO_NAME.height, _TO_NAME.width


@settings(max_examples=150, deadline=None)
@given(text=FIELD_TEXT.filter(lambda t: t.strip()), dpi=st.sampled_from([203, 300]))
def test_any_text_in_a_shipping_label_prints_literally_on_exactly_one_label(text: str, dpi: int) -> None:
    try:
        ship_to = Address(name=text, lines=(text,), city="Rotterdam", postcode="1000", country="NL")
    except LabelDataError as refusal:  # (longer than an address line may be: refused clearly, never cut silently)
        assert refusal.field == "lines[0]" and len(text) > 100
        return
    label = ShippingLabel(
        sscc="376123450000000023", ship_to=ship_to,
        ship_from=Address(name="WES", lines=("Dock 1",), city="Rotterdam"),
        carrier="DHL", service="Express", order_reference="SO-1", carton_number=1, carton_count=1,
        weight_kg=Decimal("1.5"),
    )
    zpl = render_zpl("shipping", label, PrinterSetup.for_dpi(dpi))
    assert_one_safe_label(zpl)
    # Literally: whole where it fits, condensed if need be; text too wide even condensed keeps its beginning
    # (printers.layout.fit_text cuts it, the same at every resolution) and nothing is changed.
    printed = field_texts(zpl)
    assert text in printed or any(field and text.startswith(field) and len(field) < len(text) for field in printed)
    if text_advance(text) * MIN_WIDTH_RATIO * TO_NAME_HEIGHT_MM <= TO_NAME_WIDTH_MM:
        assert text in printed


@settings(max_examples=150, deadline=None)
@given(text=FIELD_TEXT.filter(lambda t: t.strip()))
def test_any_description_and_lot_on_an_lpn_label_print_on_exactly_one_label(text: str) -> None:
    try:
        label = LpnLabel(sscc="376123450000000016", lpn="LPN-1", description=text, lot=text, sku="SKU-1")
    except LabelDataError as refusal:  # (a clear refusal of data the template cannot carry is fine too)
        assert refusal.field in ("description", "lot")
        return
    zpl = render_zpl("lpn", label)
    assert_one_safe_label(zpl)
    # (a long description wraps onto several fields, at spaces: the characters stay, in order)
    printed = "".join("".join(field.split()) for field in field_texts(zpl))
    assert "".join(text.split()) in printed
