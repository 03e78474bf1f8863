"""Accounts (issue 16): one place checks passwords (constant work, backoff and lockout, bounded hashing), the
password policy, disable/enable, change and reset, sign-out, token versions and rotating refresh tokens —
on SQLite and PostgreSQL. The websockets' side is in tests/realtime/test_accounts_live.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from backend.app import create_app
from backend.models import AuditEntry, LoginThrottle, RefreshToken, User
from tests.conftest import Api, make_settings
from tests.helpers import PASSWORD, build_site

API = "/api/v1"
NEW_PASSWORD = "crate-lifter-5591"
# Where a test needs a lock to still hold at its next request, the first wait is long (the default 1 s could run
# out on a loaded machine between two requests): the tests never wait for a lock, they move it into the past.
LONG_WAIT = 300


@pytest.fixture
def strict_api(database_url: str):  # noqa: ANN201
    app = create_app(make_settings(database_url, login_backoff_seconds=LONG_WAIT))
    with TestClient(app) as client:
        api = Api(client)
        api.add_user("root", ["admin"], all_sites=True)
        yield api


def _login(client: TestClient, username: str, password: str = PASSWORD):  # noqa: ANN202
    return client.post(f"{API}/auth/token", data={"username": username, "password": password})


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _user(api: Api, username: str) -> User:
    with api.runtime.sessions() as session:
        return session.exec(select(User).where(User.username == username)).one()


def _audit_actions(api: Api) -> list[str]:
    with api.runtime.sessions() as session:
        return list(session.exec(select(AuditEntry.action).order_by(AuditEntry.id)).all())


# --- one verification per login, against a dummy hash made once ---------------------------------------


def test_known_and_unknown_users_each_cost_exactly_one_verification_and_the_dummy_hash_is_made_once(api):  # noqa: ANN001
    api.add_user("alice", ["picker"])
    api.add_user("gone", ["picker"])
    with api.runtime.sessions() as session:
        gone = session.exec(select(User).where(User.username == "gone")).one()
        gone.active = False
        session.add(gone)
        session.commit()
    passwords = api.runtime.passwords
    guard = api.runtime.logins
    dummy = guard.dummy_hash
    verified: list[str] = []
    hashed: list[str] = []
    real_verify, real_hash = passwords.verify, passwords.hash
    passwords.verify = lambda stored, password: (verified.append(stored), real_verify(stored, password))[1]
    passwords.hash = lambda password: (hashed.append(password), real_hash(password))[1]
    try:
        attempts = [("alice", PASSWORD, 200), ("alice", "wrong-password", 401), ("nobody", PASSWORD, 401),
                    ("someone-else", "x", 401), ("gone", PASSWORD, 401)]
        for username, password, status in attempts:
            assert _login(api.client, username, password).status_code == status
    finally:
        passwords.verify, passwords.hash = real_verify, real_hash
    alice_hash = _user(api, "alice").password_hash
    assert verified == [alice_hash, alice_hash, dummy, dummy, _user(api, "gone").password_hash]
    assert hashed == []  # nothing hashed per attempt: the dummy hash was made when the app started
    assert guard.dummy_hash == dummy and dummy.startswith("$argon2")


# --- backoff and lockout --------------------------------------------------------------------------------


def test_forty_wrong_passwords_then_the_right_one_is_refused_with_retry_after(strict_api):  # noqa: ANN001
    api = strict_api
    api.add_user("alice", ["picker"])
    free = api.runtime.settings.login_free_failures_per_user
    answers = [_login(api.client, "alice", f"guess-{n}") for n in range(40)]
    assert [r.status_code for r in answers[:free]] == [401] * free
    assert {r.status_code for r in answers[free:]} == {429}
    locked = answers[free]
    body = locked.json()["error"]
    assert body["code"] == "too_many_attempts" and body["details"]["scope"] == "user"
    assert int(locked.headers["Retry-After"]) == body["details"]["retry_after"]
    assert 1 <= body["details"]["retry_after"] <= LONG_WAIT
    right = _login(api.client, "alice")
    assert right.status_code == 429 and "Retry-After" in right.headers
    # Once the wait is over (moved into the past here, not waited for), the right password works and is forgiven.
    with api.runtime.sessions() as session:
        row = session.get(LoginThrottle, "alice")
        assert row.failures == free  # refused attempts were not even tried: they do not count
        row.locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert _login(api.client, "alice").status_code == 200
    with api.runtime.sessions() as session:
        assert session.get(LoginThrottle, "alice") is None


def test_the_wait_doubles_after_each_failure_past_the_free_ones(api):  # noqa: ANN001
    api.add_user("alice", ["picker"])
    settings = api.runtime.settings
    waits = []
    for n in range(settings.login_free_failures_per_user + 3):
        with api.runtime.sessions() as session:  # let every attempt through: only the recorded wait matters
            row = session.get(LoginThrottle, "alice")
            if row is not None and row.locked_until is not None:
                lock = row.locked_until.replace(tzinfo=row.locked_until.tzinfo or timezone.utc)
                waits.append(round((lock - row.last_failure_at.replace(
                    tzinfo=row.last_failure_at.tzinfo or timezone.utc)).total_seconds()))
                row.locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)
                session.add(row)
                session.commit()
        assert _login(api.client, "alice", f"guess-{n}").status_code == 401
    assert waits == [1, 2, 4]


def test_an_unknown_name_is_locked_out_like_a_known_one(strict_api):  # noqa: ANN001
    api = strict_api
    api.add_user("alice", ["picker"])
    free = api.runtime.settings.login_free_failures_per_user
    for name in ("alice", "no-such-user"):
        codes = [_login(api.client, name, "wrong-password").status_code for _ in range(free + 1)]
        assert codes == [401] * free + [429]


def test_a_client_address_is_throttled_across_user_names(database_url):  # noqa: ANN001
    app = create_app(make_settings(database_url, login_free_failures_per_client=3, login_backoff_seconds=LONG_WAIT))
    with TestClient(app) as client:
        api = Api(client)
        api.add_user("alice", ["picker"])
        codes = [_login(client, f"name-{n}", "wrong-password").status_code for n in range(4)]
        assert codes == [401, 401, 401, 429]
        r = _login(client, "alice")
        assert r.status_code == 429 and r.json()["error"]["details"]["scope"] == "client"


def test_the_per_user_count_is_shared_by_replicas_through_the_database(database_url):  # noqa: ANN001
    first, second = (create_app(make_settings(database_url, login_backoff_seconds=LONG_WAIT)) for _ in range(2))
    with TestClient(first) as a, TestClient(second) as b:
        Api(a).add_user("alice", ["picker"])
        free = a.app.state.runtime.settings.login_free_failures_per_user
        for n in range(free):
            assert _login(a if n % 2 else b, "alice", f"guess-{n}").status_code == 401
        assert _login(a, "alice").status_code == 429
        assert _login(b, "alice").status_code == 429


def test_logins_beyond_the_hashing_slots_are_refused_at_once_with_429(api):  # noqa: ANN001
    api.add_user("alice", ["picker"])
    guard = api.runtime.logins
    assert guard.slot_count >= 1
    taken = 0
    while guard.slots.acquire(blocking=False):  # every slot busy hashing someone else's password
        taken += 1
    try:
        assert taken == guard.slot_count
        r = _login(api.client, "alice")
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        assert r.json()["error"]["code"] == "login_busy"
    finally:
        for _ in range(taken):
            guard.slots.release()
    assert _login(api.client, "alice").status_code == 200
    # A busy refusal is not a failed guess.
    with api.runtime.sessions() as session:
        assert session.get(LoginThrottle, "alice") is None


def test_a_refused_login_is_answered_after_the_hold_back_with_nothing_held_meanwhile(database_url):  # noqa: ANN001
    """A 429 over HTTP waits `login_refusal_delay_seconds` (at most its Retry-After) before it is answered, so a
    flooding client gets one answer per delay; while it waits it holds no hashing slot. (The wait is recorded by
    a stand-in for the guard's sleep: nothing here depends on the clock.)"""
    app = create_app(make_settings(database_url, login_refusal_delay_seconds=2.5, login_free_failures_per_user=1,
                                   login_backoff_seconds=LONG_WAIT))
    with TestClient(app) as client:
        api = Api(client)
        api.add_user("alice", ["picker"])
        guard = api.runtime.logins
        waits: list[tuple[float, bool]] = []

        async def record(delay: float) -> None:
            free = guard.slots.acquire(blocking=False)  # every slot is free while a refusal waits
            if free:
                guard.slots.release()
            waits.append((delay, free))

        guard.sleep = record
        assert _login(client, "alice", "wrong-guess-1").status_code == 401
        assert waits == []  # a wrong password is answered as it is: only 429s wait
        locked = _login(client, "alice", "wrong-guess-2")
        assert locked.status_code == 429 and locked.json()["error"]["details"]["scope"] == "user"
        assert waits == [(2.5, True)]
        taken = 0
        while guard.slots.acquire(blocking=False):
            taken += 1
        try:
            busy = _login(client, "bob", "any-password-1")
        finally:
            for _ in range(taken):
                guard.slots.release()
        assert busy.status_code == 429 and busy.json()["error"]["code"] == "login_busy"
        assert waits[1][0] == 1.0  # never longer than the answer's own Retry-After (1 s for login_busy)


def test_passwords_are_checked_on_the_lower_priority_hashing_threads(api):  # noqa: ANN001
    """argon2 runs on threads of its own at nice 10 (Linux), never on the request's worker thread."""
    import os
    import threading

    from backend.auth.login import HASHING_NICENESS

    api.add_user("alice", ["picker"])
    passwords = api.runtime.logins.passwords
    seen: list[tuple[str, int | None]] = []
    original = passwords.verify

    def verify(stored: str, password: str) -> bool:
        thread = threading.current_thread()
        niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) if hasattr(os, "getpriority") else None
        seen.append((thread.name, niceness))
        return original(stored, password)

    passwords.verify = verify
    assert _login(api.client, "alice").status_code == 200
    assert _login(api.client, "alice", "wrong-guess-1").status_code == 401
    assert len(seen) == 2 and all(name.startswith("argon2") for name, _ in seen)
    if os.name == "posix" and hasattr(os, "getpriority"):
        assert all(niceness >= HASHING_NICENESS for _, niceness in seen)


# --- password policy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "reason"), [
    ("12345678", "too_short"), ("password", "too_short"), ("password1234", "common"), ("Qwerty123456!", "common"),
    ("newpicker-newpicker", "user_derived"), ("S1-newpicker-2026", "user_derived"), ("x" * 201, "too_long"),
])
def test_weak_passwords_are_refused_on_create_with_the_reason(api, password, reason):  # noqa: ANN001
    build_site(api)
    r = api.as_("root").post(f"{API}/users", json={"username": "newpicker", "password": password,
                                                     "roles": ["picker"], "sites": ["S1"]})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "weak_password" and error["details"] == {"field": "password", "reason": reason}
    with api.runtime.sessions() as session:
        assert session.exec(select(User).where(User.username == "newpicker")).first() is None


def test_the_policy_applies_to_change_and_reset_too(api):  # noqa: ANN001
    build_site(api)
    api.add_user("alice", ["picker"], ["S1"])
    alice_id = _user(api, "alice").id
    r = api.as_("alice").post(f"{API}/auth/password", json={"current_password": PASSWORD, "new_password": "alice1234567"})
    assert r.status_code == 422 and r.json()["error"]["details"]["reason"] == "user_derived"
    r = api.as_("root").post(f"{API}/users/{alice_id}/password", json={"new_password": "12345678"})
    assert r.status_code == 422 and r.json()["error"]["details"] == {"field": "new_password", "reason": "too_short"}
    assert _login(api.client, "alice").status_code == 200  # unchanged


# --- disable, enable, reset, change, sign out -----------------------------------------------------------


def test_a_disabled_user_is_refused_at_once_and_can_come_back_when_enabled(api):  # noqa: ANN001
    build_site(api)
    api.add_user("alice", ["picker"], ["S1"])
    pair = _login(api.client, "alice").json()
    alice_id = _user(api, "alice").id
    r = api.as_("root").post(f"{API}/users/{alice_id}/disable")
    assert r.status_code == 200 and r.json()["active"] is False
    r = api.client.get(f"{API}/tasks", headers=_bearer(pair["access_token"]))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = api.client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_refresh_token"
    assert _login(api.client, "alice").status_code == 401
    assert api.as_("root").post(f"{API}/users/{alice_id}/enable").json()["active"] is True
    again = _login(api.client, "alice")
    assert again.status_code == 200
    assert api.client.get(f"{API}/tasks", headers=_bearer(pair["access_token"])).status_code == 401  # still revoked
    assert api.client.get(f"{API}/tasks", headers=_bearer(again.json()["access_token"])).status_code == 200
    assert _audit_actions(api)[-2:] == ["user.disable", "user.enable"]


def test_admins_manage_only_users_within_their_sites_and_never_an_all_sites_user(api):  # noqa: ANN001
    build_site(api, "S1")
    build_site(api, "S2")
    api.add_user("s1-pick", ["picker"], ["S1"])
    api.add_user("s2-pick", ["picker"], ["S2"])
    api.add_user("s2-admin", ["admin"], ["S2"])
    api.add_user("picker", ["picker"], ["S1"])
    s2_admin = api.as_("s2-admin")
    ids = {name: _user(api, name).id for name in ("s1-pick", "s2-pick", "s2-admin", "root")}
    for name in ("s1-pick", "root"):
        for action in ("disable", "enable"):
            r = s2_admin.post(f"{API}/users/{ids[name]}/{action}")
            assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_user", (name, action)
        r = s2_admin.post(f"{API}/users/{ids[name]}/password", json={"new_password": NEW_PASSWORD})
        assert r.status_code == 404
    assert s2_admin.post(f"{API}/users/{ids['s2-pick']}/disable").status_code == 200
    r = s2_admin.post(f"{API}/users/{ids['s2-admin']}/disable")
    assert r.status_code == 409 and r.json()["error"]["code"] == "cannot_disable_self"
    # their own password goes through POST /auth/password, with the current one
    r = s2_admin.post(f"{API}/users/{ids['s2-admin']}/password", json={"new_password": NEW_PASSWORD})
    assert r.status_code == 409 and r.json()["error"]["code"] == "use_own_password_change"
    r = api.as_("picker").post(f"{API}/users/{ids['s1-pick']}/disable")
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    assert _login(api.client, "s1-pick").status_code == 200


def test_an_admin_reset_revokes_the_users_tokens_and_sets_the_new_password(api):  # noqa: ANN001
    build_site(api)
    api.add_user("alice", ["picker"], ["S1"])
    old = _login(api.client, "alice").json()
    r = api.as_("root").post(f"{API}/users/{_user(api, 'alice').id}/password", json={"new_password": NEW_PASSWORD})
    assert r.status_code == 200
    assert api.client.get(f"{API}/auth/me", headers=_bearer(old["access_token"])).status_code == 401
    assert _login(api.client, "alice").status_code == 401
    assert _login(api.client, "alice", NEW_PASSWORD).status_code == 200
    assert "user.password_reset" in _audit_actions(api)


def test_changing_your_password_needs_the_current_one_and_revokes_your_other_tokens(api):  # noqa: ANN001
    api.add_user("alice", ["picker"])
    elsewhere = _login(api.client, "alice").json()
    here = _login(api.client, "alice").json()
    r = api.client.post(f"{API}/auth/password", headers=_bearer(here["access_token"]),
                        json={"current_password": "not-my-password", "new_password": NEW_PASSWORD})
    assert r.status_code == 422 and r.json()["error"]["code"] == "wrong_password"
    r = api.client.post(f"{API}/auth/password", headers=_bearer(here["access_token"]),
                        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    fresh = r.json()
    for old in (elsewhere, here):
        assert api.client.get(f"{API}/auth/me", headers=_bearer(old["access_token"])).status_code == 401
        assert api.client.post(f"{API}/auth/refresh", json={"refresh_token": old["refresh_token"]}).status_code == 401
    assert api.client.get(f"{API}/auth/me", headers=_bearer(fresh["access_token"])).status_code == 200
    assert _login(api.client, "alice", NEW_PASSWORD).status_code == 200
    assert "user.password_change" in _audit_actions(api)


def test_signing_out_revokes_every_access_and_refresh_token_of_the_user(api):  # noqa: ANN001
    api.add_user("alice", ["picker"])
    phone, wall = _login(api.client, "alice").json(), _login(api.client, "alice").json()
    r = api.client.post(f"{API}/auth/logout", headers=_bearer(phone["access_token"]))
    assert r.status_code == 204
    for pair in (phone, wall):
        r = api.client.get(f"{API}/tasks", headers=_bearer(pair["access_token"]))
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
        assert api.client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    assert _audit_actions(api)[-1] == "user.sign_out"
    assert _login(api.client, "alice").status_code == 200


# --- refresh tokens -----------------------------------------------------------------------------------


def test_a_refresh_token_rotates_and_reusing_a_rotated_one_revokes_the_family(api):  # noqa: ANN001
    api.add_user("alice", ["picker"])
    first = _login(api.client, "alice").json()
    assert first["expires_in"] == api.runtime.settings.access_token_minutes * 60
    r = api.client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert api.client.get(f"{API}/auth/me", headers=_bearer(second["access_token"])).json()["username"] == "alice"
    # The first refresh token again: someone else holds a copy. Both refresh tokens of the family die.
    r = api.client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "refresh_token_reused"
    r = api.client.post(f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_refresh_token"
    # Another login (another family) is untouched.
    other = _login(api.client, "alice").json()
    assert api.client.post(f"{API}/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 200
    with api.runtime.sessions() as session:
        stored = session.exec(select(RefreshToken.token_hash)).all()
    assert first["refresh_token"] not in stored and len(stored[0]) == 64  # kept as digests only


def test_an_expired_or_unknown_refresh_token_is_refused(api):  # noqa: ANN001
    api.add_user("alice", ["picker"])
    pair = _login(api.client, "alice").json()
    with api.runtime.sessions() as session:
        for row in session.exec(select(RefreshToken)).all():
            row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
            session.add(row)
        session.commit()
    for token in (pair["refresh_token"], "not-a-refresh-token"):
        r = api.client.post(f"{API}/auth/refresh", json={"refresh_token": token})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_refresh_token"


def test_failures_recorded_at_the_same_moment_are_all_counted(api):  # noqa: ANN001
    """Replicas (threads here) recording failures for one name at once: none is lost (row lock, or the
    first insert's unique key and a retry)."""
    from concurrent.futures import ThreadPoolExecutor

    guard = api.runtime.logins
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _n: guard.record_failure(api.runtime.sessions, "contested"), range(8)))
    with api.runtime.sessions() as session:
        assert session.get(LoginThrottle, "contested").failures == 8
