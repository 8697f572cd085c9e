"""The FastAPI application: routers, and a lifespan that opens the database and runs the embedded worker.

A host application embeds Skiplock with `skiplock_lifespan` (entered in its own lifespan) and
`include_skiplock` (the routers); see `examples/orders_app.py`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from app.api.events import EventHub
from app.api.routes import artifacts, dashboard, health, jobs, metrics, models, operators, uploads, workflows
from app.core.config import Settings, get_settings
from app.core.logging import configure_logging
from app.runtime import Runtime

log = logging.getLogger(__name__)


def skiplock_lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Skiplock's lifespan for any FastAPI app: opens the database (migrated), the event hub and, if the
    settings say so, the embedded worker, and closes them. A host app enters it inside its own lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings)
        app.state.runtime = runtime
        app.state.settings = settings
        app.state.events = EventHub(runtime.url)
        worker_task = None
        worker = None
        if settings.worker_enabled:
            worker = runtime.worker()
            worker_task = asyncio.create_task(worker.run(), name="embedded-worker")
        log.info("Skiplock API ready (%s, embedded worker %s)", settings.environment, "on" if worker_task else "off")
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker.stop()
                await worker_task
            await app.state.events.close()
            await runtime.close()

    return lifespan


def include_skiplock(app: FastAPI, settings: Settings) -> None:
    """Add Skiplock's routers (API and dashboard, at the paths they have in Skiplock's own app) to `app`."""
    app.include_router(health.router)
    app.include_router(uploads.router)
    if not settings.is_production:
        app.include_router(jobs.process_router)
    app.include_router(jobs.router)
    app.include_router(workflows.router)
    app.include_router(artifacts.router)
    app.include_router(models.router)
    app.include_router(operators.router)
    app.include_router(metrics.router)
    app.include_router(dashboard.router)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Skiplock",
        version="0.1.0",
        summary="PostgreSQL-native job runner with media and document AI jobs.",
        lifespan=skiplock_lifespan(settings),
    )
    app.state.settings = settings

    @app.middleware("http")
    async def reject_oversized_uploads(request: Request, call_next):  # type: ignore[no-untyped-def]
        """Refuse an upload whose declared size is over the limit before reading any of it."""
        length = request.headers.get("content-length")
        declared = int(length) if length and length.isdigit() else 0
        if request.url.path == "/upload" and declared > settings.max_upload_bytes + 64 * 1024:
            return JSONResponse(
                {"detail": f"file is larger than the upload limit of {settings.max_upload_bytes} bytes"},
                status_code=status.HTTP_413_CONTENT_TOO_LARGE,
            )
        return await call_next(request)

    include_skiplock(app, settings)
    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory app.main:app_factory`."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
