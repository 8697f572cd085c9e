"""Values PostgreSQL can store, checked before they reach it: text without NUL characters or lone surrogates,
JSON documents made of such text with finite numbers and a bounded depth, and integers of an `integer` column.

Each check raises ValueError with a message that says what is wrong (never echoing the value), so that
pydantic turns it into a 422 naming the field; `StorableText` and `StorableJson` are the annotated types.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator

INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1  # PostgreSQL `integer`
MAX_JSON_DEPTH = 32  # nesting of objects and arrays in params (a job's params are a few flat settings)


def storable_text(value: str) -> str:
    """`value`, if PostgreSQL's text type can hold it: no NUL character, valid Unicode (UTF-8 encodable)."""
    if "\x00" in value:
        raise ValueError("contains a NUL character (U+0000), which PostgreSQL text cannot hold")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate (U+D800-U+DFFF), which is not valid Unicode") from None
    return value


def storable_json(value: Any, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`value`, if it is a JSON document `jsonb` can hold: storable text in every key and string, finite numbers,
    objects and arrays nested at most `max_depth` deep. The message names where the problem is."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, dict | list):
            if depth > max_depth:
                raise ValueError(f"is nested more than {max_depth} levels deep")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str):
                    _check_text(key, f"the key {where}.{_printable(key)}")
                    stack.append((child, depth + 1, f"{where}.{_printable(key)}"))
                else:
                    stack.append((child, depth + 1, f"{where}[{key}]"))
        elif isinstance(node, str):
            _check_text(node, f"the string at {where or '.'}")
        elif isinstance(node, float) and not math.isfinite(node):
            raise ValueError(f"the number at {where or '.'} is not finite (JSON has no NaN or Infinity)")
    return value


def _check_text(text: str, what: str) -> None:
    try:
        storable_text(text)
    except ValueError as exc:
        raise ValueError(f"{what} {exc}") from None


def _printable(key: str) -> str:
    """A key as a message may show it: printable characters only, at most 40."""
    shown = "".join(c if c.isprintable() else "?" for c in key[:40])
    return shown + ("..." if len(key) > 40 else "")


StorableText = Annotated[str, AfterValidator(storable_text)]
StorableJson = Annotated[dict[str, Any], AfterValidator(storable_json)]
