"""A real PgBouncer in transaction-pooling mode in front of the test database's server, for tests.

It writes its ini and user list into a temporary folder, listens on a free port of 127.0.0.1 and forwards any
database name to the server of the test database (TCP host and port, or the unix socket of the embedded server).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit


def pgbouncer_binary() -> str | None:
    """The pgbouncer executable (Debian installs it in /usr/sbin, often not on a user's PATH), or None."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_address(server_url: str) -> tuple[str, int]:
    """host (a name, an address or a unix socket folder) and port of the PostgreSQL server of `server_url`."""
    parts = urlsplit(server_url)
    socket_dir = parse_qs(parts.query).get("host", [None])[0]
    if socket_dir:
        sockets = sorted(Path(socket_dir).glob(".s.PGSQL.*"))
        port = int(sockets[0].suffix[1:]) if sockets and sockets[0].suffix[1:].isdigit() else 5432
        return socket_dir, parts.port or port
    return parts.hostname or "127.0.0.1", parts.port or 5432


def _user_for_root(host: str) -> list[str]:
    """PgBouncer refuses to run as root: as root, run it as an unprivileged user, the owner of the server's
    socket folder when it connects through one (the embedded server's folder is that user's alone)."""
    if os.geteuid() != 0:
        return []
    if host.startswith("/"):
        with contextlib.suppress(KeyError, OSError):
            return ["-u", pwd.getpwuid(Path(host).stat().st_uid).pw_name]
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return ["-u", name]
    return []


@contextlib.contextmanager
def running_pgbouncer(server_url: str, *, pool_size: int = 4) -> Iterator[str]:
    """Start PgBouncer (pool_mode = transaction, `pool_size` server connections per database and user) and
    yield `server_url` rewritten to go through it (same user and database)."""
    binary = pgbouncer_binary()
    if binary is None:
        raise RuntimeError("pgbouncer is not installed")
    parts = urlsplit(server_url)
    user = parts.username or "postgres"
    host, port = _server_address(server_url)
    listen = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    folder.chmod(0o755)  # read by the unprivileged user PgBouncer switches to when started as root
    (folder / "userlist.txt").write_text(f'"{user}" "{parts.password or ""}"\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "userlist.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
server_check_query = SELECT 1
"""
    )
    for name in ("userlist.txt", "pgbouncer.ini"):
        (folder / name).chmod(0o644)
    log = open(folder / "pgbouncer.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([binary, *_user_for_root(host), str(folder / "pgbouncer.ini")], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", listen)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start: {(folder / 'pgbouncer.log').read_text()[-2000:]}")
            time.sleep(0.05)
        netloc = f"{user}{':' + parts.password if parts.password else ''}@127.0.0.1:{listen}"
        yield urlunsplit(parts._replace(netloc=netloc, query=""))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
