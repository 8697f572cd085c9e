"""The listeners of the events channel, registered so that the jobs trigger ticks only while one listens.

Every UPDATE statement on ``jobs`` sends an empty notification on the events channel, but only while a
listener's lease in ``event_listeners`` is current (migration 0013): a notification wakes every listening
backend of the database and makes committing transactions take turns, a cost not worth paying when no one
reads the ticks. Whoever listens holds a `TickLease`: `listen` before the first read (it registers: from then
on every statement's trigger sees the lease), `keep` at each wake-up (renewed when a third of its life is gone),
`release` when it stops listening. A statement whose trigger ran just before the registration and which
commits after the first read sends no tick: `listen` wakes the listener once more `SETTLE` seconds later.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

MIN_LEASE_SECONDS = 60.0  # a listener that died while listening costs ticks for at most this long
SETTLE = 1.0  # seconds after registering when a listener reads again, for statements that ran just before

_REGISTER = """
WITH expired AS (DELETE FROM event_listeners WHERE expires_at < now() AND id <> $1)
INSERT INTO event_listeners (id, expires_at) VALUES ($1, now() + make_interval(secs => $2))
ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at
"""


class TickLease:
    """One listener's registration (see the module's docstring); its statements run on the caller's
    connection, outside any transaction of the caller's. `wakes_every`: the longest the listener sleeps
    between two wake-ups (its recheck or idle poll); the lease lasts at least three of them, so that one
    renewed at a wake-up cannot run out before the next (the ticks would stop)."""

    def __init__(self, wakes_every: float = 0.0) -> None:
        self.id = uuid.uuid4()
        self.seconds = max(MIN_LEASE_SECONDS, 3 * wakes_every)
        self._renewed: float | None = None  # time.monotonic() of the last registration, None when released

    async def register(self, conn: Any) -> None:
        """Register (or renew) this listener's lease; expired leases of others are removed on the way."""
        await conn.execute(_REGISTER, self.id, self.seconds)
        self._renewed = time.monotonic()

    async def listen(self, conn: Any, wake: Callable[[], None]) -> asyncio.TimerHandle:
        """Register, and call `wake` (the listener's "read now") `SETTLE` seconds later: a statement whose
        trigger ran just before the registration sent no tick and may commit after the listener's first read.
        Returns the timer, for a listener that stops sooner to cancel."""
        await self.register(conn)
        return asyncio.get_running_loop().call_later(SETTLE, wake)

    async def keep(self, conn: Any) -> None:
        """Renew the lease once a third of it has passed; nothing after a `release` (`listen` again for that)."""
        if self._renewed is not None and time.monotonic() - self._renewed > self.seconds / 3:
            await self.register(conn)

    async def release(self, conn: Any) -> None:
        """End the lease: no tick is sent for this listener any more."""
        self._renewed = None
        await conn.execute("DELETE FROM event_listeners WHERE id = $1", self.id)
