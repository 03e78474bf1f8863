"""Who may be given which task: the worker's roles, skills and zones, and the device they work at.

One rule for every way work reaches a person — claiming, a supervisor's
assignment, the push after a wave's release or a finished task, and the
held work that follows a worker to the device they sign on at:

* **roles** bring the task kinds a role is trained for (``ROLE_KINDS``);
  supervisors and admins may do every kind, integration users none;
* **skills** narrow that: a worker with skills does only those of their
  roles' kinds; an empty skill list means "what the roles bring", never more;
* **zones** (empty: any zone): a task without a zone fits anyone;
* the **device**: a station (a dock desk or a pack bench with a USB scanner)
  has screens for receiving and packing, a handheld for all floor work, a
  printer for none. A worker signed on at no device is judged without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from backend.models import TASK_KINDS
from backend.roles import Role

ROLE_KINDS: dict[Role, tuple[str, ...]] = {
    Role.PICKER: ("putaway", "pick", "replenish", "count", "move"),
    Role.RECEIVER: ("receive", "putaway", "count", "move"),
    Role.PACKER: ("pack",),
    Role.SUPERVISOR: TASK_KINDS,
    Role.ADMIN: TASK_KINDS,
    Role.INTEGRATION: (),
}
DEVICE_KINDS: dict[str, tuple[str, ...]] = {
    "handheld": TASK_KINDS,
    "station": ("receive", "pack"),
    "printer": (),
}


def role_kinds(roles: Iterable[str]) -> tuple[str, ...]:
    """The task kinds a worker's roles bring, in TASK_KINDS order."""
    allowed = {kind for role in roles for kind in ROLE_KINDS.get(role, ())}
    return tuple(kind for kind in TASK_KINDS if kind in allowed)


def allowed_kinds(roles: Iterable[str], skills: Sequence[str], device_kind: str | None) -> tuple[str, ...]:
    """The task kinds this worker may be given at this device (None: signed on nowhere)."""
    kinds = role_kinds(roles)
    if skills:
        kinds = tuple(kind for kind in kinds if kind in skills)
    if device_kind is not None:
        kinds = tuple(kind for kind in kinds if kind in DEVICE_KINDS.get(device_kind, ()))
    return kinds


def refusal(kind: str, zone_id: int | None, *, username: str, roles: Iterable[str], skills: Sequence[str],
            zone_ids: Sequence[int], device_kind: str | None) -> str | None:
    """Why this worker can't be given a task of this kind in this zone, in plain words; None if they can."""
    roles = list(roles)
    if kind not in role_kinds(roles):
        return f"{username} is a {' and '.join(sorted(roles)) or 'user without a role'}: {kind} work is not theirs"
    if skills and kind not in skills:
        return f"{username} is trained for {', '.join(skills)}, not {kind}"
    if zone_ids and zone_id is not None and zone_id not in zone_ids:
        return f"{username} does not work in this task's zone"
    if device_kind is not None and kind not in DEVICE_KINDS.get(device_kind, ()):
        return f"{username} is signed on at a {device_kind}, which has no {kind} screen"
    return None
