"""Document restoration: synthetic data, NAFNet/Restormer training and tiled inference (pure domain code).

Public API (imported lazily so that ``from app.ml.errors import ...`` does not pull in torch):

- errors: ``MLInputError``, ``OperationCancelled``, ``TrainingCancelled``, ``TrainingDiverged``
- synth: ``SynthConfig``, ``generate_dataset``, ``validate_dataset``
- nafnet: ``NAFNet``; restormer: ``Restormer``; stages: ``Stages`` (Restormer then NAFNet)
- augment: ``augment_dataset`` (new degraded variants of a dataset's clean pages)
- train: ``TrainConfig``, ``train_model`` (= ``app.ml.train.train``; the package attribute ``train`` is the
  submodule, so import the function from ``app.ml.train``); distributed: ``train_distributed``
- threads: ``configure_threads``, ``intra_op_threads`` (torch threads sized to the worker)
- infer: ``load_model``, ``default_model_path``, ``restore_image``
- quality: ``psnr``, ``ssim``, ``no_reference_metrics``, ``compare_images``

Everything is synchronous, blocking and thread-safe (meant for ``asyncio.to_thread``); nothing here
touches asyncio, the database or the worker.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MLInputError": "errors",
    "OperationCancelled": "errors",
    "TrainingCancelled": "errors",
    "TrainingDiverged": "errors",
    "SynthConfig": "synth",
    "generate_dataset": "synth",
    "validate_dataset": "synth",
    "NAFNet": "nafnet",
    "Restormer": "restormer",
    "Stages": "stages",
    "augment_dataset": "augment",
    "train_distributed": "distributed",
    "configure_threads": "threads",
    "intra_op_threads": "threads",
    "TrainConfig": "train",
    "train_model": "train",
    "load_model": "infer",
    "default_model_path": "infer",
    "restore_image": "infer",
    "psnr": "quality",
    "ssim": "quality",
    "no_reference_metrics": "quality",
    "compare_images": "quality",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        attr = "train" if name == "train_model" else name
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
