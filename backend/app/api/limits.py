"""Request bodies over a size limit: refused with 413 naming the limit, read no further than the limit.

A body that declares its length is refused before any of it is read; a chunked body (no Content-Length) is
counted as it arrives and refused as soon as it passes the limit, so that a client can never make the server
receive, parse or spool more than the limit. A pure ASGI middleware: it sees every `receive` of the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from `receive` while the app reads the body: FastAPI passes HTTPExceptions on, and answers 413."""

    def __init__(self, message: str) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, message)


class BodyLimit:
    """`limit_for(path)` gives the limit in bytes and the message of the 413 for a request path."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], tuple[int, str]]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, message = self.limit_for(scope["path"])
        if _declared_length(scope) > limit:
            await _refuse(send, message)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(message)
            return event

        async def watched_send(event: Message) -> None:
            nonlocal started
            started = started or event["type"] == "http.response.start"
            await send(event)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:  # read outside a route (a middleware): answer here, if nothing was sent yet
            if started:
                raise
            await _refuse(send, message)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status.HTTP_413_CONTENT_TOO_LARGE, "headers": headers})
    await send({"type": "http.response.body", "body": body})
