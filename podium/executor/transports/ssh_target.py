"""A target's `config.ssh` settings, checked once: pure, so every bad setting is named before
any connection is tried.

Keys as Bolt names them: `host`, `port` (22), `user`, `private-key` (a path, or
`{key-data: "..."}`), `password`, `host-key-check` (true), `connect-timeout` (10 s), `tmpdir`
(`/tmp`), `run-as` and `sudo-password` (defaults to `password`); and Podium's `agent-command`,
what a deploy runs there (`puppet agent --test --detailed-exitcodes`). Other Bolt keys are
accepted and ignored. A relative `private-key` is read from the executor's working directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from podium.environments import DEFAULT_AGENT_COMMAND
from podium.executor.transports.base import RunError
from podium.jsontypes import Json

DEFAULT_PORT: Final = 22
DEFAULT_CONNECT_TIMEOUT_S: Final = 10.0
DEFAULT_TMPDIR: Final = "/tmp"


@dataclass(frozen=True, slots=True)
class SshTarget:
    host: str
    port: int = DEFAULT_PORT
    user: str | None = None  # None: the executor's own user name, as ssh does
    private_key: Path | None = None
    key_data: str | None = None
    password: str | None = None
    host_key_check: bool = True
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    tmpdir: str = DEFAULT_TMPDIR
    run_as: str | None = None
    sudo_password: str | None = None
    agent_command: tuple[str, ...] = DEFAULT_AGENT_COMMAND  # what a deploy runs there

    @property
    def address(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.host}:{self.port}"

    @property
    def pool_key(self) -> tuple[object, ...]:
        """Runs may share a connection only when everything about logging in is the same."""
        return (
            self.host,
            self.port,
            self.user,
            self.private_key,
            self.key_data,
            self.password,
            self.host_key_check,
        )


def ssh_target(config: dict[str, Json], node: str) -> SshTarget:
    """Raises RunError naming the first bad setting."""
    host = _string(config, "host", node) or node
    port = config.get("port", DEFAULT_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise RunError(f"ssh: port must be an integer from 1 to 65535, not {port!r}")
    private_key, key_data = _private_key(config.get("private-key"))
    password = _string(config, "password", node)
    return SshTarget(
        host=host,
        port=port,
        user=_string(config, "user", node),
        private_key=private_key,
        key_data=key_data,
        password=password,
        host_key_check=_boolean(config, "host-key-check", True),
        connect_timeout_s=_seconds(config, "connect-timeout", DEFAULT_CONNECT_TIMEOUT_S),
        tmpdir=_tmpdir(config, node),
        run_as=_string(config, "run-as", node),
        sudo_password=_string(config, "sudo-password", node) or password,
        agent_command=_command(config, "agent-command", node),
    )


def _string(config: dict[str, Json], key: str, node: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise RunError(f"ssh: {key} of {node} must be a non-empty string")
    return value


def _command(config: dict[str, Json], key: str, node: str) -> tuple[str, ...]:
    value = config.get(key, list(DEFAULT_AGENT_COMMAND))
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise RunError(f"ssh: {key} of {node} must be a command: a list of strings")
    return tuple(value)


def _tmpdir(config: dict[str, Json], node: str) -> str:
    tmpdir = _string(config, "tmpdir", node) or DEFAULT_TMPDIR
    if not tmpdir.startswith("/"):
        raise RunError(f"ssh: tmpdir must be an absolute path, not {tmpdir!r}")
    return tmpdir


def _boolean(config: dict[str, Json], key: str, default: bool) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise RunError(f"ssh: {key} must be true or false, not {value!r}")
    return value


def _seconds(config: dict[str, Json], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise RunError(f"ssh: {key} must be a positive number of seconds, not {value!r}")
    return float(value)


def _private_key(value: Json) -> tuple[Path | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, str) and value:
        return Path(value).expanduser(), None
    if isinstance(value, dict) and isinstance(value.get("key-data"), str):
        return None, str(value["key-data"])
    raise RunError("ssh: private-key must be a path or {key-data: <the key>}")
