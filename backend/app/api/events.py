"""One LISTEN connection per API process, turning ticks on the events channel into events for subscribers.

Every UPDATE statement on ``jobs`` sends an empty notification on the events channel (migration 0006) while a
listener is registered (migration 0013; the hub registers while it listens): a tick that says "jobs
changed", nothing about which. While this process has subscribers, a tick makes the hub
read the status and progress of the jobs they watch, in one query on its own connection, and push each
change it sees to the job's subscribers. Reads follow one another at most every ``min_interval`` seconds,
so a busy queue (hundreds of statements a second) costs each listening API process at most that many small
queries, and nothing at all when no one watches. Changes that land between two reads are folded into the
latest state: a subscriber sees every state its job rests in long enough to be read, always the last.
A read also runs every ``idle_poll`` seconds with no tick, in case one was missed (the LISTEN connection
dropped and came back). With no subscriber left, the hub stops listening until the next one comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

import asyncpg

from app.worker.queue import EVENTS_CHANNEL
from app.worker.ticks import TickLease

log = logging.getLogger(__name__)

Event = dict[str, Any]  # {id, status, progress, message}
APPLICATION_NAME = "skiplock-events"  # how the hub's connection shows in pg_stat_activity
_STATE = "SELECT id::text, status::text, progress, progress_message FROM jobs WHERE id = ANY($1::uuid[])"


class EventHub:
    def __init__(self, dsn: str, *, min_interval: float = 0.02, idle_poll: float = 5.0) -> None:
        self._dsn = dsn
        self._min_interval = min_interval
        self._idle_poll = idle_poll
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._last: dict[str, tuple[str, float, str | None]] = {}  # per watched job: the state last pushed
        self._tick = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._listening = False
        # registered while listening (the trigger ticks only then: migration 0013), renewed at each read
        self._lease = TickLease(idle_poll)
        self.reads = 0  # state reads so far

    async def _ensure_listening(self) -> None:
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._dsn, server_settings={"application_name": APPLICATION_NAME})
                self._listening = False
            if not self._listening:
                # before the first read: ticks are sent from now on (and one more read comes a second later)
                await self._lease.listen(self._conn, self._tick.set)
                await self._conn.add_listener(EVENTS_CHANNEL, self._on_tick)
                self._listening = True
                self._tick.set()  # anything may have changed while no one listened
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read_loop())

    def _on_tick(self, *_args: Any) -> None:
        self._tick.set()

    async def _read_loop(self) -> None:
        while True:
            while self._subscribers:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_poll):
                        await self._tick.wait()
                self._tick.clear()
                try:
                    await self._read()
                except Exception as exc:  # connection trouble of any kind: listen again on a new connection
                    log.warning("reading job states for event subscribers failed (%s); listening again", exc)
                    await asyncio.sleep(1.0)
                    await self._reconnect()
                await asyncio.sleep(self._min_interval)
            async with self._lock:
                if self._subscribers:
                    continue  # someone subscribed while this loop was ending
                # No one watches: stop listening, so that an idle API process is not sent every tick.
                self._reader = None
                await self._stop_listening()
                return

    async def _stop_listening(self) -> None:
        """Under the lock: stop listening on the events channel and end the tick lease (on a connection
        that fails, the lease expires by itself)."""
        if self._listening and self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.remove_listener(EVENTS_CHANNEL, self._on_tick)
            with contextlib.suppress(Exception):
                await self._lease.release(self._conn)
        self._listening = False

    async def _reconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close()
        try:
            await self._ensure_listening()
        except Exception as exc:  # the database is still away: the next read tries again
            log.warning("could not listen for job events yet: %s", exc)

    async def _read(self) -> None:
        ids = list(self._subscribers)
        if not ids:
            return
        conn = self._conn
        if conn is None or conn.is_closed():
            raise ConnectionError("the connection listening for job events is closed")
        rows = await conn.fetch(_STATE, ids)
        self.reads += 1
        await self._lease.keep(conn)
        for job_id, status, progress, message in rows:
            state = (status, progress, message)
            if self._last.get(job_id) == state or job_id not in self._subscribers:
                continue
            self._last[job_id] = state
            event = {"id": job_id, "status": status, "progress": progress, "message": message}
            for queue in self._subscribers[job_id]:
                queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, job_id: str):  # type: ignore[no-untyped-def]
        """Changes of one job's status and progress, in order, from the moment of subscription. The first
        event may repeat the state the job had when the subscription began."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers[job_id].add(queue)
        try:
            await self._ensure_listening()
            self._tick.set()  # a first read for the new subscriber
            yield queue
        finally:
            self._subscribers[job_id].discard(queue)
            if not self._subscribers[job_id]:
                del self._subscribers[job_id]
                self._last.pop(job_id, None)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        # A reader that saw its last subscriber leave has already let go of `_reader` and is releasing the
        # lease under the lock: wait for it, rather than close the connection under its feet (the lease left
        # behind would bring every statement's tick back until it expired).
        async with self._lock:
            await self._stop_listening()
            if self._conn is not None and not self._conn.is_closed():
                await self._conn.close()
