"""Rate limits whose counters live in PostgreSQL, so that every API process counts against the same limit.

The window arithmetic and the rate strings ("60/minute") are the `limits` package's (fixed window); this
module gives it a storage backed by the ``rate_counters`` table, where a hit is one upsert statement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import asyncpg
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter

# One statement per hit: a new window starts when the stored one has expired.
_INCR = """
INSERT INTO rate_counters AS c (key, count, expires_at)
VALUES ($1, $3, now() + make_interval(secs => $2))
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN c.expires_at <= now() THEN EXCLUDED.count ELSE c.count + EXCLUDED.count END,
    expires_at = CASE WHEN c.expires_at <= now() THEN EXCLUDED.expires_at ELSE c.expires_at END
RETURNING count
"""


class PostgresStorage(Storage):
    """A `limits` storage over the ``rate_counters`` table (fixed windows only)."""

    STORAGE_SCHEME = ["skiplock+postgresql"]  # noqa: RUF012 (an instance attribute in the base class)

    def __init__(self, pool: asyncpg.Pool, **options: Any) -> None:
        super().__init__(None, wrap_exceptions=False)
        self._pool = pool

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (asyncpg.PostgresError, OSError)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return int(await self._pool.fetchval(_INCR, key, float(expiry), amount))

    async def get(self, key: str) -> int:
        value = await self._pool.fetchval("SELECT count FROM rate_counters WHERE key = $1 AND expires_at > now()", key)
        return int(value or 0)

    async def get_expiry(self, key: str) -> float:
        value = await self._pool.fetchval(
            "SELECT extract(epoch FROM expires_at) FROM rate_counters WHERE key = $1", key
        )
        return float(value or 0.0)

    async def seconds_left(self, key: str) -> float:
        value = await self._pool.fetchval(
            "SELECT extract(epoch FROM expires_at - now()) FROM rate_counters WHERE key = $1", key
        )
        return float(value or 0.0)

    async def check(self) -> bool:
        return bool(await self._pool.fetchval("SELECT true"))

    async def reset(self) -> int | None:
        return int((await self._pool.execute("DELETE FROM rate_counters")).split()[-1])

    async def clear(self, key: str) -> None:
        await self._pool.execute("DELETE FROM rate_counters WHERE key = $1", key)


@dataclass(frozen=True)
class Refusal:
    limit: str
    retry_after: int


class RateLimiter:
    """Named limits ("enqueue", "upload") per identity (an API key)."""

    def __init__(self, pool: asyncpg.Pool, limits: dict[str, str | None]) -> None:
        self.storage = PostgresStorage(pool)
        self._strategy = FixedWindowRateLimiter(self.storage)
        self._items: dict[str, RateLimitItem] = {name: parse(rate) for name, rate in limits.items() if rate}

    async def hit(self, name: str, identity: str) -> Refusal | None:
        """Count one request; a Refusal (with the seconds until the window ends) once over the limit."""
        item = self._items.get(name)
        if item is None or await self._strategy.hit(item, name, identity):
            return None
        left = await self.storage.seconds_left(item.key_for(name, identity))
        return Refusal(str(item), max(1, math.ceil(left)))
