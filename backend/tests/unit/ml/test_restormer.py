"""The Restormer first stage: shapes, gradients, tiled inference, training, model files and two stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from app.ml.checkpoint import build_model, read_checkpoint
from app.ml.errors import MLInputError
from app.ml.images import read_image
from app.ml.infer import load_model, restore_array, restore_image
from app.ml.quality import psnr
from app.ml.restormer import MDTA, Restormer, RestormerConfig
from app.ml.stages import Stages
from app.ml.train import train

from .conftest import tiny_config

TINY = RestormerConfig(width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1], heads=[1, 2, 2])


def restormer_config(**overrides: Any):  # type: ignore[no-untyped-def]
    return tiny_config(architecture="restormer", **overrides)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(64, 64), (37, 51)])
def test_forward_keeps_shape(channels: int, size: tuple[int, int]) -> None:
    model = Restormer(RestormerConfig(**{**TINY.__dict__, "img_channels": channels}))
    x = torch.rand(2, channels, *size)
    assert model(x).shape == x.shape


def test_every_parameter_gets_a_gradient() -> None:
    model = Restormer(TINY)
    model(torch.rand(2, 1, 32, 32)).square().mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_transposed_attention_is_linear_in_pixels_and_global() -> None:
    attn = MDTA(8, heads=2).eval()
    x = torch.rand(1, 8, 24, 24)
    y = attn(x)
    x2 = x.clone()
    x2[..., 20:, 20:] += 1.0  # a change in one corner reaches the opposite corner through the attention map
    assert not torch.allclose(attn(x2)[..., :4, :4], y[..., :4, :4])
    assert attn(torch.rand(1, 8, 200, 300)).shape == (1, 8, 200, 300)  # C x C map: no HW x HW matrix


def test_tiled_inference_matches_whole_image(tiny_dataset: Path, tmp_path: Path) -> None:
    result = train(tiny_dataset, tmp_path / "run", restormer_config(steps=30))
    model, meta = load_model(Path(result["model_path"]), device="cpu")
    assert isinstance(model, Restormer)
    assert meta["arch"]["type"] == "restormer"
    page = np.tile(read_image(sorted((tiny_dataset / "degraded").glob("*.png"))[0]), (3, 3))[None]
    tiled = restore_array(model, page, tile=128, overlap=32)
    whole = restore_array(model, page, tile=0)
    assert psnr(tiled, whole) > 40.0  # ~50 dB: global attention, yet tiles barely differ


def test_short_training_lowers_the_loss_and_writes_a_restormer_model(tiny_dataset: Path, tmp_path: Path) -> None:
    updates: list[dict[str, Any]] = []
    result = train(tiny_dataset, tmp_path / "run", restormer_config(steps=60), progress=updates.append)
    assert result["steps"] == 60
    assert result["arch"]["type"] == "restormer"
    assert np.mean([u["loss"] for u in updates[-3:]]) < np.mean([u["loss"] for u in updates[:3]])
    assert result["val_psnr"] > result["input_psnr"]
    data = read_checkpoint(Path(result["model_path"]))
    assert isinstance(build_model(data), Restormer)
    data["arch"]["type"] = "nafnet"  # the weights no longer match the architecture the file names
    with pytest.raises(MLInputError, match="nafnet"):
        build_model(data)


def test_two_stages_run_restormer_then_nafnet(tiny_dataset: Path, tmp_path: Path) -> None:
    first = train(tiny_dataset, tmp_path / "r", restormer_config(steps=20))
    second = train(tiny_dataset, tmp_path / "n", tiny_config(steps=20))
    degraded = sorted((tiny_dataset / "degraded").glob("*.png"))[0]
    paths = [Path(first["model_path"]), Path(second["model_path"])]
    restore_image(paths, degraded, tmp_path / "both.png", device="cpu")
    r, _ = load_model(paths[0], device="cpu")
    n, _ = load_model(paths[1], device="cpu")
    img = read_image(degraded)[None]
    expected = restore_array(Stages(r, n), img)
    assert np.array_equal(read_image(tmp_path / "both.png"), expected[0].astype(np.float32) / 255.0)
    assert not np.array_equal(expected, restore_array(n, img))
    with pytest.raises(MLInputError, match="one or two stages"):
        restore_image(paths * 2, degraded, tmp_path / "x.png", device="cpu")
