"""restoration, batch_restoration and quality_assessment of document images."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Float, cast, or_, select

from app.core.storage import as_uploaded
from app.jobs.assets import artifact_url, job_asset
from app.models import MLModel
from app.worker import JobCancelled, JobContext, PermanentJobError, job_type

MAX_PIXELS = 60_000_000


async def load_ml(ctx: JobContext, name: str) -> ModuleType:
    """Import ``app.ml.<name>`` off the event loop; the first time in the process, also size torch's threads
    to this worker (the host's cores shared by its concurrent jobs; ``TORCH_THREADS`` overrides)."""
    module = await ctx.load(f"app.ml.{name}")
    threads = await ctx.load("app.ml.threads")
    settings = ctx.resources.get("settings")
    concurrency = settings.worker_concurrency if settings is not None else 1
    override = settings.torch_threads if settings is not None else 0
    threads.configure_threads(threads.intra_op_threads(threads.host_cores(), concurrency, override))
    return module


async def _best_model(ctx: JobContext, architecture: str | None) -> MLModel | None:
    """The trained model with the best validation PSNR, of one architecture (None: any)."""
    query = select(MLModel)
    if architecture is not None:
        kind = MLModel.architecture["type"].astext
        # Models trained before Restormer existed name no architecture: they are NAFNets.
        query = query.where(kind == architecture if architecture != "nafnet" else or_(kind.is_(None), kind == "nafnet"))
    query = query.order_by(cast(MLModel.metrics["val_psnr"].astext, Float).desc().nulls_last()).limit(1)
    async with ctx.resource("sessionmaker")() as session:
        return await session.scalar(query)


async def model_file(
    ctx: JobContext, model_id: uuid.UUID | None, architecture: str | None = None
) -> tuple[Path, uuid.UUID | None]:
    """The chosen model's file; without a choice, the trained model (of ``architecture``, if given) with the
    best validation PSNR, or the model shipped with Skiplock when none was trained."""
    if model_id is not None:
        async with ctx.resource("sessionmaker")() as session:
            row = await session.get(MLModel, model_id)
        if row is None:
            raise PermanentJobError(f"model {model_id} does not exist (see GET /models)")
    else:
        row = await _best_model(ctx, architecture)
    if row is None:
        infer = await load_ml(ctx, "infer")
        return infer.default_model_path(), None
    return ctx.resource("storage").path(row.path), row.id


Stage = Literal["auto", "nafnet", "restormer", "both"]
Chosen = list[tuple[Path, uuid.UUID | None]]


async def restoration_stages(ctx: JobContext, model_id: uuid.UUID | None, stages: Stage) -> Chosen:
    """The model files to run in order. ``auto``: the one trained model with the best validation PSNR, of
    either architecture, else the shipped NAFNet. Two stages run only when asked for: chained as trained
    (each stage alone on degraded pages), Restormer then NAFNet scored below either stage alone in
    bench/restore, so they are not the default until a second stage is trained on the first stage's output."""
    if model_id is not None:
        return [await model_file(ctx, model_id)]
    if stages == "auto":
        return [await model_file(ctx, None)]
    first = await _best_model(ctx, "restormer") if stages != "nafnet" else None
    if first is None and stages in ("restormer", "both"):
        raise PermanentJobError(
            f"stages={stages!r} needs a trained Restormer; run a training job with architecture 'restormer'"
        )
    chosen: Chosen = [(ctx.resource("storage").path(first.path), first.id)] if first is not None else []
    if stages != "restormer":
        chosen.append(await model_file(ctx, None, "nafnet"))
    return chosen


def _model_name(model_id: uuid.UUID | None) -> str:
    return str(model_id) if model_id else "default"


class RestorationParams(BaseModel):
    model_id: uuid.UUID | None = Field(
        None, description="One model to run; default: the stages below, from the best trained models."
    )
    stages: Stage = Field(
        "auto",
        description="Without model_id: 'nafnet', 'restormer', or 'both' in sequence (Restormer then NAFNet); "
        "'auto' runs both once a Restormer has been trained, else the best NAFNet (trained, or the shipped one).",
    )
    tile: int = Field(256, ge=64, le=2048, description="Tile size for inference; memory stays bounded.")
    overlap: int = Field(32, ge=0, le=256)
    ensemble: Literal[1, 4, 8] = Field(
        1,
        description="Average each tile over its flips (4) or its flips and transposes (8): slower by that factor; "
        "4 scored higher in PSNR, SSIM and text F-measure on every held-out set (see bench/restore).",
    )
    asset_id: uuid.UUID | None = Field(None, description="Default: the job's uploaded asset.")


async def _restore_one(
    ctx: JobContext,
    params: RestorationParams,
    asset_id: uuid.UUID | None,
    out_name: str,
    models: Chosen,
    share: tuple[float, float] = (0, 100),
) -> dict[str, Any]:
    errors, infer = await ctx.load("app.ml.errors"), await load_ml(ctx, "infer")
    asset, path = await job_asset(ctx, asset_id)
    out = ctx.resource("storage").job_dir(ctx.job_id) / out_name
    low, high = share
    try:
        info = await ctx.to_thread(
            infer.restore_image,
            [path for path, _ in models],
            path,
            out,
            tile=params.tile,
            overlap=params.overlap,
            ensemble=params.ensemble,
            max_pixels=MAX_PIXELS,
            should_stop=ctx.should_stop,
            progress=lambda done, msg: ctx.progress(low + (high - low) * done, msg),  # done: a fraction
        )
    except errors.MLInputError as exc:
        reason = as_uploaded(str(exc), path, asset.original_filename)
        raise PermanentJobError(f"cannot restore asset {asset.id}: {reason}") from exc
    except errors.OperationCancelled as exc:
        raise JobCancelled(str(exc)) from exc
    return {
        "asset_id": str(asset.id),
        "model_id": _model_name(models[-1][1]),
        "stages": [_model_name(model_id) for _, model_id in models],
        "restored_url": artifact_url(ctx.job_id, out_name),
        "original_url": f"/assets/{asset.id}/file",
        **info,
    }


@job_type(
    "restoration",
    accepts=("image",),
    params=RestorationParams,
    queue="ml",
    timeout=3600,
    max_attempts=3,
    description="Restores an uploaded document image with a trained model (tiled, bounded memory).",
)
async def restoration(ctx: JobContext, params: RestorationParams) -> dict[str, Any]:
    models = await restoration_stages(ctx, params.model_id, params.stages)
    return await _restore_one(ctx, params, params.asset_id, "restored.png", models)


class BatchRestorationParams(RestorationParams):
    asset_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    fan_out: bool = Field(
        False,
        description="One restoration job per page (spread over every worker) and a batch_summary job after "
        "them all, instead of every page in this one job.",
    )


@job_type(
    "batch_restoration",
    params=BatchRestorationParams,
    queue="ml",
    timeout=6 * 3600,
    max_attempts=2,
    description="Restores many uploaded images in one job, with a status per item.",
)
async def batch_restoration(ctx: JobContext, params: BatchRestorationParams) -> dict[str, Any]:
    if params.fan_out:
        return _fan_out(ctx, params)
    models = await restoration_stages(ctx, params.model_id, params.stages)
    items: list[dict[str, Any]] = []
    n = len(params.asset_ids)
    for i, asset_id in enumerate(params.asset_ids):
        ctx.check_cancelled()
        try:
            info = await _restore_one(
                ctx, params, asset_id, f"restored-{i:04d}.png", models, (100 * i / n, 100 * (i + 1) / n)
            )
            items.append({"status": "completed", **info})
        except PermanentJobError as exc:
            items.append({"asset_id": str(asset_id), "status": "failed", "error": str(exc)})
    done = sum(item["status"] == "completed" for item in items)
    if done == 0:
        raise PermanentJobError(f"none of the {n} images could be restored: {items[0]['error']}")
    return {"completed": done, "failed": n - done, "items": items}


def _fan_out(ctx: JobContext, params: BatchRestorationParams) -> dict[str, Any]:
    """Child jobs, written with this job's completion: a restoration per page, then the summary (which runs
    whatever became of the pages, and reports each)."""
    common = params.model_dump(mode="json", exclude={"asset_ids", "fan_out", "asset_id"}, exclude_unset=True)
    pages = [ctx.enqueue("restoration", {**common, "asset_id": str(a)}) for a in params.asset_ids]
    summary = ctx.enqueue("batch_summary", {}, depends_on=pages, run_anyway=True)
    return {"pages": [str(p) for p in pages], "summary_job": str(summary)}


@job_type(
    "batch_summary",
    queue="ml",
    max_attempts=3,
    description="Sums up a fanned-out batch restoration: per-page status and the batch's quality figures.",
)
async def batch_summary(ctx: JobContext, params: Any) -> dict[str, Any]:
    pages = [d for d in await ctx.dependency_results() if d["job_type"] == "restoration"]
    done = [p for p in pages if p["status"] == "completed"]
    items = [
        {"job_id": str(p["id"]), "status": p["status"], **({"error": p["error"]} if p["error"] else {})} for p in pages
    ]
    return {
        "completed": len(done),
        "failed": len(pages) - len(done),
        "quality": _mean_figures([p["result"]["quality"] for p in done]),
        "input_quality": _mean_figures([p["result"]["input_quality"] for p in done]),
        "items": items,
    }


def _mean_figures(figures: list[dict[str, Any]]) -> dict[str, float]:
    """The mean of each numeric figure over the pages that have it."""
    keys = {k for f in figures for k, v in f.items() if isinstance(v, int | float)}
    return {k: sum(f[k] for f in figures if k in f) / sum(1 for f in figures if k in f) for k in sorted(keys)}


class QualityParams(BaseModel):
    asset_id: uuid.UUID | None = Field(None, description="The image to judge (default: the job's asset).")
    restored_job_id: uuid.UUID | None = Field(None, description="Judge a restoration job's output instead.")
    reference_asset_id: uuid.UUID | None = Field(None, description="Clean reference: PSNR and SSIM against it.")


@job_type(
    "quality_assessment",
    accepts=("image",),
    params=QualityParams,
    queue="ml",
    timeout=600,
    description="PSNR/SSIM against a reference image, or no-reference quality figures.",
)
async def quality_assessment(ctx: JobContext, params: QualityParams) -> dict[str, Any]:
    errors, images, quality = [await ctx.load(f"app.ml.{name}") for name in ("errors", "images", "quality")]
    if params.restored_job_id is not None:
        path = ctx.resource("storage").path(f"jobs/{params.restored_job_id}/restored.png")
        if not path.is_file():
            raise PermanentJobError(f"job {params.restored_job_id} has no restored image")
    else:
        _, path = await job_asset(ctx, params.asset_id)
    try:
        if params.reference_asset_id is not None:
            _, reference = await job_asset(ctx, params.reference_asset_id)
            return {"mode": "reference", **await ctx.to_thread(quality.compare_images, path, reference)}
        image = await ctx.to_thread(images.read_image, path, max_pixels=MAX_PIXELS)
        return {"mode": "no_reference", **await ctx.to_thread(quality.no_reference_metrics, image)}
    except errors.MLInputError as exc:
        raise PermanentJobError(str(exc)) from exc
