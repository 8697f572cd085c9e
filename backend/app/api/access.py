"""Who is asking, and may they: API keys (``Authorization: Bearer``), dashboard sessions, open development.

Every route declares its rule with a dependency from here (``Depends(require(Scope.write))``, ``public``,
``metrics_access``); :func:`route_rules` reads the rules back from the app, for the test that holds every
route to the table and for the README's table.

- A bearer key that is malformed, unknown or revoked is refused (401) wherever it is sent.
- A dashboard session (cookie) acts with its key's scope; a state-changing request on a session must carry
  the session's CSRF token in ``X-CSRF-Token``.
- Without either, development bound to a loopback interface acts as the local administrator (owner
  ``local``); anything else answers 401.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import Mount

from app.api import sessions
from app.core import audit, keys
from app.core.keys import Scope
from app.core.logging import request_id

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOCAL_OWNER = "local"
CSRF_HEADER = "X-CSRF-Token"


class Rule(enum.StrEnum):
    public = "public"  # anyone
    read = "read"
    write = "write"
    admin = "admin"
    metrics = "metrics"  # the metrics token, or an admin key


@dataclass(frozen=True)
class Principal:
    owner: str
    scope: Scope
    key_prefix: str | None  # None: the open local mode
    via: Literal["bearer", "cookie", "open"]
    csrf_token: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.scope is Scope.admin


async def audit_as(
    conn: Any, principal: Principal, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """One audit-log entry for what `principal` did through the API, with its key and the request's id."""
    await audit.record(
        conn,
        actor=principal.owner,
        key_prefix=principal.key_prefix,
        action=action,
        target=target,
        detail=detail,
        request_id=request_id.get(),
    )


def _local_host(request: Request) -> bool:
    """Whether the Host header names this machine: a loopback address, or a name without a dot. A dotted
    name could be a public domain re-pointed at 127.0.0.1 (DNS rebinding) by a page the user visits."""
    host = request.headers.get("host", "")
    host = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return bool(host) and "." not in host


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send the API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


async def authenticate(request: Request) -> Principal | None:
    """The principal of this request (once per request), or None when it has no credentials."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    principal = await _resolve(request)
    request.state.principal = principal
    return principal


async def _resolve(request: Request) -> Principal | None:
    pool = request.app.state.runtime.pool
    token = _bearer(request)
    if token is not None:
        if token == request.app.state.settings.metrics_token:
            return None  # the scraper's token is no key; metrics_access checks it
        key = await keys.find_active(pool, token)
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"}
            )
        return Principal(key.owner, key.scope, key.prefix, "bearer")
    cookie = request.cookies.get(sessions.COOKIE)
    if cookie and (found := await sessions.find(pool, cookie)):
        key, csrf = found
        return Principal(key.owner, key.scope, key.prefix, "cookie", csrf)
    if request.app.state.settings.open_without_keys and _local_host(request):
        return Principal(LOCAL_OWNER, Scope.admin, None, "open")
    return None


def _unauthenticated() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "an API key is required: send 'Authorization: Bearer <key>' (create one with `python -m app keys create`)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def check_csrf(request: Request, principal: Principal) -> None:
    """A state-changing request on a session cookie must echo the session's CSRF token."""
    if principal.via != "cookie" or request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing or wrong {CSRF_HEADER} header for this session")


class require:
    """Dependency: the request's principal, which must hold `scope`."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.rule = Rule(scope.value)

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        if principal is None:
            raise _unauthenticated()
        if not principal.scope.allows(self.scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs a key with the {self.scope.value} scope; this key has {principal.scope.value}",
            )
        check_csrf(request, principal)
        return principal


async def public(request: Request) -> None:
    """Dependency of routes anyone may call."""


public.rule = Rule.public  # type: ignore[attr-defined]


async def metrics_access(request: Request) -> None:
    """/metrics: the scraper's own token (METRICS_TOKEN), or an admin principal."""
    expected = request.app.state.settings.metrics_token
    header = request.headers.get("authorization", "")
    if expected and hmac.compare_digest(header.encode(), f"Bearer {expected}".encode()):
        return
    await require(Scope.admin)(request)


metrics_access.rule = Rule.metrics  # type: ignore[attr-defined]

ReadPrincipal = Annotated[Principal, Depends(require(Scope.read))]
WritePrincipal = Annotated[Principal, Depends(require(Scope.write))]
AdminPrincipal = Annotated[Principal, Depends(require(Scope.admin))]


# -- the rule of each route -------------------------------------------------------------------------------
# fastapi_offline serves the documentation pages as routes of its own (the app's docs_url and redoc_url are
# None) and Swagger UI's and ReDoc's files from a mount of this name; those files are public.
_DOC_PAGES = ("/docs", "/redoc")
_DOC_ASSETS = "static-offline-docs"


def _docs_paths(app: FastAPI) -> set[str]:
    paths = {p for p in (app.openapi_url, app.docs_url, app.redoc_url, *_DOC_PAGES) if p}
    if app.swagger_ui_oauth2_redirect_url:
        paths.add(app.swagger_ui_oauth2_redirect_url)
    return paths


def _rules_of(dependant: Any) -> set[Rule]:
    found: set[Rule] = set()
    for dep in dependant.dependencies:
        rule = getattr(dep.call, "rule", None)
        if isinstance(rule, Rule):
            found.add(rule)
        found |= _rules_of(dep)
    return found


def route_rule(app: FastAPI, route: RouteContext) -> Rule | None:
    """The rule a route declares; None when it declares none (or several). The API's own documentation
    (schema, Swagger UI, ReDoc) needs any key where keys are required (see DocsGuard)."""
    if route.path in _docs_paths(app):
        return Rule.read
    if isinstance(route.original_route, APIRoute):
        rules = _rules_of(route.dependant)
        return rules.pop() if len(rules) == 1 else None
    if isinstance(route.original_route, Mount) and route.original_route.name == _DOC_ASSETS:
        return Rule.public
    return None


def route_rules(app: FastAPI) -> dict[tuple[str, str], Rule | None]:
    """(method, path) → rule, for every route of the app (HEAD folded into GET)."""
    table: dict[tuple[str, str], Rule | None] = {}
    for route in iter_route_contexts(app.routes):
        methods = sorted(route.methods or {"*"})
        for method in methods:
            if method == "HEAD" and "GET" in methods:
                continue
            table[(method, route.path or repr(route.original_route))] = route_rule(app, route)
    return table


_CELLS = {
    Rule.public: ("yes", "yes", "yes", "yes"),
    Rule.read: ("401", "yes", "yes", "yes"),
    Rule.write: ("401", "403", "yes", "yes"),
    Rule.admin: ("401", "403", "403", "yes"),
    Rule.metrics: ("401 (METRICS_TOKEN: yes)", "403", "403", "yes"),
}


def rule_table(app: FastAPI) -> str:
    """The scope × endpoint table as Markdown (README's "Access" section is this, for the full app)."""
    lines = ["| endpoint | rule | no key | read | write | admin |", "|---|---|---|---|---|---|"]
    rules = route_rules(app)
    for (method, path), rule in sorted(rules.items(), key=lambda item: (item[0][1], item[0][0])):
        cells = _CELLS[rule] if rule else ("?", "?", "?", "?")
        lines.append(f"| `{method} {path}` | {rule or 'NONE'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


class DocsGuard:
    """ASGI middleware: the documentation routes (plain routes, no dependencies) need a key where keys are
    required."""

    def __init__(self, app: Any, fastapi_app: FastAPI) -> None:
        self.app = app
        self.paths = _docs_paths(fastapi_app)

    async def __call__(self, scope: Any, receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            request = Request(scope, receive)
            try:
                if await authenticate(request) is None:
                    raise _unauthenticated()
            except HTTPException as exc:
                response = JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
