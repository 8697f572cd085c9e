"""Error answers: one body model (`ErrorOut`) for every 4xx, declared in the OpenAPI schema route by route, and
422s that name the refused field without echoing what was sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.schemas import ErrorOut

REFUSED_FIELD = "A field was refused; `detail` names each one and says why"


def errors(**described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for error answers with their descriptions: `errors(e404="No such job")`."""
    return {int(code.removeprefix("e")): {"model": ErrorOut, "description": text} for code, text in described.items()}


def field_error(loc: Sequence[str | int], msg: str, kind: str) -> HTTPException:
    """A 422 naming one field, shaped like pydantic's own errors."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{"loc": list(loc), "msg": msg, "type": kind}])


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 without the `input` and `ctx` it would echo: a hostile input (10 MB, a lone surrogate
    JSON cannot encode) must not come back in the answer."""
    assert isinstance(exc, RequestValidationError)
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def install(app: FastAPI, max_part_bytes: int) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        """The form parser's refusal of a text field over its size limit is a 400 naming no limit; it is a 413."""
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == status.HTTP_400_BAD_REQUEST and str(exc.detail).startswith("Part exceeded maximum size"):
            exc = HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"a form field is larger than the limit of {max_part_bytes} bytes (MAX_REQUEST_BYTES)",
            )
        return await http_exception_handler(request, exc)

    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
