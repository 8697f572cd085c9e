"""The HTTP API fuzzed against its own OpenAPI schema (schemathesis), in process, on the real test database:
no 5xx, and every answer's status code, body and content type as the schema declares them.

Settings (seed, examples, checks) are in schemathesis.toml; FUZZ_MAX_EXAMPLES raises the examples for a longer
run. `POST /jobs/process` is left out: it would run the fuzzed jobs (a `sleep` of a day, a training run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from app.core.config import Settings
from app.main import create_app
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

ROOT = Path(__file__).resolve().parents[3]
config = SchemathesisConfig.from_path(ROOT / "schemathesis.toml")
# The schema as the app publishes it (this builds no connection); each test calls `fuzzed_app`.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi(), config=config)
schema = schema.exclude(path="/jobs/process")
if os.environ.get("FUZZ_MAX_EXAMPLES"):
    schema.config.generation.update(max_examples=int(os.environ["FUZZ_MAX_EXAMPLES"]))


@pytest.fixture(scope="module")
def fuzzed_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    storage = tmp_path_factory.mktemp("fuzzed") / "storage"
    # Open development mode (the local administrator); test_fuzz_authenticated.py fuzzes with keys.
    settings = Settings(database_url=database_url, storage_dir=storage, worker_enabled=False, bind_host="127.0.0.1")
    app = create_app(settings)
    yield app
    asgi.shutdown_lifespans()  # schemathesis started the app's lifespan (its pools) for its first request


@schema.parametrize()
def test_api_answers_as_its_schema_says(case: schemathesis.Case, fuzzed_app: FastAPI) -> None:
    case.call_and_validate(app=fuzzed_app)
