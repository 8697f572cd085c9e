"""cut_analysis and clip_export through the API and a worker, on generated videos."""

from __future__ import annotations

import uuid
from pathlib import Path

import av

from tests.support.media import make_audio_only, make_audio_with_cover, make_video
from tests.support.waiting import job_row


async def upload(client, path, **data):
    with open(path, "rb") as fh:
        return await client.post("/upload", files={"file": (path.name, fh.read(), "video/mp4")}, data=data)


async def test_video_upload_runs_cut_analysis_with_clips_thumbnails_and_progress(client, pool, tmp_path):
    video = tmp_path / "three-shots.mp4"
    cuts = make_video(video, shots=3, seconds_per_shot=2.0)
    response = await upload(client, video, params='{"min_clip_ms": 500, "max_clip_ms": 1800}')
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "video"
    assert body["job_type"] == "cut_analysis"
    processed = (await client.post("/jobs/process")).json()
    assert processed["status"] == "completed", processed.get("error")
    result = processed["result"]
    found = [s["start_frame"] for s in result["shots"] if s["transition_in"] == "cut"]
    assert len(found) == len(cuts)
    assert all(abs(a - b) <= 1 for a, b in zip(found, cuts, strict=True))
    assert result["frames"] == 150
    assert abs(result["duration_ms"] - 6000) <= 80
    assert result["fps"] == 25
    assert result["clips_created"] == len(result["variants"]) >= 3
    for clip in result["variants"]:
        assert 500 <= clip["end_ms"] - clip["start_ms"] <= 1800
        assert 0 <= clip["visual_score"] <= 1
        assert clip["start_ms"] <= clip["thumbnail_frame_ms"] < clip["end_ms"]  # a frame of the clip itself
        thumb = await client.get(clip["thumbnail_url"])
        assert thumb.status_code == 200
        assert thumb.content[:3] == b"\xff\xd8\xff"
    rows = await pool.fetch("SELECT * FROM clips WHERE asset_id = $1 ORDER BY rank", uuid.UUID(body["asset_id"]))
    assert len(rows) == result["clips_created"]
    asset = (await client.get(f"/assets/{body['asset_id']}")).json()
    assert len(asset["clips"]) == len(rows)
    job = await job_row(pool, body["job_id"])
    assert job["progress"] == 100

    export = await client.post("/jobs", json={"job_type": "clip_export", "params": {"clip_id": str(rows[0]["id"])}})
    assert export.status_code == 201
    done = (await client.post("/jobs/process")).json()
    assert done["status"] == "completed", done.get("error")
    clip_file = await client.get(done["result"]["download_url"])
    assert clip_file.status_code == 200
    out = tmp_path / "clip.mp4"
    out.write_bytes(clip_file.content)
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    expected = (rows[0]["end_ms"] - rows[0]["start_ms"]) / 40
    assert abs(frames - expected) <= 3


async def test_not_a_video_is_415_at_upload(client, tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 500)  # looks like MP4, holds nothing
    response = await upload(client, fake)
    assert response.status_code == 415
    assert "video" in response.json()["detail"]
    assert "the uploaded file" in response.json()["detail"]  # not the name it would have been stored under


async def test_audio_only_file_is_refused(client, tmp_path):
    audio = tmp_path / "sound.mp4"
    make_audio_only(audio)
    response = await upload(client, audio)
    assert response.status_code == 415


async def test_audio_with_cover_art_is_refused_as_audio_only(client, pool, tmp_path):
    """A song's album cover is a one-picture video stream to FFmpeg: the song was stored and analysed as
    a one-frame video (no clip). It is audio, and nothing is kept."""
    audio = tmp_path / "song.m4a"
    make_audio_with_cover(audio)
    response = await upload(client, audio)
    assert response.status_code == 415, response.text
    assert "audio-only" in response.json()["detail"]
    assert "cover art" in response.json()["detail"]
    assert await pool.fetchval("SELECT count(*) FROM assets") == 0
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_truncated_video_fails_job_clearly_without_retry(client, pool, tmp_path, settings):
    video = tmp_path / "ok.mp4"
    make_video(video, shots=2)
    response = await upload(client, video)
    assert response.status_code == 201
    asset = await pool.fetchrow("SELECT stored_path FROM assets WHERE id = $1", uuid.UUID(response.json()["asset_id"]))
    stored = settings.storage_dir / asset["stored_path"]
    stored.write_bytes(stored.read_bytes()[:300])  # damaged after upload
    body = (await client.post("/jobs/process")).json()
    assert body["status"] == "failed"
    assert "cannot analyse this video" in body["error"]
    assert "ok.mp4" in body["error"]  # named as uploaded, not by its generated stored name
    assert Path(asset["stored_path"]).name not in body["error"]
    assert (await job_row(pool, response.json()["job_id"]))["attempts"] == 1


async def test_upload_asking_for_its_best_clips_exports_them_after_the_analysis(client, pool, tmp_path):
    video = tmp_path / "three-shots.mp4"
    make_video(video, shots=3, seconds_per_shot=2.0)
    response = await upload(client, video, params='{"min_clip_ms": 500, "max_clip_ms": 1800, "export_best": 2}')
    analysis = response.json()["job_id"]
    processed = (await client.post("/jobs/process")).json()
    assert processed["status"] == "completed", processed.get("error")
    exports = processed["result"]["export_jobs"]
    detail = (await client.get(f"/jobs/{analysis}")).json()
    assert sorted(c["id"] for c in detail["children"]) == sorted(exports)
    for _ in exports:
        done = (await client.post("/jobs/process")).json()
        assert done["job_type"] == "clip_export", done
        assert done["status"] == "completed", done.get("error")
    best = await pool.fetch(
        "SELECT export_path FROM clips WHERE asset_id = $1 ORDER BY rank LIMIT 2",
        uuid.UUID(response.json()["asset_id"]),
    )
    assert all(r["export_path"] for r in best)
    graph = (await client.get(f"/workflows/{analysis}")).json()
    assert graph["status"] == "completed"
    assert len(graph["nodes"]) == 3


async def test_unknown_detector_is_refused_at_upload(client, tmp_path):
    video = tmp_path / "two-shots.mp4"
    make_video(video, shots=2)
    response = await upload(client, video, params='{"detector": "magic"}')
    assert response.status_code == 422
    assert "detector" in response.text


async def test_a_second_attempt_replaces_the_clips_of_the_first(client, pool, tmp_path):
    video = tmp_path / "two-shots.mp4"
    make_video(video, shots=2, seconds_per_shot=2.0)
    response = await upload(client, video, params='{"min_clip_ms": 500, "max_clip_ms": 1800}')
    job_id, asset_id = uuid.UUID(response.json()["job_id"]), uuid.UUID(response.json()["asset_id"])
    first = (await client.post("/jobs/process")).json()
    assert first["status"] == "completed", first.get("error")
    before = await pool.fetch("SELECT id, rank, thumbnail_path FROM clips WHERE job_id = $1 ORDER BY rank", job_id)
    assert len(before) == first["result"]["clips_created"] >= 2
    await pool.execute("UPDATE jobs SET status = 'pending', run_at = now() WHERE id = $1", job_id)  # as a retry
    again = (await client.post("/jobs/process")).json()
    assert again["job_id"] == str(job_id)
    assert again["status"] == "completed", again.get("error")
    after = await pool.fetch("SELECT id, rank, thumbnail_path FROM clips WHERE asset_id = $1 ORDER BY rank", asset_id)
    assert [r["rank"] for r in after] == [r["rank"] for r in before]  # replaced, not added to
    assert {r["id"] for r in after}.isdisjoint({r["id"] for r in before})
    assert [str(r["id"]) for r in after] == [v["clip_id"] for v in again["result"]["variants"]]
    assert all(r["thumbnail_path"] for r in after)
