"""API keys over HTTP, for admins: list them (never their secrets), create one (its token shown once), revoke
one. The CLI (`python -m app keys …`) does the same straight on the database, for the first key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.access import AdminPrincipal, audit_as, require
from app.api.deps import RuntimeDep
from app.api.errors import REFUSED_FIELD, errors
from app.core import keys

router = APIRouter(prefix="/keys", tags=["keys"], dependencies=[Depends(require(keys.Scope.admin))])
JSON_BODY = errors(e400="The body is not JSON", e413="The body is larger than MAX_REQUEST_BYTES", e422=REFUSED_FIELD)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
    scope: keys.Scope
    owner: Annotated[str, Field(pattern=keys.OWNER_PATTERN, description="Whose jobs and files the key acts on.")]


class KeyOut(BaseModel):
    id: str
    prefix: str
    name: str
    owner: str
    scope: keys.Scope
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")


def _out(key: keys.ApiKey) -> KeyOut:
    return KeyOut(**{**vars(key), "id": str(key.id)})


@router.get("", response_model=list[KeyOut])
async def list_keys(runtime: RuntimeDep) -> list[KeyOut]:
    return [_out(k) for k in await keys.list_all(runtime.pool)]


@router.post(
    "",
    response_model=KeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses=JSON_BODY,
)
async def create_key(body: KeyCreate, runtime: RuntimeDep, principal: AdminPrincipal) -> KeyCreated:
    async with runtime.pool.acquire() as conn, conn.transaction():
        try:
            key, token = await keys.create(conn, body.name, body.owner, body.scope)
        except keys.InvalidKeyRequest as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        detail = {"name": key.name, "owner": key.owner, "scope": key.scope.value}
        await audit_as(conn, principal, "key.create", f"key:{key.prefix}", detail)
    return KeyCreated(**_out(key).model_dump(), key=token)


@router.post(
    "/{id_or_prefix}/revoke",
    response_model=KeyOut,
    responses=errors(e404="No active key with this id or prefix", e422=REFUSED_FIELD),
)
async def revoke_key(id_or_prefix: str, runtime: RuntimeDep, principal: AdminPrincipal) -> KeyOut:
    async with runtime.pool.acquire() as conn, conn.transaction():
        key = await keys.revoke(conn, id_or_prefix)
        if key is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no active key with id or prefix {id_or_prefix!r}")
        await audit_as(conn, principal, "key.revoke", f"key:{key.prefix}")
    return _out(key)
