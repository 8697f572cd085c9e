"""Wires the application together: database, migrations, storage, handlers, and worker configuration.
Shared by the API process (`app.main`) and standalone workers (`python -m app.worker`)."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import app.jobs  # noqa: F401  (registers every job type)
from app.core import db, migrations
from app.core.config import Settings
from app.core.storage import Storage
from app.worker.dispatcher import JobType
from app.worker.executor import Backoff
from app.worker.worker import Worker, WorkerConfig

log = logging.getLogger(__name__)


def load_handlers(settings: Settings) -> None:
    """Register the built-in job types (imported above) and those of HANDLER_MODULES."""
    for module in settings.handler_modules:
        importlib.import_module(module)


def freeze_startup_heap() -> None:
    """Move every object alive after startup (modules, the web framework, the dispatch table, the pools)
    into the garbage collector's permanent generation, once per process.

    Those objects live as long as the process, yet every full collection walked them all again: about
    90,000 objects and 40 ms here, every few thousand jobs on a busy worker, a stall of the whole event
    loop (claims, acknowledgements, heartbeats) that cost a no-op drain 10-15% of its throughput. Objects
    made later, by jobs, are collected as usual. The collection before the freeze keeps startup garbage
    out of the permanent generation.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


@dataclass
class Runtime:
    settings: Settings
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    pool: asyncpg.Pool
    storage: Storage
    direct_url: str = ""  # session work: LISTEN, lease heartbeats, migrations (DATABASE_DIRECT_URL, else `url`)

    def __post_init__(self) -> None:
        self.direct_url = self.direct_url or self.url

    @classmethod
    async def start(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        load_handlers(settings)
        url = await asyncio.to_thread(db.resolve_database_url, settings)
        direct_url = db.resolve_direct_url(settings, url)
        pooled = settings.database_pooler == "transaction"
        log.info("database %s", db.redacted(url))
        if direct_url != url:
            log.info("direct database connection (LISTEN, heartbeats, migrations) %s", db.redacted(direct_url))
        if migrate:
            await asyncio.to_thread(migrations.upgrade, direct_url)
        engine = db.create_engine(url, settings.db_pool_size, pooled=pooled)
        pool = await db.create_pool(url, max_size=settings.db_pool_size, pooled=pooled)
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
        sessions = db.create_sessionmaker(engine)
        runtime = cls(settings, url, engine, sessions, pool, Storage(settings.storage_dir), direct_url)
        freeze_startup_heap()
        return runtime

    async def close(self) -> None:
        await self.pool.close()
        await self.engine.dispose()

    def resources(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "storage": self.storage,
            "sessionmaker": self.sessionmaker,
            "pool": self.pool,
        }

    def worker_config(self, **overrides: Any) -> WorkerConfig:
        s = self.settings
        values: dict[str, Any] = {
            "concurrency": s.worker_concurrency,
            "queues": list(s.worker_queues),
            "poll_interval": s.worker_poll_interval,
            "batch_size": s.worker_batch_size,
            "prefetch": s.worker_prefetch,
            "lease_seconds": s.lease_seconds,
            "shutdown_grace": s.shutdown_grace_seconds,
            "reaper_interval": s.reaper_interval_seconds,
            "schedules": s.worker_schedules,
            "backoff": Backoff(s.retry_backoff_base, s.retry_backoff_max),
            "default_max_attempts": s.default_max_attempts,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return WorkerConfig(**values)

    def worker(self, registry: dict[str, JobType] | None = None, **overrides: Any) -> Worker:
        """A worker on this runtime's pool: config `overrides`, dispatch table `registry` (default: the real one)."""
        config = self.worker_config(**overrides)
        return Worker(self.pool, self.direct_url, config, resources=self.resources(), registry=registry)
