"""The hub: backends by URL, wake-ups coalesced into few NOTIFY payloads, local delivery with events."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import pytest

from backend.devices.stream import Announcement, StreamEvent
from backend.realtime.hub import Hub, MemoryBackend, PostgresBackend, decode_wakeups, encode_wakeups, make_hub


def test_the_backend_follows_the_url():
    assert isinstance(make_hub("", "sqlite:///x.db").backend, MemoryBackend)
    assert isinstance(make_hub("memory://", "postgresql+psycopg://u@h/db").backend, MemoryBackend)
    pg = make_hub("", "postgresql+psycopg://u:secret@h:5432/db").backend
    assert isinstance(pg, PostgresBackend) and pg.conninfo.startswith("postgresql://u:secret@h:5432/db")
    assert "secret" not in pg.url
    with pytest.raises(ValueError):
        make_hub("redis://localhost", "sqlite:///x.db")


def test_wakeups_fit_notify_payloads_and_survive_the_round_trip():
    many = Announcement(heads={device: device * 3 for device in range(1, 3001)}, sites={1, 2, 3})
    payloads = encode_wakeups("replica-a", many)
    assert len(payloads) > 1 and all(len(p.encode()) < 8000 for p in payloads)
    heads, sites = {}, set()
    for payload in payloads:
        sender, part = decode_wakeups(payload)
        assert sender == "replica-a"
        heads.update(part.heads)
        sites |= part.sites
    assert heads == many.heads and sites == {1, 2, 3}
    assert json.loads(encode_wakeups("r", Announcement(heads={5: 9}))[0]) == {"r": "r", "h": {"5": 9}, "s": []}


def test_revoked_users_travel_to_the_other_replicas_and_reach_their_listeners():
    sender, received = decode_wakeups(encode_wakeups("replica-a", Announcement(sites={1}, users={7, 9}))[0])
    assert sender == "replica-a" and received.users == {7, 9} and received.sites == {1}
    hub = Hub(MemoryBackend())

    class Wall:
        revoked = 0

        def user_revoked(self) -> None:
            self.revoked += 1

    mine, other = Wall(), Wall()
    hub.subscribe_user(7, mine)
    stop_other = hub.subscribe_user(8, other)
    hub.deliver(received)
    stop_other()
    hub.deliver(Announcement(users={8}))
    assert (mine.revoked, other.revoked) == (1, 0)


def test_announcements_waiting_for_the_next_notify_are_merged():
    backend = PostgresBackend("postgresql://u@h/db")
    for seq in (1, 2, 3):
        backend.send(Announcement(heads={7: seq}, sites={1}))
    backend.send(Announcement(heads={8: 1}, sites={2}))
    assert backend._pending.heads == {7: 3, 8: 1} and backend._pending.sites == {1, 2}


class Listener:
    def __init__(self) -> None:
        self.woken: list[tuple[int, list | None]] = []

    def wake(self, head: int, events: list | None) -> None:
        self.woken.append((head, events))


async def test_local_delivery_carries_the_events_and_works_from_other_threads():
    hub = Hub(MemoryBackend())
    await hub.start()
    mine, other = Listener(), Listener()
    unsubscribe = hub.subscribe_device(1, mine)
    hub.subscribe_device(2, other)
    event = StreamEvent(1, 5, "message", {"text": "hi"}, datetime.now(timezone.utc))
    await asyncio.to_thread(hub.announce, Announcement(heads={1: 5}, events={1: [event]}))
    for _ in range(100):
        if mine.woken:
            break
        await asyncio.sleep(0.01)
    assert mine.woken == [(5, [event])] and other.woken == []
    unsubscribe()
    hub.announce(Announcement(heads={1: 6}))
    assert mine.woken == [(5, [event])]
    await hub.stop()
