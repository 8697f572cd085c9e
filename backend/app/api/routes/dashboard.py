"""The operator dashboard: one static page (HTML, JS modules, CSS) that talks to the JSON API.

No build step and nothing from a CDN: every file lives in `app/web/` and is served from here."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, status
from fastapi.responses import FileResponse, RedirectResponse

from app.api.access import public

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

# A plain file name, optionally inside js/ (the page's script modules); no other folders, no dot-files.
_NAME = re.compile(r"(?:js/)?[A-Za-z0-9][A-Za-z0-9_-]{0,100}\.(html|js|css|svg|png|ico)")
_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
}
# The page itself is re-validated on every load; the assets it names may be cached briefly.
_NO_CACHE = {"Cache-Control": "no-cache"}

# The page and its files are public: it signs in with a key before it shows anything.
router = APIRouter(tags=["dashboard"], include_in_schema=False, dependencies=[Depends(public)])


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.api_route("/dashboard", methods=["GET", "HEAD"])
async def dashboard() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type=_TYPES["html"], headers=_NO_CACHE)


@router.api_route("/dashboard/static/{name:path}", methods=["GET", "HEAD"])
async def dashboard_asset(name: str) -> FileResponse:
    """A file of the dashboard: a plain name, or js/ and a plain name; known types only."""
    # The name is checked before it touches the file system; the resolved path is checked again all the same.
    match = _NAME.fullmatch(name)
    if match is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such dashboard file")
    path = (WEB_DIR / name).resolve()
    if not path.is_relative_to(WEB_DIR) or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such dashboard file")
    return FileResponse(path, media_type=_TYPES[match.group(1)], headers=_NO_CACHE)


def mount(app: FastAPI) -> None:
    """Add the dashboard to an app (same as `app.include_router(router)`)."""
    app.include_router(router)
