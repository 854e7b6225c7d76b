"""The admin token: made on first start, kept in `<data-dir>/admin.token` (mode 0600), and on
the log only as its SHA-256."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Final

import structlog

from podium.auth import new_token, token_sha256
from podium.events.model import TokenIssued
from podium.events.producer import Producer
from podium.events.projector import Projector

ADMIN_LOGIN: Final = "admin"
ADMIN_ID: Final = str(uuid.uuid5(uuid.NAMESPACE_URL, "podium:user/admin"))
TOKEN_FILE: Final = "admin.token"
log = structlog.get_logger(__name__)


async def ensure_admin_token(
    data_dir: Path, projector: Projector, producer: Producer, *, only_if_none: bool = False
) -> Path | None:
    """Reuse the token in the file if the log knows it; otherwise make a new one, unless
    `only_if_none` and the log has tokens already (another api replica made the first)."""
    path = data_dir / TOKEN_FILE
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if token_sha256(token) in projector.state.tokens:
            return path
    if only_if_none and projector.state.tokens:
        log.info("the admin token was made by another api replica; see its data dir")
        return None
    token = new_token()
    _write_private(path, token)
    issued = TokenIssued(
        at=time.time(), token_sha256=token_sha256(token), user_id=ADMIN_ID, login=ADMIN_LOGIN
    )
    stamped = await producer.emit([issued])
    await projector.wait_applied(stamped[0])
    return path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
