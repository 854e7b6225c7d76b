"""A real OpenSSH server for the ssh transport's tests: on a free loopback port, with a host key
and a client key made for the test run (any user may log in with it), in the foreground,
killed at teardown; and what the run-as tests need around it."""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn

import pytest

from podium.events.jobspec import RunSpec
from podium.events.work import WorkItem
from podium.jsontypes import Json

SSHD: Final = Path("/usr/sbin/sshd")
SUDOERS_DIR: Final = Path("/etc/sudoers.d")
USER_KEYS: Final = ".podium-test-keys"  # in a test user's home: the client key may log in
PRIVSEP_DIR: Final = Path("/run/sshd")  # sshd refuses to start as root without it


@dataclass(frozen=True, slots=True)
class SshServer:
    host: str
    port: int
    user: str
    client_key: Path
    log: Path


def config_for(server: SshServer, **extra: Json) -> dict[str, Json]:
    """A target's `config.ssh` that reaches the server as its user."""
    return {
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "private-key": str(server.client_key),
        "host-key-check": False,
        **extra,
    }


def work(
    node: str,
    config: dict[str, Json],
    task: str = "demo::inputs",
    *,
    timeout_s: float | None = None,
    **params: Json,
) -> WorkItem:
    """A task run of the production environment for the ssh transport."""
    spec = RunSpec(
        kind="task", environment="production", task=task, params=params, timeout_s=timeout_s
    )
    return WorkItem(job="1", node=node, attempt=1, transport="ssh", config=config, spec=spec)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def under_ci() -> bool:
    """CI=true (or 1), or PODIUM_REQUIRE_RABBITMQ set: whatever a test needs must be there."""
    return os.environ.get("CI", "").lower() in ("1", "true") or bool(
        os.environ.get("PODIUM_REQUIRE_RABBITMQ")
    )


def missing(message: str) -> NoReturn:
    """Fail under CI, where `make test` provides everything; elsewhere skip, saying why."""
    if under_ci():
        pytest.fail(message)
    pytest.skip(message)


def require_sshd() -> None:
    if not SSHD.exists():
        missing(f"{SSHD} is missing: `make test` installs openssh-server (or apt-get install it)")


def require_run_as(server: SshServer) -> None:
    """The run-as tests log in as root (sudo then asks no password) and sudo to other users."""
    if shutil.which("sudo") is None:
        missing(
            "run-as needs sudo on the target and this machine has none: `make sshd` (part of "
            "`make test`) installs it, or apt-get install sudo"
        )
    if server.user != "root":
        missing(
            f"run-as is tested from a root login, and the tests run as {server.user}: run "
            "them as root (sudo -u then needs no password, and test users can be made)"
        )


@contextmanager
def sudo_user(server: SshServer, name: str, shell: Path, sudo_to: str) -> Iterator[Path]:
    """A user who may log in to `server` with its client key and sudo to root and `sudo_to`
    without a password (a sudoers.d drop-in), with `shell` as login shell; removed with its home
    afterwards. Yields the home. Needs root."""
    _remove_user(name)  # left over from an interrupted run
    subprocess.run(
        ["useradd", "--create-home", "--shell", str(shell), "--password", "*", name],
        check=True,
        capture_output=True,
    )
    rule = SUDOERS_DIR / f"podium-test-{name}"
    try:
        rule.write_text(f"{name} ALL=(root,{sudo_to}) NOPASSWD: ALL\n")
        rule.chmod(0o440)
        subprocess.run(["visudo", "-c", "-q", "-f", str(rule)], check=True, capture_output=True)
        home = Path(pwd.getpwnam(name).pw_dir)
        (home / USER_KEYS).write_bytes(server.client_key.with_suffix(".pub").read_bytes())
        yield home
    finally:
        rule.unlink(missing_ok=True)
        _remove_user(name)


@contextmanager
def password_user(name: str, password: str, sudo_to: str) -> Iterator[None]:
    """A user who logs in with `password` only (no key), and whose sudo to root and `sudo_to`
    asks for that password (run-as hands the run's files over as root, as Bolt does); removed
    with its home afterwards. Needs root."""
    _remove_user(name)
    subprocess.run(
        ["useradd", "--create-home", "--shell", "/bin/sh", name], check=True, capture_output=True
    )
    rule = SUDOERS_DIR / f"podium-test-{name}"
    try:
        subprocess.run(
            ["chpasswd"], input=f"{name}:{password}".encode(), check=True, capture_output=True
        )
        rule.write_text(f"{name} ALL=(root,{sudo_to}) ALL\n")
        rule.chmod(0o440)
        subprocess.run(["visudo", "-c", "-q", "-f", str(rule)], check=True, capture_output=True)
        yield
    finally:
        rule.unlink(missing_ok=True)
        _remove_user(name)


def _remove_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    subprocess.run(["userdel", "--remove", "--force", name], check=True, capture_output=True)


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


@contextmanager
def running_sshd(workdir: Path) -> Iterator[SshServer]:
    require_sshd()
    workdir.mkdir(parents=True, exist_ok=True)
    host_key, client_key = workdir / "host_key", workdir / "client_key"
    _keygen(host_key)
    _keygen(client_key)
    authorized = workdir / "authorized_keys"
    authorized.write_bytes(client_key.with_suffix(".pub").read_bytes())
    port = free_port()
    config = workdir / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {authorized} %h/{USER_KEYS}\nStrictModes no\nUsePAM no\nPidFile none\n"
        "PasswordAuthentication yes\nSubsystem sftp internal-sftp\nMaxStartups 100\n"
    )
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    log = workdir / "sshd.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log_file, stderr=log_file
        )
    try:
        _wait_listening(process, port, log)
        yield SshServer("127.0.0.1", port, getpass.getuser(), client_key, log)
    finally:
        process.kill()
        process.wait()


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen on port {port}: {log.read_text()}")
