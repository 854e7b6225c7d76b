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


def _attribute_calls_of(names: set[str], path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
    ]


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_every_queue_and_exchange_is_declared_by_the_topology_module() -> None:
    declaring = {
        str(path.relative_to(ROOT))
        for path in _modules(ROOT)
        if _attribute_calls_of({"declare_queue", "declare_exchange"}, path)
    }
    assert declaring == {"events/amqp/topology.py"}


def test_the_amqp_package_spells_its_headers_and_loops_once() -> None:
    amqp = ROOT / "events" / "amqp"
    for header in ("x-podium-marker", "x-stream-offset"):
        spelled = {p.name for p in _modules(amqp) if header in _string_constants(p)}
        assert spelled == {"broker.py"}, header
    for name in ("publish_confirmed", "reattaching"):
        defined = {
            p.name
            for p in _modules(amqp)
            if any(
                isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.name == name
                for node in ast.walk(ast.parse(p.read_text()))
            )
        }
        assert defined == {"broker.py"}, name
    sleeping_loops = {
        p.name
        for p in _modules(amqp)
        if "RECOVERABLE" in p.read_text() and "sleep(" in p.read_text()
    }
    assert sleeping_loops <= {"broker.py"}
