"""The dashboard's files over HTTP: each one served with its type (script modules as JavaScript, or the browser
refuses to run them), nothing outside the dashboard's folder reachable, and every file shipped in the package."""

from __future__ import annotations

import tomllib
from pathlib import Path

import httpx
import pytest
from app.api.routes.dashboard import WEB_DIR

ROOT = Path(__file__).resolve().parents[3]
APP_DIR = WEB_DIR.parent
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
WEB_FILES = sorted(p.relative_to(WEB_DIR).as_posix() for p in WEB_DIR.rglob("*") if p.is_file())


def test_the_dashboard_is_a_page_and_its_script_modules_under_js() -> None:
    assert "index.html" in WEB_FILES
    assert "js/main.js" in WEB_FILES
    assert all(Path(name).suffix in TYPES for name in WEB_FILES), WEB_FILES


@pytest.mark.parametrize("name", WEB_FILES)
async def test_every_dashboard_file_is_served_with_its_type(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/dashboard/static/{name}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == TYPES[Path(name).suffix]
    assert response.content == (WEB_DIR / name).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "%2E%2E/main.py",
        "..%2Fmain.py",
        "js%2F..%2F..%2Fmain.py",
        "js/%2E%2E/%2E%2E/main.py",
        "%2E%2E%2F%2E%2E%2Fpyproject.toml",
        "%2Fetc%2Fpasswd",
        "//etc/passwd",
        "..%5Cmain.py",
        "api/routes/dashboard.py",
        "js/sub/main.js",
        ".hidden.js",
        "js/.hidden.js",
        "index.html%00.js",
        "missing.js",
    ],
)
async def test_the_static_route_serves_nothing_outside_the_dashboard_folder(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(f"/dashboard/static/{path}")
    assert response.status_code == 404, (path, response.status_code, response.text[:200])
    assert b"import" not in response.content
    assert b"root:" not in response.content


def test_every_dashboard_file_is_package_data_for_a_non_editable_install() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["app"]
    found = {p for pattern in patterns for p in APP_DIR.glob(pattern)}
    shipped = {p.relative_to(WEB_DIR).as_posix() for p in found if p.is_relative_to(WEB_DIR)}
    assert set(WEB_FILES) - shipped == set()
