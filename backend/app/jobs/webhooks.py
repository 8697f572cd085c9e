"""webhook_delivery: send one event to one endpoint, on a schedule of its own (WEBHOOKS_RETRY_BASE doubled
per attempt up to WEBHOOKS_RETRY_MAX, with jitter) until it is answered 2xx or its attempts run out. Each
attempt is recorded with what the receiver answered. The jobs are made by the trigger that writes the event
(migration 0010) or by a redelivery, never by hand."""

from __future__ import annotations

import random
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.webhooks import sender, signing, store
from app.webhooks.addresses import Policy
from app.worker import JobContext, PermanentJobError, RetryLater, job_type


class DeliveryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delivery_id: uuid.UUID


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds before the attempt after `attempt`: base·2^(attempt-1), capped, scaled into [0.75, 1]."""
    return min(cap, base * 2.0 ** max(0, attempt - 1)) * (0.75 + random.random() / 4)


@job_type(
    store.DELIVERY_JOB,
    params=DeliveryParams,
    queue=store.DELIVERY_QUEUE,
    timeout=330,
    description="Sends a webhook event to its endpoint, signed, with retries (made when a job with webhooks ends).",
)
async def webhook_delivery(ctx: JobContext, params: DeliveryParams) -> dict[str, Any]:
    settings, pool = ctx.resource("settings"), ctx.resource("pool")
    delivery = await store.load(pool, params.delivery_id)
    if delivery is None:
        raise PermanentJobError(f"delivery {params.delivery_id} no longer exists: its webhook was deleted")
    if delivery.delivery_job_id != ctx.job_id:
        raise PermanentJobError(
            f"job {ctx.job_id} is not the job of delivery {delivery.id}; use POST /webhooks/{delivery.webhook_id}"
            f"/deliveries/{delivery.id}/redeliver to send it again"
        )
    if delivery.status != "pending":
        return {"delivery_id": str(delivery.id), "status": delivery.status, "sent": False}
    body = delivery.body.encode()
    headers = {
        signing.HEADER: signing.sign(delivery.secret, body, None, *filter(None, [delivery.previous_secret])),
        "Skiplock-Event-Id": str(delivery.event_id),
        "Skiplock-Event-Type": delivery.event_type,
        "Skiplock-Delivery-Id": str(delivery.id),
        "Skiplock-Delivery-Attempt": str(ctx.attempt),
    }
    policy = Policy(settings.webhooks_allow_private, settings.webhooks_allow_http)
    attempt = await sender.post(delivery.url, body, headers, policy, settings.webhooks_timeout)
    final = ctx.attempt >= ctx.max_attempts
    await store.record(pool, delivery.id, ctx.attempt, attempt, final=final)
    if attempt.delivered:
        return {"delivery_id": str(delivery.id), "status_code": attempt.status_code, "attempt": ctx.attempt}
    ctx.log.info("webhook delivery %s attempt %d: %s", delivery.id, ctx.attempt, attempt.reason)
    if final:
        raise PermanentJobError(
            f"webhook delivery failed after {ctx.attempt} attempt{'s' if ctx.attempt != 1 else ''}; the last:"
            f" {attempt.reason}. Fix the endpoint, then"
            f" send it again: POST /webhooks/{delivery.webhook_id}/deliveries/{delivery.id}/redeliver"
        )
    delay = retry_delay(ctx.attempt, settings.webhooks_retry_base, settings.webhooks_retry_max)
    raise RetryLater(f"attempt {ctx.attempt} of {ctx.max_attempts}: {attempt.reason}; next in {delay:.0f} s", delay)
