"""The published OpenAPI schema, completed with what is only known once job types have registered: the names
`job_type` takes (as an enum, so that clients and fuzzers see the choices; the check itself stays the API's)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.worker import DISPATCH_TABLE


def describe_job_types(app: FastAPI) -> None:
    """Make `app.openapi()` name the registered job types in JobCreate.job_type."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        schema = plain()
        job_type = schema["components"]["schemas"]["JobCreate"]["properties"]["job_type"]
        if DISPATCH_TABLE and "enum" not in job_type:
            job_type["enum"] = sorted(DISPATCH_TABLE)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
