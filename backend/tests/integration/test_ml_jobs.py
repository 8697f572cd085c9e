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


BROKEN = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100  # a PNG's signature and nothing readable after it


async def damaged_upload(client, pool, settings, name: str, **data):
    """Upload a readable page (a broken one is refused at upload, 415) and damage the stored file after:
    what a job that reads it finds when the disk or another process broke it."""
    response = await client.post("/upload", files={"file": (name, noisy_page_png(), "image/png")}, data=data)
    assert response.status_code == 201, response.text
    stored = await pool.fetchval("SELECT stored_path FROM assets WHERE id = $1", uuid.UUID(response.json()["asset_id"]))
    (settings.storage_dir / stored).write_bytes(BROKEN)
    return response


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
    assert check["result"]["ok"] is True
    assert check["result"]["pairs"] == 12

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
    assert metrics["steps"] == 30
    assert metrics["val_psnr"] > 0
    models = (await client.get("/models")).json()
    assert models[0]["id"] == metrics["model_id"]
    assert models[0]["metrics"]["val_psnr"] == metrics["val_psnr"]

    upload = await client.post(
        "/upload",
        files={"file": ("scan.png", noisy_page_png(), "image/png")},
        data={"params": f'{{"model_id": "{metrics["model_id"]}", "tile": 64}}'},
    )
    assert upload.status_code == 201
    assert upload.json()["job_type"] == "restoration"
    restored = (await client.post("/jobs/process")).json()
    assert restored["status"] == "completed", restored["error"]
    result = restored["result"]
    assert (result["width"], result["height"]) == (300, 200)
    assert result["tiles"] > 1
    png = await client.get(result["restored_url"])
    assert png.status_code == 200
    assert Image.open(io.BytesIO(png.content)).size == (300, 200)

    quality = await run(client, "quality_assessment", {"asset_id": upload.json()["asset_id"]})
    assert quality["status"] == "completed"
    assert quality["result"]["mode"] == "no_reference"


async def test_unknown_model_and_corrupt_image_fail_without_retry(client, pool, settings):
    upload = await damaged_upload(client, pool, settings, "bad.png", params=f'{{"model_id": "{uuid.uuid4()}"}}')
    body = (await client.post("/jobs/process")).json()
    assert body["status"] == "failed"
    assert "does not exist" in body["error"]
    assert (await job_row(pool, upload.json()["job_id"]))["attempts"] == 1

    ds = await run(client, "synthetic_data", {"count": 2, "seed": 1, "size": 64})
    bad = await damaged_upload(client, pool, settings, "bad.png", job_type="quality_assessment")
    body = (await client.post("/jobs/process")).json()
    assert body["job_id"] == bad.json()["job_id"]
    assert body["status"] == "failed"
    assert body["error"]
    assert ds["status"] == "completed"


async def test_training_on_missing_dataset_fails_clearly(client):
    body = await run(client, "training", {"dataset_id": str(uuid.uuid4()), "steps": 5})
    assert body["status"] == "failed"
    assert "synthetic_data" in body["error"]


async def test_training_precision_and_device_are_checked(client):
    import typing

    import torch
    from app.jobs.training import TrainingParams
    from app.ml.train import AMP_MODES

    assert typing.get_args(TrainingParams.model_fields["amp"].annotation) == AMP_MODES  # one list of modes
    response = await client.post("/jobs", json={"job_type": "training", "params": {"amp": "fp8"}})
    assert response.status_code == 422
    assert "amp" in response.text

    if not torch.cuda.is_available():
        dataset = await _dataset(client)
        body = await run(client, "training", {"dataset_id": dataset, "device": "cuda", **TINY, "steps": 2})
        assert body["status"] == "failed"
        assert "no CUDA GPU" in body["error"]
        assert (await client.get(f"/jobs/{body['job_id']}")).json()["attempts"] == 1


async def _dataset(client) -> str:
    data = await run(client, "synthetic_data", {"count": 8, "seed": 3, "size": 64})
    return data["result"]["dataset_id"]


TINY = {"width": 8, "batch_size": 2, "crop_size": 32, "checkpoint_every": 5, "lr": 1e-3}


async def test_killed_training_resumes_from_its_checkpoint(client, pool, subprocess_env, tmp_path, settings):
    import signal

    from tests.support.processes import start_worker, stop_all
    from tests.support.waiting import wait_progressing

    dataset_id = await _dataset(client)
    steps = 40  # a few checkpoints (every 5 steps) past the kill; the waits follow the training's progress
    job = (
        await client.post(
            "/jobs", json={"job_type": "training", "params": {"dataset_id": dataset_id, "steps": steps, **TINY}}
        )
    ).json()["job"]
    # The lease is what the second worker waits out before it reaps the killed one's job; long enough that
    # a heartbeat delayed by a busy host (training threads on two cores) does not let the live worker's
    # own lease lapse, which would reap the job a second time.
    env = {**subprocess_env, "LEASE_SECONDS": "6", "STORAGE_DIR": str(settings.storage_dir)}
    first = start_worker(env, tmp_path / "logs", "--queues", "ml")
    checkpoint = settings.storage_dir / "jobs" / job["id"] / "last.pt"

    async def moving() -> tuple:  # changes while the job is claimed, trains, is reaped and resumes
        return await _state(pool, job["id"])

    try:
        # A worker process starts (PyTorch's import included) and trains: slow on a busy host, but moving.
        await wait_progressing(lambda: _exists(checkpoint), moving, stall=180, interval=0.2)
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = start_worker(env, tmp_path / "logs", "--queues", "ml")
        try:
            row = await wait_progressing(lambda: _finished(pool, job["id"]), moving, stall=180)
        finally:
            stop_all([second])
    finally:
        stop_all([first])
    assert row["status"] == "completed", row["error"]
    assert row["attempts"] == 2
    assert row["reaped"] == 1
    assert row["result"]["resumed_from_step"] >= 5
    assert row["result"]["steps"] == steps


async def _exists(path) -> bool:
    return path.exists()


async def _state(pool, job_id) -> tuple:
    row = await job_row(pool, job_id)
    return row["status"], row["attempts"], row["reaped"], row["progress"], row["progress_message"]


async def _finished(pool, job_id) -> dict | None:
    row = await job_row(pool, job_id)
    return row if row["status"] in ("completed", "failed") else None


async def test_cancelled_training_stops_and_keeps_its_checkpoint(client, runtime, pool, settings):
    from tests.integration.test_worker import running_worker
    from tests.support.waiting import wait_progressing, wait_status, wait_until

    dataset_id = await _dataset(client)
    job = (
        await client.post(
            "/jobs", json={"job_type": "training", "params": {"dataset_id": dataset_id, "steps": 100_000, **TINY}}
        )
    ).json()["job"]
    checkpoint = settings.storage_dir / "jobs" / job["id"] / "last.pt"
    async with running_worker(runtime, queues=["ml"], shutdown_grace=1.0):
        await wait_progressing(lambda: _exists(checkpoint), lambda: _state(pool, job["id"]), stall=180, interval=0.2)
        row = await wait_until(lambda: _training_progress(pool, job["id"]), timeout=30)
        assert row["status"] == "processing"
        assert (await client.post(f"/jobs/{job['id']}/cancel")).status_code == 200
        row = await wait_status(pool, job["id"], "cancelled", timeout=30)
    assert checkpoint.exists()


async def _training_progress(pool, job_id):
    row = await job_row(pool, job_id)
    return row if "loss" in (row["progress_message"] or "") else None


async def test_restoration_runs_the_stages_asked_for_once_a_restormer_is_trained(client):
    dataset = await _dataset(client)
    page = {"file": ("scan.png", noisy_page_png(), "image/png")}
    early = await client.post("/upload", files=page, data={"params": '{"stages": "both", "tile": 64}'})
    body = (await client.post("/jobs/process")).json()
    assert body["job_id"] == early.json()["job_id"]
    assert body["status"] == "failed"
    assert "architecture 'restormer'" in body["error"]
    assert (await client.get(f"/jobs/{body['job_id']}")).json()["attempts"] == 1

    first = await run(client, "training", {"dataset_id": dataset, "architecture": "restormer", **TINY, "steps": 6})
    assert first["status"] == "completed", first["error"]
    models = (await client.get("/models")).json()
    assert models[0]["id"] == first["result"]["model_id"]
    assert models[0]["architecture"]["type"] == "restormer"

    restormer = first["result"]["model_id"]
    for stages, expected in (("both", [restormer, "default"]), ("auto", [restormer]), ("nafnet", ["default"])):
        await client.post("/upload", files=page, data={"params": f'{{"stages": "{stages}", "tile": 64}}'})
        restored = (await client.post("/jobs/process")).json()
        assert restored["status"] == "completed", restored["error"]
        assert restored["result"]["stages"] == expected
        assert restored["result"]["width"] == 300


async def test_unknown_architecture_is_refused(client):
    response = await client.post(
        "/jobs", json={"job_type": "training", "params": {"dataset_id": str(uuid.uuid4()), "architecture": "unet"}}
    )
    assert response.status_code == 422
    assert "architecture" in response.text


async def test_augmented_dataset_grows_by_its_variants(client):
    dataset = await _dataset(client)
    body = await run(client, "augment_dataset", {"dataset_id": dataset, "variants": 2, "seed": 9})
    assert body["status"] == "completed", body["error"]
    assert body["result"]["created"] == 16
    assert body["result"]["pairs"] == 24
    listed = {d["id"]: d for d in (await client.get("/datasets")).json()}
    assert listed[dataset]["pairs"] == 24
    again = await run(client, "augment_dataset", {"dataset_id": dataset, "variants": 1, "seed": 9})
    assert again["status"] == "failed"
    assert "seed 9" in again["error"]
    check = await run(client, "validate_dataset", {"dataset_id": dataset})
    assert check["result"]["ok"] is True
    assert check["result"]["pairs"] == 24


async def test_training_in_two_processes_completes_and_serves(client):
    dataset = await _dataset(client)
    body = await run(client, "training", {"dataset_id": dataset, "processes": 2, **TINY, "steps": 12})
    assert body["status"] == "completed", body["error"]
    assert body["result"]["processes"] == 2
    assert body["result"]["steps"] == 12
    models = (await client.get("/models")).json()
    assert models[0]["id"] == body["result"]["model_id"]
    assert models[0]["architecture"]["type"] == "nafnet"


async def test_fanned_out_batch_restoration_runs_a_job_per_page_and_sums_up_its_quality(client, pool, settings):
    assets = []
    for seed in range(3):
        made = await client.post(
            "/upload",
            files={"file": (f"page-{seed}.png", noisy_page_png(seed=seed), "image/png")},
            data={"job_type": "test_file"},
        )
        assert made.status_code == 201, made.text
        assets.append(made.json()["asset_id"])
    broken = await damaged_upload(client, pool, settings, "bad.png", job_type="test_file")
    while (await client.post("/jobs/process")).json()["processed"]:
        pass  # the uploads' own jobs out of the way
    params = {"asset_ids": [*assets, broken.json()["asset_id"]], "fan_out": True, "tile": 64}
    batch = await run(client, "batch_restoration", params)
    assert batch["status"] == "completed", batch["error"]
    ran = []
    while (step := (await client.post("/jobs/process")).json())["processed"]:
        ran.append(step["job_type"])
    assert sorted(ran) == ["batch_summary", "restoration", "restoration", "restoration", "restoration"]
    assert ran[-1] == "batch_summary"
    summary = await job_row(pool, batch["result"]["summary_job"])
    assert summary["status"] == "completed", summary["error"]
    result = summary["result"]
    assert result["completed"] == 3
    assert result["failed"] == 1
    assert len(result["items"]) == 4
    assert result["quality"]
    assert all(isinstance(v, float) for v in result["quality"].values())
    graph = (await client.get(f"/workflows/{batch['job_id']}")).json()
    assert len(graph["nodes"]) == 1 + 4 + 1
    assert graph["counts"]["failed"] == 1


async def test_restoration_self_ensemble_is_a_checked_parameter(client):
    page = {"file": ("scan.png", noisy_page_png(), "image/png")}
    refused = await client.post("/upload", files=page, data={"params": '{"ensemble": 3}'})
    assert refused.status_code == 422
    assert "ensemble" in refused.text

    results = {}
    for ensemble in (1, 4):
        page = {"file": ("scan.png", noisy_page_png(), "image/png")}
        posted = await client.post("/upload", files=page, data={"params": f'{{"ensemble": {ensemble}, "tile": 64}}'})
        assert posted.status_code in (200, 201), posted.text
        body = (await client.post("/jobs/process")).json()
        assert body["status"] == "completed", body["error"]
        assert body["result"]["ensemble"] == ensemble
        restored = await client.get(body["result"]["restored_url"])
        results[ensemble] = np.asarray(Image.open(io.BytesIO(restored.content)))
    assert results[1].shape == results[4].shape
    assert not np.array_equal(results[1], results[4])  # the flipped passes were averaged in


async def test_a_corrupt_image_fails_restoration_naming_the_file_as_uploaded(client, pool, settings):
    upload = await damaged_upload(client, pool, settings, "scan-17.png")
    body = (await client.post("/jobs/process")).json()
    assert body["status"] == "failed"
    assert "scan-17.png" in body["error"]  # not the generated name it is stored under
    stored = await pool.fetchval("SELECT stored_path FROM assets WHERE id = $1", uuid.UUID(upload.json()["asset_id"]))
    assert stored.rsplit("/", 1)[-1] not in body["error"]
