"""Rendering throughput, for `wes bench labels` (a benchmark prints figures; tests never time things)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from printers.render import render_pdf, render_zpl
from printers.samples import SAMPLE_LABELS
from printers.setup import PrinterSetup


def _rate(work: Callable[[int], object], seconds: float) -> float:
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        work(count)
        count += 1
    return count / (time.perf_counter() - started)


def _shipping_mapping(serial: int) -> dict[str, Any]:
    label = SAMPLE_LABELS["shipping"]
    mapping = {field.name: getattr(label, field.name) for field in dataclasses.fields(label)}
    mapping["ship_to"] = dataclasses.asdict(label.ship_to)
    mapping["ship_from"] = dataclasses.asdict(label.ship_from)
    mapping["order_reference"] = f"SO-{serial:08d}"  # vary the data so nothing is memoised by accident
    mapping["weight_kg"] = str(Decimal(serial % 5000) / 100)
    return mapping


def measure_label_throughput(seconds: float = 1.0) -> dict[str, float]:
    """Labels per second for the shipping label: ZPL at 203 and 300 dpi, from a mapping, and PDF."""
    setup_203, setup_300 = PrinterSetup.for_dpi(203), PrinterSetup.for_dpi(300)
    shipping = SAMPLE_LABELS["shipping"]
    mappings = [_shipping_mapping(serial) for serial in range(1000)]
    return {
        "zpl_shipping_203dpi_per_s": _rate(lambda i: render_zpl("shipping", shipping, setup_203), seconds),
        "zpl_shipping_300dpi_per_s": _rate(lambda i: render_zpl("shipping", shipping, setup_300), seconds),
        "zpl_shipping_from_mapping_per_s": _rate(
            lambda i: render_zpl("shipping", mappings[i % 1000], setup_203), seconds
        ),
        "pdf_shipping_per_s": _rate(lambda i: render_pdf("shipping", shipping), seconds),
    }


if __name__ == "__main__":
    for name, value in measure_label_throughput(2.0).items():
        print(f"{name:36s} {value:10.0f}")
