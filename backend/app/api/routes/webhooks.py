"""Webhooks: an owner's endpoints (register one: its signing secret is shown once; list; delete), and each
endpoint's deliveries with what the receiver answered to every attempt; send a delivery again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.access import Principal, ReadPrincipal, WritePrincipal, audit_as
from app.api.deps import RuntimeDep
from app.api.errors import REFUSED_FIELD, errors, field_error
from app.api.visibility import not_found, sees
from app.core.config import Settings
from app.webhooks import addresses, store

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MAX_PER_OWNER = 50
NO_SUCH_WEBHOOK = errors(e404="No such webhook", e422=REFUSED_FIELD)
JSON_BODY = errors(
    e400="The body is not JSON",
    e409="The owner has the most webhooks allowed",
    e413="The body is larger than MAX_REQUEST_BYTES",
    e422=REFUSED_FIELD,
)


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=addresses.MAX_URL_LENGTH,
        description="https URL of the receiver; it must resolve to public addresses (see WEBHOOKS_ALLOW_PRIVATE).",
    )
    description: Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] | None = None
    all_jobs: bool = Field(
        True, description="Hear of every job of the owner; false: only of jobs that name it (`webhooks` in POST /jobs)."
    )
    max_attempts: int | None = Field(
        None, ge=1, le=100, description="Attempts per delivery; default WEBHOOKS_MAX_ATTEMPTS."
    )


class WebhookOut(BaseModel):
    id: uuid.UUID
    owner: str
    url: str
    description: str | None
    all_jobs: bool
    max_attempts: int
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="The signing secret: shown this once. Verify each event's Skiplock-Signature header with it."
    )


class SecretRotated(WebhookOut):
    secret: str = Field(description="The new signing secret: shown this once.")
    previous_valid_until: datetime | None = Field(
        description="Until then, events carry a second v1 signature made with the previous secret."
    )


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    address: str | None = Field(description="The address that was called (after resolution and checks).")
    status_code: int | None = Field(description="The receiver's HTTP status; null when none came.")
    response_excerpt: str | None = Field(description="The start of the receiver's answer (at most 1 KiB).")
    error: str | None = Field(description="What went wrong before an answer came (connection, timeout, refusal).")
    duration_ms: float


class DeliveryOut(BaseModel):
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID = Field(description="The event's id, the same in every attempt and redelivery: dedup on it.")
    event_type: str = Field(description="job.completed, job.failed, job.cancelled, or ping.")
    job_id: uuid.UUID | None = Field(description="The job that ended; null for a ping.")
    delivery_job_id: uuid.UUID = Field(description="The webhook_delivery job that sends it.")
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    body: str = Field(description="The event exactly as it is sent (and signed).")
    responses: list[AttemptOut] = Field(description="Every attempt, oldest first.")


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


def policy(settings: Settings) -> addresses.Policy:
    return addresses.Policy(settings.webhooks_allow_private, settings.webhooks_allow_http)


async def checked_url(url: str, settings: Settings) -> str:
    """The URL if a webhook may call it (form and every address its host resolves to), else 422 naming it."""
    try:
        target = addresses.check_url(url, policy(settings))
        async with asyncio.timeout(settings.webhooks_timeout):
            await addresses.resolve(target, policy(settings))
    except addresses.RefusedURL as exc:
        raise field_error(["body", "url"], str(exc), "refused_url") from None
    except TimeoutError:
        message = f"the host did not resolve within {settings.webhooks_timeout:g} s (WEBHOOKS_TIMEOUT)"
        raise field_error(["body", "url"], message, "refused_url") from None
    return url


def _out(hook: store.Webhook) -> WebhookOut:
    return WebhookOut(**vars(hook))


async def _visible(runtime: RuntimeDep, webhook_id: uuid.UUID, principal: Principal) -> store.Webhook:
    """The webhook if this principal may see it; another owner's answers 404, like a missing one."""
    hook = await store.get(runtime.pool, webhook_id)
    if hook is None or not sees(principal, hook.owner):
        raise not_found("webhook", webhook_id)
    return hook


@router.post("", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED, responses=JSON_BODY)
async def create_webhook(body: WebhookCreate, runtime: RuntimeDep, principal: WritePrincipal) -> WebhookCreated:
    """Register an endpoint for the key's owner. Its secret is in this answer only."""
    url = await checked_url(body.url, runtime.settings)
    attempts = body.max_attempts or runtime.settings.webhooks_max_attempts
    async with runtime.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('skiplock.webhooks:' || $1))", principal.owner)
        if await conn.fetchval("SELECT count(*) FROM webhooks WHERE owner = $1", principal.owner) >= MAX_PER_OWNER:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"owner {principal.owner!r} has {MAX_PER_OWNER} webhooks, the most allowed; delete one first",
            )
        hook, secret = await store.create(
            conn, principal.owner, url, description=body.description, all_jobs=body.all_jobs, max_attempts=attempts
        )
        await audit_as(conn, principal, "webhook.create", f"webhook:{hook.id}", {"url": url, "all_jobs": body.all_jobs})
    return WebhookCreated(**vars(hook), secret=secret)


@router.get("", response_model=list[WebhookOut])
async def list_webhooks(runtime: RuntimeDep, principal: ReadPrincipal) -> list[WebhookOut]:
    """The key owner's endpoints (every owner's for an admin key); never their secrets."""
    return [_out(h) for h in await store.listed(runtime.pool, None if principal.is_admin else principal.owner)]


@router.get("/{webhook_id}", response_model=WebhookOut, responses=NO_SUCH_WEBHOOK)
async def get_webhook(webhook_id: uuid.UUID, runtime: RuntimeDep, principal: ReadPrincipal) -> WebhookOut:
    return _out(await _visible(runtime, webhook_id, principal))


@router.delete(
    "/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=NO_SUCH_WEBHOOK
)
async def delete_webhook(webhook_id: uuid.UUID, runtime: RuntimeDep, principal: WritePrincipal) -> Response:
    """Remove an endpoint with its deliveries; deliveries not yet sent are dropped."""
    await _visible(runtime, webhook_id, principal)
    async with runtime.pool.acquire() as conn, conn.transaction():
        if await store.delete(conn, webhook_id):
            await audit_as(conn, principal, "webhook.delete", f"webhook:{webhook_id}", {})
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList, responses=NO_SUCH_WEBHOOK)
async def list_deliveries(
    webhook_id: uuid.UUID,
    runtime: RuntimeDep,
    principal: ReadPrincipal,
    status_: Annotated[Literal["pending", "delivered", "failed"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DeliveryList:
    """An endpoint's deliveries, newest first, each with every attempt's answer (status, excerpt, error, time)."""
    await _visible(runtime, webhook_id, principal)
    found = await store.deliveries(runtime.pool, webhook_id, status=status_, limit=limit, offset=offset)
    return DeliveryList(items=[DeliveryOut.model_validate(d) for d in found])


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(e404="No such webhook or delivery", e422=REFUSED_FIELD),
)
async def redeliver(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, runtime: RuntimeDep, principal: WritePrincipal
) -> DeliveryOut:
    """Send a delivery's event again (same event id and body), as a new delivery with fresh attempts."""
    await _visible(runtime, webhook_id, principal)
    async with runtime.pool.acquire() as conn, conn.transaction():
        known = await conn.fetchval(
            "SELECT true FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2", delivery_id, webhook_id
        )
        new_id = await store.redeliver(conn, delivery_id) if known else None
        if new_id is None:
            raise not_found("delivery", delivery_id)
        await audit_as(conn, principal, "webhook.redeliver", f"webhook:{webhook_id}", {"delivery": str(delivery_id)})
        made = await store.delivery_of(conn, new_id)
    return DeliveryOut.model_validate({**(made or {}), "responses": []})


@router.post(
    "/{webhook_id}/ping",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=NO_SUCH_WEBHOOK,
)
async def ping(webhook_id: uuid.UUID, runtime: RuntimeDep, principal: WritePrincipal) -> DeliveryOut:
    """Send a `ping` event (one attempt) to try the endpoint and its signature check; its outcome is listed
    with the deliveries."""
    await _visible(runtime, webhook_id, principal)
    async with runtime.pool.acquire() as conn, conn.transaction():
        made = await store.delivery_of(conn, await store.ping(conn, webhook_id))
    return DeliveryOut.model_validate({**(made or {}), "responses": []})


@router.post("/{webhook_id}/rotate-secret", response_model=SecretRotated, responses=NO_SUCH_WEBHOOK)
async def rotate_secret(
    webhook_id: uuid.UUID,
    runtime: RuntimeDep,
    principal: WritePrincipal,
    keep_previous_hours: Annotated[
        float, Query(ge=0, le=168, description="How long the previous secret keeps signing beside the new one.")
    ] = 24.0,
) -> SecretRotated:
    """A new signing secret, shown once. The previous one keeps signing beside it (a second `v1` in
    Skiplock-Signature) for `keep_previous_hours`, while receivers switch to the new one."""
    await _visible(runtime, webhook_id, principal)
    async with runtime.pool.acquire() as conn, conn.transaction():
        secret = await store.rotate(conn, webhook_id, keep_previous_hours * 3600)
        hook = await store.get(conn, webhook_id)
        if secret is None or hook is None:
            raise not_found("webhook", webhook_id)
        until = await conn.fetchval(
            "SELECT CASE WHEN previous_until > now() THEN previous_until END FROM webhooks WHERE id = $1", webhook_id
        )
        await audit_as(
            conn, principal, "webhook.rotate", f"webhook:{webhook_id}", {"keep_previous_hours": keep_previous_hours}
        )
    return SecretRotated(**vars(hook), secret=secret, previous_valid_until=until)
