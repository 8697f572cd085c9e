"""The settings document themselves: the README's Configuration table is the one rendered from the Settings
model, and the data directories default to the working directory, not to where the code is installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from app.core.config import Settings
from app.core.settings_view import effective, markdown_table

README = Path(__file__).resolve().parents[3] / "README.md"
BEGIN, END = "<!-- settings table:", "<!-- end of settings table -->"


def _readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    begin = text.index("\n", text.index(BEGIN)) + 1
    return text[begin : text.index(END)]


def test_readme_configuration_table_is_the_one_rendered_from_settings():
    assert _readme_table() == markdown_table(), (
        "README.md's Configuration table differs from the Settings model: run `python -m app settings --markdown`"
        " and put its output between the settings-table markers"
    )


def test_every_setting_has_a_row_with_its_variable_and_description():
    table = markdown_table()
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert f"| `{name.upper()}` |" in table
    assert "| `REAPER_INTERVAL_SECONDS` | `10.0` |" in table


def test_data_directories_default_to_the_working_directory(tmp_path, monkeypatch):
    for variable in ("EMBEDDED_PG_DIR", "STORAGE_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    here = Path.cwd()
    settings = Settings(_env_file=None)
    assert settings.embedded_pg_dir == here / ".pgdata"
    assert settings.storage_dir == here / "storage"
    assert Settings(_env_file=None, storage_dir=Path("files")).storage_dir == here / "files"


def test_settings_command_prints_values_in_effect_without_the_password(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgresql://me:secret@db.example:5433/jobs", "WORKER_QUEUES": "a,b"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("STORAGE_DIR", None)
    run = subprocess.run(
        [sys.executable, "-m", "app", "settings"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    lines = set(run.stdout.splitlines())
    assert "DATABASE_URL=postgresql://me:***@db.example:5433/jobs" in lines
    assert "secret" not in run.stdout
    assert {"WORKER_QUEUES=a,b", f"STORAGE_DIR={tmp_path.resolve() / 'storage'}", "WORKER_ENABLED=true"} <= lines


@pytest.mark.parametrize("url", [None, "postgresql://localhost/jobs"])
def test_effective_settings_list_every_variable_once(url):
    lines = effective(Settings(_env_file=None, database_url=url)).splitlines()
    assert [line.split("=", 1)[0] for line in lines] == [name.upper() for name in Settings.model_fields]
