"""/docs and /redoc work without internet: every script, style and icon they name is served by the app."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_api_docs_name_only_local_assets_and_each_answers(client, page):
    html = (await client.get(page)).text
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)
    assets = [u for u in urls if u != "/openapi.json"]
    assert assets, html
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "://" not in html  # no CDN, no absolute address
    for url in assets:
        response = await client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 100, url
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "Skiplock"
