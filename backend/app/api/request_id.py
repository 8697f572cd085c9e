"""Request ids: every response carries ``X-Request-ID`` (the client's, if well-formed, else a new one), every
log line written while serving it names it, and every JSON error body includes it as ``request_id``. An
unhandled exception is logged with its traceback and answered with a bare 500: no stack trace, SQL or server
path ever reaches a client."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders

from app.core.logging import request_id

log = logging.getLogger("app.api")

HEADER = "X-Request-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")


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
        except Exception:
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
        body = json.dumps({"detail": "internal server error", "request_id": self._rid}).encode()
        await self._send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (HEADER.lower().encode(), self._rid.encode()),
                ],
            }
        )
        await self._send({"type": "http.response.body", "body": body})
