"""The FastAPI application: routers, and a lifespan that opens the database and runs the embedded worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from app.api.access import DocsGuard
from app.api.events import EventHub
from app.api.origin import CrossSiteGuard
from app.api.request_id import RequestIdMiddleware
from app.api.routes import (
    artifacts,
    audit,
    auth,
    dashboard,
    health,
    jobs,
    keys,
    metrics,
    models,
    operators,
    uploads,
)
from app.core.config import Settings, get_settings
from app.core.logging import configure_logging, stamp_request_ids
from app.core.ratelimit import RateLimiter
from app.runtime import Runtime

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    stamp_request_ids()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings)
        app.state.runtime = runtime
        app.state.events = EventHub(runtime.url)
        app.state.limiter = RateLimiter(
            runtime.pool, {"enqueue": settings.rate_limit_enqueue, "upload": settings.rate_limit_upload}
        )
        worker_task = None
        worker = None
        if settings.worker_enabled:
            worker = runtime.worker()
            worker_task = asyncio.create_task(worker.run(), name="embedded-worker")
        log.info("Skiplock API ready (%s, embedded worker %s)", settings.environment, "on" if worker_task else "off")
        if settings.open_without_keys:
            log.warning(
                "the API is open without keys on %s (development); keys are required anywhere else",
                settings.bind_host,
            )
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker.stop()
                await worker_task
            await app.state.events.close()
            await runtime.close()

    app = FastAPI(
        title="Skiplock",
        version="0.1.0",
        summary="PostgreSQL-native job runner with media and document AI jobs.",
        lifespan=lifespan,
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

    # Outermost last: request id (on every answer, refusals included), then the cross-site refusal.
    app.add_middleware(DocsGuard, fastapi_app=app)
    app.add_middleware(CrossSiteGuard, allowed_origins=settings.allowed_origins)
    app.add_middleware(RequestIdMiddleware)

    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(uploads.router)
    if not settings.is_production:
        app.include_router(jobs.process_router)
    app.include_router(jobs.router)
    app.include_router(artifacts.router)
    app.include_router(models.router)
    app.include_router(operators.router)
    app.include_router(metrics.router)
    app.include_router(audit.router)
    app.include_router(keys.router)
    app.include_router(dashboard.router)
    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory app.main:app_factory`."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
