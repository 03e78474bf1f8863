"""Every template at 203 and 300 dpi must render exactly the reviewed golden file.

After a deliberate layout change, regenerate and review the diff by eye:

    WES_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/printers/test_printers_golden_zpl.py
"""

import os
from pathlib import Path

import pytest

from printers import PrinterSetup, render_zpl
from printers.samples import SAMPLE_LABELS, sample_template

GOLDEN = Path(__file__).parent / "golden"
# 203 dpi as a ZD421d (direct thermal), 300 dpi as a ZT411 (thermal transfer, faster, darker)
SETUPS = {
    203: PrinterSetup.for_dpi(203),
    300: PrinterSetup.for_dpi(300, media_type="thermal_transfer", darkness=20, speed_ips=6),
}
CASES = [(sample, dpi) for sample in SAMPLE_LABELS for dpi in SETUPS]


@pytest.mark.parametrize(("sample", "dpi"), CASES, ids=[f"{s}-{d}" for s, d in CASES])
def test_label_renders_byte_for_byte_as_its_golden_file(sample: str, dpi: int) -> None:
    zpl = render_zpl(sample_template(sample), SAMPLE_LABELS[sample], SETUPS[dpi])
    golden = GOLDEN / f"{sample}-{dpi}.zpl"
    if os.environ.get("WES_UPDATE_GOLDEN") == "1":
        golden.write_bytes(zpl)
    assert golden.read_bytes() == zpl


def test_every_template_has_golden_files_at_both_resolutions() -> None:
    templates = {sample_template(sample) for sample in SAMPLE_LABELS}
    assert templates == {"lpn", "shipping", "tote", "location", "product", "enrollment"}
    assert sorted(p.name for p in GOLDEN.glob("*.zpl")) == sorted(f"{s}-{d}.zpl" for s, d in CASES)
