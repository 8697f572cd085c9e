"""Refuse cross-site state-changing requests (CSRF), in every environment, before any route runs.

Browsers say where a request comes from: ``Sec-Fetch-Site`` (cross-site, same-site, same-origin, none) and
``Origin`` on every cross-origin POST. A request that a browser marks as coming from another site, or whose
Origin is not this server (nor one of ALLOWED_ORIGINS), is refused with 403 whatever it carries: a form on
any web page cannot enqueue work, upload files or cancel jobs, even on an open development instance. Clients
that are not browsers send neither header and are unaffected.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site_reason(headers: Headers, allowed_origins: frozenset[str]) -> str | None:
    """Why this request must be refused as cross-site, or None."""
    origin = headers.get("origin")
    if origin is not None and origin.rstrip("/") in allowed_origins:
        return None
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site in ("cross-site", "same-site"):
        return f"Sec-Fetch-Site is {fetch_site}"
    if origin is None:
        return None
    if origin == "null":
        return "Origin is null (a sandboxed or file page)"
    if urlsplit(origin).netloc.lower() != (headers.get("host") or "").lower():
        return f"Origin {origin} is not this server"
    return None


class CrossSiteGuard:
    """ASGI middleware: 403 for a state-changing request that a browser sent from another site."""

    def __init__(self, app: Any, allowed_origins: list[str]) -> None:
        self.app = app
        self.allowed = frozenset(o.rstrip("/") for o in allowed_origins)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            reason = cross_site_reason(Headers(scope=scope), self.allowed)
            if reason is not None:
                response = JSONResponse({"detail": f"cross-site request refused: {reason}"}, status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
