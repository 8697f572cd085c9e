"""Trained restoration models and the datasets they were trained on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select

from app.api.access import require
from app.api.deps import SessionDep
from app.core.keys import Scope
from app.models import Dataset, MLModel

router = APIRouter(tags=["ml"], dependencies=[Depends(require(Scope.read))])


@router.get("/models", response_model=list[dict[str, Any]])
async def list_models(session: SessionDep) -> list[dict[str, Any]]:
    """Trained models, newest first. Restoration without a model_id uses the best by validation PSNR."""
    rows = (await session.scalars(select(MLModel).order_by(MLModel.created_at.desc()).limit(200))).all()
    return [
        {
            "id": str(m.id),
            "name": m.name,
            "job_id": str(m.job_id) if m.job_id else None,
            "dataset_id": str(m.dataset_id) if m.dataset_id else None,
            "parent_id": str(m.parent_id) if m.parent_id else None,
            "architecture": m.architecture,
            "metrics": m.metrics,
            "created_at": m.created_at.isoformat(),
        }
        for m in rows
    ]


@router.get("/datasets", response_model=list[dict[str, Any]])
async def list_datasets(session: SessionDep) -> list[dict[str, Any]]:
    rows = (await session.scalars(select(Dataset).order_by(Dataset.created_at.desc()).limit(200))).all()
    return [
        {
            "id": str(d.id),
            "name": d.name,
            "job_id": str(d.job_id) if d.job_id else None,
            "pairs": d.pairs,
            "size_bytes": d.size_bytes,
            "seed": d.seed,
            "params": d.params,
            "created_at": d.created_at.isoformat(),
        }
        for d in rows
    ]
