"""GET /health: database reachable, migrations at head, workers seen."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import text

from app.api.access import public
from app.api.deps import RuntimeDep
from app.core import migrations
from app.schemas import HealthOut

router = APIRouter(tags=["health"], dependencies=[Depends(public)])


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "Database unreachable or migrations not at head"}},
)
async def health(runtime: RuntimeDep, response: Response) -> HealthOut:
    head = migrations.head_revision()
    current: str | None = None
    workers = 0
    database = True
    try:
        current = await migrations.current_revision(runtime.engine)
        async with runtime.engine.connect() as conn:
            workers = (
                await conn.scalar(
                    text("SELECT count(*) FROM workers WHERE heartbeat_at > now() - make_interval(secs => :s)"),
                    {"s": runtime.settings.lease_seconds},
                )
                or 0
            )
    except Exception:  # any failure here means "not healthy", reported rather than raised
        database = False
    healthy = database and current == head
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if healthy else "degraded",
        database=database,
        migrations={"current": current, "head": head},
        migrations_at_head=current == head,
        workers_alive=workers,
        embedded_worker=runtime.settings.worker_enabled,
        environment=runtime.settings.environment,
    )
