"""Settings: the only place that reads the environment (and `.env`).

Every field has a description: the README's Configuration table is rendered from them
(`python -m app settings --markdown`), and a test fails when the two disagree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class Settings(BaseSettings):
    """Skiplock configuration. Every field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str | None = Field(
        default=None,
        repr=False,  # it may hold a password; logged only through core.db.redacted
        description="`postgresql://…`. Unset in development: an embedded PostgreSQL (pgserver) in `EMBEDDED_PG_DIR`,"
        " shared by the API and worker processes. Unset in production: an error.",
    )
    database_direct_url: str | None = Field(
        default=None,
        repr=False,
        json_schema_extra={"shown_default": "`DATABASE_URL`"},
        description="`postgresql://…` straight to PostgreSQL, not through a pooler, for what needs a session: the"
        " LISTEN connections (worker wake-ups, job events), lease heartbeats and migrations (session advisory lock)."
        " Set it when `DATABASE_URL` goes through PgBouncer in transaction mode",
    )
    database_pooler: Literal["none", "transaction"] = Field(
        default="none",
        description="`transaction` when `DATABASE_URL` goes through a pooler in transaction mode (PgBouncer"
        " `pool_mode = transaction`): no named prepared statements on pooled connections; requires"
        " `DATABASE_DIRECT_URL`",
    )
    environment: Literal["development", "production"] = Field(
        default="development",
        description="`production` requires API keys, removes `POST /jobs/process` and forbids the embedded database",
    )
    embedded_pg_dir: Path = Field(
        default=Path(".pgdata"),
        validate_default=True,
        description="data directory of the embedded PostgreSQL (when `DATABASE_URL` is unset); a relative path is"
        " taken from the working directory at start",
    )
    storage_dir: Path = Field(
        default=Path("storage"),
        validate_default=True,
        description="uploads and job artifacts; a relative path is taken from the working directory at start",
    )

    worker_enabled: bool = Field(
        default=True, description="run a worker inside the API process (`serve --no-worker` turns it off)"
    )
    worker_concurrency: int = Field(default=4, ge=1, le=1000, description="jobs in flight per worker process")
    worker_queues: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        json_schema_extra={"shown_default": "all"},  # as the README shows it
        description="comma-separated queues a worker serves",
    )
    worker_poll_interval: float = Field(
        default=1.0, gt=0, description="seconds; fallback only, wake-ups come by LISTEN/NOTIFY"
    )
    worker_batch_size: int = Field(default=500, ge=1, le=10_000, description="most jobs claimed by one statement")
    worker_prefetch: Literal["auto"] | Annotated[int, Field(ge=0, le=10_000)] = Field(
        default="auto",
        description="jobs claimed ahead of free slots into a local buffer (leased, heartbeated, released on"
        " shutdown): hides the claim round trip for many short jobs; `auto`: what the worker's slots will start"
        " within 50 ms at its jobs' recent run time (up to two batches for jobs of microseconds, none for jobs"
        " of a second or more); a number fixes it (0 for long jobs: buffered jobs would wait behind them while"
        " other workers sit idle)",
    )
    torch_threads: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="PyTorch threads per worker process for ML jobs; `0`: the host's cores divided by"
        " `WORKER_CONCURRENCY` (at least 1)",
    )
    max_job_retries: int = Field(
        default=3, ge=0, description="retries after the first attempt (per job type or job overridable)"
    )
    lease_seconds: float = Field(
        default=30.0, gt=0, description="a job's lease; a heartbeat thread extends it every third of that"
    )
    shutdown_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        description="on SIGTERM, time in-flight jobs get before they are released to the queue",
    )
    reaper_interval_seconds: float = Field(
        default=10.0,
        gt=0,
        description="seconds between sweeps that put jobs with an expired lease back in the queue (one reaper at"
        " a time across workers)",
    )
    worker_schedules: bool = Field(
        default=True,
        description="whether this worker enqueues the periodic jobs' ticks (cron schedules, such as the hourly"
        " prune_jobs); each tick is enqueued once however many workers do, so turning it off only keeps them"
        " from a worker that should run jobs and nothing else",
    )
    retry_backoff_base: float = Field(
        default=2.0, gt=0, description="seconds before the first retry; doubled per attempt, with jitter"
    )
    retry_backoff_max: float = Field(default=600.0, gt=0, description="seconds; the longest wait before a retry")

    handler_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        json_schema_extra={"shown_default": "none"},  # as the README shows it
        description="extra modules to import so that their `@job_type` handlers register (comma-separated)",
    )
    job_retention_days: float = Field(
        default=14.0,
        gt=0,
        description="`prune_jobs` (hourly) deletes finished jobs, and webhook deliveries, older than this many days",
    )

    max_upload_bytes: int = Field(
        default=512 * 1024 * 1024,
        gt=0,
        json_schema_extra={"shown_default": "512 MiB"},  # as the README shows it
        description="larger uploads get 413 and nothing is stored",
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        json_schema_extra={"shown_default": "1 MiB"},  # as the README shows it
        description="largest request body other than an upload, and largest params (also an upload's); 413 past it",
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        description="database connections per pool; a process has two (queue and ORM), the ORM's may double it"
        " for bursts",
    )
    # Access control (README, "Access"). Development bound to a loopback interface runs open (no keys);
    # production, or any other interface, requires an API key on every endpoint but /health.
    bind_host: str | None = Field(
        default=None,
        description="interface the API listens on (`serve --host` sets it); unknown means keys are required",
    )
    metrics_token: str | None = Field(
        default=None, repr=False, description="bearer token a scraper may use for `/metrics` (admin keys work too)"
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        json_schema_extra={"shown_default": "none"},  # as the README shows it
        description="extra origins (`scheme://host[:port]`) trusted for state-changing browser requests"
        " (comma-separated)",
    )
    rate_limit_enqueue: str | None = Field(
        default="600/minute", description="enqueues per API key (`N/second|minute|hour|day`); empty for none"
    )
    rate_limit_upload: str | None = Field(
        default="60/minute", description="uploads per API key (`N/second|minute|hour|day`); empty for none"
    )
    max_waiting_jobs_per_owner: int = Field(
        default=10_000, ge=0, description="waiting jobs an owner may have (429 past it); 0 for no cap"
    )
    max_stored_bytes_per_owner: int = Field(
        default=50 * 1024**3,
        ge=0,
        json_schema_extra={"shown_default": "50 GiB"},  # as the README shows it
        description="bytes of uploads an owner may store (413 past it); 0 for no cap",
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description="let webhooks call private, loopback, link-local and other non-public addresses (a receiver on"
        " your own network); off, such URLs are refused at registration and at each delivery",
    )
    webhooks_allow_http: bool = Field(
        default=False, description="let webhooks use plain `http://` URLs (local testing only); off, https only"
    )
    webhooks_max_attempts: int = Field(
        default=16, ge=1, le=100, description="attempts per webhook delivery (a new endpoint's default)"
    )
    webhooks_retry_base: float = Field(
        default=10.0,
        gt=0,
        description="seconds before a webhook delivery's second attempt; doubled per attempt, with jitter (with the"
        " defaults, 16 attempts span 6 to 7 hours)",
    )
    webhooks_retry_max: float = Field(
        default=3600.0, gt=0, description="seconds; the longest wait between two attempts of a webhook delivery"
    )
    webhooks_timeout: float = Field(
        default=10.0, gt=0, le=300, description="seconds one webhook attempt may take, connection to answer"
    )
    session_hours: float = Field(default=12.0, gt=0, description="dashboard sign-in lifetime in hours")
    log_level: str = Field(default="INFO", description="`DEBUG`, `INFO`, `WARNING` or `ERROR`")
    log_format: Literal["text", "json"] = Field(
        default="text", description="`json` for one JSON object per line; job lines carry `job_id` and `job_type`"
    )

    @field_validator("worker_queues", "handler_modules", "allowed_origins", mode="before")
    @classmethod
    def _split_queues(cls, value: object) -> object:
        if isinstance(value, str):
            return [q.strip() for q in value.split(",") if q.strip()]
        return value

    @field_validator("embedded_pg_dir", "storage_dir")
    @classmethod
    def _from_working_directory(cls, value: Path) -> Path:
        # Fixed at start, so that an installed package never writes next to its own files, and a later change
        # of directory does not move the data.
        return value.expanduser().absolute()

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def open_without_keys(self) -> bool:
        """Development on a loopback interface: requests without a key act as the local administrator."""
        return not self.is_production and self.bind_host in LOOPBACK_HOSTS

    @property
    def default_max_attempts(self) -> int:
        return self.max_job_retries + 1


@lru_cache
def get_settings() -> Settings:
    return Settings()
