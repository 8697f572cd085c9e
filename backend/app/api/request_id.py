"""Request ids: every response carries ``X-Request-ID`` (the client's, if well-formed, else a new one), every
log line written while serving it names it, and every JSON error body includes it as ``request_id``. An
unhandled exception is logged with its traceback and answered with a bare 500: no stack trace, SQL or server
path ever reaches a client. One that says the database cannot be reached now (refused or broken connections,
a server shutting down or refusing new sessions, a full pool) is not the request's fault nor a bug: it is
answered 503 with ``Retry-After`` and logged in one line, without a traceback."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import asyncpg
import sqlalchemy.exc
from starlette.datastructures import MutableHeaders

from app.core.logging import request_id

log = logging.getLogger("app.api")

HEADER = "X-Request-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")
RETRY_AFTER_S = 5  # what a 503 for an unreachable database asks clients to wait

# What the database being away looks like from a request: the server refuses or drops connections (down,
# restarting, shutting down, out of connection slots) or a connection broke in the middle of a statement. The
# operating system's side of it (refused, reset, no such host or socket, no answer) is an OSError or a
# TimeoutError, which count only when the driver raised them (`_raised_by_driver`).
_UNREACHABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InternalClientError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
)


def database_unreachable(exc: BaseException) -> str | None:
    """Why `exc` (or what it wraps, the drivers' and SQLAlchemy's layers) says the database cannot be reached
    now, in a few words; None for any other failure. An OSError (a refused connection, a server's socket file
    gone) or a bare TimeoutError counts only when the driver raised it, not a handler's own (a file it could not
    read is a bug to see, a service it called being down is not the database's)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if (
            isinstance(e, _UNREACHABLE)
            or (isinstance(e, OSError | TimeoutError) and _raised_by_driver(e))
            or (isinstance(e, sqlalchemy.exc.DBAPIError) and e.connection_invalidated)
        ):
            first = (str(e).strip().splitlines() or [""])[0][:200]
            return f"{type(e).__name__}: {first}" if first else type(e).__name__
        todo += [e.__cause__, e.__context__, getattr(e, "orig", None)]
    return None


def _raised_by_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg"):
            return True
        tb = tb.tb_next
    return False


class RequestIdMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(HEADER.lower().encode(), b"").decode("latin-1")
        rid = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        response = _ErrorBody(send, rid, scope)
        try:
            await self.app(scope, receive, response.send)
        except Exception as exc:
            why = database_unreachable(exc)
            if why is not None and not response.started:
                log.warning("%s %s -> 503: the database is unreachable (%s)", scope["method"], scope["path"], why)
                await response.unavailable()
                return
            log.exception("%s %s failed", scope["method"], scope["path"])
            if response.started:
                raise
            await response.internal_error()
        finally:
            request_id.reset(token)


class _ErrorBody:
    """Wraps `send`: adds the header, and the request id to JSON error bodies (held back until complete)."""

    def __init__(self, send: Any, rid: str, scope: Any) -> None:
        self._send = send
        self._rid = rid
        self._scope = scope
        self._start: dict[str, Any] | None = None
        self._chunks: list[bytes] = []
        self.started = False

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            headers = MutableHeaders(scope=message)
            headers[HEADER] = self._rid
            if message["status"] >= 400 and headers.get("content-type", "").startswith("application/json"):
                self._start = message
                return
        elif message["type"] == "http.response.body" and self._start is not None:
            self._chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await self._flush()
            return
        await self._send(message)

    async def _flush(self) -> None:
        assert self._start is not None
        body = b"".join(self._chunks)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            data.setdefault("request_id", self._rid)
            body = json.dumps(data).encode()
        status = self._start["status"]
        level = logging.ERROR if status >= 500 else logging.INFO
        detail = data.get("detail") if isinstance(data, dict) else None
        log.log(level, "%s %s -> %d %s", self._scope["method"], self._scope["path"], status, str(detail)[:300])
        headers = MutableHeaders(scope=self._start)
        headers["content-length"] = str(len(body))
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": body})

    async def internal_error(self) -> None:
        await self._error(500, "internal server error")

    async def unavailable(self) -> None:
        detail = f"the database is unreachable; try again in {RETRY_AFTER_S} s"
        await self._error(503, detail, [(b"retry-after", str(RETRY_AFTER_S).encode())])

    async def _error(self, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        body = json.dumps({"detail": detail, "request_id": self._rid}).encode()
        await self._send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (HEADER.lower().encode(), self._rid.encode()),
                    *(extra or []),
                ],
            }
        )
        await self._send({"type": "http.response.body", "body": body})
