"""Document restoration jobs through the API: data → training → restoration → quality, and bad input."""

from __future__ import annotations

import io
import uuid

import numpy as np
from PIL import Image

from tests.support.waiting import job_row


async def run(client, job_type: str, params: dict) -> dict:
    response = await client.post("/jobs", json={"job_type": job_type, "params": params})
    assert response.status_code == 201, response.text
    body = (await client.post("/jobs/process")).json()
    assert body["job_id"] == response.json()["job"]["id"]
    return body


def noisy_page_png(size=(300, 200), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    page = np.full((size[1], size[0]), 235, np.uint8)
    page[40:48, 20:280] = 30
    page[80:86, 20:200] = 30
    noisy = np.clip(page + rng.normal(0, 25, page.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, format="PNG")
    return buf.getvalue()


async def test_synthetic_data_training_restoration_and_quality_end_to_end(client, pool):
    data = await run(client, "synthetic_data", {"count": 12, "seed": 5, "size": 96})
    assert data["status"] == "completed", data["error"]
    dataset_id = data["result"]["dataset_id"]
    check = await run(client, "validate_dataset", {"dataset_id": dataset_id})
    assert check["result"]["ok"] is True and check["result"]["pairs"] == 12

    trained = await run(
        client,
        "training",
        {
            "dataset_id": dataset_id,
            "steps": 30,
            "width": 8,
            "batch_size": 4,
            "crop_size": 32,
            "checkpoint_every": 10,
            "lr": 2e-3,
        },
    )
    assert trained["status"] == "completed", trained["error"]
    metrics = trained["result"]
    assert metrics["steps"] == 30 and metrics["val_psnr"] > 0
    models = (await client.get("/models")).json()
    assert models[0]["id"] == metrics["model_id"] and models[0]["metrics"]["val_psnr"] == metrics["val_psnr"]

    upload = await client.post(
        "/upload",
        files={"file": ("scan.png", noisy_page_png(), "image/png")},
        data={"params": f'{{"model_id": "{metrics["model_id"]}", "tile": 64}}'},
    )
    assert upload.status_code == 201 and upload.json()["job_type"] == "restoration"
    restored = (await client.post("/jobs/process")).json()
    assert restored["status"] == "completed", restored["error"]
    result = restored["result"]
    assert (result["width"], result["height"]) == (300, 200) and result["tiles"] > 1
    png = await client.get(result["restored_url"])
    assert png.status_code == 200 and Image.open(io.BytesIO(png.content)).size == (300, 200)

    quality = await run(client, "quality_assessment", {"asset_id": upload.json()["asset_id"]})
    assert quality["status"] == "completed" and quality["result"]["mode"] == "no_reference"


async def test_unknown_model_and_corrupt_image_fail_without_retry(client, pool):
    upload = await client.post(
        "/upload",
        files={"file": ("bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png")},
        data={"params": f'{{"model_id": "{uuid.uuid4()}"}}'},
    )
    assert upload.status_code == 201
    body = (await client.post("/jobs/process")).json()
    assert body["status"] == "failed" and "does not exist" in body["error"]
    assert (await job_row(pool, upload.json()["job_id"]))["attempts"] == 1

    ds = await run(client, "synthetic_data", {"count": 2, "seed": 1, "size": 64})
    bad = await client.post(
        "/upload",
        files={"file": ("bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png")},
        data={"job_type": "quality_assessment"},
    )
    body = (await client.post("/jobs/process")).json()
    assert body["job_id"] == bad.json()["job_id"] and body["status"] == "failed" and body["error"]
    assert ds["status"] == "completed"


async def test_training_on_missing_dataset_fails_clearly(client):
    body = await run(client, "training", {"dataset_id": str(uuid.uuid4()), "steps": 5})
    assert body["status"] == "failed" and "synthetic_data" in body["error"]
