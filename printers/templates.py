"""The label templates: a layout per label type and the function that turns label data into field values.

Sizes are 4 inch wide media (101.6 mm), the width every supported printer
takes: 4x6 in for LPN and shipping labels, 4x2 in for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from printers.code128 import encode_code128
from printers.datamatrix import encode_datamatrix
from printers.errors import LabelDataError, UnknownTemplate
from printers.gs1 import element_parts, human_readable, normalize_gtin, yymmdd
from printers.labels import (
    EnrollmentLabel,
    LabelData,
    LocationLabel,
    LpnLabel,
    ProductLabel,
    ShippingLabel,
    ToteLabel,
    label_from_mapping,
)
from printers.layout import (
    Arrow,
    Barcode128,
    DataMatrixCode,
    Layout,
    QrCode,
    Rule,
    Text,
    wrap_text,
)

WIDTH = 101.6
TALL = 152.4
SHORT = 50.8
CAPTION = 2.5
SSCC_MODULE = 0.5  # GS1 logistic labels: X between 0.495 and 1.016 mm
SSCC_BAR_HEIGHT = 32.0
_CENTI = Decimal("0.01")

LPN_LAYOUT = Layout(
    name="lpn",
    width=WIDTH,
    height=TALL,
    elements=(
        Text(3, 3, CAPTION, 40, static="LPN"),
        Text(3, 6.5, 12, 95, field="lpn"),
        Rule(0, 21, WIDTH, 0.5),
        Text(3, 23, CAPTION, 60, field="sku_caption"),
        Text(3, 26.5, 7, 95, field="sku"),
        Text(3, 35, 5.5, 95, field="description_1"),
        Text(3, 41.5, 5.5, 95, field="description_2"),
        Text(3, 52, CAPTION, 45, field="quantity_caption"),
        Text(3, 55.5, 14, 45, field="quantity"),
        Text(52, 52, CAPTION, 46, field="lot_caption"),
        Text(52, 55.5, 8, 46, field="lot"),
        Rule(0, 100.5, WIDTH, 0.5),
        Text(3, 103, CAPTION, 40, static="SSCC"),
        Barcode128(8, 107, 86, SSCC_BAR_HEIGHT, SSCC_MODULE, field="sscc_barcode"),
        Text(8, 141.5, 4.5, 86, field="sscc_hri"),
    ),
)

SHIPPING_LAYOUT = Layout(
    name="shipping",
    width=WIDTH,
    height=TALL,
    elements=(
        Text(3, 3, CAPTION, 55, static="FROM"),
        Text(3, 6.5, 3.2, 55, field="from_name"),
        Text(3, 10.3, 2.8, 55, field="from_line_1"),
        Text(3, 13.6, 2.8, 55, field="from_line_2"),
        Text(3, 16.9, 2.8, 55, field="from_line_3"),
        Text(3, 20.2, 2.8, 55, field="from_line_4"),
        Rule(60, 2, 0.4, 21),
        Text(62, 3, CAPTION, 36, static="CARRIER"),
        Text(62, 6.5, 7, 36, field="carrier"),
        Text(62, 15, 4, 36, field="service"),
        Rule(0, 24.5, WIDTH, 0.5),
        Text(3, 26.5, CAPTION, 95, static="SHIP TO"),
        Text(3, 30, 6.5, 95, field="to_name"),
        Text(3, 37.5, 5.5, 95, field="to_line_1"),
        Text(3, 44, 5.5, 95, field="to_line_2"),
        Text(3, 50.5, 5.5, 95, field="to_line_3"),
        Text(3, 57, 5.5, 95, field="to_line_4"),
        Text(3, 63.5, 5.5, 95, field="to_line_5"),
        Rule(0, 71, WIDTH, 0.5),
        Text(3, 72.5, CAPTION, 45, static="ORDER"),
        Text(3, 76, 5, 45, field="order_reference"),
        Rule(50, 72, 0.4, 10),
        Text(52, 72.5, CAPTION, 21, static="CARTON"),
        Text(52, 76, 5, 21, field="carton"),
        Rule(75, 72, 0.4, 10),
        Text(77, 72.5, CAPTION, 22, static="WEIGHT"),
        Text(77, 76, 5, 22, field="weight"),
        Rule(0, 83, WIDTH, 0.5),
        Text(3, 85, CAPTION, 40, static="SSCC"),
        Barcode128(8, 90, 86, SSCC_BAR_HEIGHT, SSCC_MODULE, field="sscc_barcode"),
        Text(8, 124.5, 4.5, 86, field="sscc_hri"),
    ),
)

TOTE_LAYOUT = Layout(
    name="tote",
    width=WIDTH,
    height=SHORT,
    elements=(
        Text(4, 3, 3, 40, static="TOTE"),
        Text(4, 7, 11, 93, field="tote_code"),
        Barcode128(8, 21, 86, 25, 0.5, field="tote_barcode"),
    ),
)

LOCATION_LAYOUT = Layout(
    name="location",
    width=WIDTH,
    height=SHORT,
    elements=(
        Text(4, 3, 9, 62, field="code"),
        Barcode128(6, 15, 58, 22, 0.4, field="code_barcode"),
        Text(68, 4, 24, 30, field="check_digits"),
        Arrow(76, 31, 14, 17, field="arrow"),
    ),
)

_PRODUCT_TEXT = (
    Text(4, 2.5, 4, 94, field="description"),
    Text(4, 34, CAPTION, 45, field="lot_caption"),
    Text(4, 37, 6, 45, field="lot"),
    Text(52, 34, CAPTION, 46, field="expiry_caption"),
    Text(52, 37, 6, 46, field="expiry"),
)
PRODUCT_GS1_128_MODULE = 0.25  # GS1-128 outside logistics: X from 0.25 mm
PRODUCT_BARCODE_WIDTH = 90.0

PRODUCT_GS1_128_LAYOUT = Layout(
    name="product-gs1-128",
    width=WIDTH,
    height=SHORT,
    elements=(
        *_PRODUCT_TEXT,
        Barcode128(6, 8, PRODUCT_BARCODE_WIDTH, 18, PRODUCT_GS1_128_MODULE, field="gs1_barcode"),
        Text(6, 27.5, 3, 92, field="hri"),
    ),
)

PRODUCT_DATAMATRIX_LAYOUT = Layout(
    name="product-gs1-datamatrix",
    width=WIDTH,
    height=SHORT,
    elements=(
        *_PRODUCT_TEXT,
        DataMatrixCode(5, 9, 0.75, field="gs1_datamatrix"),
        Text(28, 9, 3.5, 70, field="hri_gtin"),
        Text(28, 14, 3.5, 70, field="hri_expiry"),
        Text(28, 19, 3.5, 70, field="hri_lot"),
    ),
)

ENROLLMENT_LAYOUT = Layout(
    name="enrollment",
    width=WIDTH,
    height=SHORT,
    elements=(
        QrCode(4, 4, 0.75, field="enrollment_url"),
        Text(46, 4, 3, 52, static="DEVICE ENROLMENT"),
        Text(46, 9, 6, 52, field="device_name"),
        Text(46, 17, 4, 52, field="site_name"),
        Text(46, 25, CAPTION, 52, field="short_code_caption"),
        Text(46, 28.5, 7, 52, field="short_code"),
        Text(46, 42, 3, 52, static="Scan with the handheld to enrol"),
    ),
)


def _sscc_values(sscc: str) -> dict[str, Any]:
    elements = [("00", sscc)]
    return {
        "sscc_barcode": encode_code128(element_parts(elements), field="sscc"),
        "sscc_hri": human_readable(elements),
    }


def _slots(lines: list[str], count: int) -> list[str | None]:
    filled: list[str | None] = [line for line in lines if line]
    return filled + [None] * (count - len(filled))


def _caption(caption: str, value: object) -> str | None:
    return caption if value not in (None, "") else None


def build_lpn(label: LpnLabel) -> tuple[Layout, dict[str, Any]]:
    description = wrap_text(label.description, 5.5, 95, 2) if label.description else []
    quantity = None
    if label.quantity is not None:
        quantity = f"{label.quantity} {label.unit}" if label.unit else str(label.quantity)
    values = {
        "lpn": label.lpn,
        "sku_caption": _caption("SKU", label.sku),
        "sku": label.sku,
        "description_1": description[0] if description else None,
        "description_2": description[1] if len(description) > 1 else None,
        "quantity_caption": _caption("QTY", quantity),
        "quantity": quantity,
        "lot_caption": _caption("LOT", label.lot),
        "lot": label.lot,
        **_sscc_values(label.sscc),
    }
    return LPN_LAYOUT, values


def _carton_text(number: int, count: int | None) -> str:
    """The CARTON box: `2 of 3`, or `2` alone while the order's carton count is not final."""
    return str(number) if count is None else f"{number} of {count}"


def build_shipping(label: ShippingLabel) -> tuple[Layout, dict[str, Any]]:
    ship_from, ship_to = label.ship_from, label.ship_to
    # address lines fill the slots from the top, so a short address leaves no holes
    from_city = " ".join(part for part in (ship_from.city_line, ship_from.country) if part)
    from_lines = _slots([*ship_from.lines, from_city], 4)
    to_lines = _slots([*ship_to.lines, ship_to.city_line, ship_to.country], 5)
    values = {
        "from_name": ship_from.name,
        **{f"from_line_{index}": line for index, line in enumerate(from_lines, start=1)},
        "carrier": label.carrier,
        "service": label.service,
        "to_name": ship_to.name,
        **{f"to_line_{index}": line for index, line in enumerate(to_lines, start=1)},
        "order_reference": label.order_reference,
        "carton": _carton_text(label.carton_number, label.carton_count),
        "weight": f"{label.weight_kg.quantize(_CENTI)} kg",
        **_sscc_values(label.sscc),
    }
    return SHIPPING_LAYOUT, values


def build_tote(label: ToteLabel) -> tuple[Layout, dict[str, Any]]:
    return TOTE_LAYOUT, {
        "tote_code": label.tote_code,
        "tote_barcode": encode_code128([label.tote_code], field="tote_code"),
    }


def build_location(label: LocationLabel) -> tuple[Layout, dict[str, Any]]:
    return LOCATION_LAYOUT, {
        "code": label.code,
        "code_barcode": encode_code128([label.code], field="code"),
        "check_digits": label.check_digits,
        "arrow": label.arrow,
    }


def build_product(label: ProductLabel) -> tuple[Layout, dict[str, Any]]:
    gtin = normalize_gtin(label.gtin)
    # fixed-length AIs first so only the lot, last, is variable: no FNC1 separator needed
    elements = [("01", gtin)]
    if label.expiry is not None:
        elements.append(("17", yymmdd(label.expiry)))
    if label.lot is not None:
        elements.append(("10", label.lot))
    values: dict[str, Any] = {
        "description": label.description,
        "lot_caption": _caption("LOT", label.lot),
        "lot": label.lot,
        "expiry_caption": _caption("BEST BEFORE / USE BY", label.expiry),
        "expiry": label.expiry.isoformat() if label.expiry else None,
    }
    if label.symbology == "gs1-datamatrix":
        values["gs1_datamatrix"] = encode_datamatrix(element_parts(elements), field="lot")
        hri = {ai: f"({ai}) {value}" for ai, value in elements}
        values["hri_gtin"] = hri["01"]
        values["hri_expiry"] = hri.get("17")
        values["hri_lot"] = hri.get("10")
        return PRODUCT_DATAMATRIX_LAYOUT, values
    symbol = encode_code128(element_parts(elements), field="lot")
    if symbol.modules * PRODUCT_GS1_128_MODULE > PRODUCT_BARCODE_WIDTH:
        raise LabelDataError("lot", "too long for GS1-128 on this label; use gs1-datamatrix")
    values["gs1_barcode"] = symbol
    values["hri"] = human_readable(elements)
    return PRODUCT_GS1_128_LAYOUT, values


def build_enrollment(label: EnrollmentLabel) -> tuple[Layout, dict[str, Any]]:
    return ENROLLMENT_LAYOUT, {
        "enrollment_url": label.enrollment_url,
        "device_name": label.device_name,
        "site_name": label.site_name,
        "short_code_caption": _caption("CODE", label.short_code),
        "short_code": label.short_code,
    }


@dataclass(frozen=True, slots=True)
class LabelTemplate:
    name: str
    label_type: type
    build: Callable[[Any], tuple[Layout, dict[str, Any]]]


TEMPLATES: Mapping[str, LabelTemplate] = MappingProxyType(
    {
        template.name: template
        for template in (
            LabelTemplate("lpn", LpnLabel, build_lpn),
            LabelTemplate("shipping", ShippingLabel, build_shipping),
            LabelTemplate("tote", ToteLabel, build_tote),
            LabelTemplate("location", LocationLabel, build_location),
            LabelTemplate("product", ProductLabel, build_product),
            LabelTemplate("enrollment", EnrollmentLabel, build_enrollment),
        )
    }
)


def get_template(name: str) -> LabelTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise UnknownTemplate(f"no label template {name!r}; known: {', '.join(TEMPLATES)}") from None


def prepare(template: str, data: LabelData | Mapping[str, Any]) -> tuple[Layout, dict[str, Any]]:
    """Validate label data (a dataclass or a JSON-like mapping) and compute the field values."""
    spec = get_template(template)
    if isinstance(data, Mapping):
        label = label_from_mapping(spec.label_type, data)
    elif isinstance(data, spec.label_type):
        label = data
    else:
        raise LabelDataError(template, f"expected {spec.label_type.__name__} or a mapping")
    return spec.build(label)


def template_for(label: LabelData) -> str:
    """The template name for a label dataclass instance."""
    for template in TEMPLATES.values():
        if isinstance(label, template.label_type):
            return template.name
    raise UnknownTemplate(f"no template for {type(label).__name__}")

