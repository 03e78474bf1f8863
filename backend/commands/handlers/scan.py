"""scan: classify a raw scan at the device's site; a location scan also says where the worker is."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from backend.commands.context import CommandContext
from backend.commands.registry import CommandPayload, CommandSet
from backend.devices.profiles import scan_profile
from backend.errors import Invalid, NotFound
from backend.scanning import ScanKind, classify_scan
from backend.scanning.db_lookup import SiteScanLookup
from backend.scanning.errors import ScanError, UnknownScan
from backend.tasks.dispatch import set_position

commands = CommandSet()


class Scan(CommandPayload):
    # Not stripped: suffixes and GS (which str.strip counts as space) are part of what the scanner sent.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
    raw: str = Field(min_length=1, max_length=4096)


@commands.command("scan", payload=Scan)
def scan(ctx: CommandContext, payload: Scan) -> dict:
    site = ctx.site()
    profile = scan_profile(ctx.runtime, ctx.device.firmware_profile if ctx.device else None)
    try:
        result = classify_scan(payload.raw, profile, SiteScanLookup(ctx.session, site.id))
    except UnknownScan as exc:
        raise NotFound(exc.message, code=exc.code, details={"field": "raw", **exc.details}) from exc
    except ScanError as exc:
        raise Invalid(exc.message, code=exc.code, details={"field": "raw", **exc.details}) from exc
    if result.kind == ScanKind.LOCATION and result.location is not None:
        set_position(ctx.session, ctx.user_id, site.id, result.location.id)
    return {"scan": result.to_dict()}
