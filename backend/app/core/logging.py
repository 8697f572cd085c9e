"""Logging set-up: plain text or one JSON object per line; job lines carry job_id and job_type."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# The id of the HTTP request being served (set by the API's request-id middleware); on every log line.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args: object, **kwargs: object) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if (rid := request_id.get()) is not None:
        record.request_id = rid
    return record


def stamp_request_ids() -> None:
    """Stamp each log record with the request being served when it was made (idempotent)."""
    if logging.getLogRecordFactory() is not _record_with_request_id:
        logging.setLogRecordFactory(_record_with_request_id)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class Chatter(logging.Filter):
    """Lines of libraries that narrate what Skiplock itself reports in one line: the embedded PostgreSQL's
    start-up blocks (pgserver) and asyncpg's retries and tracebacks while the database is away (the worker
    says "database unreachable, retrying in N s" and "database back after N s"). They are shown at DEBUG,
    without tracebacks; errors stay as they are."""

    LIBRARIES = ("pgserver", "asyncpg")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR or not record.name.startswith(self.LIBRARIES):
            return True
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        if record.exc_info:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if (rid := getattr(record, "request_id", None)) is not None:
            line = f"{line} [request={rid}]"
        job_id = getattr(record, "job_id", None)
        if job_id:
            return f"{line} [job={job_id} type={getattr(record, 'job_type', '?')}]"
        return line


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    stamp_request_ids()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(Chatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("asyncio", "sqlalchemy.engine", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
