"""Label data is validated on the way in, with errors that name the field."""

from datetime import date
from decimal import Decimal

import pytest

from printers import (
    Address,
    LabelDataError,
    LocationLabel,
    ProductLabel,
    ShippingLabel,
    label_from_mapping,
    field_texts,
    render_zpl,
)
from printers.samples import SAMPLE_LABELS

SHIPPING = {
    "sscc": "376123450000000023",
    "ship_to": {"name": "Café Müller", "lines": ["Kaiserstraße 5"], "city": "Frankfurt", "postcode": "60311"},
    "ship_from": {"name": "Northwind"},
    "carrier": "DHL",
    "service": "Express",
    "order_reference": "SO-1",
    "carton_number": 1,
    "carton_count": 2,
    "weight_kg": "3.20",
}


def test_mapping_from_json_builds_the_same_label_as_the_dataclass() -> None:
    label = label_from_mapping(ShippingLabel, SHIPPING)
    assert label.ship_to == Address("Café Müller", ("Kaiserstraße 5",), "Frankfurt", "60311")
    assert label.weight_kg == Decimal("3.20")
    assert render_zpl("shipping", SHIPPING) == render_zpl("shipping", label)


def test_dates_arrive_as_iso_text() -> None:
    label = label_from_mapping(ProductLabel, {"gtin": "05012345678900", "expiry": "2025-01-31"})
    assert label.expiry == date(2025, 1, 31)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sscc": "376123450000000024"}, "sscc"),
        ({"carton_number": 3}, "carton_number"),
        ({"weight_kg": "heavy"}, "weight_kg"),
        ({"colour": "red"}, "colour"),
        ({"ship_to": {"name": "X", "lines": ["1", "2", "3", "4"]}}, "ship_to.lines"),
        ({"ship_to": {"name": ""}}, "ship_to.name"),
        ({"ship_from": {"name": "X", "town": "Y"}}, "ship_from.town"),
        ({"carrier": 42}, "carrier"),
    ],
)
def test_bad_shipping_data_names_the_field(change: dict, field: str) -> None:
    with pytest.raises(LabelDataError) as caught:
        render_zpl("shipping", {**SHIPPING, **change})
    assert caught.value.field == field


def _carton_box(zpl: bytes) -> str:
    texts = field_texts(zpl)
    return texts[texts.index("CARTON") + 1]


def test_a_shipping_label_with_the_carton_count_says_n_of_m() -> None:
    assert _carton_box(render_zpl("shipping", SHIPPING)) == "1 of 2"


@pytest.mark.parametrize("count", [{"carton_count": None}, {}], ids=["null", "absent"])
def test_a_shipping_label_without_the_carton_count_says_only_n(count: dict) -> None:
    data = {key: value for key, value in SHIPPING.items() if key != "carton_count"} | count
    zpl = render_zpl("shipping", data)
    assert _carton_box(zpl) == "1"
    assert not any(" of " in text for text in field_texts(zpl))


@pytest.mark.parametrize(
    ("numbers", "problem"),
    [
        ({"carton_number": 0, "carton_count": None}, "must be 1 or more"),
        ({"carton_number": None, "carton_count": None}, "must be 1 or more"),
        ({"carton_number": 3, "carton_count": 2}, "must be between 1 and carton_count"),
        ({"carton_number": None, "carton_count": 2}, "must be between 1 and carton_count"),
    ],
)
def test_a_carton_number_must_fit_its_count_or_be_positive_without_one(numbers: dict, problem: str) -> None:
    with pytest.raises(LabelDataError) as caught:
        render_zpl("shipping", {**SHIPPING, **numbers})
    assert (caught.value.field, caught.value.problem) == ("carton_number", problem)


def test_missing_required_field_is_named() -> None:
    data = dict(SHIPPING)
    del data["carrier"]
    with pytest.raises(LabelDataError) as caught:
        label_from_mapping(ShippingLabel, data)
    assert caught.value.field == "carrier"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"code": "A-1", "check_digits": "7"}, "check_digits"),
        ({"code": "A-1", "check_digits": "12", "arrow": "left"}, "arrow"),
        ({"code": "Łódź-1", "check_digits": "12"}, "code"),
        ({"code": "A^1", "check_digits": "12"}, "code"),
    ],
)
def test_location_labels_need_barcodable_codes_and_two_check_digits(data: dict, field: str) -> None:
    with pytest.raises(LabelDataError) as caught:
        label_from_mapping(LocationLabel, data)
    assert caught.value.field == field


def test_gtin_check_digit_is_verified_and_short_gtins_are_padded() -> None:
    with pytest.raises(LabelDataError) as caught:
        ProductLabel(gtin="05012345678901")
    assert caught.value.field == "gtin"
    zpl = render_zpl("product", ProductLabel(gtin="5012345678900"))
    assert b">;>80105012345678900^FS" in zpl


def test_enrollment_url_must_be_printable_ascii() -> None:
    with pytest.raises(LabelDataError) as caught:
        render_zpl("enrollment", {"enrollment_url": "https://wes.local/e?t=é"})
    assert caught.value.field == "enrollment_url"


def test_every_sample_label_is_valid_data() -> None:
    assert len(SAMPLE_LABELS) == 8
    for label in SAMPLE_LABELS.values():
        assert type(label).__dataclass_params__.frozen
