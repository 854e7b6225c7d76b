"""The command line, built from one table of options: every flag has its variable, a default
declared once by its settings part, help in one line of the command it belongs to; README's
tables are generated from the same table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from podium.cli import build_parser, main, settings_from
from podium.events.amqp.settings import AmqpSettings
from podium.options import COMMANDS, OPTIONS, PARTS, options_of
from podium.settings import Settings
from tests.readme_options import README, with_generated_tables

URL = "amqp://guest:guest@broker:5672/"


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser({}).parse_args([*command.split(), "--help"])
    return capsys.readouterr().out


def flags_of(command: str, capsys: pytest.CaptureFixture[str]) -> set[str]:
    """The flags the command's help lists (each starts a line of its own)."""
    lines = re.findall(r"^  (--[a-z-]+(?:, --[a-z-]+)?)", help_of(command, capsys), re.M)
    return {flag for line in lines for flag in line.split(", ")}


def test_the_readme_tables_are_the_ones_the_options_give() -> None:
    text = README.read_text()
    assert "<!-- options: serve -->" in text
    assert with_generated_tables(text) == text, "run: python -m tests.readme_options"


def test_every_option_sets_a_field_of_its_part_and_has_a_variable() -> None:
    for option in OPTIONS:
        names = {field.name for field in dataclasses.fields(PARTS[option.part])}
        assert option.name in names, option.flag
        assert option.env == "PODIUM_" + option.flag[2:].replace("-", "_").upper()
    flags = [option.flag for option in OPTIONS]
    assert len(flags) == len(set(flags))


def test_no_value_given_means_every_default_of_the_settings_tree() -> None:
    assert settings_from(["serve"], {}) == Settings()


def test_the_version_is_the_packages(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("podium 0.")


@pytest.mark.parametrize(
    "command", [*COMMANDS, "user", "role", "token", "user add", "role grant", "token issue"]
)
def test_each_command_describes_itself_and_says_no_none(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(command, capsys)
    description = text.split("\n\n")[1]
    assert "\n" not in description.strip()
    assert "None" not in text


def test_each_command_takes_only_the_options_its_roles_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scheduler = flags_of("scheduler", capsys)
    # --inventory: the targets of plan steps are resolved by the scheduler that runs plans
    assert {
        "--max-inflight",
        "--lease-s",
        "--status-port",
        "--amqp-url",
        "--inventory",
    } <= scheduler
    assert not scheduler & {"--slots", "--port", "--environments", "--fsync"}
    executor = flags_of("executor", capsys)
    assert {"--slots", "--environments", "--heartbeat-s", "--status-port"} <= executor
    assert not executor & {"--max-inflight", "--port", "--inventory", "--public-url", "--fsync"}
    api = flags_of("api", capsys)
    assert not api & {"--slots", "--max-inflight", "--status-port", "--fsync"}
    serve = flags_of("serve", capsys)
    assert {"--fsync", "--no-fsync", "--uvloop", "--no-uvloop"} <= serve
    assert serve == {o.flag for o in options_of("serve")} | {"--no-fsync", "--no-uvloop"}


def test_on_off_options_are_flag_pairs_and_true_or_false_in_the_environment() -> None:
    assert settings_from(["serve", "--no-fsync"], {}).fsync is False
    assert settings_from(["serve", "--fsync"], {"PODIUM_FSYNC": "false"}).fsync is True
    assert settings_from(["serve"], {"PODIUM_FSYNC": "no"}).fsync is False


def test_flags_and_variables_reach_their_part_of_the_tree() -> None:
    settings = settings_from(
        ["executor", "--slots", "32", "--amqp-url", URL, "--work-batch", "8"],
        {"PODIUM_HEARTBEAT_S": "1.5", "PODIUM_PREFIX": "mine"},
    )
    assert (settings.executor.slots, settings.executor.heartbeat_s) == (32, 1.5)
    assert settings.work.batch == 8
    assert settings.amqp == AmqpSettings(url=URL, prefix="mine")
    served = settings_from(["serve", "--puppetdb-url", "https://pdb:8081", "--port", "9"], {})
    assert served.puppetdb is not None
    assert (served.puppetdb.url, served.puppetdb.timeout_s) == ("https://pdb:8081", 10.0)
    assert served.api.port == 9
    assert served.amqp is None


def test_a_bad_variable_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PODIUM_SLOTS", "many")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_a_bad_flag_names_what_it_must_be(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser({}).parse_args(["serve", "--slots", "0"])
    assert "must be a positive integer, not 0" in capsys.readouterr().err


def test_paths_given_are_paths() -> None:
    settings = settings_from(["serve", "--data-dir", "/var/lib/podium"], {})
    assert settings.data_dir == Path("/var/lib/podium")
