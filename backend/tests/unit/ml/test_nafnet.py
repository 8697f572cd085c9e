from __future__ import annotations

import pytest
import torch
from app.ml.nafnet import NAFNet, count_parameters


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(64, 64), (37, 51)])
def test_forward_keeps_shape(channels: int, size: tuple[int, int]) -> None:
    model = NAFNet(img_channels=channels, width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1])
    x = torch.rand(2, channels, *size)
    assert model(x).shape == x.shape


def test_output_is_input_plus_residual_and_trainable() -> None:
    model = NAFNet(img_channels=1, width=8, enc_blk_nums=[1], middle_blk_num=1, dec_blk_nums=[1], unshuffle=1)
    for p in model.ending.parameters():
        torch.nn.init.zeros_(p)  # a zero residual head makes the network the identity
    x = torch.rand(1, 1, 16, 16)
    assert torch.allclose(model(x), x, atol=1e-6)
    torch.nn.init.normal_(model.ending[0].weight, std=0.1)
    y = model(x)
    assert not torch.allclose(y, x, atol=1e-3)
    y.mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_default_architecture_is_small() -> None:
    assert count_parameters(NAFNet()) < 600_000


def test_mismatched_levels_rejected() -> None:
    with pytest.raises(ValueError, match="same length"):
        NAFNet(enc_blk_nums=[1, 1], dec_blk_nums=[1])
