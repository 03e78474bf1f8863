"""Firmware profiles: load and validate the scanner and printer JSON files, and export DataWedge settings.

Profiles live in the repository's `firmware_profiles/` folder (one JSON file
per scanner model and per printer model and resolution, each checked
against its JSON Schema there). A broken file raises `ProfileError` naming
the file and the JSON pointer of the field at fault.

Uses only the standard library and jsonschema; `PrinterProfile.to_printer_setup`
and the printer profiles' width check (dots per millimetre: `printers.setup.DOTS_PER_MM`)
import the sibling `printers` package when called.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

if TYPE_CHECKING:
    from printers.setup import PrinterSetup

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "firmware_profiles"
GS = "\x1d"


class ProfileError(Exception):
    """A profile file that cannot be used; `path` and `pointer` say where."""

    def __init__(self, path: Path, pointer: str, problem: str) -> None:
        self.path = path
        self.pointer = pointer
        self.problem = problem
        super().__init__(f"{path}: {pointer or '/'}: {problem}")


@dataclass(frozen=True, slots=True)
class DataWedgeSettings:
    profile_name: str
    package_name: str
    activities: tuple[str, ...]
    scanner_selection: str
    send_chars_as_key_events: bool
    character_delay_ms: int = 0


@dataclass(frozen=True, slots=True)
class ScannerProfile:
    """How a handheld hands a scan to the PWA. Explicit settings, like biip's ParseConfig."""

    id: str
    vendor: str
    model: str
    description: str
    output: str
    prefix: str
    suffix: str
    gs_substitute: str
    aim_identifier: bool
    symbologies: tuple[str, ...]
    max_inter_key_ms: int
    min_scan_length: int
    notes: str | None = None
    datawedge: DataWedgeSettings | None = None

    @property
    def separator_chars(self) -> tuple[str, ...]:
        """For `biip.ParseConfig(separator_chars=...)`: GS and whatever the scanner sends instead."""
        return tuple(dict.fromkeys((GS, self.gs_substitute)))

    def pwa_settings(self) -> dict[str, Any]:
        """What the PWA needs to recognise a scan in keystrokes (JSON-ready)."""
        return {
            "profile": self.id,
            "prefix": self.prefix,
            "suffix": self.suffix,
            "gs_substitute": self.gs_substitute,
            "aim_identifier": self.aim_identifier,
            "max_inter_key_ms": self.max_inter_key_ms,
            "min_scan_length": self.min_scan_length,
            "symbologies": list(self.symbologies),
        }


@dataclass(frozen=True, slots=True)
class PrinterProfile:
    id: str
    vendor: str
    model: str
    dpi: int
    print_width_mm: float
    print_width_dots: int
    darkness: int
    speed_ips: int
    max_speed_ips: int
    media_type: str
    media_tracking: str
    label_width_mm: float
    label_length_mm: float
    media_types_supported: tuple[str, ...] = ()
    text_font: str = "0"
    port: int = 9100
    language: str = "zpl"
    description: str = ""
    notes: str | None = None

    def to_printer_setup(self) -> PrinterSetup:
        """The `printers` package's view of this printer."""
        from printers.setup import PrinterSetup

        return PrinterSetup(
            dpi=self.dpi,
            print_width_dots=self.print_width_dots,
            darkness=self.darkness,
            speed_ips=self.speed_ips,
            media_type=self.media_type,  # type: ignore[arg-type]
            media_tracking=self.media_tracking,  # type: ignore[arg-type]
            text_font=self.text_font,
        )


def to_printer_setup(profile: PrinterProfile) -> PrinterSetup:
    return profile.to_printer_setup()


@dataclass(frozen=True, slots=True)
class FirmwareProfiles:
    root: Path
    scanners: Mapping[str, ScannerProfile]
    printers: Mapping[str, PrinterProfile]

    def scanner(self, profile_id: str) -> ScannerProfile:
        try:
            return self.scanners[profile_id]
        except KeyError:
            raise KeyError(f"no scanner profile {profile_id!r}; known: {', '.join(sorted(self.scanners))}") from None

    def printer(self, profile_id: str) -> PrinterProfile:
        try:
            return self.printers[profile_id]
        except KeyError:
            raise KeyError(f"no printer profile {profile_id!r}; known: {', '.join(sorted(self.printers))}") from None


def load_profiles(root: Path | None = None) -> FirmwareProfiles:
    """Load and validate every profile under `root` (default: the repository's firmware_profiles/)."""
    root = Path(root) if root is not None else DEFAULT_ROOT
    scanner_schema = _load_schema(root / "scanner.schema.json")
    printer_schema = _load_schema(root / "printer.schema.json")
    scanners = {}
    for path in sorted((root / "scanners").glob("*.json")):
        profile = _scanner(path, _validated(path, scanner_schema))
        scanners[profile.id] = profile
    printers = {}
    for path in sorted((root / "printers").glob("*.json")):
        profile = _printer(path, _validated(path, printer_schema))
        printers[profile.id] = profile
    return FirmwareProfiles(root=root, scanners=MappingProxyType(scanners), printers=MappingProxyType(printers))


def _load_schema(path: Path) -> jsonschema.Draft202012Validator:
    schema = _read_json(path)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ProfileError(path, _pointer(exc), exc.message) from None
    return jsonschema.Draft202012Validator(schema)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(path, "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ProfileError(path, "", "not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(path, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _validated(path: Path, validator: jsonschema.Draft202012Validator) -> dict[str, Any]:
    document = _read_json(path)
    error = best_match(validator.iter_errors(document))
    if error is not None:
        raise ProfileError(path, _pointer(error), error.message)
    if document["id"] != path.stem:
        raise ProfileError(path, "/id", f"id {document['id']!r} must match the file name {path.stem!r}")
    if not document["id"].startswith(document["vendor"] + "-"):
        raise ProfileError(path, "/id", f"id must start with the vendor {document['vendor']!r}")
    return document


def _pointer(error: ValidationError) -> str:
    """JSON pointer to the field at fault, down to the missing or unexpected property itself."""
    parts = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        parts.append(next(name for name in error.validator_value if name not in instance))
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        parts.append(sorted(name for name in instance if name not in allowed)[0])
    elif error.validator == "not" and isinstance(error.validator_value, dict) and "required" in error.validator_value:
        parts.append(error.validator_value["required"][0])
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _scanner(path: Path, document: dict[str, Any]) -> ScannerProfile:
    datawedge = document.get("datawedge")
    return ScannerProfile(
        id=document["id"],
        vendor=document["vendor"],
        model=document["model"],
        description=document["description"],
        output=document["output"],
        prefix=document["prefix"],
        suffix=document["suffix"],
        gs_substitute=document["gs_substitute"],
        aim_identifier=document["aim_identifier"],
        symbologies=tuple(document["symbologies"]),
        max_inter_key_ms=document["max_inter_key_ms"],
        min_scan_length=document["min_scan_length"],
        notes=document.get("notes"),
        datawedge=None
        if datawedge is None
        else DataWedgeSettings(
            profile_name=datawedge["profile_name"],
            package_name=datawedge["package_name"],
            activities=tuple(datawedge["activities"]),
            scanner_selection=datawedge["scanner_selection"],
            send_chars_as_key_events=datawedge["send_chars_as_key_events"],
            character_delay_ms=datawedge.get("character_delay_ms", 0),
        ),
    )


def _printer(path: Path, document: dict[str, Any]) -> PrinterProfile:
    dpi = document["dpi"]
    if not document["id"].endswith(f"-{dpi}"):
        raise ProfileError(path, "/dpi", f"dpi {dpi} does not match the id {document['id']!r}")
    from printers.setup import DOTS_PER_MM

    expected_dots = document["print_width_mm"] * DOTS_PER_MM[dpi]
    if abs(document["print_width_dots"] - expected_dots) > 0.02 * expected_dots:
        raise ProfileError(
            path, "/print_width_dots",
            f"{document['print_width_dots']} dots is not {document['print_width_mm']} mm at {dpi} dpi "
            f"(about {round(expected_dots)})",
        )
    if document["speed_ips"] > document["max_speed_ips"]:
        raise ProfileError(path, "/speed_ips", f"above the model's maximum of {document['max_speed_ips']} ips")
    supported = tuple(document.get("media_types_supported", ()))
    if supported and document["media_type"] not in supported:
        raise ProfileError(path, "/media_type", f"{document['media_type']} is not one of {', '.join(supported)}")
    return PrinterProfile(
        id=document["id"],
        vendor=document["vendor"],
        model=document["model"],
        dpi=dpi,
        print_width_mm=float(document["print_width_mm"]),
        print_width_dots=document["print_width_dots"],
        darkness=document["darkness"],
        speed_ips=document["speed_ips"],
        max_speed_ips=document["max_speed_ips"],
        media_type=document["media_type"],
        media_tracking=document["media_tracking"],
        label_width_mm=float(document["label_size_mm"]["width"]),
        label_length_mm=float(document["label_size_mm"]["length"]),
        media_types_supported=supported,
        text_font=document.get("text_font", "0"),
        port=document.get("port", 9100),
        language=document.get("language", "zpl"),
        description=document.get("description", ""),
        notes=document.get("notes"),
    )


# DataWedge decoder parameters per symbology we name in profiles
_DECODERS = {
    "code128": ("decoder_code128", "decoder_code128_enable_plain"),
    "gs1_128": ("decoder_code128", "decoder_code128_enable_ean128"),
    "ean13": ("decoder_ean13",),
    "ean8": ("decoder_ean8",),
    "upca": ("decoder_upca",),
    "upce": ("decoder_upce0",),
    "datamatrix": ("decoder_datamatrix",),
    "gs1_datamatrix": ("decoder_gs1_datamatrix",),
    "qr": ("decoder_qrcode",),
    "gs1_qr": ("decoder_gs1_qrcode",),
}


def _flag(value: bool) -> str:
    return "true" if value else "false"


def datawedge_export(profile: ScannerProfile) -> dict[str, Any]:
    """The DataWedge SET_CONFIG intent for a Zebra profile, as JSON-ready data.

    Format: Zebra's DataWedge intent API (`com.symbol.datawedge.api.ACTION`
    with the `com.symbol.datawedge.api.SET_CONFIG` extra, DataWedge 6.6 or
    later): `bundle` is the main bundle, nested bundles are objects, bundle
    arrays are lists and every value is a string, as DataWedge expects. An
    app built on the intent API (EMDK, Enterprise Browser, an MDM's intent
    action) sends it to create or update the profile that binds Chrome to
    keystroke output with our prefix, suffix, AIM identifiers and decoders.
    """
    settings = profile.datawedge
    if settings is None:
        raise ValueError(f"scanner profile {profile.id!r} has no DataWedge settings (not a Zebra device)")
    enabled = {parameter for symbology in profile.symbologies for parameter in _DECODERS[symbology]}
    barcode = {"scanner_selection": settings.scanner_selection, "scanner_input_enabled": "true"}
    barcode["code_id_type"] = "1" if profile.aim_identifier else "0"  # 0 none, 1 AIM, 2 Symbol
    for parameter in sorted({p for params in _DECODERS.values() for p in params}):
        barcode[parameter] = _flag(parameter in enabled)
    keystroke = {
        "keystroke_output_enabled": "true",
        "keystroke_action_char": "0",
        "keystroke_character_delay": str(settings.character_delay_ms),
        "keystroke_send_chars_as_events": _flag(settings.send_chars_as_key_events),
        # GS (0x1D) must reach the page as a key event, or it is lost between GS1 fields
        "keystroke_send_control_chars_as_events": "true",
    }
    suffix = profile.suffix
    bdf = {
        "bdf_enabled": "true",
        "bdf_prefix": profile.prefix,
        "bdf_suffix": "" if suffix in ("\n", "\r", "\t") else suffix,
        "bdf_send_data": "true",
        "bdf_send_hex": "false",
        "bdf_send_enter": _flag(suffix in ("\n", "\r")),
        "bdf_send_tab": _flag(suffix == "\t"),
    }
    plugins: list[dict[str, Any]] = [
        {"PLUGIN_NAME": "BARCODE", "RESET_CONFIG": "true", "PARAM_LIST": barcode},
        {"PLUGIN_NAME": "KEYSTROKE", "RESET_CONFIG": "true", "PARAM_LIST": keystroke},
        {"PLUGIN_NAME": "BDF", "RESET_CONFIG": "true", "OUTPUT_PLUGIN_NAME": "KEYSTROKE", "PARAM_LIST": bdf},
        {"PLUGIN_NAME": "INTENT", "RESET_CONFIG": "true", "PARAM_LIST": {"intent_output_enabled": "false"}},
    ]
    if profile.gs_substitute != GS:
        rule = {
            "name": "wes_gs_substitute",
            "enabled": "true",
            "alldevices": "true",
            "string": "",
            "string_pos": "0",
            "string_len": "0",
            "ACTIONS": [
                {"type": "REPLACE_STRING", "action_param_1": GS, "action_param_2": profile.gs_substitute},
                {"type": "SEND_REMAINING"},
            ],
        }
        plugins.append(
            {
                "PLUGIN_NAME": "ADF",
                "RESET_CONFIG": "true",
                "OUTPUT_PLUGIN_NAME": "KEYSTROKE",
                "PARAM_LIST": {"adf_enabled": "true", "ADF_RULE": [rule]},
            }
        )
    return {
        "action": "com.symbol.datawedge.api.ACTION",
        "extra": "com.symbol.datawedge.api.SET_CONFIG",
        "bundle": {
            "PROFILE_NAME": settings.profile_name,
            "PROFILE_ENABLED": "true",
            "CONFIG_MODE": "CREATE_IF_NOT_EXIST",
            "PLUGIN_CONFIG": plugins,
            "APP_LIST": [{"PACKAGE_NAME": settings.package_name, "ACTIVITY_LIST": list(settings.activities)}],
        },
    }
