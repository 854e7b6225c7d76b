"""Environment names: the names code directories use are found; a name that could reach
outside the environments directory is refused before any file is looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.environments import Environments, InvalidEnvironmentName


@pytest.mark.parametrize(
    "name", ["production", "test-env-1", "Feature_X", "2024_q1", "_scratch", "a" * 255]
)
def test_names_of_letters_digits_underscores_and_dashes_are_found(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / "environments" / name).mkdir(parents=True)
    environments = Environments(tmp_path / "environments")
    found = environments.get(name)
    assert found is not None
    assert found.path == tmp_path / "environments" / name
    assert name in environments.names()


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", ".hidden", "../environments", "a/b", "/etc", "a\0b", "-x", "a b", "é",
     "prod\n", "a" * 256],
)  # fmt: skip
def test_names_that_are_not_one_plain_directory_name_are_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / "environments" / "a").mkdir(parents=True)
    with pytest.raises(InvalidEnvironmentName, match="invalid environment name"):
        Environments(tmp_path / "environments").get(name)
