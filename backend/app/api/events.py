"""One LISTEN connection per API process, fanning job events out to Server-Sent-Event subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any

import asyncpg

from app.worker.queue import EVENTS_CHANNEL

log = logging.getLogger(__name__)


class EventHub:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    async def _ensure_listening(self) -> None:
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return
            self._conn = await asyncpg.connect(self._dsn)
            await self._conn.add_listener(EVENTS_CHANNEL, self._dispatch)

    def _dispatch(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        """A payload is a JSON array of events (one UPDATE statement's changes, in order)."""
        try:
            events = json.loads(payload)
        except ValueError:
            return
        for event in events:
            for queue in self._subscribers.get(event["id"], ()):
                queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, job_id: str):  # type: ignore[no-untyped-def]
        """Events of one job, in order, from the moment of subscription."""
        await self._ensure_listening()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers[job_id].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[job_id].discard(queue)
            if not self._subscribers[job_id]:
                del self._subscribers[job_id]

    async def close(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()
