"""POST /upload: store a file and create its asset and job in one transaction."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
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
from app.api.errors import REFUSED_FIELD, errors, field_error
from app.api.routes.jobs import refuse_other_request, set_owner, validated_job
from app.api.visibility import scoped_key
from app.core.db import raw_connection
from app.core.filetypes import DEFAULT_JOB_TYPE, SUPPORTED, FileType, sniff
from app.core.storable import StorableText, storable_json
from app.core.storage import EmptyUpload, Storage, StoredFile, UploadTooLarge, as_uploaded, display_name
from app.models import Asset, Job
from app.schemas import UploadOut
from app.worker import DISPATCH_TABLE, queue

router = APIRouter(tags=["uploads"])
log = logging.getLogger("app.api")

CHUNK = 1024 * 1024
HEAD = 4096  # bytes enough to tell a file's type


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(CHUNK):
        yield chunk


def _parse_params(raw: str | None, limit: int) -> dict[str, Any]:
    if not raw:
        return {}
    if len(raw.encode("utf-8", "surrogatepass")) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"params are larger than the limit of {limit} bytes (MAX_REQUEST_BYTES)"
        )
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise field_error(["body", "params"], f"params is not valid JSON: {exc}", "json_invalid") from None
    if not isinstance(value, dict):
        raise field_error(["body", "params"], "params must be a JSON object", "dict_type")
    try:
        return storable_json(value)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise field_error(["body", "params"], f"params {exc}", "value_error") from None


def _file_type(head: bytes, job_type: str | None) -> tuple[FileType, str]:
    """The file's type (415 if unsupported) and the job type to create: the one named, if it takes a file of
    this kind (422 if not), or the default for the kind."""
    ftype = sniff(head)
    if ftype is None:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"unsupported file type: expected a {SUPPORTED}")
    name = job_type or DEFAULT_JOB_TYPE[ftype.kind]
    jt = DISPATCH_TABLE.get(name)
    if jt is not None and ftype.kind not in jt.accepts:
        takers = sorted(t.name for t in DISPATCH_TABLE.values() if ftype.kind in t.accepts)
        takes = f"takes a file of kind {', '.join(jt.accepts)}" if jt.accepts else "takes no uploaded file"
        raise field_error(
            ["body", "job_type"],
            f"job type {name!r} {takes}, not {ftype.kind}; job types for {ftype.kind} files: {', '.join(takers)}",
            "file_kind_not_accepted",
        )
    return ftype, name


async def _sha256(file: UploadFile) -> str:
    digest = hashlib.sha256()
    async for chunk in _chunks(file):
        digest.update(chunk)
    await file.seek(0)
    return digest.hexdigest()


async def _existing(session: SessionDep, key: str, new: queue.NewJob, sha256: str) -> UploadOut | None:
    """The asset and job of an earlier upload with this idempotency key, if it was the same request (409 if
    it was not: another file, job type or params)."""
    async with session.begin():
        asset = await session.scalar(select(Asset).where(Asset.idempotency_key == key))
        if asset is None:
            return None
        other = [f"file (sha256 was {asset.sha256[:12]}..., now {sha256[:12]}...)"] if asset.sha256 != sha256 else []
        await refuse_other_request(await raw_connection(session), new, also=other)
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


async def _store(
    storage: Storage, file: UploadFile, extension: str, limit: int, quota: HTTPException | None
) -> StoredFile:
    """Stream the file to storage; 413 past `limit` (naming the owner's storage quota when that is the
    tighter bound)."""
    try:
        return await storage.save_stream(_chunks(file), extension, limit)
    except UploadTooLarge as exc:
        raise quota or HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
    except EmptyUpload as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except OSError as exc:  # the server's storage failed (full, read-only, gone): not the upload's fault
        log.error("could not store an upload in %s: %s", storage.root, exc)
        reason = exc.strerror or type(exc).__name__  # no server path in the answer
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the server could not store the file ({reason}); nothing was kept, try again later",
            headers={"Retry-After": "30"},
        ) from None


@router.post(
    "/upload",
    response_model=UploadOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": UploadOut, "description": "A repeat: the asset and job made the first time with this key"},
        **errors(
            e400="Empty file, or a body that is not a form",
            e409="The idempotency key was used for a different request (file, job type or params)",
            e413="The file is larger than MAX_UPLOAD_BYTES, or params larger than MAX_REQUEST_BYTES",
            e415="Not a supported video or image",
            e503="The server could not store the file, or its database is unreachable (with Retry-After)",
            e422=REFUSED_FIELD + " (an unknown job type, or one that does not take this kind of file)",
        ),
    },
)
async def upload(
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
    request: Request,
    principal: WritePrincipal,
    file: Annotated[UploadFile, File(description="A video (cut analysis) or document image (restoration).")],
    job_type: Annotated[
        StorableText | None,
        Form(
            max_length=200,
            description="Job to create, one that takes the file's kind (GET /tasks: `accepts`); "
            "default from the file's kind.",
        ),
    ] = None,
    params: Annotated[str | None, Form(description="JSON object of job params.")] = None,
    idempotency_key: Annotated[StorableText | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> UploadOut:
    """Check the file's type, the job type and its params; then store the file (streamed, hashed on the way)
    and create its asset and job in one transaction. A refused upload stores nothing. Both belong to the key's
    owner; the idempotency key is the owner's own."""
    settings = runtime.settings
    idempotency_key = scoped_key(principal, idempotency_key)
    job_params = _parse_params(params, settings.max_request_bytes)
    head = await file.read(HEAD)
    await file.seek(0)
    if not head:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the uploaded file is empty")
    ftype, name = _file_type(head, job_type)
    asset_id = uuid.uuid4()
    new = validated_job(
        name,
        job_params,
        default_max_attempts=settings.default_max_attempts,
        idempotency_key=f"upload:{idempotency_key}" if idempotency_key else None,
        asset_id=asset_id,
    )
    if idempotency_key and (found := await _existing(session, idempotency_key, new, await _sha256(file))):
        response.status_code = status.HTTP_200_OK
        return found
    await quotas.check_rate(request, principal, "upload")
    limit, quota = await quotas.upload_limit(runtime.pool, settings, principal.owner)
    stored = await _store(runtime.storage, file, ftype.extension, limit, quota)
    try:
        return await _record(runtime, session, response, stored, ftype, file.filename, new, idempotency_key, principal)
    except BaseException:
        runtime.storage.delete(stored.relative_path)
        raise


async def _probe(kind: str, path: Path) -> dict[str, Any]:
    """Refuse, with 415, a file that looks like a video but has no decodable video stream, or like an image
    but cannot be read, is over the restoration's pixel limit or holds several pages."""
    if kind == "image":
        from app.jobs.documents import MAX_PIXELS
        from app.ml.errors import MLInputError
        from app.ml.images import probe_image

        try:
            return await asyncio.to_thread(probe_image, path, max_pixels=MAX_PIXELS)
        except MLInputError as exc:
            reason = as_uploaded(str(exc), path, None)
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"not a usable image: {reason}") from None
    if kind != "video":
        return {}
    from app.video import VideoError, probe_video

    try:
        info = await asyncio.to_thread(probe_video, path)
    except VideoError as exc:
        reason = as_uploaded(str(exc), path, None)
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"not a usable video: {reason}") from None
    return json.loads(json.dumps(info, default=str))


async def _record(
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
    stored: StoredFile,
    ftype: FileType,
    filename: str | None,
    new: queue.NewJob,
    idempotency_key: str | None,
    principal: Principal,
) -> UploadOut:
    meta = await _probe(ftype.kind, runtime.storage.path(stored.relative_path))
    assert new.asset_id is not None
    try:
        async with session.begin():
            session.add(
                Asset(
                    id=new.asset_id,
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
        runtime.storage.delete(stored.relative_path)
        if idempotency_key and (found := await _existing(session, idempotency_key, new, stored.sha256)):
            response.status_code = status.HTTP_200_OK
            return found
        raise
    return UploadOut(
        asset_id=new.asset_id,
        job_id=job_id,
        job_type=new.job_type,
        kind=ftype.kind,
        size_bytes=stored.size,
        sha256=stored.sha256,
        created=True,
    )
