"""A host application embeds Skiplock: its own FastAPI app, table and route, Skiplock's routers and lifespan."""

from __future__ import annotations

import httpx
from examples.orders_app import create_orders_app


async def test_host_app_writes_its_row_and_job_atomically_and_serves_skiplock(settings, pool):
    app = create_orders_app(settings.model_copy(update={"worker_enabled": True}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            made = await http.post("/orders", params={"wait_for_it": True}, json={"item": "tea", "quantity": 2})
            assert made.status_code == 201
            assert made.json()["job_status"] == "completed"
            order = (await http.get(f"/orders/{made.json()['id']}")).json()
            assert order["confirmed"] is True
            job = (await http.get(f"/jobs/{order['job_id']}")).json()
            assert job["status"] == "completed"
            assert job["job_type"] == "example_confirm_order"
            refused = await http.post("/orders", json={"item": "", "quantity": 0})
            assert refused.status_code == 422
    assert await pool.fetchval("SELECT count(*) FROM example_orders") == 1
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE job_type = 'example_confirm_order'") == 1
