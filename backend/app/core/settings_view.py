"""How the settings show themselves: the README's Configuration table, rendered from the Settings model,
and the values in effect (`python -m app settings [--markdown]`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic.fields import FieldInfo

from app.core.config import Settings

HEADER = "| variable | default | meaning |\n|---|---|---|"


def variable(name: str) -> str:
    return (str(Settings.model_config.get("env_prefix") or "") + name).upper()


def _default(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "shown_default" in extra:
        return str(extra["shown_default"])
    value: Any = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path) and not value.is_absolute():
        return f"`./{value}`"
    return f"`{value}`"


def markdown_table() -> str:
    """One row per Settings field, in declaration order: variable, default, description."""
    rows = [HEADER]
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"setting {name!r} has no description; give its Field a description=")
        meaning = field.description.replace("|", "\\|")
        rows.append(f"| `{variable(name)}` | {_default(field)} | {meaning} |")
    return "\n".join(rows) + "\n"


def _shown_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(value)
    if name in ("database_url", "database_direct_url") and value:
        parts = urlsplit(value)
        if parts.password:  # never print a password
            netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
            return str(urlunsplit(parts._replace(netloc=netloc)))
    return "" if value is None else str(value)


def effective(settings: Settings) -> str:
    """`VARIABLE=value` lines for the settings in effect (passwords hidden)."""
    return "".join(f"{variable(n)}={_shown_value(n, getattr(settings, n))}\n" for n in Settings.model_fields)
