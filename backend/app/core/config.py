"""Settings: the only place that reads the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[3]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class Settings(BaseSettings):
    """Skiplock configuration. Every field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str | None = Field(
        default=None,
        repr=False,  # it may hold a password; logged only through core.db.redacted
        description="postgresql:// URL. Unset in development: an embedded PostgreSQL (pgserver) is started.",
    )
    embedded_pg_dir: Path = PROJECT_ROOT / ".pgdata"
    storage_dir: Path = PROJECT_ROOT / "storage"

    worker_enabled: bool = True
    worker_concurrency: int = Field(default=4, ge=1, le=1000)
    worker_poll_interval: float = Field(default=1.0, gt=0)
    worker_queues: Annotated[list[str], NoDecode] = Field(default_factory=list)
    worker_batch_size: int = Field(default=100, ge=1, le=10_000)
    worker_prefetch: int = Field(
        default=0, ge=0, le=10_000, description="Jobs claimed ahead of free slots (short jobs, high throughput)."
    )
    max_job_retries: int = Field(default=3, ge=0, description="Retries after the first attempt.")
    lease_seconds: float = Field(default=30.0, gt=0)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    reaper_interval_seconds: float = Field(default=10.0, gt=0)
    retry_backoff_base: float = Field(default=2.0, gt=0, description="Seconds; doubled per attempt.")
    retry_backoff_max: float = Field(default=600.0, gt=0)

    handler_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra modules to import so their @job_type handlers register."
    )

    job_retention_days: float = Field(default=14.0, gt=0, description="Finished jobs older than this are pruned.")

    max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    db_pool_size: int = Field(default=10, ge=1)
    # Access control (see README, "Access"). Development bound to a loopback interface runs open (no keys);
    # production, or any other interface, requires an API key on every endpoint but /health.
    bind_host: str | None = Field(
        default=None, description="Interface the API listens on (`serve` sets it); unknown means keys required."
    )
    metrics_token: str | None = Field(
        default=None, repr=False, description="Bearer token a scraper may use for /metrics (admin keys work too)."
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra origins (scheme://host[:port]) trusted for state-changing requests."
    )
    rate_limit_enqueue: str | None = Field(default="600/minute", description="Per key; empty: no limit.")
    rate_limit_upload: str | None = Field(default="60/minute", description="Per key; empty: no limit.")
    max_waiting_jobs_per_owner: int = Field(default=10_000, ge=0, description="0: no cap.")
    max_stored_bytes_per_owner: int = Field(default=50 * 1024**3, ge=0, description="Uploads; 0: no cap.")
    session_hours: float = Field(default=12.0, gt=0, description="Dashboard sign-in lifetime.")

    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("worker_queues", "handler_modules", "allowed_origins", mode="before")
    @classmethod
    def _split_queues(cls, value: object) -> object:
        if isinstance(value, str):
            return [q.strip() for q in value.split(",") if q.strip()]
        return value

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
