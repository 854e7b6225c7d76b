"""Every loader of a YAML configuration file refuses a file it cannot use with its own error,
naming the file: bad syntax, bytes that are not UTF-8, and nesting deep enough to exhaust
PyYAML's stack or to trouble whoever walks the data later."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest

from podium.applications import ApplicationsError, load_applications
from podium.environments import Environments
from podium.environments.environments import BadEnvironment
from podium.inventory import InventoryError, load_inventory
from podium.node_groups import NodeGroupError, load_node_groups
from podium.yamlfile import MAX_DEPTH, too_deep

DEEP: Final = "[" * 10_000 + "]" * 10_000  # far past PyYAML's recursion
TOO_DEEP: Final = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH  # readable, but past MAX_DEPTH
NOT_UTF8: Final = b"a: \xff\xfe\n"


def inventory(root: Path, data: bytes) -> Path:
    (root / "inventory.yaml").write_bytes(data)
    load_inventory(root / "inventory.yaml")
    return root / "inventory.yaml"


def node_groups(root: Path, data: bytes) -> Path:
    (root / "groups.yaml").write_bytes(data)
    load_node_groups(root / "groups.yaml")
    return root / "groups.yaml"


def applications(root: Path, data: bytes) -> Path:
    (root / "applications.yaml").write_bytes(data)
    load_applications(root)
    return root / "applications.yaml"


def environment_settings(root: Path, data: bytes) -> Path:
    (root / "production").mkdir()
    (root / "production" / "podium.yaml").write_bytes(data)
    Environments(root).get("production")
    return root / "production" / "podium.yaml"


LOADERS: Final[list[tuple[Callable[[Path, bytes], Path], type[Exception]]]] = [
    (inventory, InventoryError),
    (node_groups, NodeGroupError),
    (applications, ApplicationsError),
    (environment_settings, BadEnvironment),
]


@pytest.mark.parametrize(("load", "error"), LOADERS, ids=lambda p: getattr(p, "__name__", ""))
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (DEEP.encode(), "nested more deeply than YAML can be read"),
        (TOO_DEEP.encode(), f"nested more than {MAX_DEPTH} levels deep"),
        (NOT_UTF8, "not UTF-8"),
        (b"a: [", "not valid YAML"),
    ],
    ids=["deep", "too-deep", "not-utf8", "not-yaml"],
)
def test_a_file_that_cannot_be_read_is_the_loaders_own_error_naming_the_file(
    tmp_path: Path,
    load: Callable[[Path, bytes], Path],
    error: type[Exception],
    data: bytes,
    message: str,
) -> None:
    with pytest.raises(error) as refused:
        load(tmp_path, data)
    assert str(refused.value).startswith(f"{tmp_path}/")
    assert message in str(refused.value)


def test_a_file_that_is_not_there_is_named_too(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=f"{tmp_path}/nothing.yaml: cannot read: No such"):
        load_inventory(tmp_path / "nothing.yaml")


def test_nesting_is_measured_without_recursion_and_without_following_aliases_twice() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert too_deep(deep, MAX_DEPTH)
    assert not too_deep({"a": [{"b": [1]}]}, 4)
    assert too_deep({"a": [{"b": [1]}]}, 3)
    shared: list[object] = list(range(10))
    for _ in range(30):  # 10**30 paths through 30 shared lists
        shared = [shared] * 10
    assert not too_deep(shared, MAX_DEPTH)
