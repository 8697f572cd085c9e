"""The published OpenAPI schema, completed with what is only known once the app is assembled: the names
`job_type` takes (as an enum, so that clients and fuzzers see the choices; the check itself stays the API's),
and the 401 and 403 answers each route's access rule can give."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.api.access import Rule, route_rules
from app.worker import DISPATCH_TABLE

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
_UNAUTHENTICATED = {"description": "No key, or a key that is unknown or revoked", "content": _ERROR}
_FORBIDDEN = {
    "description": "The key's scope does not allow it, or a cross-site request to change state",
    "content": _ERROR,
}


def describe_job_types(app: FastAPI) -> None:
    """Make `app.openapi()` name the registered job types in JobCreate.job_type."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        schema = plain()
        job_type = schema["components"]["schemas"]["JobCreate"]["properties"]["job_type"]
        if DISPATCH_TABLE and "enum" not in job_type:
            job_type["enum"] = sorted(DISPATCH_TABLE)
        _describe_access(app, schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_access(app: FastAPI, schema: dict[str, Any]) -> None:
    """Declare 401 on every route a key is needed for, and 403 where a scope or the cross-site check refuses."""
    for (method, path), rule in route_rules(app).items():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is None or rule is None:
            continue
        responses = operation.setdefault("responses", {})
        if rule is not Rule.public:
            responses.setdefault("401", _UNAUTHENTICATED)
        if rule in (Rule.write, Rule.admin, Rule.metrics) or method not in ("GET", "HEAD"):
            responses.setdefault("403", _FORBIDDEN)
