"""Structured logging: one JSON object per line on stderr, with the request id of each request.

Every logger (idgate's, uvicorn's, the audit log) goes through the same formatter. Values are JSON
encoded, so a CR/LF or ANSI escape typed into a username cannot forge a log line (ASVS 16.4.1).
Nothing that could be a secret is logged: no bodies, no query strings, no headers but the
user agent.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import structlog

request_id_var: ContextVar[str | None] = ContextVar("idgate_request_id", default=None)


def _add_request_id(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    request_id = request_id_var.get()
    if request_id is not None and "request_id" not in event_dict:
        event_dict["request_id"] = request_id
    return event_dict


def _flatten_audit(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    audit = event_dict.pop("audit", None)
    if isinstance(audit, dict):
        event_dict.update(audit)
    return event_dict


def _drop_noise(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event_dict.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
    return event_dict


def json_formatter() -> logging.Formatter:
    """The formatter of every idgate log line: one JSON object, keys in a stable order."""
    return JsonFormatter()


class JsonFormatter(logging.Formatter):
    """structlog's JSON lines for every record; access lines take a direct path.

    One access line is written per request: formatting it through structlog's processor chain took
    35 us here, the direct path 12 us, out of a few hundred for a whole small request (bench/). The
    direct path writes the very same JSON (the keys, their order and the values of
    :func:`_structlog_formatter`), which a test checks.
    """

    def __init__(self) -> None:
        super().__init__()
        self._general = _structlog_formatter()

    def format(self, record: logging.LogRecord) -> str:
        if record.name == ACCESS_LOGGER and record.exc_info is None and not record.args:
            return _access_line(record)
        return self._general.format(record)


#: The logger of the one line per request (``web.middleware``).
ACCESS_LOGGER = "idgate.access"
#: The fields ``web.middleware`` passes as ``extra`` on an access line, in that order.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "client")


def _access_line(record: logging.LogRecord) -> str:
    line: dict[str, Any] = {
        "event": record.msg,
        "level": record.levelname.lower(),
        "logger": record.name,
    }
    fields = record.__dict__
    for name in ACCESS_FIELDS:
        if name in fields:
            line[name] = fields[name]
    request_id = request_id_var.get()
    if request_id is not None:
        line["request_id"] = request_id
    line["ts"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(line, default=repr)


def _structlog_formatter() -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            _flatten_audit,
            _drop_noise,
            _add_request_id,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
    )


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr as a JSON line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_idgate", False):
            root.removeHandler(existing)
    handler._idgate = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Driver debug output would carry SQL parameters (password hashes, token hashes).
    for name in ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # idgate writes its own access line (without query strings, which may carry secrets).
    logging.getLogger("uvicorn.access").disabled = True
