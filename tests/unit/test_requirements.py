"""What a test does when something it needs is missing: under CI it fails, saying what is
missing; elsewhere it skips with the same message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sshd import SshServer, require_run_as

SOMEONE = SshServer("127.0.0.1", 22, "someone", Path("/nonexistent/key"), Path("/dev/null"))


@pytest.mark.parametrize(("name", "value"), [("CI", "true"), ("PODIUM_REQUIRE_RABBITMQ", "1")])
def test_under_ci_a_missing_requirement_fails_saying_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PODIUM_REQUIRE_RABBITMQ", raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(pytest.fail.Exception, match="run-as is tested from a root login"):
        require_run_as(SOMEONE)


def test_elsewhere_a_missing_requirement_skips_saying_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "false")
    monkeypatch.delenv("PODIUM_REQUIRE_RABBITMQ", raising=False)
    with pytest.raises(pytest.skip.Exception, match="tests run as someone"):
        require_run_as(SOMEONE)
