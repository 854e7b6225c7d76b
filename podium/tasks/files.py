"""A task's files: its executable and the support files its metadata lists under `files`.

A `files` entry is `<module>/<files|lib|tasks|scripts>/<path>`; a trailing `/` names a whole
directory. A runner copies them into an install tree laid out like the modules,
`<installdir>/<module>/<kind>/<path>`, with the executable at `<installdir>/<module>/tasks/`,
and passes `<installdir>` to the task as `_installdir`. Every file must be inside its module
once symlinks are followed; a symlink that leads elsewhere makes the entry an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

from podium.tasks.names import SEGMENT

KINDS: Final = frozenset({"files", "lib", "tasks", "scripts"})


class TaskFileError(ValueError):
    """Raised for a `files` entry that is malformed or names nothing that exists."""


@dataclass(frozen=True, slots=True)
class TaskFile:
    install_path: PurePosixPath  # relative to the install dir: `<module>/<kind>/<path>`
    source: Path

    @property
    def module_path(self) -> str:
        """The path inside its module (`files/x.sh`), as a file server would serve it."""
        return str(PurePosixPath(*self.install_path.parts[1:]))


def executable_file(module: str, path: Path) -> TaskFile:
    return TaskFile(PurePosixPath(module, "tasks", path.name), path)


def support_files(module_dirs: Sequence[Path], entries: Sequence[str]) -> list[TaskFile]:
    """Every file the entries name, directories expanded, in entry then path order, each once.
    Raises TaskFileError."""
    found: dict[PurePosixPath, TaskFile] = {}
    for entry in entries:
        for task_file in _expand(module_dirs, entry):
            found.setdefault(task_file.install_path, task_file)
    return list(found.values())


def _expand(module_dirs: Sequence[Path], entry: str) -> list[TaskFile]:
    module, kind, rest, is_dir = _split(entry)
    root = next((d / module for d in module_dirs if (d / module).is_dir()), None)
    if root is None:
        raise TaskFileError(f"files entry {entry!r}: there is no module {module}")
    source = root / kind / rest if rest else root / kind
    if not is_dir:
        if not source.is_file():
            raise TaskFileError(f"files entry {entry!r}: no such file")
        _check_inside(root, source, f"files entry {entry!r}: ")
        return [TaskFile(PurePosixPath(module, kind, rest), source)]
    if not source.is_dir():
        raise TaskFileError(f"files entry {entry!r}: no such directory")
    _check_inside(root, source, f"files entry {entry!r}: ")
    found = []
    for path in sorted(source.rglob("*")):  # a symlinked directory is not descended into
        if path.is_file():
            _check_inside(root, path, f"files entry {entry!r}: ")
            found.append(
                TaskFile(PurePosixPath(module, kind, *path.relative_to(root / kind).parts), path)
            )
    return found


def check_inside_module(root: Path, path: Path) -> None:
    """Raises TaskFileError when `path`, symlinks followed, is not inside the module `root`:
    a module's files must not bring in the rest of the host (`files/etc -> /etc`)."""
    _check_inside(root, path, "")


def _check_inside(root: Path, path: Path, context: str) -> None:
    if not path.resolve().is_relative_to(root.resolve()):
        shown = PurePosixPath(root.name, *path.relative_to(root).parts)
        raise TaskFileError(f"{context}{shown} leads outside the module {root.name}")


def _split(entry: str) -> tuple[str, str, str, bool]:
    is_dir = entry.endswith("/")
    parts = entry.rstrip("/").split("/")
    bad = len(parts) < 2 or any(part in ("", ".", "..") for part in parts) or "\\" in entry
    if bad or not SEGMENT.match(parts[0]) or parts[1] not in KINDS:
        raise TaskFileError(
            f"files entry {entry!r} must be <module>/<files|lib|tasks|scripts>/<path>, "
            "without '.' or '..' segments"
        )
    if len(parts) == 2 and not is_dir:
        raise TaskFileError(f"files entry {entry!r} names a directory: end it with '/'")
    return parts[0], parts[1], "/".join(parts[2:]), is_dir


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
