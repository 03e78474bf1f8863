"""Property tests of classify_scan: any string in gives a classification or a clear refusal, and the
GTINs, SSCCs and GS1 element strings our own labels print are read back exactly."""

from __future__ import annotations

import datetime as dt
import json
import re
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.gs1 import check_digit
from backend.scanning import (
    InMemoryScanLookup,
    LocationRef,
    LpnRef,
    ProductRef,
    ScanError,
    ScanKind,
    ScanProfile,
    ToteRef,
    classify_scan,
)
from printers.gs1 import human_readable

GS = "\x1d"
PROFILES = [
    ScanProfile(),
    ScanProfile(gs_substitutes=(GS, "~")),
    ScanProfile(suffixes=("\n", "\r\n", "\t")),
]
LOOKUP = (
    InMemoryScanLookup()
    .add_location(LocationRef(id=1, code="A01-012-1", check_digits="42"))
    .add_lpn(LpnRef(id=20, code="LPN000123"))
    .add_tote(ToteRef(id=30, code="T-0042"))
    .add_product(ProductRef(id=10, sku="WIDGET-1"), gtins=("5901234123457",))
)
# What scanners send: AIM prefixes, digits, GS, GS1 HRI parentheses, suffixes — and anything else at all.
SCANNER_ALPHABET = string.digits * 3 + "]CdEeQ01()" + GS + "~\r\n\t -ABCXYZ"
SCANS = st.one_of(
    st.text(),
    st.text(alphabet=SCANNER_ALPHABET, max_size=80),
    st.builds(lambda aim, body: aim + body, st.sampled_from(["]C1", "]d2", "]E0", "]Q3", "]e0", "]X0", "]"]),
              st.text(alphabet=SCANNER_ALPHABET, max_size=60)),
)
# GS1 character set 82 (lots and serials), without the HRI's parentheses where the HRI form is used.
SET_82 = string.ascii_letters + string.digits + "!\"%&'()*+,-./:;<=>?_"
SET_82_HRI = SET_82.replace("(", "").replace(")", "")
DAYS = st.dates(min_value=dt.date(2001, 1, 1), max_value=dt.date(2049, 12, 31))


def with_check_digit(payload: str) -> str:
    return payload + str(check_digit(payload))


def gtins(length: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=string.digits, min_size=length - 1, max_size=length - 1).filter(
        lambda digits: digits.strip("0")).map(with_check_digit)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=SCANS, profile=st.sampled_from(PROFILES), with_lookup=st.booleans())
def test_any_string_is_classified_or_refused_with_a_scan_error(raw: str, profile: ScanProfile,
                                                               with_lookup: bool) -> None:
    try:
        result = classify_scan(raw, profile, LOOKUP if with_lookup else None)
    except ScanError as refusal:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", refusal.code), refusal.code
        assert str(refusal).isprintable()
        return
    assert isinstance(result.kind, ScanKind)
    json.dumps(result.to_dict())  # always JSON-ready


@settings(max_examples=200, deadline=None)
@given(gtin=st.one_of(gtins(8), gtins(12), gtins(13), gtins(14)), aim=st.sampled_from(["", "]C1" "01", "]E0"]))
def test_a_gtin_reads_back_as_its_14_digit_form(gtin: str, aim: str) -> None:
    if aim == "]E0" and len(gtin) != 13:
        aim = ""
    raw = f"{aim}{gtin.zfill(14)}" if aim.endswith("01") else f"{aim}{gtin}"
    result = classify_scan(raw)
    assert result.kind is ScanKind.PRODUCT
    assert result.gtin == gtin.zfill(14)


@settings(max_examples=200, deadline=None)
@given(sscc=gtins(18), form=st.sampled_from(["{}", "00{}", "]C100{}", "(00) {}"]))
def test_an_sscc_reads_back_in_every_form_a_label_or_scanner_gives_it(sscc: str, form: str) -> None:
    result = classify_scan(form.format(sscc))
    assert result.kind is ScanKind.SSCC
    assert result.sscc == sscc


@settings(max_examples=200, deadline=None)
@given(gtin=gtins(14), expiry=DAYS, lot=st.text(alphabet=SET_82, min_size=1, max_size=20),
       serial=st.text(alphabet=SET_82, min_size=1, max_size=20))
def test_a_gs1_128_element_string_reads_back_field_by_field(gtin: str, expiry: dt.date, lot: str,
                                                           serial: str) -> None:
    result = classify_scan(f"]C101{gtin}17{expiry:%y%m%d}10{lot}{GS}21{serial}")
    assert result.kind is ScanKind.GS1
    assert (result.gtin, result.expiry, result.lot, result.serial) == (gtin, expiry, lot, serial)


@settings(max_examples=200, deadline=None)
@given(gtin=gtins(14), expiry=DAYS, lot=st.text(alphabet=SET_82_HRI, min_size=1, max_size=20))
def test_the_human_readable_line_our_labels_print_reads_back(gtin: str, expiry: dt.date, lot: str) -> None:
    hri = human_readable([("01", gtin), ("17", f"{expiry:%y%m%d}"), ("10", lot)])
    result = classify_scan(hri)
    assert (result.gtin, result.expiry, result.lot) == (gtin, expiry, lot)
