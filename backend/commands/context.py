"""What a command handler gets: the open session and who is asking, from which device."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from backend.auth.principal import Principal
from backend.config import Settings
from backend.runtime import Runtime
from backend.errors import NotFound
from backend.models import Device, Site, Task
from backend.tasks.transitions import load_for_update


@dataclass(frozen=True)
class Actor:
    """The signed-in worker, and the device they work at (None for a plain HTTP client)."""

    principal: Principal
    device_id: int | None = None
    site_id: int | None = None  # the device's site: its commands stay there

    @property
    def user_id(self) -> int:
        return self.principal.id


@dataclass
class CommandContext:
    """Handed to every handler. Change things through `session`; the dispatcher commits."""

    session: Session
    runtime: Runtime
    actor: Actor
    command_id: str
    via: str  # "ws" or "http"
    # The task the command was about, stored with the command (set by load_task).
    task_id: int | None = None
    # Its batch already sent the reads its spec's `ahead` names (backend.commands.registry).
    read_ahead: bool = False
    _device: Device | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def user_id(self) -> int:
        return self.actor.user_id

    @property
    def principal(self) -> Principal:
        return self.actor.principal

    @property
    def device(self) -> Device | None:
        if self._device is None and self.actor.device_id is not None:
            self._device = self.session.get(Device, self.actor.device_id)
        return self._device

    def may_use_site(self, site_id: int) -> bool:
        if self.actor.site_id is not None and site_id != self.actor.site_id:
            return False
        return self.principal.may_access(site_id)

    def load_task(self, task_id: int, *, lock: bool = True) -> Task:
        """The task, locked for this transaction; another site's task answers like a missing one."""
        task = load_for_update(self.session, task_id) if lock else self.session.get(Task, task_id)
        if task is None or not self.may_use_site(task.site_id):
            raise NotFound(f"task {task_id} not found", code="unknown_task")
        self.task_id = task.id
        return task

    def site(self, site_id: int | None = None) -> Site:
        """The device's site (or the one named, if this worker may use it)."""
        wanted = site_id if site_id is not None else self.actor.site_id
        if wanted is None:
            if not self.principal.all_sites and len(self.principal.site_ids) == 1:
                wanted = next(iter(self.principal.site_ids))
            else:
                raise NotFound("this command needs a device's site", code="site_required")
        site = self.session.get(Site, wanted)
        if site is None or not self.may_use_site(site.id):
            raise NotFound("site not found", code="site_not_found")
        return site
