"""Webhook signatures: HMAC-SHA256 over "t.body", one v1 per secret in force, checked as a receiver would."""

from __future__ import annotations

import hashlib
import hmac

from backend.webhooks.signing import new_secret, signature_header, verify

BODY = b'{"id":7,"type":"order.shipped","site":"S1","occurred_at":"2026-12-05T12:00:00+00:00","data":{}}'


def test_the_signature_is_hmac_sha256_of_the_timestamp_a_dot_and_the_raw_body():
    header = signature_header(["whsec_a"], 1764936000, BODY)
    expected = hmac.new(b"whsec_a", b"1764936000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1764936000,v1={expected}"


def test_during_an_overlap_either_secret_verifies_and_a_third_does_not():
    header = signature_header(["whsec_new", "whsec_old"], 1000, BODY)
    assert header.count("v1=") == 2
    assert verify("whsec_new", header, BODY, now=1000)
    assert verify("whsec_old", header, BODY, now=1000)
    assert not verify("whsec_other", header, BODY, now=1000)


def test_a_changed_body_or_an_old_timestamp_does_not_verify():
    header = signature_header(["whsec_a"], 1000, BODY)
    assert not verify("whsec_a", header, BODY.replace(b"S1", b"S2"), now=1000)
    assert verify("whsec_a", header, BODY, now=1300)
    assert not verify("whsec_a", header, BODY, now=1301)  # more than 5 minutes later: a replay
    assert not verify("whsec_a", header.replace("t=1000", "t=1001"), BODY, now=1000)


def test_new_secrets_are_long_random_and_recognisable():
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100 and all(s.startswith("whsec_") and len(s) >= 40 for s in secrets)
