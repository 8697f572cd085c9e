"""POST /upload: stored, hashed, asset + job in one transaction, idempotent, and every refusal."""

from __future__ import annotations

import hashlib
import io
import json
import uuid

from PIL import Image

from tests.support.waiting import job_row


def png_bytes(size: tuple[int, int] = (64, 48), shade: int = 200) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, shade).save(buf, format="PNG")
    return buf.getvalue()


def stored_files(settings) -> list:
    folder = settings.storage_dir / "uploads"
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


async def test_upload_stores_file_and_creates_asset_and_job(client, settings, pool):
    data = png_bytes()
    response = await client.post(
        "/upload", files={"file": ("page.png", data, "image/png")}, data={"job_type": "test_file"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "image"
    assert body["size_bytes"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    asset = await pool.fetchrow("SELECT * FROM assets WHERE id = $1", __import__("uuid").UUID(body["asset_id"]))
    assert (settings.storage_dir / asset["stored_path"]).read_bytes() == data
    assert asset["original_filename"] == "page.png"
    assert asset["content_type"] == "image/png"
    job = await job_row(pool, body["job_id"])
    assert job["status"] == "pending"
    assert job["asset_id"] == asset["id"]
    assert job["job_type"] == "test_file"


async def test_image_upload_defaults_to_restoration_job(client):
    response = await client.post("/upload", files={"file": ("scan.png", png_bytes(), "image/png")})
    assert response.status_code == 201
    assert response.json()["job_type"] == "restoration"


async def test_idempotent_upload_returns_same_asset_and_job_and_stores_once(client, settings):
    headers = {"Idempotency-Key": "upload-42"}
    files = {"file": ("a.png", png_bytes(), "image/png")}
    first = await client.post("/upload", files=files, data={"job_type": "test_file"}, headers=headers)
    second = await client.post("/upload", files=files, data={"job_type": "test_file"}, headers=headers)
    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json()["asset_id"] == second.json()["asset_id"]
    assert first.json()["job_id"] == second.json()["job_id"]
    assert second.json()["created"] is False
    assert len(stored_files(settings)) == 1


async def test_empty_file_is_400_and_nothing_stored(client, settings, pool):
    response = await client.post("/upload", files={"file": ("e.png", b"", "image/png")})
    assert response.status_code == 400
    assert "empty" in response.json()["detail"]
    assert stored_files(settings) == []
    assert await pool.fetchval("SELECT count(*) FROM assets") == 0


async def test_file_over_limit_is_413_and_nothing_stored(client, settings, pool):
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (settings.max_upload_bytes + 10)
    response = await client.post("/upload", files={"file": ("big.png", big, "image/png")})
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert stored_files(settings) == []
    assert await pool.fetchval("SELECT count(*) FROM assets") == 0


async def test_unsupported_type_is_415_and_nothing_stored(client, settings, pool):
    response = await client.post("/upload", files={"file": ("notes.png", b"just some text\n" * 10, "image/png")})
    assert response.status_code == 415
    assert "unsupported" in response.json()["detail"]
    assert stored_files(settings) == []
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_hostile_filename_is_stored_under_generated_name_inside_storage(client, settings, pool):
    for name in ("../../etc/passwd.png", "a/b\\c.png", "evil\x00\x1b[31m.png"):
        response = await client.post(
            "/upload", files={"file": (name, png_bytes(), "image/png")}, data={"job_type": "test_file"}
        )
        assert response.status_code == 201, response.text
        asset = await pool.fetchrow(
            "SELECT * FROM assets WHERE id = $1", __import__("uuid").UUID(response.json()["asset_id"])
        )
        path = (settings.storage_dir / asset["stored_path"]).resolve()
        assert path.is_relative_to(settings.storage_dir.resolve())
        assert path.exists()
        assert "/" not in (asset["original_filename"] or "")
        assert "\\" not in (asset["original_filename"] or "")
        assert all(c.isprintable() for c in asset["original_filename"] or "")
        assert name not in asset["stored_path"]


async def test_unknown_job_type_or_bad_params_on_upload_is_422_and_nothing_stored(client, settings):
    files = {"file": ("a.png", png_bytes(), "image/png")}
    assert (await client.post("/upload", files=files, data={"job_type": "nope"})).status_code == 422
    assert (await client.post("/upload", files=files, data={"job_type": "sleep", "params": "{bad"})).status_code == 422
    assert (
        await client.post("/upload", files=files, data={"job_type": "sleep", "params": '{"seconds": -1}'})
    ).status_code == 422
    assert stored_files(settings) == []


async def test_chunked_upload_over_the_limit_is_413_at_once_and_keeps_no_file(client, settings, pool, tmp_path):
    """No Content-Length: the body is counted as it comes, and refused once past the limit, not read to its end."""
    chunk = b"\0" * 256 * 1024
    sent = 0
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n\x89PNG\r\n\x1a\n'

    async def endless():
        nonlocal sent
        yield head
        while sent < 100 * settings.max_upload_bytes:  # would be 200 MB
            sent += len(chunk)
            yield chunk

    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    response = await client.post("/upload", content=endless(), headers=headers)
    assert response.status_code == 413
    assert "upload limit" in response.json()["detail"]
    assert sent <= settings.max_upload_bytes + settings.max_request_bytes + 64 * 1024 + len(chunk)
    assert stored_files(settings) == []
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_file_of_a_kind_the_job_type_does_not_take_is_422_at_upload(client, settings, pool):
    files = {"file": ("a.png", png_bytes(), "image/png")}
    for job_type, says in [("cut_analysis", "takes a file of kind video, not image"), ("noop", "takes no uploaded")]:
        response = await client.post("/upload", files=files, data={"job_type": job_type})
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "job_type"]
        assert says in error["msg"]
        assert "restoration" in error["msg"]
    assert stored_files(settings) == []
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_tasks_say_which_file_kinds_each_job_type_takes(client):
    accepts = {t["name"]: t["accepts"] for t in (await client.get("/tasks")).json()}
    assert accepts["cut_analysis"] == ["video"]
    assert accepts["clip_export"] == ["video"]
    assert accepts["restoration"] == ["image"]
    assert accepts["quality_assessment"] == ["image"]
    assert accepts["noop"] == []
    assert accepts["training"] == []


async def test_storage_that_cannot_be_written_is_503_with_retry_after_and_records_nothing(client, settings, pool):
    """The server's own storage failing (here its uploads folder is not a folder; a full or read-only disk fails the
    same way) is not the client's fault: 503, Retry-After, a reason without the server's paths, no asset and no job;
    once the storage is mended the same upload goes through."""
    settings.storage_dir.mkdir(parents=True, exist_ok=True)
    blocker = settings.storage_dir / "uploads"
    blocker.write_bytes(b"not a folder")
    response = await client.post("/upload", files={"file": ("page.png", png_bytes(), "image/png")})
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "30"
    detail = response.json()["detail"]
    assert "could not store the file" in detail
    assert str(settings.storage_dir) not in detail
    assert await pool.fetchval("SELECT count(*) FROM assets") == 0
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0
    blocker.unlink()
    again = await client.post("/upload", files={"file": ("page.png", png_bytes(), "image/png")})
    assert again.status_code == 201, again.text
    assert len(stored_files(settings)) == 1


def _image_bytes(fmt: str, pages: int = 1, size: tuple[int, int] = (64, 48)) -> bytes:
    frames = [Image.new("L", size, 60 * (k + 1)) for k in range(pages)]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=pages > 1, append_images=frames[1:])
    return buf.getvalue()


async def test_unusable_images_are_415_naming_why_and_nothing_is_stored(client, settings, pool):
    """A multi-page TIFF (a fax, a scanned document) was taken and its first page restored, the others lost
    without a word; a broken or oversized image was taken and failed in its job. Each is refused at upload
    with the reason, under the name it was uploaded with or none."""
    cases = [
        ("fax.tif", _image_bytes("TIFF", pages=3), "3 pages"),
        ("anim.webp", _image_bytes("WEBP", pages=2), "2 pages or frames"),
        ("cut.png", png_bytes((300, 200))[:120], "corrupt or truncated"),
        ("junk.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not a readable image"),
        ("huge.png", png_bytes((9000, 8000)), "exceeds the limit"),
    ]
    for name, data, reason in cases:
        response = await client.post("/upload", files={"file": (name, data, "image/png")})
        assert response.status_code == 415, (name, response.text)
        detail = response.json()["detail"]
        assert detail.startswith("not a usable image: "), detail
        assert reason in detail, detail
        assert "the uploaded file" in detail, detail  # not the generated name it would have had
    assert stored_files(settings) == []
    assert await pool.fetchval("SELECT count(*) FROM assets") == 0
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_a_readable_image_is_taken_with_its_size_recorded(client, pool):
    for name, data in (
        ("page.tif", _image_bytes("TIFF")),
        ("page.webp", _image_bytes("WEBP")),
        ("page.png", png_bytes()),
    ):
        response = await client.post("/upload", files={"file": (name, data, "image/png")})
        assert response.status_code == 201, response.text
        meta = await pool.fetchval("SELECT metadata FROM assets WHERE id = $1", uuid.UUID(response.json()["asset_id"]))
        meta = json.loads(meta) if isinstance(meta, str) else meta
        assert (meta["width"], meta["height"], meta["pages"]) == (64, 48, 1)
