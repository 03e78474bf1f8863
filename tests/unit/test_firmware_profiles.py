"""Firmware profiles: every shipped file validates; broken ones are refused with file and field named."""

import json
import shutil
from pathlib import Path

import pytest
from biip import ParseConfig, parse

from backend.firmware import DEFAULT_ROOT, ProfileError, datawedge_export, load_profiles
from printers import ToteLabel, render_zpl


@pytest.fixture
def profile_root(tmp_path: Path) -> Path:
    """A copy of the shipped profiles to break."""
    root = tmp_path / "firmware_profiles"
    shutil.copytree(DEFAULT_ROOT, root)
    return root


def edit(path: Path, **changes: object) -> None:
    document = json.loads(path.read_text())
    for key, value in changes.items():
        if value is ...:
            del document[key]
        else:
            document[key] = value
    path.write_text(json.dumps(document))


def test_every_shipped_profile_validates() -> None:
    profiles = load_profiles()
    assert {"zebra-tc52", "zebra-tc21", "zebra-mc9300", "honeywell-ct40"} <= set(profiles.scanners)
    assert {"zebra-zt411-203", "zebra-zt411-300", "zebra-zd421-203", "zebra-zq520-203"} <= set(profiles.printers)
    assert len(list((DEFAULT_ROOT / "scanners").glob("*.json"))) == len(profiles.scanners)
    assert len(list((DEFAULT_ROOT / "printers").glob("*.json"))) == len(profiles.printers)


def test_default_root_does_not_depend_on_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_profiles().printer("zebra-zt411-300").dpi == 300


def test_schemas_are_strict_draft_2020_12() -> None:
    for name in ("scanner.schema.json", "printer.schema.json"):
        schema = json.loads((DEFAULT_ROOT / name).read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["additionalProperties"] is False
        assert "id" in schema["required"]


def test_printer_profile_becomes_the_renderer_setup() -> None:
    profile = load_profiles().printer("zebra-zt411-300")
    setup = profile.to_printer_setup()
    assert (setup.dpi, setup.print_width_dots, setup.media_type) == (300, 1248, "thermal_transfer")
    zpl = render_zpl("tote", ToteLabel("T-1"), setup)
    assert b"^PW1219^LL609" in zpl and b"^MTT^MNY^PR6~SD20" in zpl


def test_zq520_is_a_direct_thermal_printer_at_8_dots_per_mm() -> None:
    profile = load_profiles().printer("zebra-zq520-203")
    assert profile.media_type == "direct_thermal"
    assert profile.print_width_dots == profile.print_width_mm * 8


@pytest.mark.parametrize(
    ("folder", "name", "changes", "pointer"),
    [
        ("printers", "zebra-zt411-203", {"dpi": ...}, "/dpi"),
        ("printers", "zebra-zt411-203", {"darkness": 31}, "/darkness"),
        ("printers", "zebra-zt411-203", {"media_type": "laser"}, "/media_type"),
        ("printers", "zebra-zt411-203", {"colour": "black"}, "/colour"),
        ("printers", "zebra-zt411-203", {"label_size_mm": {"width": 101.6}}, "/label_size_mm/length"),
        ("printers", "zebra-zt411-203", {"print_width_dots": 1248}, "/print_width_dots"),
        ("printers", "zebra-zt411-203", {"dpi": 300}, "/dpi"),
        ("printers", "zebra-zt411-203", {"speed_ips": 14, "max_speed_ips": 12}, "/speed_ips"),
        ("printers", "zebra-zd421-203", {"media_type": "thermal_transfer"}, "/media_type"),
        ("printers", "zebra-zd421-203", {"text_font": "0^XA"}, "/text_font"),
        ("scanners", "zebra-tc52", {"gs_substitute": "~~"}, "/gs_substitute"),
        ("scanners", "zebra-tc52", {"symbologies": ["code128", "pdf417"]}, "/symbologies/1"),
        ("scanners", "zebra-tc52", {"datawedge": ...}, "/datawedge"),
        ("scanners", "honeywell-ct40", {"datawedge": {"profile_name": "x"}}, "/datawedge"),
        ("scanners", "zebra-tc21", {"id": "zebra-tc22"}, "/id"),
        ("scanners", "zebra-tc21", {"suffix": ""}, "/suffix"),
    ],
)
def test_broken_profile_names_the_file_and_the_field(
    profile_root: Path, folder: str, name: str, changes: dict, pointer: str
) -> None:
    path = profile_root / folder / f"{name}.json"
    edit(path, **changes)
    with pytest.raises(ProfileError) as caught:
        load_profiles(profile_root)
    assert caught.value.path == path
    assert caught.value.pointer == pointer
    assert str(path) in str(caught.value) and pointer in str(caught.value)


def test_profile_that_is_not_json_names_the_line(profile_root: Path) -> None:
    path = profile_root / "scanners" / "zebra-tc52.json"
    path.write_text('{"id": "zebra-tc52",\n  "vendor": zebra}')
    with pytest.raises(ProfileError, match="line 2") as caught:
        load_profiles(profile_root)
    assert caught.value.path == path


def test_scanner_profile_settings_for_the_pwa() -> None:
    tc52 = load_profiles().scanner("zebra-tc52")
    settings = tc52.pwa_settings()
    assert settings["suffix"] == "\n" and settings["gs_substitute"] == "\x1d"
    assert settings["aim_identifier"] is True
    assert 5 <= settings["max_inter_key_ms"] <= 100
    assert json.loads(json.dumps(settings)) == settings


def test_gs_substitute_feeds_biip_so_a_scan_with_stand_ins_parses() -> None:
    ct40 = load_profiles().scanner("honeywell-ct40")
    assert ct40.gs_substitute == "~"
    scan = "]C1" + "0105012345678900" + "10LOT7" + "~" + "17250131"
    result = parse(scan, config=ParseConfig(separator_chars=ct40.separator_chars))
    assert result.gs1_message is not None
    assert result.gs1_message.element_strings.get(ai="10").value == "LOT7"
    assert result.gs1_message.element_strings.get(ai="17").value == "250131"


def test_datawedge_export_binds_chrome_to_keystrokes_with_aim_ids() -> None:
    export = datawedge_export(load_profiles().scanner("zebra-tc52"))
    assert export["action"] == "com.symbol.datawedge.api.ACTION"
    assert export["extra"] == "com.symbol.datawedge.api.SET_CONFIG"
    bundle = export["bundle"]
    assert bundle["APP_LIST"] == [{"PACKAGE_NAME": "com.android.chrome", "ACTIVITY_LIST": ["*"]}]
    plugins = {plugin["PLUGIN_NAME"]: plugin["PARAM_LIST"] for plugin in bundle["PLUGIN_CONFIG"]}
    assert plugins["BARCODE"]["code_id_type"] == "1"
    assert plugins["BARCODE"]["decoder_gs1_datamatrix"] == "true"
    assert plugins["BARCODE"]["decoder_code128_enable_ean128"] == "true"
    assert plugins["KEYSTROKE"]["keystroke_output_enabled"] == "true"
    assert plugins["KEYSTROKE"]["keystroke_send_control_chars_as_events"] == "true"
    assert plugins["BDF"]["bdf_send_enter"] == "true"
    assert plugins["INTENT"]["intent_output_enabled"] == "false"
    assert "ADF" not in plugins
    assert all(isinstance(value, str) for params in plugins.values() for value in params.values())


def test_datawedge_export_replaces_gs_when_the_profile_says_so(profile_root: Path) -> None:
    edit(profile_root / "scanners" / "zebra-mc9300.json", gs_substitute="~", suffix="\t")
    export = datawedge_export(load_profiles(profile_root).scanner("zebra-mc9300"))
    plugins = {plugin["PLUGIN_NAME"]: plugin["PARAM_LIST"] for plugin in export["bundle"]["PLUGIN_CONFIG"]}
    assert plugins["BDF"]["bdf_send_tab"] == "true" and plugins["BDF"]["bdf_send_enter"] == "false"
    actions = plugins["ADF"]["ADF_RULE"][0]["ACTIONS"]
    assert actions[0] == {"type": "REPLACE_STRING", "action_param_1": "\x1d", "action_param_2": "~"}


def test_datawedge_export_is_only_for_zebra_devices() -> None:
    with pytest.raises(ValueError, match="honeywell-ct40"):
        datawedge_export(load_profiles().scanner("honeywell-ct40"))


def test_unknown_profile_id_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="zebra-zt411-203"):
        load_profiles().printer("zebra-zt999-203")
