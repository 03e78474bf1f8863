"""The roles a user holds, and the groups of them the warehouse's rules name, declared once.

A role's value is what the database (`app_user.roles`), the tokens and the JSON carry. The groups are
frozensets; `in_order` lists a group in the declaration order below, for messages and tables.
Everything else (the access matrix, the device commands, label makers, dispatch) imports from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    PICKER = "picker"
    RECEIVER = "receiver"
    PACKER = "packer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    INTEGRATION = "integration"


ROLES: tuple[Role, ...] = tuple(Role)  # declaration order: docs/permissions.md's columns, messages
ROLE_NAMES: tuple[str, ...] = tuple(role.value for role in Role)  # the same, as the API's Literal takes them

EVERYONE = frozenset(Role)
# Who works the floor on a device (the device socket, device commands, waiting tasks, the desk's crew).
WORKERS = frozenset({Role.PICKER, Role.RECEIVER, Role.PACKER, Role.SUPERVISOR, Role.ADMIN})
FLOOR = frozenset({Role.PICKER, Role.RECEIVER, Role.PACKER})  # the wall's people: floor hands, not their supervisors
ADMINS = frozenset({Role.ADMIN})
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
MASTER_DATA = frozenset({Role.ADMIN, Role.INTEGRATION})  # keep products and locations
INTEGRATORS = frozenset({Role.ADMIN, Role.INTEGRATION})  # the ERP's side: webhooks and the event feed
SITE_SETUP = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION})  # zones, layout, putaway rules, bin labels
ORDER_DESK = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION})  # orders and advance shipping notices
RECEIVING = frozenset({Role.RECEIVER, Role.SUPERVISOR, Role.ADMIN})
PACKING = frozenset({Role.PACKER, Role.SUPERVISOR, Role.ADMIN})
NOBODY: frozenset[Role] = frozenset()

# Who may open the websockets: their lines in backend.api.access and the sockets' own checks (backend.realtime).
DEVICE_SOCKET = WORKERS  # /ws/device
WALL_SOCKET = SUPERVISORS  # /ws/wall


def in_order(roles: Iterable[str]) -> tuple[Role, ...]:
    """`roles` in declaration order (a group's members as messages and tables list them)."""
    wanted = frozenset(roles)
    return tuple(role for role in Role if role in wanted)
