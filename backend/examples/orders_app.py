"""A host application that embeds Skiplock: its own FastAPI app, its own table, Skiplock's routers and lifespan.

    DATABASE_URL=postgresql://... uvicorn --factory examples.orders_app:create_orders_app   (from backend/)

`POST /orders` writes the app's own row and the job that confirms it in one transaction: both exist, or
neither. With `?wait=true` the request also waits for the job's outcome (woken by NOTIFY, no polling loop).
Skiplock's API and dashboard are served beside the app's routes (`/jobs`, `/workflows`, `/`, ...).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from app.core.config import Settings, get_settings
from app.main import include_skiplock, skiplock_lifespan
from app.worker import JobContext, enqueue, job_type, wait
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import DateTime, Integer, Text, func, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "example_orders"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    item: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[uuid.UUID | None]
    confirmed_at: Mapped[Any] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[Any] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ConfirmParams(BaseModel):
    order_id: uuid.UUID


@job_type("example_confirm_order", params=ConfirmParams, description="Marks an example order confirmed.")
async def confirm_order(ctx: JobContext, params: ConfirmParams) -> dict[str, Any]:
    async with ctx.resource("sessionmaker")() as session, session.begin():
        await session.execute(
            text("UPDATE example_orders SET confirmed_at = now() WHERE id = :id"), {"id": params.order_id}
        )
    return {"order_id": str(params.order_id), "confirmed": True}


class OrderIn(BaseModel):
    item: str = Field(min_length=1, max_length=200)
    quantity: int = Field(ge=1, le=1000)


class OrderOut(BaseModel):
    id: uuid.UUID
    job_id: uuid.UUID
    job_status: str | None = None


async def session_dep(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.sessionmaker() as session:
        yield session


Session = Annotated[AsyncSession, Depends(session_dep)]


def create_orders_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    skiplock = skiplock_lifespan(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with skiplock(app):  # the database, migrations, event hub and (if enabled) a worker
            async with app.state.runtime.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)  # the app's own schema (its own migrations in real life)
            yield

    app = FastAPI(title="Orders (a Skiplock host)", lifespan=lifespan)
    include_skiplock(app, settings)

    @app.post("/orders", response_model=OrderOut, status_code=201)
    async def create_order(body: OrderIn, session: Session, request: Request, wait_for_it: bool = False) -> OrderOut:
        """The order and its confirmation job, in one transaction."""
        async with session.begin():
            order = Order(item=body.item, quantity=body.quantity)
            session.add(order)
            await session.flush()
            order.job_id = await enqueue(session, "example_confirm_order", {"order_id": str(order.id)})
        out = OrderOut(id=order.id, job_id=order.job_id)
        if wait_for_it:
            outcome = await wait(request.app.state.runtime.pool, order.job_id, timeout=60)
            out.job_status = outcome.status
        return out

    @app.get("/orders/{order_id}")
    async def get_order(order_id: uuid.UUID, session: Session) -> dict[str, Any]:
        order = await session.get(Order, order_id)
        if order is None:
            raise HTTPException(404, f"order {order_id} not found")
        return {"id": order.id, "item": order.item, "job_id": order.job_id, "confirmed": order.confirmed_at is not None}

    return app
