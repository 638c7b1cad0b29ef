"""Logs for operators: plain text for a terminal, or one JSON object per line for a log pipeline.

`configure_logging(settings)` installs one handler on the root logger (on stderr) and lets the
uvicorn loggers flow into it, so web, worker and CLI lines share one format. It can be called
again (the CLI, then the app factory in each web process): it replaces its own handler.

The JSON formatter is a few lines written here rather than a dependency: each line carries
`time` (UTC, ISO 8601), `level`, `logger`, `message`, the exception when there is one, and any
`extra={...}` fields given to the call (`peer`, `activity`, `status`, ...), so a log pipeline can
filter on them without parsing messages.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from server.config import Settings

_MARK = "_cercle_handler"
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        return json.dumps(entry, ensure_ascii=False)


def make_handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    setattr(handler, _MARK, True)
    return handler


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> logging.Handler:
    """Send every log line to `stream` (stderr) in `settings.log_format`, at `settings.log_level`."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    handler = make_handler(settings.log_format, stream)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
