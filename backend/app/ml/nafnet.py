"""NAFNet: a nonlinear-activation-free U-Net for image restoration (Chen et al., ECCV 2022).

Building blocks: LayerNorm2d, 1x1 convs, a depthwise 3x3 conv, SimpleGate (split channels in
two halves and multiply them, replacing GELU/ReLU) and Simplified Channel Attention (global
average pool -> 1x1 conv -> channel-wise scale). Blocks form a U-shaped encoder/decoder with
stride-2 conv downsampling and 1x1 conv + PixelShuffle upsampling. The network predicts a
residual that is added to the input, so a freshly initialised model is the identity
(``beta``/``gamma`` start at zero). Works for 1-channel (gray) or 3-channel images.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ARCH_TYPE = "nafnet"


@dataclass
class NAFNetConfig:
    """Architecture hyper-parameters (stored in every checkpoint to rebuild the model)."""

    img_channels: int = 1
    width: int = 16
    enc_blk_nums: list[int] = field(default_factory=lambda: [1, 1, 2])
    middle_blk_num: int = 2
    dec_blk_nums: list[int] = field(default_factory=lambda: [1, 1, 1])
    unshuffle: int = 2

    def to_dict(self) -> dict[str, Any]:
        return {"type": ARCH_TYPE, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NAFNetConfig:
        """Rebuild from a checkpoint's ``arch`` dict (KeyError/ValueError if malformed)."""
        return cls(
            img_channels=int(data["img_channels"]),
            width=int(data["width"]),
            enc_blk_nums=[int(v) for v in data["enc_blk_nums"]],
            middle_blk_num=int(data["middle_blk_num"]),
            dec_blk_nums=[int(v) for v in data["dec_blk_nums"]],
            unshuffle=int(data.get("unshuffle", 1)),
        )


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel dimension of an NCHW tensor, with per-channel affine."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalising the last dim of the NHWC view is one fused kernel (several times faster than
        # the mean/var formulation) and is free when the tensor is channels_last.
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class SimpleGate(nn.Module):
    """Split channels into two halves and multiply them: a nonlinearity without activations."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFBlock(nn.Module):
    """Two residual branches: (norm, 1x1, dw3x3, gate, SCA, 1x1) and (norm, 1x1, gate, 1x1)."""

    def __init__(self, c: int, dw_expand: int = 2, ffn_expand: int = 2) -> None:
        super().__init__()
        dw = c * dw_expand
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.sg = SimpleGate()
        ffn = c * ffn_expand
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.norm1, self.norm2 = LayerNorm2d(c), LayerNorm2d(c)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.sg(self.conv2(self.conv1(self.norm1(inp))))
        x = self.conv3(x * self.sca(x))
        y = inp + x * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFNet(nn.Module):
    """U-shaped NAFNet predicting a residual added to the input image (NCHW, values ~[0, 1])."""

    def __init__(
        self,
        img_channels: int = 1,
        width: int = 16,
        enc_blk_nums: list[int] | None = None,
        middle_blk_num: int = 2,
        dec_blk_nums: list[int] | None = None,
        unshuffle: int = 2,
    ) -> None:
        super().__init__()
        enc_blk_nums = list(enc_blk_nums if enc_blk_nums is not None else [1, 1, 2])
        dec_blk_nums = list(dec_blk_nums if dec_blk_nums is not None else [1, 1, 1])
        if len(enc_blk_nums) != len(dec_blk_nums):
            raise ValueError("enc_blk_nums and dec_blk_nums must have the same length")
        self.config = NAFNetConfig(img_channels, width, enc_blk_nums, middle_blk_num, dec_blk_nums, unshuffle)
        # Optional FFDNet-style stem: fold each s x s pixel block into channels so that the whole
        # network runs at 1/s^2 of the pixels (lossless, ~s^2 faster at the same width).
        sub = img_channels * unshuffle * unshuffle
        self.intro = nn.Sequential(nn.PixelUnshuffle(unshuffle), nn.Conv2d(sub, width, 3, padding=1))
        self.ending = nn.Sequential(nn.Conv2d(width, sub, 3, padding=1), nn.PixelShuffle(unshuffle))
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.decoders, self.ups = nn.ModuleList(), nn.ModuleList()
        chan = width
        for num in enc_blk_nums:
            self.encoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(num)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, stride=2))
            chan *= 2
        self.middle = nn.Sequential(*[NAFBlock(chan) for _ in range(middle_blk_num)])
        for num in dec_blk_nums:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(num)]))
        self.multiple = unshuffle * 2 ** len(enc_blk_nums)

    @classmethod
    def from_config(cls, cfg: NAFNetConfig) -> NAFNet:
        return cls(cfg.img_channels, cfg.width, cfg.enc_blk_nums, cfg.middle_blk_num, cfg.dec_blk_nums, cfg.unshuffle)

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
        for decoder, up, skip in zip(self.decoders, self.ups, reversed(skips), strict=True):
            x = decoder(up(x) + skip)
        x = self.ending(x) + x0
        return x[:, :, :h, :w]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
