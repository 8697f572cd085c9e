"""What PostgreSQL can store: the checks behind every 422 for text and params."""

from __future__ import annotations

import pytest
from app.core.storable import MAX_JSON_DEPTH, storable_json, storable_text


def nested(depth: int) -> object:
    value: object = 1
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


@pytest.mark.parametrize(
    ("text", "says"),
    [("a\x00", "NUL character"), ("\ud800", "lone surrogate"), ("x\udfffy", "lone surrogate")],
)
def test_text_postgresql_cannot_hold_is_refused_saying_why(text, says):
    with pytest.raises(ValueError, match=says):
        storable_text(text)


def test_ordinary_text_passes_unchanged():
    assert storable_text("plain, ünïcode, 😀 and \t tabs") == "plain, ünïcode, 😀 and \t tabs"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"a": {"b\x00": 1}}, r"the key \.a\.b\? contains a NUL"),
        ({"a": [0, "\ud800"]}, r"the string at \.a\[1\] contains a lone surrogate"),
        ({"x": float("nan")}, r"the number at \.x is not finite"),
        ({"x": [float("-inf")]}, "not finite"),
        (nested(MAX_JSON_DEPTH + 1), f"nested more than {MAX_JSON_DEPTH} levels"),
    ],
)
def test_json_postgresql_cannot_hold_is_refused_saying_where(value, says):
    with pytest.raises(ValueError, match=says):
        storable_json(value)


def test_json_at_the_depth_bound_with_big_numbers_passes():
    value = {"deep": nested(MAX_JSON_DEPTH - 1), "big": 10**300, "float": 1e308, "empty": {"": []}}
    assert storable_json(value) is value
