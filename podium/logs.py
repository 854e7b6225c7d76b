"""structlog set-up: JSON lines, or a console renderer when stderr is a terminal.

JSON lines are encoded by msgspec and written with one `write(2)` each, straight to the file
descriptor: a busy engine logs two lines per job, and Python's own `print` and `json` made that
a sixth of the api's time. A line is on its way out as soon as it is logged (nothing buffered
to lose when the process is killed).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import msgspec
import structlog

_encoder = msgspec.json.Encoder(enc_hook=str)  # anything msgspec does not know: as text


def _serialize(event: Any, **_: Any) -> bytes:
    return _encoder.encode(event)


class FdLogger:
    """Writes each line with one system call (atomic on a pipe up to PIPE_BUF bytes)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def msg(self, message: bytes) -> None:
        os.write(self._fd, message + b"\n")

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def configure_logging(
    level: str = "info", *, json: bool | None = None, stream: TextIO = sys.stderr
) -> None:
    as_json = not stream.isatty() if json is None else json
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    if as_json:
        processors.append(structlog.processors.JSONRenderer(serializer=_serialize))
        fd = stream.fileno()
        factory: Any = lambda *_: FdLogger(fd)  # noqa: E731
    else:
        processors.append(structlog.dev.ConsoleRenderer())
        factory = structlog.PrintLoggerFactory(stream)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
