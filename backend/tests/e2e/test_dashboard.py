"""The operator dashboard in headless Chromium against a real server whose embedded worker runs the jobs."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from app.api.routes.dashboard import WEB_DIR
from playwright.sync_api import Page, Response, expect

from tests.support.media import make_video

FINISHED = {"completed", "failed", "cancelled"}


def enqueue(api: httpx.Client, job_type: str, params: dict[str, Any] | None = None, **extra: Any) -> str:
    response = api.post("/jobs", json={"job_type": job_type, "params": params or {}, **extra})
    assert response.status_code == 201, response.text
    return response.json()["job"]["id"]


def wait_status(api: httpx.Client, job_id: str, *statuses: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job {job_id} is {job['status']}, not {statuses}, after {timeout} s"
        time.sleep(0.1)


def rows(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#jobs-body tr")


def row_statuses(page: Page) -> list[str]:
    return rows(page).evaluate_all("trs => trs.map(tr => tr.dataset.status)")


def selected_job(page: Page, other_than: str | None = None) -> str:
    """The id of the job open in the detail panel (the page keeps it in its URL)."""
    page.wait_for_function(
        "(other) => { const m = location.search.match(/job=([0-9a-f-]{36})/); return m && m[1] !== other; }",
        arg=other_than,
    )
    return re.search(r"job=([0-9a-f-]{36})", page.url).group(1)  # type: ignore[union-attr]


def png_bytes() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 64), "white")
    draw = ImageDraw.Draw(image)
    for y in range(8, 60, 10):
        draw.line((6, y, 90, y), fill=(40, 40, 40), width=2)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def images_loaded(page: Page, selector: str) -> bool:
    return page.locator(selector).evaluate_all(
        "imgs => imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)"
    )


def test_dashboard_loads_and_shows_jobs_workers_and_charts(page: Page, api: httpx.Client) -> None:
    redirect = api.get("/", follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "/dashboard"
    done = [enqueue(api, "noop", {"n": i}) for i in range(3)]
    failed = enqueue(api, "fail", {"permanent": True, "message": "disk full"})
    for job_id in done:
        wait_status(api, job_id, "completed")
    wait_status(api, failed, "failed")

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page).to_have_title("Skiplock dashboard")
    for job_id in [*done, failed]:
        expect(page.locator(f'tr[data-id="{job_id}"]')).to_be_visible()
    expect(rows(page)).to_have_count(4)
    expect(page.locator(f'tr[data-id="{failed}"] .badge')).to_have_text("failed")
    expect(page.locator(f'tr[data-id="{done[0]}"] [role=progressbar]')).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#jobs-total")).to_have_text("4 jobs")
    expect(page.locator("#summary [data-status=completed] .n")).to_have_text("3")
    expect(page.locator("#summary [data-status=failed] .n")).to_have_text("1")
    expect(page.locator("#workers li.worker.alive")).to_have_count(1, timeout=10_000)
    expect(page.locator("#workers")).to_contain_text("slots busy")
    expect(page.locator("#throughput-chart svg rect.bar-completed").first).to_be_attached()
    expect(page.locator("#throughput-chart svg rect.bar-failed").first).to_be_attached()
    expect(page.locator("#durations")).to_contain_text("noop")
    unlabelled = page.evaluate("""[...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')).map(el => el.id || el.outerHTML)""")
    assert unlabelled == []

    page.locator(f'tr[data-id="{failed}"] button[data-open]').click()
    expect(page).to_have_url(re.compile(f"job={failed}"))
    detail = page.locator("#detail-body")
    expect(detail.locator("pre.error")).to_contain_text("disk full")
    expect(detail.locator(".facts")).to_contain_text(re.compile(r"Attempts\s*1 of \d"))
    expect(detail.locator("pre[aria-label=Params]")).to_contain_text('"permanent": true')


def test_every_script_module_is_served_as_javascript_and_the_page_loads_without_errors(page: Page) -> None:
    scripts: dict[str, str] = {}

    def note_script(response: Response) -> None:
        if response.request.resource_type == "script":
            scripts[response.url.split("/dashboard/static/", 1)[-1]] = response.headers.get("content-type", "")

    page.on("response", note_script)
    page.goto("/dashboard")
    # Each view has done its first work: the status chips, the task catalogue, the jobs table.
    expect(page.locator("#summary [data-status]")).to_have_count(7)  # one per status, waiting included
    expect(page.locator("#nj-type option[value=noop]")).to_be_attached()
    expect(page.locator("#updated")).to_contain_text("Updated")
    expect(page.locator("#jobs-empty")).to_be_visible()

    on_disk = {p.relative_to(WEB_DIR).as_posix() for p in (WEB_DIR / "js").glob("*.js")}
    assert set(scripts) == on_disk, "the page loads every module under js/ and nothing else"
    assert {name: ctype.split(";")[0] for name, ctype in scripts.items()} == dict.fromkeys(on_disk, "text/javascript")
    assert page.console_watch.errors == []  # type: ignore[attr-defined]


def test_new_job_form_shows_the_job_and_its_progress_bar_moves_to_completed(page: Page, api: httpx.Client) -> None:
    page.goto("/dashboard")
    expect(page.locator("#nj-type option[value=sleep]")).to_be_attached()
    page.locator("#nj-type").select_option("sleep")
    page.locator("#nj-params").fill('{"seconds": 3}')
    page.get_by_role("button", name="Enqueue job").click()
    expect(page.locator("#nj-msg")).to_contain_text("Enqueued: sleep job")
    job_id = selected_job(page)
    assert api.get(f"/jobs/{job_id}").json()["params"]["seconds"] == 3

    bar = "#detail-progress [role=progressbar]"
    page.wait_for_function(  # the bar moves while the job runs (Server-Sent Events)...
        f"() => {{ const v = Number(document.querySelector('{bar}')?.getAttribute('aria-valuenow'));"
        " return v > 0 && v < 100; }",
        timeout=10_000,
    )
    expect(page.locator(f'tr[data-id="{job_id}"] .badge')).to_have_text("processing")
    expect(page.locator("#detail-body .badge.st-completed")).to_be_visible(timeout=15_000)  # ...to the end
    expect(page.locator(bar)).to_have_attribute("aria-valuenow", "100")
    expect(page.locator(f'tr[data-id="{job_id}"] .badge')).to_have_text("completed")
    expect(page.locator("#detail-body pre[aria-label=Result]")).to_contain_text("slept")

    page.console_watch.allow(r"status of 422 .*/jobs'")  # type: ignore[attr-defined]
    page.locator("#nj-params").fill("[1, 2]")  # bad input is explained, not sent
    page.get_by_role("button", name="Enqueue job").click()
    expect(page.locator("#nj-msg")).to_contain_text("not a JSON object")
    page.locator("#nj-params").fill('{"seconds": -1}')
    page.get_by_role("button", name="Enqueue job").click()
    expect(page.locator("#nj-msg")).to_contain_text("params.seconds")


def test_uploads_show_clip_thumbnails_and_before_after_views(page: Page, api: httpx.Client, tmp_path: Path) -> None:
    video = tmp_path / "three-shots.mp4"
    make_video(video, shots=3, seconds_per_shot=1.0)
    image = tmp_path / "page.png"
    image.write_bytes(png_bytes())

    page.goto("/dashboard")
    page.get_by_role("tab", name="Upload file").click()
    page.set_input_files("#up-file", str(video))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#up-msg")).to_contain_text("cut_analysis job")
    video_job = selected_job(page)
    expect(page.locator(f'tr[data-id="{video_job}"]')).to_be_visible()
    expect(page.locator("#detail-body .clips img").first).to_be_visible(timeout=20_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#detail-body .clips img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    clips = api.get(f"/jobs/{video_job}").json()["result"]["variants"]
    expect(page.locator("#detail-body .clip")).to_have_count(len(clips))

    page.set_input_files("#up-file", str(image))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#up-msg")).to_contain_text("restoration job")
    image_job = selected_job(page, other_than=video_job)
    assert image_job != video_job
    expect(page.locator("#detail-body .compare img.after")).to_be_visible(timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#detail-body .compare img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    expect(page.get_by_alt_text(re.compile("^Before"))).to_be_visible()
    # The panel may re-render once as the job's final state arrives; the slider must work on what is shown.
    for _ in range(3):
        page.locator(".compare input[type=range]").fill("20")
        if "20%" in (page.locator(".compare-stage").get_attribute("style") or ""):
            break
        page.wait_for_timeout(500)
    expect(page.locator(".compare-stage")).to_have_attribute("style", re.compile(r"20%"))

    page.console_watch.allow(r"status of 415 .*/upload'")  # type: ignore[attr-defined]
    page.set_input_files("#up-file", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"})
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#up-msg")).to_contain_text("Upload refused: unsupported file type")


def test_cancel_and_retry_from_the_page(page: Page, api: httpx.Client) -> None:
    job_id = enqueue(api, "sleep", {"seconds": 60})
    wait_status(api, job_id, "processing")
    page.goto(f"/dashboard?job={job_id}")
    detail = page.locator("#detail-body")
    expect(detail.locator(".badge.st-processing")).to_be_visible()
    message = page.locator("#action-msg")
    page.console_watch.allow(rf"status of 409 .*/jobs/{job_id}/(retry|cancel)'")  # type: ignore[attr-defined]

    detail.get_by_role("button", name="Retry job").click()  # the API's 409 is shown as it is
    expect(message).to_contain_text("only failed or cancelled jobs can be retried")

    detail.get_by_role("button", name="Cancel job").click()
    expect(detail.locator(".badge.st-cancelled")).to_be_visible(timeout=10_000)
    assert api.get(f"/jobs/{job_id}").json()["status"] == "cancelled"
    expect(page.locator(f'tr[data-id="{job_id}"] .badge').first).to_have_text("cancelled")

    detail.get_by_role("button", name="Cancel job").click()
    expect(message).to_contain_text("already cancelled")

    detail.get_by_role("button", name="Retry job").click()
    expect(message).to_contain_text("Re-queued")
    wait_status(api, job_id, "pending", "processing")
    expect(detail.locator(".badge.st-processing")).to_be_visible(timeout=10_000)
    expect(detail.locator(".facts")).to_contain_text("1 of")
    api.post(f"/jobs/{job_id}/cancel")
    wait_status(api, job_id, "cancelled")


def test_a_job_shows_its_workflow_and_its_nodes_open_their_jobs(
    page: Page,
    api: httpx.Client,
    screenshots: Path | None,  # type: ignore[no-untyped-def]
) -> None:
    scan = enqueue(api, "noop", {"step": "scan"})
    ocr = enqueue(api, "noop", {"step": "ocr"})
    merge = enqueue(api, "sleep", {"seconds": 3}, depends_on=[scan, ocr])
    report = enqueue(api, "noop", {"step": "report"}, depends_on=[merge])
    notify = enqueue(api, "noop", {"step": "notify"}, depends_on=[merge], run_anyway=True)
    wait_status(api, merge, "processing")
    page.goto(f"/dashboard?job={merge}")
    detail = page.locator("#detail-body")
    expect(detail.locator("#workflow-graph .wf-node")).to_have_count(5)
    expect(detail.locator("#workflow-graph .wf-col")).to_have_count(3)  # two roots, the merge, its two dependants
    expect(detail.locator('#workflow-graph .wf-node[aria-current="true"]')).to_contain_text("sleep")
    expect(detail.locator("#workflow-graph .wf-node.st-waiting")).to_have_count(2)
    if screenshots is not None:
        page.wait_for_timeout(300)
        detail.screenshot(path=str(screenshots / "workflow.png"))
    for job_id in (report, notify):
        wait_status(api, job_id, "completed")
    detail.locator(f'dl [data-job="{scan}"]').click()  # a parent opens its own job
    expect(page.locator("#detail-body .detail-head")).to_contain_text(scan)
    expect(page.locator("#detail-body dl").last).to_contain_text("sleep")


def test_filters_and_search_show_only_matching_rows(page: Page, api: httpx.Client) -> None:
    done = [enqueue(api, "noop", {"n": i}) for i in range(3)]
    failed = [enqueue(api, "fail", {"permanent": True}) for _ in range(2)]
    later = enqueue(
        api, "noop", {"later": True}, queue="reports", run_at="2999-01-01T00:00:00Z"
    )  # stays pending, on its own queue
    for job_id in done:
        wait_status(api, job_id, "completed")
    for job_id in failed:
        wait_status(api, job_id, "failed")

    page.goto("/dashboard")
    expect(rows(page)).to_have_count(6)

    page.locator("#f-status").select_option("failed")
    expect(rows(page)).to_have_count(2)
    assert row_statuses(page) == ["failed", "failed"]
    expect(page).to_have_url(re.compile("status=failed"))

    page.locator("#f-status").select_option("")
    page.locator("#f-type").select_option("noop")
    expect(rows(page)).to_have_count(4)
    assert set(rows(page).locator(".col-type").all_inner_texts()) == {"noop"}

    page.locator("#f-queue").select_option("reports")
    expect(rows(page)).to_have_count(1)
    expect(page.locator(f'tr[data-id="{later}"] .badge')).to_have_text("pending")

    page.get_by_role("button", name="Clear").click()
    expect(rows(page)).to_have_count(6)
    page.locator("#search").fill(failed[1][:6])  # an id prefix
    expect(rows(page)).to_have_count(1)
    expect(page.locator(f'tr[data-id="{failed[1]}"]')).to_be_visible()
    expect(page.locator("#search-note")).to_contain_text("ids starting with")
    page.locator("#search").fill("fai")  # a job type, filtered by the server
    expect(rows(page)).to_have_count(2)
    page.locator("#search").fill(later)  # a whole id
    expect(rows(page)).to_have_count(1)

    page.get_by_role("button", name="Clear").click()
    page.locator("#summary [data-status=completed]").click()  # the status counts in the header filter too
    expect(rows(page)).to_have_count(3)
    chip = page.locator("#summary [data-status=completed]")
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#f-status")).to_have_value("completed")

    # The next statistics refresh changes the count on the same chip, which keeps keyboard focus.
    pressed = chip.element_handle()
    wait_status(api, enqueue(api, "noop", {"n": 3}), "completed")
    expect(chip.locator(".n")).to_have_text("4", timeout=15_000)
    assert pressed.evaluate("el => el.isConnected && document.activeElement === el")


def test_paging_with_limit_and_offset(page: Page, api: httpx.Client) -> None:
    ids = [enqueue(api, "noop", {"n": i}, run_at="2999-01-01T00:00:00Z") for i in range(30)]
    listings: list[str] = []
    page.on("request", lambda r: listings.append(r.url) if "/jobs?" in r.url else None)
    page.goto("/dashboard?limit=25")
    expect(rows(page)).to_have_count(25)
    expect(page.locator("#page-info")).to_have_text("1–25 of 30")
    expect(page.get_by_role("button", name="← Newer")).to_be_disabled()
    page.get_by_role("button", name="Older →").click()
    expect(rows(page)).to_have_count(5)
    expect(page.locator("#page-info")).to_have_text("26–30 of 30")
    expect(page.locator(f'tr[data-id="{ids[0]}"]')).to_be_visible()  # the oldest is last
    expect(page.get_by_role("button", name="Older →")).to_be_disabled()
    # The pager read the second page through the first page's cursor, not by offset (as fast at any depth).
    second = [u for u in listings if "cursor=" in u]
    assert second, listings
    assert all("offset=" not in u for u in second)
    page.get_by_role("button", name="← Newer").click()
    expect(rows(page)).to_have_count(25)
    expect(page.locator("#page-info")).to_have_text("1–25 of 30")
    # A link to a deep page still opens it (by offset: no cursor is known yet).
    page.goto("/dashboard?limit=25&offset=25")
    expect(rows(page)).to_have_count(5)
    expect(page.locator("#page-info")).to_have_text("26–30 of 30")


def test_phone_layout_fits_and_opens_details(phone_page: Page, api: httpx.Client) -> None:
    page = phone_page
    job_id = enqueue(api, "fail", {"permanent": True, "message": "no space left on device"})
    for i in range(4):
        enqueue(api, "noop", {"n": i})
    wait_status(api, job_id, "failed")
    page.goto("/dashboard")
    expect(rows(page)).to_have_count(5)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate(
        "(() => { const w = document.querySelector('#jobs .table-wrap');"
        " return w.scrollWidth <= w.clientWidth + 1; })()"
    )
    expect(page.locator(f'tr[data-id="{job_id}"] .col-progress [role=progressbar]')).to_be_visible()
    page.locator(f'tr[data-id="{job_id}"] button[data-open]').click()
    expect(page.locator("#detail-body pre.error")).to_contain_text("no space left")
    expect(page.locator("#detail")).to_be_in_viewport()


def test_screenshots_for_the_docs(
    browser,
    server: str,
    api: httpx.Client,
    screenshots: Path | None,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    if screenshots is None:
        pytest.skip("set SKIPLOCK_SCREENSHOTS=1 to write docs/dashboard.png and docs/dashboard-mobile.png")
    for i in range(8):
        enqueue(api, "noop", {"n": i})
    enqueue(api, "fail", {"permanent": True, "message": "source bucket is not readable"})
    enqueue(api, "fail", {"times": 1})
    for seconds in (25, 40):
        enqueue(api, "sleep", {"seconds": seconds})
    for _ in range(3):
        enqueue(api, "sleep", {"seconds": 2}, queue="reports")
    enqueue(api, "noop", {}, run_at="2999-01-01T00:00:00Z")
    video = tmp_path / "shots.mp4"
    make_video(video, shots=5, seconds_per_shot=1.2, size=(320, 180))
    video_job = api.post("/upload", files={"file": ("shots.mp4", video.read_bytes(), "video/mp4")}).json()["job_id"]
    image_job = api.post("/upload", files={"file": ("page.png", png_bytes(), "image/png")}).json()["job_id"]
    wait_status(api, video_job, *FINISHED, timeout=30)
    wait_status(api, image_job, *FINISHED, timeout=30)

    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=server)
    page = context.new_page()
    page.goto(f"/dashboard?job={video_job}")
    expect(page.locator("#detail-body .clips img").first).to_be_visible()
    page.wait_for_function("() => [...document.querySelectorAll('img')].every(i => i.complete)")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshots / "dashboard.png"))
    context.close()

    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=server, device_scale_factor=2)
    page = context.new_page()
    page.goto("/dashboard")
    expect(rows(page).first).to_be_visible()
    page.evaluate("document.getElementById('jobs').scrollIntoView()")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(screenshots / "dashboard-mobile.png"))
    context.close()
