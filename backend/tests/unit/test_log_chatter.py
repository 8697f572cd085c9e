"""Library chatter is shown at DEBUG, in one line, and errors stay: what operators read during an outage."""

from __future__ import annotations

import io
import logging

import pytest
from app.core.logging import configure_logging


@pytest.fixture
def captured():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()

    def configure(level: str) -> io.StringIO:
        configure_logging(level)
        logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
        return stream

    yield configure
    root.handlers[:], root.level = saved[0], saved[1]


def _log_outage_chatter() -> None:
    try:
        raise ConnectionRefusedError("connection refused")
    except ConnectionRefusedError:
        logging.getLogger("asyncpg.pool").warning("Failed to restore the pool connection floor", exc_info=True)
    logging.getLogger("pgserver").info("running initdb\n  with a block\n  of lines")


def test_pgserver_and_asyncpg_chatter_is_hidden_at_info(captured):
    stream = captured("INFO")
    _log_outage_chatter()
    logging.getLogger("app.worker").warning("database unreachable, retrying in 1.0 s")
    assert stream.getvalue().count("\n") == 1
    assert "database unreachable" in stream.getvalue()


def test_chatter_is_one_debug_line_without_traceback_at_debug(captured):
    stream = captured("DEBUG")
    _log_outage_chatter()
    lines = stream.getvalue().splitlines()
    assert "Traceback" not in stream.getvalue()
    assert lines[0].split()[2] == "DEBUG"
    assert "ConnectionRefusedError: connection refused" in lines[0]


def test_library_errors_are_not_hidden(captured):
    stream = captured("INFO")
    logging.getLogger("asyncpg.pool").error("pool is broken")
    assert "ERROR" in stream.getvalue()
    assert "pool is broken" in stream.getvalue()


def test_an_outage_line_says_what_happened_not_asyncpgs_protocol_state():
    import asyncpg
    from app.worker.outage import describe

    broken = asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress")
    assert describe(broken) == "the connection broke in the middle of a statement (InternalClientError)"
    assert describe(ConnectionRefusedError("Connect call failed")) == "ConnectionRefusedError: Connect call failed"
