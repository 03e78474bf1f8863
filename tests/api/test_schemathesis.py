"""Schemathesis against the app's own /openapi.json, in process: every operation answers inside its contract.

Each operation gets generated requests that fit its schema (positive) and requests that break it
(negative: huge integers, wrong types, NUL bytes, missing fields), sent through the ASGI app with a
bearer token: an all-sites admin's, and a one-site admin's. Every answer must be no 5xx, a status
the document lists for that operation, a body matching that status's schema, and the content type
the document declares. Bounded to run in CI on every push: a fixed number of examples per operation
and mode, derandomized (the same cases every run), no shrinking (a failure is reported as found).

    pytest -m schemathesis tests/api/test_schemathesis.py            # the four runs
    WES_FUZZ_EXAMPLES=50 pytest -m schemathesis -k postgresql ...   # deeper, on one database

The figures of the last runs are in docs/api.md ("Fuzzing").
"""

from __future__ import annotations

import collections
import os
import time
import warnings

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Api
from tests.helpers import SKU_A, build_site

pytestmark = pytest.mark.schemathesis

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
EXAMPLES = int(os.environ.get("WES_FUZZ_EXAMPLES", "3"))
# Operations that cost a password hash a call (argon2, ~0.1 s on purpose) get fewer.
FEWER = {"POST /api/v1/auth/token": 2}
CALLERS = {
    "all-sites admin": dict(roles=["admin"], all_sites=True),
    "one-site admin": dict(roles=["admin"], sites=["S1"]),
}


@pytest.fixture
def fuzz_api(api: Api) -> Api:
    """The app (tests/conftest.py's `api`) with a site, and something to find: an ASN and an order (most paths
    still name rows that are not there)."""
    build_site(api)
    root = api.as_("root")
    assert root.post("/api/v1/inbound-shipments", json={"site": "S1", "reference": "ASN-1", "lines": [
        {"line_no": 1, "sku": SKU_A, "quantity": 12}]}).status_code == 201
    assert root.post("/api/v1/orders", json={"site": "S1", "orders": [
        {"reference": "SO-1", "lines": [{"line_no": 1, "sku": SKU_A, "quantity": 2}]}]}).status_code == 201
    return api


# Signing out revokes the fuzzer's own token: every case after it would be a 401 (tests/api/test_accounts.py
# covers the route).
SIGNS_OUT_THE_FUZZER = {"POST /api/v1/auth/logout"}


def _label(operation) -> str:  # noqa: ANN001
    return f"{operation.method.upper()} {operation.path}"


def fuzz(app, token: str) -> tuple[int, collections.Counter, dict[tuple, str]]:  # noqa: ANN001
    """Every operation, EXAMPLES positive and EXAMPLES negative cases each.

    Returns the cases sent, the failures counted by (operation, mode, kind) and one report of each."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    failures: collections.Counter = collections.Counter()
    examples: dict[tuple, str] = {}
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        label = _label(operation)
        if label in SIGNS_OUT_THE_FUZZER:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=FEWER.get(label, EXAMPLES), derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case) -> None:  # noqa: ANN001
                nonlocal cases
                cases += 1
                try:
                    case.call_and_validate(headers=headers, checks=CHECKS)
                except (FailureGroup, Exception) as found:  # noqa: BLE001  (collected, not shrunk)
                    for failure in getattr(found, "exceptions", None) or [found]:
                        key = (label, mode.value, type(failure).__name__)
                        failures[key] += 1
                        examples.setdefault(key, str(found)[:2000])

            try:
                send()
            except Unsatisfiable:
                continue  # (negative mode, an operation with nothing to get wrong: no parameters, no body)
    return cases, failures, examples


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_every_operation_answers_within_its_documented_contract(fuzz_api: Api, database_url: str, caller: str):
    fuzz_api.add_user("fuzzer", **CALLERS[caller])
    token = fuzz_api.login("fuzzer")
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (schemathesis warns of operations whose cases are mostly refused)
        cases, failures, examples = fuzz(fuzz_api.client.app, token)
    database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    print(f"\nschemathesis, {database}, {caller}: {cases} cases, {sum(failures.values())} failures, "
          f"{time.monotonic() - started:.0f} s")
    report = "\n\n".join(f"{key}: {count}×\n{examples[key]}" for key, count in sorted(failures.items()))
    assert not failures, report
