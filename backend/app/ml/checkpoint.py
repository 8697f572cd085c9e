"""Checkpoint and model files: atomic writes, loading with human-readable errors.

Two kinds of files, both plain ``torch.save`` dicts loadable with ``weights_only=True``:

- training checkpoint (``last.pt``): ``{"kind": "checkpoint", "arch", "model", "optimizer",
  "scheduler", "step", "config", "metrics"}`` - everything needed to resume;
- model file (``model.pt``, shipped ``default.pt``): ``{"kind": "model", "arch", "model",
  "metrics", "train_config"}`` - weights (optionally stored as float16 to halve the size) plus
  the architecture needed to rebuild the network (``arch["type"]``: ``"nafnet"``, the default, or
  ``"restormer"``; see :mod:`stages`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .errors import MLInputError
from .stages import Network, arch_type, network_from_arch

FORMAT = "skiplock-nafnet-v1"


def atomic_torch_save(obj: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temp file in the destination folder, then ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint/model dict on CPU; MLInputError if missing, corrupt or not ours."""
    path = Path(path)
    if not path.is_file():
        raise MLInputError(f"model file not found: {path.name}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/garbage files
        raise MLInputError(f"{path.name}: not a readable model file ({type(exc).__name__})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or "model" not in data or "arch" not in data:
        raise MLInputError(f"{path.name}: not a Skiplock restoration model (unknown format)")
    return data


def build_model(data: dict[str, Any]) -> Network:
    """Rebuild the network its ``arch`` names from a loaded dict and load its weights (float32)."""
    try:
        model = network_from_arch(data["arch"])
        state = {k: v.float() for k, v in data["model"].items()}
        model.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        kind = arch_type(data["arch"]) if isinstance(data.get("arch"), dict) else "?"
        raise MLInputError(f"model file does not match the {kind} architecture it names ({exc})") from exc
    return model


def export_model(
    model: Network, path: Path, *, metrics: dict[str, Any], train_config: dict[str, Any], half: bool = False
) -> None:
    """Write a model file (weights + architecture + metrics) atomically."""
    state = {
        k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
        for k, v in model.state_dict().items()
    }
    atomic_torch_save(
        {
            "format": FORMAT,
            "kind": "model",
            "arch": model.config.to_dict(),
            "model": state,
            "metrics": metrics,
            "train_config": train_config,
        },
        path,
    )


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise MLInputError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise MLInputError("device 'cuda' requested but no CUDA GPU is available")
    return resolved
