"""The FastAPI application: routers, and a lifespan that opens the database and runs the embedded worker.

A host application embeds Skiplock with `skiplock_lifespan` (entered in its own lifespan) and
`include_skiplock` (the routers); see `examples/orders_app.py`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app.api import errors
from app.api.access import DocsGuard
from app.api.events import EventHub
from app.api.limits import BodyLimit
from app.api.openapi import describe_job_types
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
    webhooks,
    workflows,
)
from app.core.config import Settings, get_settings
from app.core.logging import configure_logging, stamp_request_ids
from app.core.ratelimit import RateLimiter
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
        app.state.events = EventHub(runtime.direct_url)  # LISTEN needs a session
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

    return lifespan


def include_skiplock(app: FastAPI, settings: Settings) -> None:
    """Add Skiplock's routers (API and dashboard, at the paths they have in Skiplock's own app) to `app`."""
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(uploads.router)
    if not settings.is_production:
        app.include_router(jobs.process_router)
    app.include_router(jobs.router)
    app.include_router(workflows.router)
    app.include_router(artifacts.router)
    app.include_router(models.router)
    app.include_router(operators.router)
    app.include_router(metrics.router)
    app.include_router(audit.router)
    app.include_router(keys.router)
    app.include_router(webhooks.router)
    app.include_router(dashboard.router)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    stamp_request_ids()
    # /docs and /redoc with their scripts and styles served from the package, not from a CDN.
    app = FastAPIOffline(
        title="Skiplock",
        version="0.1.0",
        summary="PostgreSQL-native job runner with media and document AI jobs.",
        lifespan=skiplock_lifespan(settings),
        # A form's text field (an upload's params) may be as large as MAX_REQUEST_BYTES (413 past it).
        form_limits={"max_part_size": settings.max_request_bytes},
    )
    app.state.settings = settings
    errors.install(app, settings.max_request_bytes)
    app.add_middleware(BodyLimit, limit_for=lambda path: _body_limit(settings, path))
    # Outermost last: request id (on every answer, refusals included), then the cross-site refusal.
    app.add_middleware(DocsGuard, fastapi_app=app)
    app.add_middleware(CrossSiteGuard, allowed_origins=settings.allowed_origins)
    app.add_middleware(RequestIdMiddleware)
    include_skiplock(app, settings)
    describe_job_types(app)
    return app


MULTIPART_OVERHEAD = 64 * 1024  # an upload's boundaries and part headers


def _body_limit(settings: Settings, path: str) -> tuple[int, str]:
    """The largest request body for `path`, and the message of its 413: an upload may carry the file and its
    params; any other body is at most MAX_REQUEST_BYTES."""
    if path == "/upload":
        limit = settings.max_upload_bytes + settings.max_request_bytes + MULTIPART_OVERHEAD
        return limit, f"file is larger than the upload limit of {settings.max_upload_bytes} bytes (MAX_UPLOAD_BYTES)"
    return settings.max_request_bytes, (
        f"request body is larger than the limit of {settings.max_request_bytes} bytes (MAX_REQUEST_BYTES)"
    )


def app_factory() -> FastAPI:
    """For `uvicorn --factory app.main:app_factory`."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
