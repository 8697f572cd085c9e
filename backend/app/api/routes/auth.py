"""Dashboard sign-in: trade an API key for an HttpOnly session cookie, see who is signed in, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.api import sessions
from app.api.access import authenticate, check_csrf, public
from app.api.deps import RuntimeDep
from app.api.errors import REFUSED_FIELD, errors
from app.core import keys

router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[Depends(public)])
JSON_BODY = errors(e400="The body is not JSON", e413="The body is larger than MAX_REQUEST_BYTES", e422=REFUSED_FIELD)


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(min_length=1, max_length=200, description="An API key (sk_…).")]


class SessionOut(BaseModel):
    authenticated: bool
    owner: str | None = None
    scope: keys.Scope | None = None
    key_prefix: str | None = None
    via: str | None = Field(None, description="bearer, cookie (signed in) or open (development on 127.0.0.1)")
    csrf_token: str | None = Field(None, description="Send as X-CSRF-Token with state-changing requests.")


@router.post(
    "/login",
    response_model=SessionOut,
    responses={**errors(e401="Invalid or revoked key"), **JSON_BODY},
)
async def login(body: SignIn, request: Request, response: Response, runtime: RuntimeDep) -> SessionOut:
    """Sign in with an API key: the answer sets the session cookie (HttpOnly, SameSite=Strict, Secure over
    HTTPS). The key itself is kept nowhere in the browser."""
    key = await keys.find_active(runtime.pool, body.key.strip())
    if key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked API key")
    token, csrf = await sessions.create(runtime.pool, key, runtime.settings.session_hours)
    response.set_cookie(
        sessions.COOKIE,
        token,
        max_age=int(runtime.settings.session_hours * 3600),
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
        path="/",
    )
    return SessionOut(
        authenticated=True, owner=key.owner, scope=key.scope, key_prefix=key.prefix, via="cookie", csrf_token=csrf
    )


@router.get("/session", response_model=SessionOut)
async def current(request: Request) -> SessionOut:
    """Who this request acts as (cookie, bearer key, or the open local mode); `authenticated: false` if no one."""
    principal = await authenticate(request)
    if principal is None:
        return SessionOut(authenticated=False, via=None, csrf_token=None)
    return SessionOut(
        authenticated=True,
        owner=principal.owner,
        scope=principal.scope,
        key_prefix=principal.key_prefix,
        via=principal.via,
        csrf_token=principal.csrf_token,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(e403="Missing or wrong X-CSRF-Token"))
async def logout(request: Request, response: Response, runtime: RuntimeDep) -> None:
    """End the session of this cookie (it needs the session's CSRF token) and clear the cookie."""
    principal = await authenticate(request)
    token = request.cookies.get(sessions.COOKIE)
    if principal is not None and principal.via == "cookie" and token:
        check_csrf(request, principal)
        await sessions.end(runtime.pool, token)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict")
