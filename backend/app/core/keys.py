"""API keys: the token format, its hash, and the key store (create, find, list, revoke).

A token reads ``sk_<prefix>_<secret>``: the prefix (10 hex digits) is public and indexed, the secret is
256 random bits. Only the SHA-256 of the whole token is stored; a high-entropy token needs no slow hash.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_TOKEN = re.compile(r"^sk_([0-9a-f]{10})_([A-Za-z0-9_-]{43})$")
OWNER_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
_OWNER = re.compile(OWNER_PATTERN)
SYSTEM_OWNER = "system"


class Scope(enum.StrEnum):
    """What a key may do; each scope includes the ones before it."""

    read = "read"
    write = "write"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Scope).index(self)

    def allows(self, needed: Scope) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class ApiKey:
    id: uuid.UUID
    prefix: str
    name: str
    owner: str
    scope: Scope
    created_at: datetime
    revoked_at: datetime | None


class InvalidKeyRequest(ValueError):
    """A key cannot be created as asked (bad owner name); the message says why."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh token and its public prefix."""
    prefix = secrets.token_hex(5)
    return f"sk_{prefix}_{secrets.token_urlsafe(32)}", prefix


def parse_prefix(token: str) -> str | None:
    """The prefix of a well-formed token, else None."""
    match = _TOKEN.match(token)
    return match.group(1) if match else None


def matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


def _key(row: Any) -> ApiKey:
    return ApiKey(
        row["id"], row["prefix"], row["name"], row["owner"], Scope(row["scope"]), row["created_at"], row["revoked_at"]
    )


_COLUMNS = "id, prefix, name, owner, scope, created_at, revoked_at"


async def create(conn: Any, name: str, owner: str, scope: Scope) -> tuple[ApiKey, str]:
    """Store a new key; returns it with its token, which is never shown again."""
    if not _OWNER.match(owner):
        raise InvalidKeyRequest(f"owner {owner!r} must be lower-case letters, digits, '.', '_' or '-' (at most 63)")
    if owner == SYSTEM_OWNER:
        raise InvalidKeyRequest(f"owner {SYSTEM_OWNER!r} is reserved for the jobs the system makes")
    token, prefix = new_token()
    row = await conn.fetchrow(
        f"INSERT INTO api_keys (prefix, token_sha256, name, owner, scope) VALUES ($1, $2, $3, $4, $5)"
        f" RETURNING {_COLUMNS}",
        prefix,
        token_hash(token),
        name,
        owner,
        scope.value,
    )
    return _key(row), token


async def find_active(conn: Any, token: str) -> ApiKey | None:
    """The unrevoked key this token belongs to, or None (unknown, malformed, wrong secret or revoked)."""
    prefix = parse_prefix(token)
    if prefix is None:
        return None
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, token_sha256 FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL", prefix
    )
    if row is None or not matches(token, row["token_sha256"]):
        return None
    return _key(row)


async def list_all(conn: Any) -> list[ApiKey]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, prefix")
    return [_key(r) for r in rows]


async def revoke(conn: Any, id_or_prefix: str) -> ApiKey | None:
    """Revoke a key by its id or prefix (sessions signed in with it end too); None if no active key matched."""
    try:
        key_id: uuid.UUID | None = uuid.UUID(id_or_prefix)
    except ValueError:
        key_id = None
    row = await conn.fetchrow(
        f"UPDATE api_keys SET revoked_at = now() WHERE (id = $1 OR prefix = $2) AND revoked_at IS NULL"
        f" RETURNING {_COLUMNS}",
        key_id,
        id_or_prefix,
    )
    if row is None:
        return None
    await conn.execute("DELETE FROM api_sessions WHERE key_id = $1", row["id"])
    return _key(row)
