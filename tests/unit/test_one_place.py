"""Things built or declared in one place only, checked over the source: run endings, the JSON
alias, the message of a run skipped by a stop."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

import podium

ROOT: Final = Path(podium.__file__).parent
REPOSITORY: Final = ROOT.parent


def _modules(*folders: Path) -> list[Path]:
    return sorted(
        path
        for folder in folders
        for path in folder.rglob("*.py")
        if "examples" not in path.relative_to(folder).parts
    )


def _calls_of(name: str, path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


def _assignments_of(name: str, path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        found += [node.lineno for t in targets if isinstance(t, ast.Name) and t.id == name]
    return found


def test_node_run_finished_is_built_only_by_the_endings_module() -> None:
    builders = {
        str(path.relative_to(ROOT)): lines
        for path in _modules(ROOT)
        if (lines := _calls_of("NodeRunFinished", path))
    }
    # `legacy` rebuilds ends recorded by an old version in their current shape.
    assert set(builders) == {"events/endings.py", "events/legacy.py"}


def test_the_json_alias_is_declared_once() -> None:
    folders = (ROOT, REPOSITORY / "tests", REPOSITORY / "benchmarks")
    declared = {
        str(path.relative_to(REPOSITORY))
        for path in _modules(*folders)
        if _assignments_of("Json", path)
    }
    assert declared == {"podium/jsontypes.py"}


def test_the_message_of_a_run_skipped_by_a_stop_is_declared_once() -> None:
    declared = {
        str(path.relative_to(ROOT))
        for path in _modules(ROOT)
        if _assignments_of("SKIPPED_BY_STOP", path)
    }
    assert declared == {"events/endings.py"}
