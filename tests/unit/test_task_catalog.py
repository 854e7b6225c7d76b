"""Task discovery and metadata: implementation choice by features, `files` entries and the
install layout, tolerant metadata; and how parameters become stdin and `PT_*` variables."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from podium.executor.taskrun import task_input
from podium.executor.transports.base import RunError
from podium.executor.transports.ssh_remote import wrapper
from podium.tasks.catalog import Task, TaskError, find_task, list_tasks
from podium.tasks.files import TaskFileError, support_files
from podium.tasks.names import TaskName


def write(path: Path, text: str = "#!/bin/sh\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    root = tmp_path / "modules"
    tasks = root / "pkg" / "tasks"
    for name in ("posix.sh", "windows.ps1", "agent.rb", "plain.sh", "hidden.sh"):
        write(tasks / name)
    write(tasks / "init.json", json.dumps({
        "input_method": "stdin",
        "files": ["pkg/files/common.sh"],
        "implementations": [
            {"name": "agent.rb", "requirements": ["puppet-agent"], "files": ["pkg/lib/"]},
            {"name": "windows.ps1", "requirements": ["powershell"]},
            {"name": "posix.sh", "requirements": ["shell"], "input_method": "environment"},
        ],
    }))  # fmt: skip
    write(tasks / "hidden.json", '{"private": true, "description": "a", "description": "b"}')
    write(root / "pkg" / "files" / "common.sh", "common")
    write(root / "pkg" / "lib" / "a.rb", "a")
    write(root / "pkg" / "lib" / "deep" / "b.rb", "b")
    write(root / "other" / "files" / "x.txt", "x")
    return root


def task(modules: Path, name: str) -> Task:
    found = find_task([modules], TaskName("pkg", name))
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("features", "chosen", "method", "files"),
    [
        ([], "posix.sh", "environment", ("pkg/files/common.sh",)),
        (["powershell"], "windows.ps1", "stdin", ("pkg/files/common.sh",)),
        (["powershell", "puppet-agent"], "agent.rb", "stdin", ("pkg/files/common.sh", "pkg/lib/")),
    ],
)
def test_the_first_implementation_the_target_can_run_is_chosen(
    modules: Path, features: list[str], chosen: str, method: str, files: tuple[str, ...]
) -> None:
    implementation = task(modules, "init").implementation(features)
    assert implementation is not None
    assert (implementation.path.name, implementation.input_method) == (chosen, method)
    assert implementation.files == files


def test_no_implementation_fits_a_target_without_the_required_features(modules: Path) -> None:
    write(modules / "pkg" / "tasks" / "agentonly.json", json.dumps(
        {"implementations": [{"name": "agent.rb", "requirements": ["puppet-agent"]}]}
    ))  # fmt: skip
    assert task(modules, "agentonly").implementation(["shell"]) is None


def test_a_ps1_task_defaults_to_the_powershell_input_method(modules: Path) -> None:
    write(modules / "pkg" / "tasks" / "win.ps1")
    implementation = task(modules, "win").implementation([])
    assert implementation is not None
    assert implementation.input_method == "powershell"


def test_support_files_expand_directories_into_the_install_layout(modules: Path) -> None:
    implementation = task(modules, "init").implementation(["puppet-agent"])
    assert implementation is not None
    installed = task(modules, "init").install_files(implementation)
    assert [str(f.install_path) for f in installed] == [
        "pkg/files/common.sh",
        "pkg/lib/a.rb",
        "pkg/lib/deep/b.rb",
    ]
    assert installed[2].source == modules / "pkg" / "lib" / "deep" / "b.rb"


def test_files_of_another_module_are_found_too(modules: Path) -> None:
    (found,) = support_files([modules], ["other/files/x.txt"])
    assert found.install_path == PurePosixPath("other/files/x.txt")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("pkg/files/missing.sh", "no such file"),
        ("pkg/lib/nothere/", "no such directory"),
        ("nomodule/files/x", "there is no module"),
        ("pkg/secrets/x", "must be <module>/<files|lib|tasks|scripts>"),
        ("pkg/files/../../../etc/passwd", "without '.' or '..'"),
        ("/etc/passwd", "must be"),
        ("pkg/lib", "end it with '/'"),
    ],
)
def test_a_bad_files_entry_is_refused(modules: Path, entry: str, reason: str) -> None:
    with pytest.raises(TaskFileError, match=reason.replace("|", r"\|")):
        support_files([modules], [entry])


def test_a_task_whose_files_entry_is_missing_cannot_be_installed(modules: Path) -> None:
    write(modules / "pkg" / "tasks" / "broken.json", '{"files": ["pkg/files/gone"]}')
    write(modules / "pkg" / "tasks" / "broken.sh")
    broken = task(modules, "broken")
    implementation = broken.implementation([])
    assert implementation is not None
    with pytest.raises(TaskError, match="task pkg::broken: files entry 'pkg/files/gone'"):
        broken.install_files(implementation)


def test_metadata_keeps_the_last_duplicate_key_and_private_tasks_are_still_tasks(
    modules: Path,
) -> None:
    names = [t.name.full for t in list_tasks([modules])]
    assert names == ["pkg", "pkg::agent", "pkg::hidden", "pkg::plain", "pkg::posix", "pkg::windows"]
    hidden = task(modules, "hidden")
    assert hidden.metadata.private
    assert hidden.metadata.description == "b"


AS_JSON = b'{"a": 1, "b": "x", "_task": "m::t"}'
AS_VARIABLES = {"PT_a": "1", "PT_b": "x", "PT__task": "m::t"}


@pytest.mark.parametrize(
    ("method", "stdin", "env"),
    [("stdin", AS_JSON, {}), ("environment", None, AS_VARIABLES), ("both", AS_JSON, AS_VARIABLES)],
)
def test_the_input_method_decides_between_stdin_and_variables(
    method: str, stdin: bytes | None, env: dict[str, str]
) -> None:
    assert task_input(method, {"a": 1, "b": "x", "_task": "m::t"}) == (stdin, env)


def test_a_value_no_environment_variable_can_hold_is_refused() -> None:
    with pytest.raises(RunError, match="parameter a cannot be passed"):
        task_input("environment", {"a": "nul\0byte"})


def test_the_ssh_wrapper_exports_variables_quoted_and_runs_the_task_in_its_directory() -> None:
    script = wrapper(
        "/tmp/p/work/tree/m/tasks/t.sh", {"PT_a": "it's $x", "PT_odd-name": "1"}, None
    ).decode()
    assert script.splitlines() == [
        "#!/bin/sh",
        "PT_a='it'\"'\"'s $x'; export PT_a",
        "cd /tmp/p/work/tree/m/tasks || exit 125",
        "exec env PT_odd-name=1 /tmp/p/work/tree/m/tasks/t.sh",
    ]
    with_input = wrapper("/d/t.sh", {}, "/d/input.json").decode()
    assert with_input.splitlines()[-1] == "exec /d/t.sh < /d/input.json"


def test_a_files_entry_through_a_symlink_out_of_the_module_is_refused(
    modules: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    write(outside / "hostname", "secret")
    (modules / "pkg" / "files" / "etcdir").symlink_to(outside)
    with pytest.raises(TaskFileError, match="leads outside the module"):
        support_files([modules], ["pkg/files/etcdir/hostname"])
    with pytest.raises(TaskFileError, match="leads outside the module"):
        support_files([modules], ["pkg/files/etcdir/"])


def test_a_symlinked_file_in_a_listed_directory_that_leads_outside_is_refused(
    modules: Path, tmp_path: Path
) -> None:
    write(tmp_path / "outside.txt", "secret")
    (modules / "pkg" / "lib" / "deep" / "escape.rb").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(TaskFileError, match=r"pkg/lib/deep/escape\.rb leads outside the module"):
        support_files([modules], ["pkg/lib/"])


def test_symlinks_that_stay_inside_the_module_are_followed(modules: Path) -> None:
    (modules / "pkg" / "lib" / "alias.rb").symlink_to(modules / "pkg" / "files" / "common.sh")
    found = support_files([modules], ["pkg/lib/", "pkg/lib/alias.rb"])
    assert [str(f.install_path) for f in found] == [
        "pkg/lib/a.rb",
        "pkg/lib/alias.rb",
        "pkg/lib/deep/b.rb",
    ]


def test_a_task_executable_that_leads_outside_its_module_is_refused(
    modules: Path, tmp_path: Path
) -> None:
    write(tmp_path / "elsewhere.sh")
    (modules / "pkg" / "tasks" / "linked.sh").symlink_to(tmp_path / "elsewhere.sh")
    with pytest.raises(
        TaskError, match=r"task pkg::linked: pkg/tasks/linked\.sh leads outside the module pkg"
    ):
        find_task([modules], TaskName("pkg", "linked"))
    assert "pkg::linked" not in [t.name.full for t in list_tasks([modules])]
