"""Structured logs: one JSON object per line, and every job line carries the job's id and type."""

from __future__ import annotations

import io
import json
import logging
import uuid

from app.core.logging import JsonFormatter, TextFormatter
from app.worker.context import JobContext


def capture(formatter: logging.Formatter) -> tuple[io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    return stream, handler


def test_job_log_lines_carry_job_id_and_type_in_json_and_text():
    job_id = uuid.uuid4()
    ctx = JobContext(job_id, "cut_analysis", 1, 3)
    logger = logging.getLogger("app.jobs.cut_analysis")
    json_out, json_handler = capture(JsonFormatter())
    text_out, text_handler = capture(TextFormatter("%(levelname)s %(message)s"))
    logger.addHandler(json_handler)
    logger.addHandler(text_handler)
    try:
        ctx.log.warning("decoded %d frames", 42)
    finally:
        logger.removeHandler(json_handler)
        logger.removeHandler(text_handler)
    record = json.loads(json_out.getvalue())
    assert record["message"] == "decoded 42 frames"
    assert record["level"] == "warning"
    assert record["job_id"] == str(job_id)
    assert record["job_type"] == "cut_analysis"
    assert record["ts"]
    assert text_out.getvalue().strip() == f"WARNING decoded 42 frames [job={job_id} type=cut_analysis]"
