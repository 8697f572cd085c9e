"""POST /upload: store a file and create its asset and job in one transaction."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, HTTPException, Request, Response, UploadFile, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.api import quotas
from app.api.access import Principal, WritePrincipal
from app.api.deps import RuntimeDep, SessionDep
from app.api.routes.jobs import set_owner, validated_job
from app.api.visibility import scoped_key
from app.core.db import raw_connection
from app.core.filetypes import DEFAULT_JOB_TYPE, SUPPORTED, sniff
from app.core.storage import EmptyUpload, Storage, StoredFile, UploadTooLarge, display_name
from app.models import Asset, Job
from app.schemas import UploadOut
from app.worker import queue

router = APIRouter(tags=["uploads"])

CHUNK = 1024 * 1024


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(CHUNK):
        yield chunk


def _parse_params(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"params is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "params must be a JSON object")
    return value


async def _existing(session: SessionDep, key: str) -> UploadOut | None:
    async with session.begin():
        asset = await session.scalar(select(Asset).where(Asset.idempotency_key == key))
        if asset is None:
            return None
        job = await session.scalar(select(Job).where(Job.asset_id == asset.id).order_by(Job.created_at).limit(1))
    assert job is not None
    return UploadOut(
        asset_id=asset.id,
        job_id=job.id,
        job_type=job.job_type,
        kind=asset.kind,
        size_bytes=asset.size_bytes,
        sha256=asset.sha256,
        created=False,
    )


async def _store(storage: Storage, file: UploadFile, limit: int, quota: HTTPException | None) -> StoredFile:
    """Stream the file to storage; 413 past `limit` (naming the owner's storage quota when that is the
    tighter bound)."""
    try:
        return await storage.save_stream(_chunks(file), "", limit)
    except UploadTooLarge as exc:
        raise quota or HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
    except EmptyUpload as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


@router.post(
    "/upload",
    response_model=UploadOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Idempotent repeat: the asset and job created the first time"},
        400: {"description": "Empty file"},
        413: {"description": "Over the upload limit"},
        415: {"description": "Not a supported video or image"},
        422: {"description": "Unknown job type or invalid params"},
    },
)
async def upload(
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
    request: Request,
    principal: WritePrincipal,
    file: Annotated[UploadFile, File(description="A video (cut analysis) or document image (restoration).")],
    job_type: Annotated[str | None, Form(description="Job to create; default from the file's kind.")] = None,
    params: Annotated[str | None, Form(description="JSON object of job params.")] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> UploadOut:
    """Store the file (streamed, hashed on the way) and create its asset and job in one transaction. Both
    belong to the key's owner; the idempotency key is the owner's own."""
    job_params = _parse_params(params)
    idempotency_key = scoped_key(principal, idempotency_key)
    if idempotency_key and (found := await _existing(session, idempotency_key)):
        response.status_code = status.HTTP_200_OK
        return found
    await quotas.check_rate(request, principal, "upload")
    limit, quota = await quotas.upload_limit(runtime.pool, runtime.settings, principal.owner)
    storage = runtime.storage
    stored = await _store(storage, file, limit, quota)
    try:
        return await _record(
            runtime, session, response, stored, file.filename, job_type, job_params, idempotency_key, principal
        )
    except BaseException:
        for leftover in storage.path(stored.relative_path).parent.glob(stored.relative_path.rsplit("/", 1)[-1] + "*"):
            leftover.unlink(missing_ok=True)
        raise


async def _probe(kind: str, path: Path) -> dict[str, Any]:
    """Refuse, with 415, a file that looks like a video but has no decodable video stream."""
    if kind != "video":
        return {}
    from app.video import VideoError, probe_video

    try:
        info = await asyncio.to_thread(probe_video, path)
    except VideoError as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"not a usable video: {exc}") from None
    return json.loads(json.dumps(info, default=str))


async def _record(
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
    stored: StoredFile,
    filename: str | None,
    job_type: str | None,
    params: dict[str, Any],
    idempotency_key: str | None,
    principal: Principal,
) -> UploadOut:
    storage = runtime.storage
    ftype = sniff(stored.head)
    if ftype is None:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"unsupported file type: expected a {SUPPORTED}")
    final = stored.relative_path + ftype.extension
    storage.path(stored.relative_path).rename(storage.path(final))
    stored = StoredFile(final, stored.size, stored.sha256, stored.head)
    meta = await _probe(ftype.kind, storage.path(final))
    name = job_type or DEFAULT_JOB_TYPE[ftype.kind]
    asset_id = uuid.uuid4()
    new = validated_job(
        name,
        params,
        default_max_attempts=runtime.settings.default_max_attempts,
        idempotency_key=f"upload:{idempotency_key}" if idempotency_key else None,
        asset_id=asset_id,
    )
    try:
        async with session.begin():
            session.add(
                Asset(
                    id=asset_id,
                    kind=ftype.kind,
                    original_filename=display_name(filename),
                    stored_path=stored.relative_path,
                    size_bytes=stored.size,
                    sha256=stored.sha256,
                    content_type=ftype.content_type,
                    idempotency_key=idempotency_key,
                    meta=meta,
                    owner=principal.owner,
                )
            )
            await session.flush()
            await set_owner(session, principal)
            job_id, _ = await queue.enqueue(await raw_connection(session), new)
    except IntegrityError:
        # A concurrent upload with the same idempotency key won the race: answer with its records.
        await session.rollback()
        storage.delete(stored.relative_path)
        if idempotency_key and (found := await _existing(session, idempotency_key)):
            response.status_code = status.HTTP_200_OK
            return found
        raise
    return UploadOut(
        asset_id=asset_id,
        job_id=job_id,
        job_type=name,
        kind=ftype.kind,
        size_bytes=stored.size,
        sha256=stored.sha256,
        created=True,
    )
