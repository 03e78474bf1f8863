from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from backend.api.deps import CurrentUser, SessionDep, resolve_site
from backend.api.schemas import Strict
from backend.bounds import ScanText, Text
from backend.errors import Invalid, NotFound
from backend.scanning import ScanProfile, classify_scan
from backend.scanning.db_lookup import SiteScanLookup
from backend.scanning.errors import ScanError, UnknownScan

router = APIRouter(prefix="/scans", tags=["scanning"])


class ClassifyIn(Strict):
    site: Text | None = None
    # Any text: the classifier refuses what no scanner sends (NUL, escapes, bidi controls) with its own codes.
    raw: str = Field(max_length=4096, description="the scan exactly as received, AIM prefix and GS included")
    gs_substitutes: list[ScanText] | None = Field(
        default=None, max_length=4, description="characters the scanner sends in place of GS (\\x1d)"
    )
    suffix: ScanText | None = Field(default=None, max_length=4)


@router.post("/classify")
def classify(body: ClassifyIn, me: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """What a raw scan is: location, LPN, SSCC, tote, product or a GS1 element string."""
    site = resolve_site(session, me, body.site)
    profile_args: dict[str, Any] = {}
    if body.gs_substitutes:
        profile_args["gs_substitutes"] = tuple(body.gs_substitutes)
    if body.suffix is not None:
        profile_args["suffixes"] = (body.suffix,)
    profile = ScanProfile(**profile_args) if profile_args else ScanProfile()
    try:
        result = classify_scan(body.raw, profile, SiteScanLookup(session, site.id))
    except UnknownScan as exc:
        raise NotFound(exc.message, code=exc.code, details={"field": "raw", **exc.details}) from exc
    except ScanError as exc:
        raise Invalid(exc.message, code=exc.code, details={"field": "raw", **exc.details}) from exc
    return result.to_dict()
