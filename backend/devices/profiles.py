"""The firmware profile a device is tied to, as the PWA and the scan classifier need it."""

from __future__ import annotations

from typing import Any

from backend.firmware import FirmwareProfiles, load_profiles
from backend.runtime import Runtime
from backend.scanning import GS, ScanProfile


def firmware_profiles(runtime: Runtime) -> FirmwareProfiles:
    """The profiles loaded at start-up (runtime.firmware_profiles), else loaded once here."""
    if runtime.firmware_profiles is not None:
        return runtime.firmware_profiles
    if runtime.device_profiles is None:
        runtime.device_profiles = load_profiles(runtime.settings.firmware_profiles_dir)
    return runtime.device_profiles


def known_scanner(runtime: Runtime, profile_id: str) -> bool:
    return profile_id in firmware_profiles(runtime).scanners


def scanner_settings(runtime: Runtime, profile_id: str | None) -> dict[str, Any] | None:
    """What the PWA needs to recognise a scan (prefix, suffix, GS substitute…); None without a scanner profile."""
    if not profile_id:
        return None
    profile = firmware_profiles(runtime).scanners.get(profile_id)
    return profile.pwa_settings() if profile else None


def scan_profile(runtime: Runtime, profile_id: str | None) -> ScanProfile:
    """The classifier's view of the device's scanner (the default when the device has none)."""
    profile = firmware_profiles(runtime).scanners.get(profile_id) if profile_id else None
    if profile is None:
        return ScanProfile()
    default = ScanProfile()
    return ScanProfile(
        gs_substitutes=tuple(dict.fromkeys((GS, profile.gs_substitute))),
        suffixes=tuple(dict.fromkeys(((profile.suffix,) if profile.suffix else ()) + default.suffixes)),
        prefix=profile.prefix,
        aim_ids_expected=profile.aim_identifier,
    )
