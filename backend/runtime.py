"""Everything one running app owns, built by create_app's lifespan."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from backend.auth.login import LoginGuard
from backend.auth.security import PasswordHashing, TokenIssuer
from backend.config import Settings

if TYPE_CHECKING:  # the components' own types: those modules import this one
    from backend.commands.dispatcher import CommandDispatcher
    from backend.commands.runner import CommandRunner
    from backend.firmware import FirmwareProfiles
    from backend.printing.spool import PrintSpool
    from backend.realtime.device import DeviceConnection
    from backend.realtime.hub import Hub
    from backend.realtime.wall import Walls
    from backend.webhooks.delivery import WebhookSender


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    passwords: PasswordHashing
    tokens: TokenIssuer
    logins: LoginGuard  # the one place a password is checked (backend.auth.login)
    # Built on first use.
    device_tokens: TokenIssuer | None = None  # backend.devices.tokens.device_tokens
    device_profiles: FirmwareProfiles | None = None  # backend.devices.profiles, when firmware_profiles is None
    # Set by the components that start them (backend.background); None while one is off or not started.
    firmware_profiles: FirmwareProfiles | None = None  # backend.printing.profiles
    print_spool: PrintSpool | None = None  # backend.printing.spool
    webhook_sender: WebhookSender | None = None  # backend.webhooks.delivery
    cycle_counts_passed: asyncio.Event | None = None  # backend.execution.cycle_counts: set when a pass has ended
    # backend.realtime.lifespan:
    hub: Hub | None = None
    commands: CommandDispatcher | None = None
    command_runner: CommandRunner | None = None
    read_sessions: sessionmaker[Session] | None = None  # for read-only work (stream catch-up, wall counts)
    walls: Walls | None = None
    device_connections: dict[int, DeviceConnection] = field(default_factory=dict)  # the open ones, by device id
