"""Configuration decisions that need no database."""

from __future__ import annotations

import pytest
from app.core.config import Settings
from app.core.db import ConfigurationError, plain_url, resolve_database_url
from app.core.filetypes import sniff
from app.core.storage import display_name
from app.worker.executor import Backoff


def test_production_without_database_url_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="DATABASE_URL is not set"):
        resolve_database_url(Settings(environment="production", database_url=None))


def test_database_url_variants_are_normalised():
    assert plain_url("postgresql+asyncpg://u:p@h:5/d") == "postgresql://u:p@h:5/d"
    assert plain_url("postgres://h/d") == "postgresql://h/d"
    with pytest.raises(ConfigurationError, match="postgresql://"):
        plain_url("mysql://h/d")


def test_queues_and_handler_modules_read_from_comma_lists(monkeypatch):
    monkeypatch.setenv("WORKER_QUEUES", "media, ml")
    monkeypatch.setenv("HANDLER_MODULES", "pkg.a,pkg.b")
    settings = Settings()
    assert settings.worker_queues == ["media", "ml"]
    assert settings.handler_modules == ["pkg.a", "pkg.b"]


def test_backoff_grows_exponentially_with_bounded_jitter():
    backoff = Backoff(base=1.0, cap=100.0)
    for attempt, full in ((1, 1.0), (2, 2.0), (3, 4.0), (10, 100.0)):
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(full * 0.5 <= d <= full for d in delays)
        assert max(delays) - min(delays) > 0  # jittered, not fixed


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "image"),
        (b"\xff\xd8\xff\xe0", "image"),
        (b"II*\x00", "image"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image"),
        (b"\0\0\0\x18ftypisom", "video"),
        (b"\x1a\x45\xdf\xa3webm", "video"),
        (b"RIFF\0\0\0\0AVI LIST", "video"),
        (b"hello world", None),
        (b"%PDF-1.7", None),
    ],
)
def test_uploads_are_recognised_by_content(head, kind):
    found = sniff(head)
    assert (found.kind if found else None) == kind


def test_client_file_names_become_harmless_labels():
    assert display_name("scan-01.png") == "scan-01.png"
    assert display_name("../../etc/passwd.png") == "passwd.png"
    assert display_name("a\\b.png") == "b.png"
    assert display_name("x\x00\x1b[31m.png") == "x[31m.png"
    for empty in ("..", "dir/", "", None):
        assert display_name(empty) is None
