"""The layers of `podium` import only downwards: shared code never imports a role or the
assembly, and the roles never import each other or the assembly. Clients of the HTTP API
import nothing of `podium` but themselves; only the assembly (the CLI) imports them."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

import pytest

import podium

ROOT: Final = Path(podium.__file__).parent
SHARED: Final = frozenset(
    {
        "events",
        "inventory",
        "queries",
        "node_groups",
        "applications",
        "environments",
        "tasks",
        "auth",
        "yamlfile",
        "jsontypes",
        "webserver",
        "health",
        "rbac",
        "plans",
        "history",
    }
)
ROLES: Final = frozenset({"api", "scheduler", "executor"})
CLIENTS: Final = frozenset({"client"})  # talk to a server over HTTP: they import nothing of it


def _package_of(path: Path) -> str:
    part = path.relative_to(ROOT).parts[0]
    return part.removesuffix(".py")


def _podium_imports(path: Path) -> set[str]:
    """The second-level packages of `podium` that a module imports."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "podium" and len(parts) > 1:
                found.add(parts[1])
    return found


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "examples" not in p.relative_to(ROOT).parts)


def _allowed(package: str) -> frozenset[str]:
    if package in CLIENTS:
        return frozenset({package})
    if package in SHARED:
        return SHARED
    if package in ROLES:
        return SHARED | {package}
    return SHARED | ROLES | CLIENTS | {package} | frozenset(p.stem for p in ROOT.glob("*.py"))


def test_the_package_list_covers_every_folder() -> None:
    folders = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert folders <= SHARED | ROLES | CLIENTS


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_from_its_own_layer_or_below(path: Path) -> None:
    package = _package_of(path)
    assert _podium_imports(path) - _allowed(package) == set()
