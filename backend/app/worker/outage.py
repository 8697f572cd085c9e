"""Database outages as operators want to read them: one line when the database becomes unreachable, one when it
is back, and the failures in between at DEBUG, whichever part of the worker (claims, acknowledgements, leases,
LISTEN, reaper) ran into them."""

from __future__ import annotations

import logging
import threading
import time

import asyncpg

log = logging.getLogger("app.worker")

# What losing the database looks like to asyncpg: the server went away or refuses connections for now (a
# restart), the socket broke, or a connection was left unusable by a failure in the middle of a statement.
CONNECTION_TROUBLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)


def is_connection_trouble(exc: BaseException) -> bool:
    return isinstance(exc, CONNECTION_TROUBLE)


def describe(exc: BaseException) -> str:
    """The first line of an exception's message, with its type: enough to tell a refused connection from a
    server shutdown, without a traceback."""
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        # asyncpg's own state machine speaking ("cannot switch to state 12; another operation (2) is in
        # progress") when the server ended the session in the middle of a statement: say what happened.
        return "the connection broke in the middle of a statement (InternalClientError)"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


SETTLE = 1.0  # seconds of statements going through before the database counts as back (a restart flaps)


class Outage:
    """Tracks whether the database is reachable, for every part of one worker (thread-safe).

    A restarting server answers some statements between refusals; the database counts as back once
    statements have gone through, without a failure, for `SETTLE` seconds, and the line then says how long
    it was away (from the first failure to the first success that lasted)."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._good_since: float | None = None
        self._lock = threading.Lock()

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, what: str, exc: BaseException, retry_in: float) -> None:
        """`what` failed for want of the database; the first failure of an outage is a WARNING."""
        with self._lock:
            first = self._since is None
            if first:
                self._since = time.monotonic()
            self._good_since = None
        if first:
            log.warning("database unreachable, retrying in %.1f s (%s: %s)", retry_in, what, describe(exc))
        else:
            log.debug("%s: database still unreachable (%s); retrying in %.1f s", what, describe(exc), retry_in)

    def ok(self) -> None:
        """A statement went through: ends the outage, if one was going on (cheap when none is)."""
        if self._since is None:
            return
        now = time.monotonic()
        with self._lock:
            since, good_since = self._since, self._good_since
            if since is None:
                return
            if good_since is None:
                self._good_since = now
                return
            if now - good_since < SETTLE:
                return
            self._since = self._good_since = None
        log.info("database back after %.1f s", good_since - since)
