"""Which token a client command sends, found as PE's tools find theirs: a token file named on the
command line (or PODIUM_TOKEN_FILE) wins, then the token in PODIUM_TOKEN, then the file
`puppet access login` writes, ~/.puppetlabs/token."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podium.client.http import ClientError


@dataclass(frozen=True, slots=True)
class TokenSources:
    token_file: Path | None  # --token-file or PODIUM_TOKEN_FILE
    env_token: str | None  # PODIUM_TOKEN
    default_file: Path  # ~/.puppetlabs/token


def find_token(sources: TokenSources) -> str:
    """Raises ClientError saying which source was tried and why it gave no token."""
    if sources.token_file is not None:
        return _read(sources.token_file)
    if sources.env_token is not None and sources.env_token.strip():
        return sources.env_token.strip()
    if sources.default_file.exists():
        return _read(sources.default_file)
    raise ClientError(
        f"no token: give --token-file (or PODIUM_TOKEN_FILE), set PODIUM_TOKEN, or write "
        f"{sources.default_file}"
    )


def _read(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ClientError(f"cannot read the token file {path}: {exc.strerror}") from exc
    if not token:
        raise ClientError(f"the token file {path} is empty")
    return token
