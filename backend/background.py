"""The background parts of a running app, started in this order by create_app's lifespan.

Each entry is a callable taking the Runtime and returning an async context
manager: entering starts the part (and may set its fields of the Runtime),
exiting stops it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from backend.execution.cycle_counts import cycle_count_scheduler
from backend.insights.at_risk import at_risk_sweeper
from backend.printing import firmware_profiles, print_spool
from backend.realtime.lifespan import realtime
from backend.runtime import Runtime
from backend.webhooks.delivery import webhooks

Component = Callable[[Runtime], AbstractAsyncContextManager[None]]

COMPONENTS: tuple[Component, ...] = (
    firmware_profiles,  # first: a broken profile stops start-up; others read runtime.firmware_profiles
    print_spool,
    webhooks,  # posts the outbox's events to the ERP's subscriptions
    realtime,  # hub, device event streams, device commands
    cycle_count_scheduler,  # its first pass starts as the app serves
    at_risk_sweeper,  # records and scores the at-risk predictions (first sweep one interval after start)
)
