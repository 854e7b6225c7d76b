"""What a local run sees of the executor's environment: only the allowed variables, taken once
by the CLI into the settings."""

from __future__ import annotations

from podium.cli import settings_from
from podium.executor.settings import base_env

ENVIRON = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/var/lib/podium",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "LC_TIME": "en_GB.UTF-8",
    "TZ": "UTC",
    "USER": "podium",
    "PODIUM_AMQP_URL": "amqp://podium:s3cret@broker:5672/",
    "AWS_SECRET_ACCESS_KEY": "k3y",
    "LD_PRELOAD": "/tmp/evil.so",
    "PYTHONPATH": "/somewhere",
}


def test_only_the_allowed_variables_are_kept() -> None:
    assert dict(base_env(ENVIRON)) == {
        "PATH": "/usr/bin:/bin",
        "HOME": "/var/lib/podium",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "LC_TIME": "en_GB.UTF-8",
        "TZ": "UTC",
        "USER": "podium",
    }


def test_the_cli_puts_the_allowed_variables_in_the_settings() -> None:
    settings = settings_from(["serve"], ENVIRON)
    assert settings.executor.base_env == base_env(ENVIRON)
    assert "PODIUM_AMQP_URL" not in dict(settings.executor.base_env)
