"""Restormer: a U-shaped transformer for image restoration (Zamir et al., CVPR 2022), sized for pages on CPU.

Each Transformer block is ``x + MDTA(LN(x))`` then ``x + GDFN(LN(x))``:

- **MDTA** (multi-Dconv head transposed attention): queries, keys and values come from a 1x1 conv then a
  3x3 depthwise conv (local context); attention is taken across *channels*, not pixels: per head, the
  L2-normalised ``q`` and ``k`` (``C/heads x HW``) give a ``C/heads x C/heads`` map scaled by a learned
  temperature, so the cost is linear in the number of pixels and the map is global over the image;
- **GDFN** (gated-Dconv feed-forward network): 1x1 conv to two branches of ``γ·C`` channels, a 3x3
  depthwise conv, ``GELU(a) * b``, and a 1x1 conv back to ``C``.

Levels are joined by pixel-unshuffle (down) and pixel-shuffle (up) with a 3x3 conv, skips are concatenated
(then reduced by a 1x1 conv), and refinement blocks follow at full resolution. As in :mod:`nafnet`, an
optional pixel-unshuffle stem runs the whole network on ``1/s^2`` of the pixels, and the output is a
residual added to the input. The attention is global over what the network sees, so tiled inference
differs slightly from a whole-page pass (the overlapping, blended tiles keep the difference small).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .nafnet import LayerNorm2d

ARCH_TYPE = "restormer"


@dataclass
class RestormerConfig:
    """Architecture hyper-parameters (stored in every checkpoint to rebuild the model)."""

    img_channels: int = 1
    width: int = 16
    enc_blk_nums: list[int] = field(default_factory=lambda: [1, 1, 2])
    middle_blk_num: int = 2
    dec_blk_nums: list[int] = field(default_factory=lambda: [1, 1, 1])
    refinement_blk_num: int = 1
    heads: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    ffn_expansion: float = 2.0  # the paper's 2.66 costs ~20% more time on CPU for little gain at this size
    unshuffle: int = 2

    def to_dict(self) -> dict[str, Any]:
        return {"type": ARCH_TYPE, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RestormerConfig:
        """Rebuild from a checkpoint's ``arch`` dict (KeyError/ValueError if malformed)."""
        return cls(
            img_channels=int(data["img_channels"]),
            width=int(data["width"]),
            enc_blk_nums=[int(v) for v in data["enc_blk_nums"]],
            middle_blk_num=int(data["middle_blk_num"]),
            dec_blk_nums=[int(v) for v in data["dec_blk_nums"]],
            refinement_blk_num=int(data["refinement_blk_num"]),
            heads=[int(v) for v in data["heads"]],
            ffn_expansion=float(data["ffn_expansion"]),
            unshuffle=int(data["unshuffle"]),
        )

    @staticmethod
    def default_heads(width: int, levels: int) -> list[int]:
        """Heads doubling per level (as the paper's 1, 2, 4, 8), each head at least 8 channels wide."""
        return [max(1, min(2**i, (width * 2**i) // 8)) for i in range(levels + 1)]


class MDTA(nn.Module):
    """Multi-Dconv head transposed attention: channel-to-channel attention per head, linear in pixels."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"{dim} channels cannot be split into {heads} heads")
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.qkv_dw = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=False)
        self.project = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in self.qkv_dw(self.qkv(x)).chunk(3, 1))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        return self.project((attn @ v).reshape(b, c, h, w))


class GDFN(nn.Module):
    """Gated-Dconv feed-forward network: GELU-gated depthwise-conv features."""

    def __init__(self, dim: int, expansion: float) -> None:
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=False)
        self.dw = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=False)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.dw(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(a) * b)


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, expansion: float) -> None:
        super().__init__()
        self.norm1, self.attn = LayerNorm2d(dim), MDTA(dim, heads)
        self.norm2, self.ffn = LayerNorm2d(dim), GDFN(dim, expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def _blocks(n: int, dim: int, heads: int, expansion: float) -> nn.Sequential:
    return nn.Sequential(*[TransformerBlock(dim, heads, expansion) for _ in range(n)])


class Restormer(nn.Module):
    """U-shaped Restormer predicting a residual added to the input image (NCHW, values ~[0, 1])."""

    def __init__(self, config: RestormerConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config or RestormerConfig()
        levels = len(cfg.enc_blk_nums)
        if len(cfg.dec_blk_nums) != levels or len(cfg.heads) != levels + 1:
            raise ValueError("dec_blk_nums must match enc_blk_nums, and heads needs one entry per level + middle")
        sub, gamma = cfg.img_channels * cfg.unshuffle**2, cfg.ffn_expansion
        self.intro = nn.Sequential(nn.PixelUnshuffle(cfg.unshuffle), nn.Conv2d(sub, cfg.width, 3, padding=1))
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.ups, self.reduce, self.decoders = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        chan = cfg.width
        for i, num in enumerate(cfg.enc_blk_nums):
            self.encoders.append(_blocks(num, chan, cfg.heads[i], gamma))
            self.downs.append(nn.Sequential(nn.Conv2d(chan, chan // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2)))
            chan *= 2
        self.middle = _blocks(cfg.middle_blk_num, chan, cfg.heads[levels], gamma)
        for i in reversed(range(levels)):
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 3, padding=1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            # The paper keeps the top level at 2C after the concatenation; lower levels are reduced to C.
            top = i == 0
            self.reduce.append(nn.Identity() if top else nn.Conv2d(chan * 2, chan, 1, bias=False))
            dim = chan * 2 if top else chan
            self.decoders.append(_blocks(cfg.dec_blk_nums[levels - 1 - i], dim, cfg.heads[i], gamma))
        self.refinement = _blocks(cfg.refinement_blk_num, chan * 2, cfg.heads[0], gamma)
        self.ending = nn.Sequential(nn.Conv2d(chan * 2, sub, 3, padding=1), nn.PixelShuffle(cfg.unshuffle))
        self.multiple = cfg.unshuffle * 2**levels

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        _, _, h, w = inp.shape
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        x0 = F.pad(inp, (0, pw, 0, ph), mode="replicate") if ph or pw else inp
        x = self.intro(x0)
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)
        for up, reduce, decoder, skip in zip(self.ups, self.reduce, self.decoders, reversed(skips), strict=True):
            x = decoder(reduce(torch.cat([up(x), skip], dim=1)))
        x = self.ending(self.refinement(x)) + x0
        return x[:, :, :h, :w]
