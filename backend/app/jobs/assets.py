"""Finding a job's input asset and recording output files: shared by the media and ML handlers."""

from __future__ import annotations

import uuid
from pathlib import Path

from app.core.storage import Storage
from app.models import Asset
from app.worker import JobContext, PermanentJobError


async def job_asset(ctx: JobContext, asset_id: uuid.UUID | None = None) -> tuple[Asset, Path]:
    """The asset the job works on (its own `asset_id`, or the one given) and its file on disk."""
    wanted = asset_id or ctx.asset_id
    if wanted is None:
        raise PermanentJobError(
            f"{ctx.job_type} needs an asset: upload a file with POST /upload, or pass params.asset_id"
        )
    async with ctx.resource("sessionmaker")() as session:
        asset = await session.get(Asset, wanted)
    if asset is None:
        raise PermanentJobError(f"asset {wanted} does not exist")
    storage: Storage = ctx.resource("storage")
    path = storage.path(asset.stored_path)
    if not path.is_file():
        raise PermanentJobError(f"the file of asset {wanted} is missing from storage ({asset.stored_path})")
    return asset, path


def artifact_url(job_id: uuid.UUID, name: str) -> str:
    return f"/jobs/{job_id}/artifacts/{name}"
