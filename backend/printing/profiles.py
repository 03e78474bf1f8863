"""Component: load and validate the firmware profiles at start-up; a broken profile stops the app.

The profiles go to `runtime.firmware_profiles` (device enrollment serves a
device's profile from there) and onto every session the app makes
(`session.info`), so `enqueue_label(session, …)` renders for a printer's dpi
without being handed the runtime.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from backend.firmware import load_profiles
from backend.printing.service import PROFILES_KEY
from backend.runtime import Runtime

log = logging.getLogger("wes.firmware")


@asynccontextmanager
async def firmware_profiles(runtime: Runtime) -> AsyncIterator[None]:
    # ProfileError names the file and the JSON pointer of the field; it propagates and start-up fails.
    profiles = load_profiles(runtime.settings.firmware_profiles_dir)
    runtime.firmware_profiles = profiles
    info = dict(runtime.sessions.kw.get("info") or {})
    info[PROFILES_KEY] = profiles
    runtime.sessions.configure(info=info)
    log.info("firmware profiles from %s: %d scanners, %d printers", profiles.root, len(profiles.scanners),
             len(profiles.printers))
    yield
