"""Webhook signatures: HMAC-SHA256 over `timestamp + "." + body`, hex, one `v1=` per secret in force.

    X-WES-Signature: t=1764936000,v1=5257a8…[,v1=9f0c1e…]

While a rotated-out secret is still in its overlap period both secrets sign, so a receiver that
knows either accepts the request. The receiver checks (docs/webhooks.md, README):

    expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    any(hmac.compare_digest(expected, v) for v in the header's v1 values) and abs(now - t) <= 300
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-WES-Signature"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh signing secret (shown once, when a subscription is created or its secret rotated)."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets_in_force: list[str], timestamp: int, body: bytes) -> str:
    """The header's value: the timestamp and one v1 signature per secret (the current one first)."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets_in_force)])


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: a v1 signature made with `secret`, and a timestamp within `tolerance` of now."""
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
