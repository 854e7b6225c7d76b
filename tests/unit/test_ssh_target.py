"""A target's ssh settings: defaults, Bolt's key names, and every bad setting named."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.executor.transports.base import RunError
from podium.executor.transports.ssh_target import SshTarget, ssh_target
from podium.jsontypes import Json


def test_defaults_follow_bolt() -> None:
    assert ssh_target({}, "web1") == SshTarget(
        host="web1",
        port=22,
        user=None,
        host_key_check=True,
        connect_timeout_s=10.0,
        tmpdir="/tmp",
    )


def test_every_key_is_read() -> None:
    config = {
        "host": "10.0.0.5",
        "port": 2222,
        "user": "deploy",
        "private-key": "~/keys/id",
        "password": "pw",
        "host-key-check": False,
        "connect-timeout": 3,
        "tmpdir": "/var/tmp",
        "run-as": "root",
        "login-shell": "bash",  # a Bolt key Podium ignores
    }
    target = ssh_target(config, "web1")
    assert target == SshTarget(
        host="10.0.0.5",
        port=2222,
        user="deploy",
        private_key=Path("~/keys/id").expanduser(),
        password="pw",
        host_key_check=False,
        connect_timeout_s=3.0,
        tmpdir="/var/tmp",
        run_as="root",
        sudo_password="pw",  # defaults to the login password, as in Bolt
    )
    assert target.address == "deploy@10.0.0.5:2222"
    assert ssh_target({"private-key": {"key-data": "KEY"}}, "n").key_data == "KEY"


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"port": "22"}, "port must be an integer"),
        ({"port": 70000}, "port must be an integer from 1 to 65535"),
        ({"user": 5}, "user of n must be a non-empty string"),
        ({"host": ""}, "host of n must be a non-empty string"),
        ({"host-key-check": "no"}, "host-key-check must be true or false"),
        ({"connect-timeout": 0}, "connect-timeout must be a positive number"),
        ({"private-key": ["a"]}, "private-key must be a path or"),
        ({"tmpdir": "tmp"}, "tmpdir must be an absolute path, not 'tmp'"),
    ],
)
def test_a_bad_setting_is_named(config: dict[str, Json], reason: str) -> None:
    with pytest.raises(RunError, match=reason):
        ssh_target(config, "n")


def test_connections_are_shared_only_with_the_same_login() -> None:
    base = ssh_target({"host": "h", "user": "u"}, "n")
    assert base.pool_key == ssh_target({"host": "h", "user": "u", "run-as": "x"}, "m").pool_key
    assert base.pool_key != ssh_target({"host": "h", "user": "v"}, "n").pool_key
    assert base.pool_key != ssh_target({"host": "h", "user": "u", "port": 2}, "n").pool_key
