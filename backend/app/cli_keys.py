"""`python -m app keys create|list|revoke` and `python -m app audit`: API keys and the audit log, straight
to the database (whoever can run this can read the database anyway)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from app.core import audit, db, keys
from app.core.config import Settings

EXIT_OK, EXIT_USAGE, EXIT_NOT_FOUND = 0, 2, 3


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment (a bare container)
        return "cli"


async def _with_pool(settings: Settings, action: Callable[[Any], Awaitable[int]]) -> int:
    import asyncpg

    from app.core import migrations

    url = db.resolve_direct_url(settings, await asyncio.to_thread(db.resolve_database_url, settings))
    await asyncio.to_thread(migrations.upgrade, url)
    conn = await asyncpg.connect(url)
    try:
        return await action(conn)
    finally:
        await conn.close()


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    async def action(conn: Any) -> int:
        try:
            key, token = await keys.create(conn, args.name, args.owner or args.name, keys.Scope(args.scope))
        except keys.InvalidKeyRequest as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        detail = {"name": key.name, "owner": key.owner, "scope": key.scope.value}
        await audit.record(conn, actor=_actor(), action="key.create", target=f"key:{key.prefix}", detail=detail)
        print(token)
        print(
            f"key {key.prefix} ({key.scope.value}, owner {key.owner}) created; this is the only time it is shown",
            file=sys.stderr,
        )
        return EXIT_OK

    return asyncio.run(_with_pool(settings, action))


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async def action(conn: Any) -> int:
        rows = await keys.list_all(conn)
        if args.json:
            print(json.dumps([vars(k) for k in rows], default=str, indent=2))
            return EXIT_OK
        print(f"{'prefix':10}  {'scope':5}  {'owner':20} {'name':20} {'created':19}  revoked")
        for k in rows:
            revoked = f"{k.revoked_at:%Y-%m-%d %H:%M:%S}" if k.revoked_at else "-"
            print(
                f"{k.prefix:10}  {k.scope.value:5}  {k.owner[:20]:20} {k.name[:20]:20} "
                f"{k.created_at:%Y-%m-%d %H:%M:%S}  {revoked}"
            )
        return EXIT_OK

    return asyncio.run(_with_pool(settings, action))


def cmd_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def action(conn: Any) -> int:
        async with conn.transaction():
            key = await keys.revoke(conn, args.key)
            if key is None:
                print(f"no active key with id or prefix {args.key!r}", file=sys.stderr)
                return EXIT_NOT_FOUND
            await audit.record(conn, actor=_actor(), action="key.revoke", target=f"key:{key.prefix}")
        print(f"key {key.prefix} revoked (owner {key.owner}); it is refused from the next request on")
        return EXIT_OK

    return asyncio.run(_with_pool(settings, action))


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    async def action(conn: Any) -> int:
        for e in reversed(await audit.recent(conn, args.limit, None, args.action)):
            key = f" key={e['key_prefix']}" if e["key_prefix"] else ""
            detail = f" {json.dumps(e['detail'])}" if e["detail"] else ""
            print(f"{e['at']:%Y-%m-%d %H:%M:%S}  {e['action']:12} {e['target'] or '-'}  by {e['actor']}{key}{detail}")
        return EXIT_OK

    return asyncio.run(_with_pool(settings, action))


def add_commands(sub: Any, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Register `keys …` and `audit` on the main parser's subcommands."""

    def run(command: Callable[[Settings, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        return lambda args: command(settings_of(args), args)

    keys_parser = sub.add_parser("keys", help="create, list and revoke API keys")
    key_sub = keys_parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    p = key_sub.add_parser("create", help="create a key and print it (once)")
    p.add_argument("--name", required=True, help="what the key is for, e.g. 'ci' or 'alice-laptop'")
    p.add_argument("--scope", required=True, choices=[s.value for s in keys.Scope])
    p.add_argument("--owner", help="whose jobs and files it acts on (default: the name)")
    p.set_defaults(func=run(cmd_create))
    p = key_sub.add_parser("list", help="list keys (never their secrets)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run(cmd_list))
    p = key_sub.add_parser("revoke", help="revoke a key by id or prefix")
    p.add_argument("key", help="the key's id or prefix (as `keys list` shows it)")
    p.set_defaults(func=run(cmd_revoke))

    p = sub.add_parser("audit", help="show the audit log (cancel, retry, key creation and revocation)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--action", help="only this action, e.g. job.cancel")
    p.set_defaults(func=run(cmd_audit))
