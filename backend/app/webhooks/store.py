"""The SQL of webhooks: endpoints, deliveries (one per endpoint and event) and their attempts. Every function
takes an asyncpg connection (or pool), so that it can run in the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from app.webhooks.sender import Attempt
from app.webhooks.signing import new_secret

DELIVERY_JOB = "webhook_delivery"
DELIVERY_QUEUE = "webhooks"  # the queue of the delivery jobs (the trigger of migration 0010 names it too)
JOBS_CHANNEL = "skiplock_jobs"  # the queue's wake-up channel (app.worker.queue.JOBS_CHANNEL)


class Executor(Protocol):
    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]: ...
    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any: ...
    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any: ...
    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str: ...


@dataclass(frozen=True)
class Webhook:
    id: uuid.UUID
    owner: str
    url: str
    description: str | None
    all_jobs: bool
    max_attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """A delivery with what sending it needs."""

    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str
    url: str
    secret: str
    previous_secret: str | None  # still signs after a rotation, until its time is up
    body: str
    delivery_job_id: uuid.UUID


_COLUMNS = "id, owner, url, description, all_jobs, max_attempts, created_at"


async def create(
    conn: Executor, owner: str, url: str, *, description: str | None, all_jobs: bool, max_attempts: int
) -> tuple[Webhook, str]:
    """A new endpoint and its signing secret (the only time the secret leaves the database)."""
    secret = new_secret()
    row = await conn.fetchrow(
        f"""INSERT INTO webhooks (owner, url, secret, description, all_jobs, max_attempts)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}""",
        owner,
        url,
        secret,
        description,
        all_jobs,
        max_attempts,
    )
    return Webhook(**dict(row)), secret


async def listed(conn: Executor, owner: str | None) -> list[Webhook]:
    """An owner's endpoints (every owner's when `owner` is None), oldest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM webhooks WHERE $1::text IS NULL OR owner = $1 ORDER BY created_at, id", owner
    )
    return [Webhook(**dict(r)) for r in rows]


async def get(conn: Executor, webhook_id: uuid.UUID) -> Webhook | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM webhooks WHERE id = $1", webhook_id)
    return Webhook(**dict(row)) if row else None


async def delete(conn: Executor, webhook_id: uuid.UUID) -> bool:
    """Removes the endpoint with its deliveries; deliveries still queued then fail, saying it was deleted."""
    return await conn.fetchval("DELETE FROM webhooks WHERE id = $1 RETURNING true", webhook_id) is not None


async def missing(conn: Executor, owner: str, webhook_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Those of `webhook_ids` that are not endpoints of `owner`."""
    found = {
        r["id"]
        for r in await conn.fetch("SELECT id FROM webhooks WHERE owner = $1 AND id = ANY($2)", owner, webhook_ids)
    }
    return [w for w in webhook_ids if w not in found]


async def attach(conn: Executor, job_id: uuid.UUID, webhook_ids: list[uuid.UUID]) -> None:
    """The job's end is also sent to these endpoints (beside its owner's `all_jobs` ones)."""
    await conn.execute(
        """UPDATE jobs SET webhooks = ARRAY(SELECT DISTINCT w FROM unnest(COALESCE(webhooks, '{}') || $2::uuid[]) w)
           WHERE id = $1""",
        job_id,
        webhook_ids,
    )


async def of_job(conn: Executor, job_id: uuid.UUID) -> list[uuid.UUID]:
    """The endpoints that still exist among those the job's end is sent to."""
    rows = await conn.fetch(
        "SELECT w.id FROM jobs j JOIN webhooks w ON w.id = ANY (j.webhooks) WHERE j.id = $1 ORDER BY w.created_at",
        job_id,
    )
    return [r["id"] for r in rows]


async def not_attached(conn: Executor, job_id: uuid.UUID, webhook_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Those of `webhook_ids` the job's end is not sent to."""
    attached = set(await conn.fetchval("SELECT COALESCE(webhooks, '{}') FROM jobs WHERE id = $1", job_id) or [])
    return [w for w in webhook_ids if w not in attached]


# A delivery's status as a reader should see it: one whose job ended without the handler saying so (it was
# reaped with no attempts left, or cancelled) failed.
_DELIVERY_VIEW = """
SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.job_id, d.delivery_job_id, d.attempts, d.created_at,
       d.finished_at, d.body,
       CASE WHEN d.status = 'pending' AND j.status IN ('failed', 'cancelled') THEN 'failed' ELSE d.status END AS status,
       COALESCE(d.last_error, CASE WHEN d.status = 'pending' AND j.status IN ('failed', 'cancelled') THEN j.error END)
           AS last_error,
       j.run_at AS next_attempt_at, j.status::text AS job_status
FROM webhook_deliveries d LEFT JOIN jobs j ON j.id = d.delivery_job_id
"""


async def deliveries(
    conn: Executor, webhook_id: uuid.UUID, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """An endpoint's deliveries, newest first, each with its attempts (oldest first)."""
    rows = await conn.fetch(
        f"""SELECT * FROM ({_DELIVERY_VIEW} WHERE d.webhook_id = $1) v
            WHERE $2::text IS NULL OR v.status = $2
            ORDER BY v.created_at DESC, v.id LIMIT $3 OFFSET $4""",
        webhook_id,
        status,
        limit,
        offset,
    )
    found = [dict(r) for r in rows]
    attempts = await conn.fetch(
        """SELECT delivery_id, attempt, at, address, status_code, response_excerpt, error, duration_ms
           FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY id""",
        [d["id"] for d in found],
    )
    by_delivery: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for a in attempts:
        by_delivery.setdefault(a["delivery_id"], []).append({k: v for k, v in dict(a).items() if k != "delivery_id"})
    for d in found:
        d["responses"] = by_delivery.get(d["id"], [])
        if d["status"] != "pending":
            d["next_attempt_at"] = None
    return found


async def load(conn: Executor, delivery_id: uuid.UUID) -> Delivery | None:
    row = await conn.fetchrow(
        """SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.status, w.url, w.secret,
                  CASE WHEN w.previous_until > now() THEN w.previous_secret END AS previous_secret,
                  d.body, d.delivery_job_id
           FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1""",
        delivery_id,
    )
    return Delivery(**dict(row)) if row else None


async def record(conn: Executor, delivery_id: uuid.UUID, attempt: int, outcome: Attempt, *, final: bool) -> None:
    """Writes one attempt; the delivery becomes `delivered`, or `failed` when this was its last attempt."""
    status = "delivered" if outcome.delivered else ("failed" if final else "pending")
    await conn.execute(
        """WITH a AS (
               INSERT INTO webhook_attempts (delivery_id, attempt, address, status_code, response_excerpt, error,
                                             duration_ms)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
           )
           UPDATE webhook_deliveries
           SET attempts = GREATEST(attempts, $2), status = $8,
               last_error = CASE WHEN $8 = 'delivered' THEN NULL ELSE $9 END,
               finished_at = CASE WHEN $8 = 'pending' THEN NULL ELSE now() END
           WHERE id = $1""",
        delivery_id,
        attempt,
        outcome.address,
        outcome.status_code,
        outcome.excerpt,
        outcome.error,
        outcome.duration_ms,
        status,
        None if outcome.delivered else outcome.reason,
    )


async def rotate(conn: Executor, webhook_id: uuid.UUID, overlap_seconds: float) -> str | None:
    """A new signing secret for the endpoint; the current one keeps signing beside it (a second v1) for
    `overlap_seconds`, while receivers switch. None when there is no such endpoint."""
    secret = new_secret()
    found = await conn.fetchval(
        """UPDATE webhooks SET previous_secret = secret, previous_until = now() + make_interval(secs => $3),
                               secret = $2
           WHERE id = $1 RETURNING true""",
        webhook_id,
        secret,
        overlap_seconds,
    )
    return secret if found else None


async def ping(conn: Executor, webhook_id: uuid.UUID) -> uuid.UUID:
    """A delivery of a `ping` event (no job behind it), to try an endpoint and its signature check."""
    new_id = await conn.fetchval(
        """WITH event AS (
               SELECT gen_random_uuid() AS id
           ), made AS (
               INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, body, delivery_job_id)
               SELECT w.id, event.id, 'ping',
                      jsonb_build_object('id', event.id, 'type', 'ping', 'created_at', now(),
                                         'webhook', jsonb_build_object('id', w.id, 'url', w.url))::text,
                      gen_random_uuid()
               FROM webhooks w, event WHERE w.id = $1
               RETURNING id, webhook_id, delivery_job_id
           ), queued AS (
               INSERT INTO jobs (id, job_type, params, queue, max_attempts, owner)
               SELECT made.delivery_job_id, $2, jsonb_build_object('delivery_id', made.id), $3, 1, 'system'
               FROM made
           )
           SELECT id FROM made""",
        webhook_id,
        DELIVERY_JOB,
        DELIVERY_QUEUE,
    )
    await conn.execute("SELECT pg_notify($1, $2)", JOBS_CHANNEL, DELIVERY_QUEUE)
    return uuid.UUID(str(new_id))


async def redeliver(conn: Executor, delivery_id: uuid.UUID) -> uuid.UUID | None:
    """A new delivery of the same event (same id and body) to the same endpoint, sent by a new job; None when
    there is no such delivery."""
    new_id = await conn.fetchval(
        """WITH made AS (
               INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, job_id, body, delivery_job_id)
               SELECT webhook_id, event_id, event_type, job_id, body, gen_random_uuid()
               FROM webhook_deliveries WHERE id = $1
               RETURNING id, webhook_id, delivery_job_id
           ), queued AS (
               INSERT INTO jobs (id, job_type, params, queue, max_attempts, owner)
               SELECT made.delivery_job_id, $2, jsonb_build_object('delivery_id', made.id), $3,
                      w.max_attempts, 'system'
               FROM made JOIN webhooks w ON w.id = made.webhook_id
           )
           SELECT id FROM made""",
        delivery_id,
        DELIVERY_JOB,
        DELIVERY_QUEUE,
    )
    if new_id is not None:
        await conn.execute("SELECT pg_notify($1, $2)", JOBS_CHANNEL, DELIVERY_QUEUE)
    return uuid.UUID(str(new_id)) if new_id is not None else None


async def delivery_of(conn: Executor, delivery_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"{_DELIVERY_VIEW} WHERE d.id = $1", delivery_id)
    return dict(row) if row else None


async def prune(conn: Executor, older_than_seconds: float, limit: int) -> int:
    """Deletes up to `limit` deliveries (with their attempts) made more than `older_than_seconds` ago."""
    deleted = await conn.fetchval(
        """WITH gone AS (
               DELETE FROM webhook_deliveries WHERE id IN (
                   SELECT id FROM webhook_deliveries WHERE created_at < now() - make_interval(secs => $1)
                   ORDER BY created_at LIMIT $2)
               RETURNING 1)
           SELECT count(*) FROM gone""",
        older_than_seconds,
        limit,
    )
    return int(deleted)
