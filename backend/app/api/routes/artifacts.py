"""Files that jobs wrote (thumbnails, restored images, exported clips) and uploaded originals."""

from __future__ import annotations

import mimetypes
import re
import uuid

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse
from sqlalchemy import select

from app.api.access import ReadPrincipal
from app.api.deps import RuntimeDep, SessionDep
from app.api.errors import REFUSED_FIELD, errors
from app.api.visibility import not_found, sees, visible_asset, visible_job
from app.models import Asset, Clip

router = APIRouter(tags=["artifacts"])

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_ANY_FILE = {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}, "description": "The file"}


@router.get("/jobs/{job_id}/artifacts", response_model=list[dict[str, object]], responses=errors(e422=REFUSED_FIELD))
async def list_artifacts(
    job_id: uuid.UUID, runtime: RuntimeDep, session: SessionDep, principal: ReadPrincipal
) -> list[dict[str, object]]:
    await _job_files(session, job_id, principal)
    folder = runtime.storage.path(f"jobs/{job_id}")
    if not folder.is_dir():
        return []
    return [
        {"name": p.name, "size_bytes": p.stat().st_size, "url": f"/jobs/{job_id}/artifacts/{p.name}"}
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith(".part")
    ]


@router.get(
    "/jobs/{job_id}/artifacts/{name}",
    response_class=FileResponse,
    responses={200: _ANY_FILE, **errors(e404="No such artifact", e422=REFUSED_FIELD)},
)
async def get_artifact(
    job_id: uuid.UUID, name: str, runtime: RuntimeDep, session: SessionDep, principal: ReadPrincipal
) -> FileResponse:
    await _job_files(session, job_id, principal)
    if not _NAME.match(name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such artifact")
    path = runtime.storage.path(f"jobs/{job_id}/{name}")
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} has no artifact {name!r}")
    return FileResponse(path, media_type=mimetypes.guess_type(name)[0] or "application/octet-stream")


async def _job_files(session: SessionDep, job_id: uuid.UUID, principal: ReadPrincipal) -> None:
    """A job's files are its owner's (an admin's also when the job itself was pruned); else 404."""
    if principal.is_admin:
        return
    await visible_job(session, job_id, principal)


@router.get(
    "/assets/{asset_id}", response_model=dict[str, object], responses=errors(e404="No such asset", e422=REFUSED_FIELD)
)
async def get_asset(asset_id: uuid.UUID, session: SessionDep, principal: ReadPrincipal) -> dict[str, object]:
    asset = await visible_asset(session, asset_id, principal)
    clips = (await session.scalars(select(Clip).where(Clip.asset_id == asset_id).order_by(Clip.rank))).all()
    return {
        "id": str(asset.id),
        "kind": asset.kind,
        "original_filename": asset.original_filename,
        "size_bytes": asset.size_bytes,
        "sha256": asset.sha256,
        "content_type": asset.content_type,
        "owner": asset.owner,
        "created_at": asset.created_at.isoformat(),
        "file_url": f"/assets/{asset.id}/file",
        "clips": [
            {
                "id": str(c.id),
                "rank": c.rank,
                "start_ms": c.start_ms,
                "end_ms": c.end_ms,
                "visual_score": c.visual_score,
                "job_id": str(c.job_id) if c.job_id else None,
                "thumbnail_url": f"/clips/{c.id}/thumbnail" if c.thumbnail_path else None,
            }
            for c in clips
        ],
    }


@router.get(
    "/assets/{asset_id}/file",
    response_class=FileResponse,
    responses={200: _ANY_FILE, **errors(e404="No such asset", e422=REFUSED_FIELD)},
)
async def get_asset_file(
    asset_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, principal: ReadPrincipal
) -> FileResponse:
    asset = await visible_asset(session, asset_id, principal)
    return FileResponse(
        runtime.storage.path(asset.stored_path), media_type=asset.content_type, filename=asset.original_filename or None
    )


@router.get(
    "/clips/{clip_id}/thumbnail",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}, "description": "JPEG"},
        **errors(e404="No thumbnail", e422=REFUSED_FIELD),
    },
)
async def get_clip_thumbnail(
    clip_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, principal: ReadPrincipal
) -> FileResponse:
    query = select(Clip, Asset.owner).join(Asset, Asset.id == Clip.asset_id).where(Clip.id == clip_id)
    row = (await session.execute(query)).first()
    if row is None or not sees(principal, row[1]):
        raise not_found("clip", clip_id)
    clip = row[0]
    if not clip.thumbnail_path:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"clip {clip_id} has no thumbnail")
    return FileResponse(runtime.storage.path(clip.thumbnail_path), media_type="image/jpeg")
