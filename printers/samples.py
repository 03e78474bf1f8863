"""One realistic example per template: for golden files, benchmarks, demo data and label previews."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from printers.labels import (
    Address,
    EnrollmentLabel,
    LocationLabel,
    LpnLabel,
    ProductLabel,
    ShippingLabel,
    ToteLabel,
)

WAREHOUSE = Address(
    name="Northwind Fulfilment B.V.",
    lines=("Havenweg 12", "Dock 4"),
    city="Rotterdam",
    postcode="3089 JB",
    country="NL",
)

_SHIPPING = ShippingLabel(
    sscc="376123450000000023",
    ship_to=Address(
        name="Café Müller GmbH",
        lines=("Kaiserstraße 5", "2. OG"),
        city="Frankfurt am Main",
        postcode="60311",
        country="DE",
    ),
    ship_from=WAREHOUSE,
    carrier="DHL Freight",
    service="EuroConnect",
    order_reference="SO-2024-001873",
    carton_number=2,
    carton_count=3,
    weight_kg=Decimal("12.5"),
)

SAMPLE_LABELS = MappingProxyType(
    {
        "lpn": LpnLabel(
            sscc="376123450000000016",
            lpn="LPN-000042",
            sku="SKU-10045",
            description="Espresso beans, dark roast, 1 kg bag, carton of 12",
            quantity=48,
            unit="CS",
            lot="L2406-7",
        ),
        "shipping": _SHIPPING,
        # the same carton while its order may still get more cartons: m is left off
        "shipping-open-count": replace(_SHIPPING, carton_count=None),
        "tote": ToteLabel(tote_code="T-000123"),
        "location": LocationLabel(code="A-01-02-03", check_digits="47", arrow="up"),
        "product": ProductLabel(
            gtin="05012345678900",
            lot="LOT7_B",
            expiry=date(2025, 1, 31),
            description="Espresso beans, dark roast, 1 kg",
        ),
        "product-datamatrix": ProductLabel(
            gtin="05012345678900",
            lot="LOT7_B",
            expiry=date(2025, 1, 31),
            description="Espresso beans, dark roast, 1 kg",
            symbology="gs1-datamatrix",
        ),
        "enrollment": EnrollmentLabel(
            enrollment_url="https://wes.local/enrol?token=q7X_kd93-LmZ2",
            device_name="TC52 picker 07",
            site_name="Rotterdam DC",
            short_code="K7Q-93M",
        ),
    }
)
"""Keyed by a sample name: the template name, or the template name and a variant (`product-datamatrix`)."""

_VARIANTS = {"product-datamatrix": "product", "shipping-open-count": "shipping"}


def sample_template(sample_name: str) -> str:
    return _VARIANTS.get(sample_name, sample_name)
