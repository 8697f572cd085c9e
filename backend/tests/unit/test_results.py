"""Handler results are stored as jsonb: what PostgreSQL would refuse is refused here first, with the reason."""

from __future__ import annotations

import json

import pytest
from app.worker.executor import encode_result


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ({"psnr": float("inf")}, "Out of range float values"),
        ({"loss": [1.0, float("nan")]}, "Out of range float values"),
        ({"text": "a\x00b"}, "NUL character"),
        ({"nested": {"text": "\\\x00"}}, "NUL character"),
        ({"text": "\ud800"}, "not valid Unicode"),
        ({"when": object()}, "not JSON serializable"),
    ],
)
def test_unstorable_results_are_refused_with_the_reason(result, reason):
    with pytest.raises((ValueError, TypeError), match=reason):
        encode_result(result)


@pytest.mark.parametrize(
    "result",
    [
        {"text": "a literal \\u0000 is only text"},
        {"text": "\\\\u0000"},
        {"text": "héllo ✓ 𝄞", "n": [1, 2.5, None, True]},
        {},
    ],
)
def test_storable_results_round_trip(result):
    assert json.loads(encode_result(result)) == result
