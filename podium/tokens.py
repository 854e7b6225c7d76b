"""The admin token: made on first start for the built-in `admin` user (it does not expire),
kept in `<data-dir>/admin.token` (mode 0600), and on the log only as its SHA-256.

Api replicas starting together on an empty log may each make one. Each writes its token to a
pending file of its own, then appends it as the log's first-start token; the fold keeps only
the first to arrive (`TokenIssued.first_start`). The winner renames its pending file to
`admin.token`; a loser deletes its own and writes no `admin.token` (the token that works is in
the winner's data dir, or already in this one when the replicas share it). A crash between the
append and the rename leaves a pending file that the next start renames.
"""

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
from podium.rbac.builtin import ADMIN_ID, ADMIN_LOGIN, builtin_events

TOKEN_FILE: Final = "admin.token"
PENDING: Final = f"{TOKEN_FILE}.*.pending"  # a token appended, not yet known to have won
log = structlog.get_logger(__name__)


async def ensure_admin_token(
    data_dir: Path, projector: Projector, producer: Producer, *, only_if_none: bool = False
) -> Path | None:
    """The file of an admin token the log knows, or None when another replica holds it.

    Reuses the file's token if the log knows it; on an empty log, takes part in the first-start
    race; otherwise makes a new admin token (the file was lost), unless `only_if_none` (api
    replicas on a shared log: the first one's token is the admin's)."""
    await ensure_builtin_identity(projector, producer)
    path = data_dir / TOKEN_FILE
    if _works(path, projector) or _promote_pending(data_dir, projector):
        return path
    if not projector.state.tokens:
        return await _first_start(path, projector, producer)
    if only_if_none:
        stale = " (its admin.token holds a token this log does not know)" if path.exists() else ""
        log.info(
            "the admin token was made by another api replica; it is in that replica's data dir"
            + stale
        )
        return None
    _, pending = await _issue(data_dir, projector, producer, first_start=False)
    _keep(pending, path)
    return path


async def _first_start(path: Path, projector: Projector, producer: Producer) -> Path | None:
    token, pending = await _issue(path.parent, projector, producer, first_start=True)
    if token_sha256(token) in projector.state.tokens:
        _keep(pending, path)
        return path
    pending.unlink()
    # The winner may share this data dir and not have renamed its pending file yet: promote it.
    if _works(path, projector) or _promote_pending(path.parent, projector):
        return path
    log.info("another api replica made the admin token first; it is in that replica's data dir")
    return None


def _works(path: Path, projector: Projector) -> bool:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return False
    record = projector.state.tokens.get(token_sha256(token))
    return record is not None and record.revoked_at is None


def _keep(pending: Path, path: Path) -> None:
    """The pending token becomes `admin.token`, unless a replica sharing the data dir has
    promoted it already."""
    try:
        os.replace(pending, path)
    except FileNotFoundError:
        if not path.is_file():
            raise


def _promote_pending(data_dir: Path, projector: Projector) -> bool:
    """A pending token the log knows becomes `admin.token` (its replica stopped before)."""
    for pending in sorted(data_dir.glob(PENDING)):
        if _works(pending, projector):
            _keep(pending, data_dir / TOKEN_FILE)
            return True
    return False


async def _issue(
    data_dir: Path, projector: Projector, producer: Producer, *, first_start: bool
) -> tuple[str, Path]:
    """A new admin token, written to a pending file of this process before it is appended
    (so that a token on the log is never one nobody holds), and that file."""
    token = new_token()
    pending = data_dir / PENDING.replace("*", uuid.uuid4().hex)
    _write_private(pending, token)
    issued = TokenIssued(
        at=time.time(),
        token_sha256=token_sha256(token),
        user_id=ADMIN_ID,
        login=ADMIN_LOGIN,
        first_start=first_start,
    )
    stamped = await producer.emit([issued])
    await projector.wait_applied(stamped[0])
    return token, pending


async def ensure_builtin_identity(projector: Projector, producer: Producer) -> None:
    """Append what the log lacks of the built-in admin user and role (a new log, or one
    written before users and roles existed)."""
    missing = builtin_events(projector.state, time.time())
    if missing:
        stamped = await producer.emit(missing)
        await projector.wait_applied(stamped[-1])


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
