"""Log lines: the direct path of access lines writes exactly what structlog's chain writes."""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest

from idgate.logs import JsonFormatter, _structlog_formatter, request_id_var


def access_record(**extra: object) -> logging.LogRecord:
    logger = logging.getLogger("idgate.access")
    return logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "request", (), None, extra=extra
    )


@pytest.mark.parametrize("request_id", ["3f2a", None])
def test_access_lines_match_the_structlog_chain(request_id: str | None) -> None:
    record = access_record(
        method="GET", path='/a"b\n\u2028', status=200, duration_ms=0.42, client=None
    )
    reset = request_id_var.set(request_id)
    try:
        fast = JsonFormatter().format(record)
        slow = _structlog_formatter().format(record)
    finally:
        request_id_var.reset(reset)
    fast_data, slow_data = json.loads(fast), json.loads(slow)
    assert list(fast_data) == list(slow_data)  # the same keys in the same order
    fast_ts, slow_ts = fast_data.pop("ts"), slow_data.pop("ts")
    assert fast_data == slow_data
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", fast_ts)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", slow_ts)
    assert "\n" not in fast
    assert ("request_id" in fast_data) is (request_id is not None)


def test_other_records_go_through_structlog() -> None:
    logger = logging.getLogger("idgate.audit")
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "login_failed", (), None, extra={"audit": {"a": 1}}
    )
    data = json.loads(JsonFormatter().format(record))
    assert data["a"] == 1 and data["logger"] == "idgate.audit"  # flattened by the chain
    try:
        raise ValueError("boom")
    except ValueError:
        failing = access_record(method="GET", path="/", status=500, duration_ms=1.0, client="x")
        failing.exc_info = sys.exc_info()
    assert "boom" in json.loads(JsonFormatter().format(failing))["exception"]
