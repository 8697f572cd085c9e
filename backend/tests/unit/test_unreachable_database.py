"""Which failures of a request mean "the database is unreachable" (503) and which are bugs (500)."""

from __future__ import annotations

import socket

import asyncpg
import pytest
import sqlalchemy.exc
from app.api.request_id import database_unreachable


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def _wrapped(inner: BaseException) -> BaseException:
    """As SQLAlchemy hands a driver's failure on: a DBAPIError whose cause is the driver's exception."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise sqlalchemy.exc.InterfaceError("SELECT 1", {}, exc) from exc
    except sqlalchemy.exc.DBAPIError as outer:
        return outer


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    ],
)
def test_connection_failures_are_an_unreachable_database_bare_or_wrapped(exc: BaseException) -> None:
    assert database_unreachable(_raised(exc)) is not None
    assert database_unreachable(_wrapped(exc)) is not None


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError(2, "No such file or directory"),  # a handler's own file, not the server's socket
        ConnectionRefusedError(111, "Connection refused"),  # a service the handler called, not the database
        TimeoutError(),  # a handler's own wait
        PermissionError(13, "Permission denied"),
        asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
        asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
        ValueError("bad"),
    ],
)
def test_other_failures_are_not(exc: BaseException) -> None:
    assert database_unreachable(_raised(exc)) is None
    assert database_unreachable(_wrapped(exc)) is None


async def test_a_connection_the_driver_could_not_open_is_an_unreachable_database() -> None:
    """The operating system's refusal, as the driver raises it (a port bound by nobody who listens), bare and
    wrapped."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections to it are refused
        try:
            await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", timeout=5)
        except OSError as exc:
            refused = exc
        else:
            raise AssertionError("a connection to a port nobody listens on was accepted")
    assert database_unreachable(refused) is not None
    assert database_unreachable(_wrapped_by_driver(refused)) is not None


def _wrapped_by_driver(inner: BaseException) -> BaseException:
    try:
        raise sqlalchemy.exc.OperationalError("connect", {}, inner) from inner
    except sqlalchemy.exc.DBAPIError as outer:
        return outer
