"""Document-restoration data and training jobs: synthetic_data, validate_dataset, training, fine_tuning."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.jobs.documents import load_ml, model_file
from app.models import Dataset, MLModel
from app.worker import JobCancelled, JobContext, PermanentJobError, job_type


class SyntheticDataParams(BaseModel):
    count: int = Field(200, ge=1, le=100_000, description="Clean/degraded pairs to generate.")
    seed: int = Field(0, ge=0, description="Same seed, same dataset, byte for byte.")
    size: int = Field(256, ge=64, le=2048, description="Page crop size in pixels (square).")
    name: str | None = Field(None, max_length=200)


@job_type(
    "synthetic_data",
    params=SyntheticDataParams,
    queue="ml",
    timeout=3600,
    max_attempts=2,
    description="Generates a seeded dataset of clean and degraded document page pairs.",
)
async def synthetic_data(ctx: JobContext, params: SyntheticDataParams) -> dict[str, Any]:
    errors, synth = await ctx.load("app.ml.errors"), await ctx.load("app.ml.synth")
    storage = ctx.resource("storage")
    out = storage.path(f"datasets/{ctx.job_id}")
    try:
        summary = await ctx.to_thread(
            synth.generate_dataset,
            out,
            synth.SynthConfig(count=params.count, seed=params.seed, size=params.size),
            progress=lambda done, message: ctx.progress(100 * done, message),
            should_stop=ctx.should_stop,
        )
    except errors.MLInputError as exc:
        raise PermanentJobError(str(exc)) from exc
    except errors.OperationCancelled as exc:
        raise JobCancelled(str(exc)) from exc
    dataset_id = uuid.uuid4()
    async with ctx.resource("sessionmaker")() as session, session.begin():
        session.add(
            Dataset(
                id=dataset_id,
                job_id=ctx.job_id,
                name=params.name,
                path=storage.relative(out),
                pairs=summary["count"],
                size_bytes=summary["size_bytes"],
                seed=params.seed,
                params=params.model_dump(mode="json"),
            )
        )
    return {"dataset_id": str(dataset_id), **{k: v for k, v in summary.items() if k != "path"}}


async def _dataset_dir(ctx: JobContext, dataset_id: uuid.UUID) -> tuple[Dataset, Path]:
    async with ctx.resource("sessionmaker")() as session:
        dataset = await session.get(Dataset, dataset_id)
    if dataset is None:
        raise PermanentJobError(f"dataset {dataset_id} does not exist; create one with a synthetic_data job")
    return dataset, ctx.resource("storage").path(dataset.path)


class ValidateDatasetParams(BaseModel):
    dataset_id: uuid.UUID


@job_type(
    "validate_dataset",
    params=ValidateDatasetParams,
    queue="ml",
    timeout=1800,
    description="Checks a dataset: every image readable, paired, and of matching size.",
)
async def validate_dataset(ctx: JobContext, params: ValidateDatasetParams) -> dict[str, Any]:
    errors, synth = await ctx.load("app.ml.errors"), await ctx.load("app.ml.synth")
    _, folder = await _dataset_dir(ctx, params.dataset_id)
    try:
        report = await ctx.to_thread(synth.validate_dataset, folder)
    except errors.MLInputError as exc:
        raise PermanentJobError(str(exc)) from exc
    return {"dataset_id": str(params.dataset_id), **report}


class AugmentDatasetParams(BaseModel):
    dataset_id: uuid.UUID
    variants: int = Field(2, ge=1, le=50, description="New degraded copies of each clean page.")
    seed: int = Field(1, ge=0, description="Same seed, same variants; each seed is used once per dataset.")


@job_type(
    "augment_dataset",
    params=AugmentDatasetParams,
    queue="ml",
    timeout=6 * 3600,
    max_attempts=2,
    description="Adds new, pixel-aligned degraded variants of a dataset's clean pages (seeded, in its manifest).",
)
async def augment_dataset(ctx: JobContext, params: AugmentDatasetParams) -> dict[str, Any]:
    errors, augment = await ctx.load("app.ml.errors"), await ctx.load("app.ml.augment")
    dataset, folder = await _dataset_dir(ctx, params.dataset_id)
    try:
        summary = await ctx.to_thread(
            augment.augment_dataset,
            folder,
            variants=params.variants,
            seed=params.seed,
            progress=lambda done, message: ctx.progress(100 * done, message),
            should_stop=ctx.should_stop,
        )
    except errors.MLInputError as exc:
        raise PermanentJobError(str(exc)) from exc
    except errors.OperationCancelled as exc:
        raise JobCancelled(str(exc)) from exc
    async with ctx.resource("sessionmaker")() as session, session.begin():
        row = await session.get(Dataset, dataset.id, with_for_update=True)
        if row is not None:
            row.pairs, row.size_bytes = summary["pairs"], row.size_bytes + summary["size_bytes"]
    return {"dataset_id": str(dataset.id), **summary}


class TrainingParams(BaseModel):
    """Unset hyper-parameters take the defaults of `app.ml.train.TrainConfig` (the shipped model's recipe)."""

    dataset_id: uuid.UUID
    architecture: Literal["nafnet", "restormer"] = Field(
        "nafnet",
        description="nafnet: the shipped single-stage model; restormer: the first of two stages "
        "(transposed attention; restoration runs it before NAFNet).",
    )
    steps: int | None = Field(None, ge=1, le=10_000_000)
    max_seconds: float | None = Field(None, gt=0, description="Stop (annealed) after this much training time.")
    width: int | None = Field(None, ge=4, le=256, description="Channels of the network's first level.")
    enc_blocks: list[int] | None = Field(None, min_length=1, max_length=5, description="Blocks per encoder level.")
    middle_blocks: int | None = Field(None, ge=0, le=32)
    dec_blocks: list[int] | None = Field(None, min_length=1, max_length=5)
    refinement_blocks: int | None = Field(None, ge=0, le=16, description="Restormer: full-resolution blocks.")
    batch_size: int | None = Field(None, ge=1, le=512)
    crop_size: int | None = Field(None, ge=16, le=1024)
    lr: float | None = Field(None, gt=0, le=1.0)
    checkpoint_every: int | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=0)
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    amp: Literal["auto", "bf16", "fp16", "off"] = Field(
        "auto",
        description="Mixed precision: on CUDA auto is bf16 where the GPU supports it, else fp16; "
        "on the CPU only bf16 turns it on.",
    )
    loader_workers: int | None = Field(None, ge=0, le=32, description="Threads cropping batches ahead of training.")
    processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Train in this many processes in step (DistributedDataParallel: gloo on CPUs, NCCL with one "
        "GPU each); each takes batch_size patches a step and a share of the worker's threads.",
    )
    name: str | None = Field(None, max_length=200)


class FineTuningParams(TrainingParams):
    model_id: uuid.UUID | None = Field(None, description="Model to start from; default: the best available.")
    steps: int | None = Field(500, ge=1, le=10_000_000)
    lr: float | None = Field(2e-4, gt=0, le=1.0)


def _progress_adapter(ctx: JobContext):  # type: ignore[no-untyped-def]
    def report(info: dict[str, Any]) -> None:
        message = (
            f"step {info.get('step')}/{info.get('steps')} loss {info.get('loss', float('nan')):.4f} "
            f"lr {info.get('lr', 0):.2e} {info.get('patches_per_s', 0):.0f} patches/s"
        )
        ctx.progress(float(info.get("percent", 0.0)), message)

    return report


async def _train(
    ctx: JobContext, params: TrainingParams, init: Path | None, parent: uuid.UUID | None
) -> dict[str, Any]:
    errors, trainer = await ctx.load("app.ml.errors"), await load_ml(ctx, "train")
    distributed = await ctx.load("app.ml.distributed")
    dataset, folder = await _dataset_dir(ctx, params.dataset_id)
    fields = params.model_dump(exclude={"dataset_id", "name", "model_id", "processes"}, exclude_none=True)
    try:
        config = trainer.TrainConfig(**fields)
        config.check()
    except errors.MLInputError as exc:
        raise PermanentJobError(f"invalid training settings: {exc}") from exc
    storage = ctx.resource("storage")
    out = storage.job_dir(ctx.job_id)  # the same folder on every attempt: a retried job resumes from last.pt
    try:
        summary = await ctx.to_thread(
            distributed.train_distributed,
            folder,
            out,
            config,
            processes=params.processes,
            init_checkpoint=init,
            resume=True,
            progress=_progress_adapter(ctx),
            should_stop=ctx.should_stop,
        )
    except errors.TrainingDiverged as exc:
        raise PermanentJobError(str(exc)) from exc
    except errors.MLInputError as exc:
        raise PermanentJobError(str(exc)) from exc
    except errors.TrainingCancelled as exc:
        raise JobCancelled(str(exc)) from exc
    model_id = uuid.uuid4()
    metrics = {
        k: summary[k]
        for k in ("val_psnr", "val_ssim", "input_psnr", "input_ssim", "final_loss", "steps", "patches_per_s", "seconds")
    }
    async with ctx.resource("sessionmaker")() as session, session.begin():
        session.add(
            MLModel(
                id=model_id,
                job_id=ctx.job_id,
                dataset_id=dataset.id,
                parent_id=parent,
                name=params.name,
                architecture=summary["arch"],
                metrics=metrics,
                path=storage.relative(Path(summary["model_path"])),
            )
        )
    return {
        "model_id": str(model_id),
        "device": summary["device"],
        "resumed_from_step": summary["resumed_from_step"],
        "processes": params.processes,
        **metrics,
    }


@job_type(
    "training",
    params=TrainingParams,
    queue="ml",
    timeout=24 * 3600,
    max_attempts=3,
    concurrency=1,
    description="Trains a document-restoration model (NAFNet or Restormer) on a dataset; resumes from its checkpoint.",
)
async def training(ctx: JobContext, params: TrainingParams) -> dict[str, Any]:
    return await _train(ctx, params, None, None)


@job_type(
    "fine_tuning",
    params=FineTuningParams,
    queue="ml",
    timeout=24 * 3600,
    max_attempts=3,
    concurrency=1,
    description="Continues training an existing model on a dataset.",
)
async def fine_tuning(ctx: JobContext, params: FineTuningParams) -> dict[str, Any]:
    path, model_id = await model_file(ctx, params.model_id)
    return await _train(ctx, params, path, model_id)
