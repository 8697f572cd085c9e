"""Settings: the only place that reads the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[3]


class Settings(BaseSettings):
    """Skiplock configuration. Every field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str | None = Field(
        default=None,
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
    torch_threads: int = Field(
        default=0, ge=0, le=1024, description="PyTorch threads per worker process; 0: host cores // WORKER_CONCURRENCY."
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
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("worker_queues", "handler_modules", mode="before")
    @classmethod
    def _split_queues(cls, value: object) -> object:
        if isinstance(value, str):
            return [q.strip() for q in value.split(",") if q.strip()]
        return value

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def default_max_attempts(self) -> int:
        return self.max_job_retries + 1


@lru_cache
def get_settings() -> Settings:
    return Settings()
