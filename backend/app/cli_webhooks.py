"""`python -m app webhooks create|list|delete|deliveries|redeliver`: an owner's webhook endpoints and their
deliveries, straight to the database (as `keys` does)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

from app.cli_keys import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, _actor, _with_pool
from app.core import audit
from app.core.config import Settings
from app.webhooks import addresses, store


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an id: {text!r}") from None


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    async def action(conn: Any) -> int:
        policy = addresses.Policy(settings.webhooks_allow_private, settings.webhooks_allow_http)
        try:
            await addresses.resolve(addresses.check_url(args.url, policy), policy)
        except addresses.RefusedURL as exc:
            print(f"error: url: {exc}", file=sys.stderr)
            return EXIT_USAGE
        attempts = args.max_attempts or settings.webhooks_max_attempts
        async with conn.transaction():
            hook, secret = await store.create(
                conn,
                args.owner,
                args.url,
                description=args.description,
                all_jobs=not args.named_only,
                max_attempts=attempts,
            )
            detail = {"url": hook.url, "all_jobs": hook.all_jobs}
            await audit.record(
                conn, actor=_actor(), action="webhook.create", target=f"webhook:{hook.id}", detail=detail
            )
        print(secret)
        print(f"webhook {hook.id} (owner {hook.owner}) created; its signing secret is shown this once", file=sys.stderr)
        return EXIT_OK

    return asyncio.run(_with_pool(settings, action))


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async def action(conn: Any) -> int:
        hooks = await store.listed(conn, args.owner)
        if args.json:
            print(json.dumps([vars(h) for h in hooks], default=str, indent=2))
            return EXIT_OK
        for h in hooks:
            scope = "all jobs" if h.all_jobs else "named jobs"
            print(f"{h.id}  {h.owner[:20]:20} {scope:10}  {h.url}")
        return EXIT_OK

    return asyncio.run(_with_pool(settings, action))


def cmd_delete(settings: Settings, args: argparse.Namespace) -> int:
    async def action(conn: Any) -> int:
        async with conn.transaction():
            if not await store.delete(conn, args.webhook):
                print(f"no webhook {args.webhook}", file=sys.stderr)
                return EXIT_NOT_FOUND
            await audit.record(conn, actor=_actor(), action="webhook.delete", target=f"webhook:{args.webhook}")
        print(f"webhook {args.webhook} deleted with its deliveries")
        return EXIT_OK

    return asyncio.run(_with_pool(settings, action))


def cmd_deliveries(settings: Settings, args: argparse.Namespace) -> int:
    async def action(conn: Any) -> int:
        if await store.get(conn, args.webhook) is None:
            print(f"no webhook {args.webhook}", file=sys.stderr)
            return EXIT_NOT_FOUND
        found = await store.deliveries(conn, args.webhook, status=args.status, limit=args.limit)
        if args.json:
            print(json.dumps(found, default=str, indent=2))
            return EXIT_OK
        for d in found:
            print(f"{d['id']}  {d['event_type']:14} {d['status']:9} attempts={d['attempts']}  job {d['job_id']}")
            for r in d["responses"]:
                answer = r["status_code"] if r["status_code"] is not None else r["error"]
                print(f"    #{r['attempt']} {r['at']:%Y-%m-%d %H:%M:%S}  {r['duration_ms']:.0f} ms  {answer}")
        return EXIT_OK

    return asyncio.run(_with_pool(settings, action))


def cmd_redeliver(settings: Settings, args: argparse.Namespace) -> int:
    async def action(conn: Any) -> int:
        async with conn.transaction():
            new_id = await store.redeliver(conn, args.delivery)
            if new_id is None:
                print(f"no delivery {args.delivery}", file=sys.stderr)
                return EXIT_NOT_FOUND
            detail = {"delivery": str(args.delivery)}
            await audit.record(
                conn, actor=_actor(), action="webhook.redeliver", target=f"delivery:{new_id}", detail=detail
            )
        print(f"delivery {new_id} queued: the same event as {args.delivery}, with fresh attempts")
        return EXIT_OK

    return asyncio.run(_with_pool(settings, action))


def add_commands(sub: Any, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Register `webhooks …` on the main parser's subcommands."""

    def run(command: Callable[[Settings, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        return lambda args: command(settings_of(args), args)

    parser = sub.add_parser("webhooks", help="webhook endpoints and their deliveries")
    hooks = parser.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    p = hooks.add_parser("create", help="register an endpoint and print its signing secret (once)")
    p.add_argument("url", help="https URL of the receiver")
    p.add_argument("--owner", required=True, help="whose jobs it hears of (an API key's owner)")
    p.add_argument("--description")
    p.add_argument("--named-only", action="store_true", help="only jobs that name it, not all of the owner's")
    p.add_argument("--max-attempts", type=int, choices=range(1, 101), metavar="1-100")
    p.set_defaults(func=run(cmd_create))
    p = hooks.add_parser("list", help="list endpoints (never their secrets)")
    p.add_argument("--owner")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run(cmd_list))
    p = hooks.add_parser("delete", help="delete an endpoint with its deliveries")
    p.add_argument("webhook", type=_uuid)
    p.set_defaults(func=run(cmd_delete))
    p = hooks.add_parser("deliveries", help="an endpoint's deliveries, each attempt with its answer")
    p.add_argument("webhook", type=_uuid)
    p.add_argument("--status", choices=["pending", "delivered", "failed"])
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run(cmd_deliveries))
    p = hooks.add_parser("redeliver", help="send a delivery's event again")
    p.add_argument("delivery", type=_uuid)
    p.set_defaults(func=run(cmd_redeliver))
