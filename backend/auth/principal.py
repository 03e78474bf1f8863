"""Who is asking: the authenticated user, their roles and sites."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The authenticated user, with what they may do and where."""

    id: int
    username: str
    roles: frozenset[str]
    all_sites: bool
    site_ids: frozenset[int]

    def has_any(self, roles: Iterable[str]) -> bool:
        return bool(self.roles.intersection(roles))

    def may_access(self, site_id: int) -> bool:
        return self.all_sites or site_id in self.site_ids
