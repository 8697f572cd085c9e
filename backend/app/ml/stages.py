"""The restoration networks by architecture name, and two of them run in sequence as one network.

A model file's ``arch`` dict names its architecture in ``type`` (``"nafnet"`` when absent: files written
before Restormer existed). :class:`Stages` chains a first stage (Restormer: global, channel-wise attention
for illumination, stains and bleed) and a second (NAFNet: local detail), as the seed's two-layer model does;
it is an ``nn.Module`` like either, so tiled inference runs the pair tile by tile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from . import nafnet, restormer
from .nafnet import NAFNet, NAFNetConfig
from .restormer import Restormer, RestormerConfig

ARCHITECTURES = (nafnet.ARCH_TYPE, restormer.ARCH_TYPE)
Network = NAFNet | Restormer


def arch_type(arch: dict[str, Any]) -> str:
    return str(arch.get("type", nafnet.ARCH_TYPE))


def network_from_arch(arch: dict[str, Any]) -> Network:
    """A freshly initialised network of the architecture ``arch`` describes (KeyError/ValueError if malformed)."""
    kind = arch_type(arch)
    if kind == restormer.ARCH_TYPE:
        return Restormer(RestormerConfig.from_dict(arch))
    if kind == nafnet.ARCH_TYPE:
        return NAFNet.from_config(NAFNetConfig.from_dict(arch))
    raise ValueError(f"unknown architecture {kind!r} (known: {', '.join(ARCHITECTURES)})")


@dataclass
class StagesConfig:
    img_channels: int
    stages: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "stages", "img_channels": self.img_channels, "stages": self.stages}


class Stages(nn.Module):
    """``second(clamp(first(x)))``: the second stage sees a valid image, as in its own training data."""

    def __init__(self, first: Network, second: Network) -> None:
        super().__init__()
        if first.config.img_channels != second.config.img_channels:
            raise ValueError("both stages must take the same number of channels")
        self.first, self.second = first, second
        self.config = StagesConfig(first.config.img_channels, [first.config.to_dict(), second.config.to_dict()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x).clamp(0, 1))


Restorer = Network | Stages
