"""Workflows: the graph of jobs that depend on one another, each node with its state; cancelling one."""

from __future__ import annotations

import uuid
from collections import Counter

from fastapi import APIRouter, HTTPException, status

from app.api.access import Principal, ReadPrincipal, WritePrincipal
from app.api.deps import RuntimeDep, SessionDep
from app.api.errors import REFUSED_FIELD, errors
from app.api.visibility import visible_job
from app.core.db import release
from app.schemas import WorkflowCancelled, WorkflowNode, WorkflowOut
from app.worker import workflows

router = APIRouter(prefix="/workflows", tags=["workflows"])
NO_SUCH_WORKFLOW = errors(e404="No job belongs to this workflow", e422=REFUSED_FIELD)


def _overall(counts: Counter[str]) -> str:
    if any(s not in workflows.FINAL for s in counts):
        return "running"
    if set(counts) == {"completed"}:
        return "completed"
    return "failed" if counts["failed"] else "cancelled"


@router.get("/{workflow_id}", response_model=WorkflowOut, responses=NO_SUCH_WORKFLOW)
async def get_workflow(
    workflow_id: uuid.UUID, runtime: RuntimeDep, session: SessionDep, principal: ReadPrincipal
) -> WorkflowOut:
    """A workflow's jobs (oldest first) and edges. Any of its jobs' ids finds it (a job's `workflow_id` is
    its root job's id)."""
    async with runtime.pool.acquire() as conn:
        nodes, edges = await workflows.graph(conn, workflow_id)
        if not nodes:
            owner = await workflows.workflow_of(conn, workflow_id)
            if owner is not None:
                workflow_id = owner
                nodes, edges = await workflows.graph(conn, owner)
    if not nodes:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no workflow {workflow_id}: no job belongs to it")
    await _visible(session, workflow_id, principal)
    counts = Counter(n["status"] for n in nodes)
    return WorkflowOut(
        id=workflow_id,
        status=_overall(counts),
        counts=dict(counts),
        nodes=[WorkflowNode.model_validate(dict(n)) for n in nodes],
        edges=edges,
    )


@router.post("/{workflow_id}/cancel", response_model=WorkflowCancelled, responses=NO_SUCH_WORKFLOW)
async def cancel_workflow(
    workflow_id: uuid.UUID, runtime: RuntimeDep, session: SessionDep, principal: WritePrincipal
) -> WorkflowCancelled:
    """Cancel what has not run: waiting and queued jobs at once; running ones are asked to stop."""
    async with runtime.pool.acquire() as conn:
        if not await workflows.exists(conn, workflow_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no workflow {workflow_id}: no job belongs to it")
        await _visible(session, workflow_id, principal)
        await release(session)
        done = await workflows.cancel_workflow(conn, workflow_id, f"cancelled with its workflow {workflow_id}")
    return WorkflowCancelled(id=workflow_id, **done)


async def _visible(session: SessionDep, workflow_id: uuid.UUID, principal: Principal) -> None:
    """A workflow is its root job's: another owner's answers 404, as a missing one does."""
    try:
        await visible_job(session, workflow_id, principal)
    except HTTPException as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no workflow {workflow_id}: no job belongs to it") from exc
