"""Command line: `python -m app serve|worker|migrate|enqueue|show|list|cancel|retry|stats|settings|keys|audit`."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from app import cli_keys, cli_webhooks
from app.core.config import Settings, get_settings
from app.core.db import ConfigurationError
from app.core.logging import configure_logging

if TYPE_CHECKING:
    from app.schemas import JobCreate

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT = 0, 1, 2, 3, 4


def _settings(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    configure_logging(
        getattr(args, "log_level", None) or settings.log_level, getattr(args, "log_format", None) or settings.log_format
    )
    return settings


# -- serve / worker / migrate ---------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args)
    if args.no_worker:
        settings.worker_enabled = False
    settings.bind_host = args.host  # on 127.0.0.1 in development the API may run open; anywhere else, keys
    from app.main import create_app

    # uvicorn re-raises the SIGTERM it caught once it has shut down; turn that into a normal exit so that
    # exit handlers run (they stop the embedded PostgreSQL when this was its last user).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None)
    return EXIT_OK


async def _run_worker(settings: Settings, args: argparse.Namespace) -> int:
    from app.runtime import Runtime

    runtime = await Runtime.start(settings)
    worker = runtime.worker(
        concurrency=args.concurrency,
        prefetch=args.prefetch,
        queues=[q for q in (args.queues or "").split(",") if q] or None,
    )
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            worker.stop()
        else:  # a second signal: don't wait for in-flight jobs, release them now
            worker.config.shutdown_grace = 0
            worker.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await worker.run()
    finally:
        await runtime.close()
    return EXIT_OK


def worker_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.worker", description="Run a Skiplock worker process.")
    _worker_flags(parser)
    return cmd_worker(parser.parse_args(argv))


def _worker_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", "-c", type=int, help="jobs in flight (default WORKER_CONCURRENCY)")
    parser.add_argument("--queues", "-q", help="comma-separated queues to serve (default: all)")
    parser.add_argument(
        "--prefetch", type=_prefetch, help="jobs claimed ahead of free slots, or `auto` (default WORKER_PREFETCH)"
    )
    parser.add_argument("--log-format", choices=["text", "json"])
    parser.add_argument("--log-level")


def _prefetch(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of jobs or 'auto', not {value!r}") from None


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed (uvicorn[standard] brings it, as the API runs on it); else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(_run_worker(settings, args))


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.core import db, migrations

    settings = _settings(args)
    url = db.resolve_direct_url(settings, db.resolve_database_url(settings))  # a session advisory lock
    if args.downgrade:
        migrations.downgrade(url, args.downgrade)
    else:
        migrations.upgrade(url, args.revision)
    print(f"migrations applied: now at {args.downgrade or args.revision}")
    return EXIT_OK


# -- job commands (straight to the database) ----------------------------------------------------------
async def _with_runtime(settings: Settings, action: Callable[[Any], Awaitable[int]]) -> int:
    from app.runtime import Runtime

    runtime = await Runtime.start(settings, migrate=False)
    try:
        return await action(runtime)
    finally:
        await runtime.close()


def _print_job(row: Any) -> None:
    data = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in dict(row).items()}
    for key in ("params", "result"):
        if isinstance(data.get(key), str):
            data[key] = json.loads(data[key])
    print(json.dumps(data, indent=2, default=str))


def _enqueue_request(args: argparse.Namespace, settings: Settings) -> JobCreate:
    """The command's job as the API would take it (app.schemas.JobCreate); ValueError says what is wrong."""
    from pydantic import ValidationError

    from app.schemas import JobCreate

    if len(args.params.encode("utf-8", "surrogatepass")) > settings.max_request_bytes:
        raise ValueError(f"params are larger than the limit of {settings.max_request_bytes} bytes (MAX_REQUEST_BYTES)")
    try:
        params = json.loads(args.params)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"params is not valid JSON: {exc}") from None
    fields = {"job_type": args.job_type, "params": params, "queue": args.queue, "priority": args.priority}
    try:
        return JobCreate.model_validate({**fields, "idempotency_key": args.idempotency_key})
    except ValidationError as exc:
        raise ValueError(
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False))
        ) from None


def cmd_enqueue(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from app.runtime import load_handlers
    from app.worker import queue
    from app.worker.dispatcher import UnknownJobType, build_job

    settings = _settings(args)
    load_handlers(settings)
    try:
        request = _enqueue_request(args, settings)
        new = build_job(
            request.job_type,
            request.params,
            default_max_attempts=settings.default_max_attempts,
            queue=request.queue,
            priority=request.priority,
            idempotency_key=request.idempotency_key,
        )
    except (ValueError, UnknownJobType, ValidationError) as exc:  # ValidationError: params of the job type
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def action(rt: Any) -> int:
        job_id, created = await queue.enqueue(rt.pool, new)
        if not created:
            if differences := await queue.idempotency_conflicts(rt.pool, new):
                print(
                    f"error: idempotency key {new.idempotency_key!r} was used for a different request (job {job_id}); "
                    f"it differs in {'; '.join(differences)}",
                    file=sys.stderr,
                )
                return EXIT_CONFLICT
            print("(existing job with this idempotency key)", file=sys.stderr)
        print(job_id)
        return await _follow(rt, job_id) if args.follow else EXIT_OK

    return asyncio.run(_with_runtime(settings, action))


async def _follow(rt: Any, job_id: uuid.UUID) -> int:
    """Draw a progress bar until the job finishes; exit code 0 only if it completed."""
    last = None
    while True:
        row = await rt.pool.fetchrow(
            "SELECT status::text, progress, progress_message, error FROM jobs WHERE id=$1", job_id
        )
        finished = row["status"] in ("completed", "failed", "cancelled")
        # A progress message describes work in flight; once the job has ended it would be stale (the last
        # report before the end), so the final line shows the status alone and blanks the old message.
        message = "" if finished else (row["progress_message"] or "")[:40]
        state = (row["status"], round(row["progress"]), message)
        if (state != last and sys.stderr.isatty()) or finished:
            filled = int(row["progress"] / 5)
            line = f"[{'#' * filled}{'.' * (20 - filled)}] {row['progress']:5.1f}% {row['status']:<10} {message:<40}"
            sys.stderr.write("\r" + line)
            sys.stderr.flush()
            last = state
        if finished:
            sys.stderr.write("\n")
            if row["error"]:
                print(row["error"], file=sys.stderr)
            return EXIT_OK if row["status"] == "completed" else EXIT_ERROR
        await asyncio.sleep(0.3)


def _storable(text: str) -> str:
    """An argument that is going to the database as text (argparse says why it is refused, exit 2)."""
    from app.core.storable import storable_text

    try:
        return storable_text(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _job_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a job id: {text!r}") from None


def cmd_show(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def action(rt: Any) -> int:
        if args.follow:
            return await _follow(rt, args.job_id)
        row = await rt.pool.fetchrow("SELECT *, status::text AS status FROM jobs WHERE id = $1", args.job_id)
        if row is None:
            print(f"job {args.job_id} not found", file=sys.stderr)
            return EXIT_NOT_FOUND
        _print_job(row)
        return EXIT_OK

    return asyncio.run(_with_runtime(settings, action))


def cmd_list(args: argparse.Namespace) -> int:
    from app.models import Job, JobStatus, newest_jobs

    settings = _settings(args)
    try:
        status = JobStatus(args.status) if args.status else None
    except ValueError:
        print(f"unknown status {args.status!r}; one of: {', '.join(JobStatus)}", file=sys.stderr)
        return EXIT_USAGE
    filters = [Job.status == status] if status else []
    if args.job_type:
        filters.append(Job.job_type == args.job_type)

    async def action(rt: Any) -> int:
        async with rt.sessionmaker() as session:
            listing = newest_jobs(filters, status, args.limit, by_type=bool(args.job_type) and status is None)
            jobs = (await session.scalars(listing)).all()
        print(f"{'id':36}  {'type':16} {'status':10} {'att':>3} {'prog':>5}  created")
        for j in jobs:
            print(
                f"{j.id}  {j.job_type[:16]:16} {j.status.value:10} {j.attempts:>3} "
                f"{j.progress:>5.0f}  {j.created_at:%Y-%m-%d %H:%M:%S}"
            )
        return EXIT_OK

    return asyncio.run(_with_runtime(settings, action))


def cmd_cancel(args: argparse.Namespace) -> int:
    from app.worker import queue

    settings = _settings(args)

    async def action(rt: Any) -> int:
        async with rt.pool.acquire() as conn:
            before = await queue.request_cancel(conn, args.job_id)
        if before is None:
            print(f"job {args.job_id} not found", file=sys.stderr)
            return EXIT_NOT_FOUND
        if before in ("completed", "failed", "cancelled"):
            print(f"job {args.job_id} is already {before}", file=sys.stderr)
            return EXIT_CONFLICT
        print("cancelled" if before != "processing" else "cancel requested; the worker will stop it")
        return EXIT_OK

    return asyncio.run(_with_runtime(settings, action))


def cmd_retry(args: argparse.Namespace) -> int:
    from app.worker import queue

    settings = _settings(args)

    async def action(rt: Any) -> int:
        if await queue.requeue(rt.pool, args.job_id):
            print("re-queued")
            return EXIT_OK
        status = await rt.pool.fetchval("SELECT status::text FROM jobs WHERE id = $1", args.job_id)
        print(
            f"job {args.job_id} "
            + ("not found" if status is None else f"is {status}; only failed or cancelled jobs can be retried"),
            file=sys.stderr,
        )
        return EXIT_NOT_FOUND if status is None else EXIT_CONFLICT

    return asyncio.run(_with_runtime(settings, action))


def cmd_stats(args: argparse.Namespace) -> int:
    from app.worker import stats

    settings = _settings(args)

    async def action(rt: Any) -> int:
        async with rt.pool.acquire() as conn:
            counts = await stats.counts(conn)
            depth = await stats.queue_depth(conn)
            durations = await stats.durations(conn, args.minutes)
            workers = await stats.workers(conn, settings.lease_seconds)
        if args.json:
            print(
                json.dumps(
                    {"counts": counts, "queues": depth, "durations": durations, "workers": workers},
                    default=str,
                    indent=2,
                )
            )
            return EXIT_OK
        by_status: dict[str, int] = {}
        for row in counts:
            by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        print(
            "jobs:    " + "  ".join(f"{k}={v}" for k, v in sorted(by_status.items())) if by_status else "jobs:    none"
        )
        for q in depth:
            depth = ("≈" if q["estimated"] else "") + str(q["depth"])  # estimated above stats.EXACT_UP_TO
            print(f"queue {q['queue']:<12} depth={depth:<7} oldest={q['oldest_age_seconds']:.1f}s")
        alive = [w for w in workers if w["alive"]]
        print(f"workers: {len(alive)} alive, {sum(w['jobs_in_hand'] for w in alive)} jobs in hand")
        if durations:
            print(f"last {args.minutes} min:  type             finished  failed%    p50 s    p95 s")
            for d in durations:
                print(
                    f"  {d['job_type']:<26} {d['finished']:>8} {100 * d['failure_rate']:>7.1f} "
                    f"{d['p50_seconds']:>8.3f} {d['p95_seconds']:>8.3f}"
                )
        return EXIT_OK

    return asyncio.run(_with_runtime(settings, action))


def cmd_settings(args: argparse.Namespace) -> int:
    from app.core.settings_view import effective, markdown_table

    sys.stdout.write(markdown_table() if args.markdown else effective(get_settings()))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="Skiplock: PostgreSQL-native job runner.",
        epilog="Exit codes: 0 ok, 1 error or job not completed, 2 usage, 3 not found, 4 conflict.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the API (with the embedded worker unless --no-worker)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-worker", action="store_true", help="don't start the embedded worker")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run a standalone worker")
    _worker_flags(p)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("revision", nargs="?", default="head")
    p.add_argument("--downgrade", metavar="REV", help="downgrade to REV instead (e.g. base)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("enqueue", help="enqueue a job: enqueue TYPE '{\"param\": 1}'")
    p.add_argument("job_type")
    p.add_argument("params", nargs="?", default="{}", help="JSON object")
    p.add_argument("--queue")
    p.add_argument("--priority", type=int)
    p.add_argument("--idempotency-key")
    p.add_argument("--follow", "-f", action="store_true", help="show a progress bar until the job ends")
    p.set_defaults(func=cmd_enqueue)

    p = sub.add_parser("show", help="show a job")
    p.add_argument("job_id", type=_job_id)
    p.add_argument("--follow", "-f", action="store_true", help="show a progress bar until the job ends")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("list", help="list recent jobs")
    p.add_argument("--status")
    p.add_argument("--job-type", type=_storable)
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("stats", help="queue statistics: counts, depth, workers, durations")
    p.add_argument("--minutes", type=int, default=15, help="window for durations (default 15)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("settings", help="print the settings in effect, one VARIABLE=value a line")
    p.add_argument("--markdown", action="store_true", help="print the README's table of every setting instead")
    p.set_defaults(func=cmd_settings)

    for name, func, text in (("cancel", cmd_cancel, "cancel a job"), ("retry", cmd_retry, "re-queue a failed job")):
        p = sub.add_parser(name, help=text)
        p.add_argument("job_id", type=_job_id)
        p.set_defaults(func=func)
    cli_keys.add_commands(sub, _settings)
    cli_webhooks.add_commands(sub, _settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
