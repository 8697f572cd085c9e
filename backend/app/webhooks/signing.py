"""Signing events: ``Skiplock-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, with the
endpoint's secret; a receiver recomputes it, compares in constant time and refuses old timestamps (replays)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "Skiplock-Signature"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300  # seconds a receiver accepts between the signature's time and its own clock


def new_secret() -> str:
    """A signing secret: 256 random bits."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None, *also: str) -> str:
    """The signature header's value for `body` sent at `timestamp` (now when None): one v1 per secret, the
    current one first (`also`: a previous secret still honoured after a rotation)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t}," + ",".join(f"v1={_digest(s, t, body)}" for s in (secret, *also))


def verify(secret: str, body: bytes, header: str, tolerance: int = DEFAULT_TOLERANCE, now: float | None = None) -> bool:
    """Whether `header` (the Skiplock-Signature value) signs `body` (the raw bytes received) with `secret`,
    within `tolerance` seconds of now. Several v1 values may be present (any one may match)."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [v for k, v in fields if k == "t"]
    given = [v for k, v in fields if k == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not given:
        return False
    if abs((time.time() if now is None else now) - int(stamps[0])) > tolerance:
        return False
    expected = _digest(secret, int(stamps[0]), body)
    return any(hmac.compare_digest(expected, v) for v in given)
