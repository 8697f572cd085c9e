"""A dedicated LISTEN connection: wakes the worker on new jobs and delivers cancel requests.

If the connection drops (server restart, network), it is re-established and the worker is woken, since
notifications sent meanwhile are lost; polling covers the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from app.worker.outage import Outage, describe, is_connection_trouble
from app.worker.queue import CANCEL_CHANNEL, JOBS_CHANNEL

log = logging.getLogger(__name__)


class Listener:
    def __init__(
        self,
        dsn: str,
        on_jobs: Callable[[str], None],
        on_cancel: Callable[[str], None],
        check_interval: float = 1.0,
        outage: Outage | None = None,
    ) -> None:
        self._dsn = dsn
        self._on_jobs = on_jobs
        self._on_cancel = on_cancel
        self._check_interval = check_interval
        self._outage = outage or Outage()
        self._conn: asyncpg.Connection | None = None
        self._connected_before = False
        self.reconnects = 0

    def _dispatch(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        if channel == JOBS_CHANNEL:
            self._on_jobs(payload)
        elif channel == CANCEL_CHANNEL:
            self._on_cancel(payload)

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        await conn.add_listener(JOBS_CHANNEL, self._dispatch)
        await conn.add_listener(CANCEL_CHANNEL, self._dispatch)
        self._conn = conn

    async def run(self, stopping: asyncio.Event) -> None:
        """Keep a live LISTEN connection until `stopping` is set."""
        delay = 0.2
        while not stopping.is_set():
            try:
                if self._conn is None or self._conn.is_closed():
                    await self._close()
                    await self._connect()
                    if self._connected_before:
                        self.reconnects += 1
                        log.debug("LISTEN connection re-established")
                    self._connected_before = True
                    self._on_jobs("*")  # catch up on anything announced while we were away
                    delay = 0.2
                else:
                    await self._conn.execute("SELECT 1", timeout=5)
                self._outage.ok()
            except Exception as exc:  # connection trouble of any kind: log, back off, go on
                if is_connection_trouble(exc):
                    self._outage.failed("LISTEN connection", exc, delay)
                else:
                    log.warning("LISTEN connection unavailable (%s); retrying in %.1f s", describe(exc), delay)
                await self._close()
                await _sleep_or_stop(stopping, delay)
                delay = min(delay * 2, 10.0)
                continue
            await _sleep_or_stop(stopping, self._check_interval)
        await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2)
            except Exception:  # closing a broken connection: nothing to save
                conn.terminate()


async def _sleep_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
