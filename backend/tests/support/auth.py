"""API keys and clients of an app that requires them (production, or bound to a public interface)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from app.core import keys
from app.core.config import Settings
from app.main import create_app


async def create_key(pool: Any, owner: str, scope: str, name: str | None = None) -> str:
    """A new key's token."""
    async with pool.acquire() as conn:
        _, token = await keys.create(conn, name or f"{owner}-{scope}", owner, keys.Scope(scope))
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def keys_required(settings: Settings, **overrides: Any) -> Settings:
    """The test settings, with keys required: development bound to every interface (so that development-only
    routes exist too), unless overridden."""
    return settings.model_copy(update={"bind_host": "0.0.0.0", **overrides})


@asynccontextmanager
async def app_client(settings: Settings, base_url: str = "http://127.0.0.1:8000") -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            http.app = app  # type: ignore[attr-defined]
            yield http
