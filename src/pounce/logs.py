"""Logging for the `pounce` command: one handler on the root logger, writing plain text
lines, or one JSON object per line when `POUNCE_JSON_LOGS=true` (python-json-logger)."""

from __future__ import annotations

import logging

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# uvicorn's loggers: with `log_config=None` (cli.server_options) uvicorn installs no
# handlers of its own, so their records reach the root handler below.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

# Said at INFO by every alembic command, before anything happens: noise on a first run.
QUIET_LOGGERS = ("alembic.runtime.plugins",)


def json_formatter() -> logging.Formatter:
    """`{"ts", "level", "logger", "msg", "pid"}` plus any `extra` fields and `exc_info`."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s %(process)d",
        rename_fields={"levelname": "level", "name": "logger", "message": "msg", "process": "pid"},
        timestamp="ts",
        # uvicorn's start-up lines carry an ANSI-coloured copy of the message
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


def configure_logging(*, json_logs: bool, level: int = logging.INFO) -> None:
    """Replace the root logger's handlers with one to stderr in the chosen format; warnings
    and uvicorn's own error and access logs go through it too. Idempotent."""
    handler = logging.StreamHandler()
    handler.setFormatter(json_formatter() if json_logs else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)
