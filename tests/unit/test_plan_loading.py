"""Loading YAML plans whole: each construct of the subset read as Bolt's documentation writes
it, and anything else refused with the plan, the step and the construct named."""

from __future__ import annotations

import textwrap

import pytest

from podium.environments import Environments
from podium.plans.catalog import PuppetPlan, bundle, list_plan_files, read_plan
from podium.plans.expr import Literal, evaluate
from podium.plans.load import PlanError, load_plan
from tests.conftest import ENVIRONMENTS

PRODUCTION = Environments(ENVIRONMENTS).get("production")


def load(text: str) -> None:
    load_plan("ops::p", textwrap.dedent(text))


def test_each_quoting_style_is_read_as_bolt_reads_it() -> None:
    assert PRODUCTION is not None
    found = read_plan(PRODUCTION, "plantest")
    assert found is not None
    plan = found[0]
    step = plan.steps[0]
    assert (step.action, step.object, step.name) == ("task", "testmod::echo", "check")
    assert step.parameters is not None
    scope = {"pkg": "openssl", "count": 2}
    assert evaluate(step.parameters, scope) == {
        "action": "status",
        "name": "openssl",
        "count": 2,
        "literal": "$not_a_variable",
        "tags": ["openssl", "plain", "openssl-dev"],
    }
    assert [s.action for s in plan.steps] == ["task", "message", "eval", "verbose"]
    assert [p.name for p in plan.parameters] == ["targets", "pkg", "count"]
    assert plan.parameters[1].has_default
    assert plan.parameters[1].default == "openssl"


def test_the_plans_of_an_environment_are_listed_by_name() -> None:
    assert PRODUCTION is not None
    names = [p.name for p in list_plan_files(PRODUCTION.module_dirs)]
    assert {"canary", "plantest", "plantest::commands", "plantest::nested::inner"} <= set(names)
    assert "plantest::puppet" in names  # listed; refused when run


def test_a_bundle_holds_every_plan_task_and_file_a_run_needs() -> None:
    assert PRODUCTION is not None
    outer = bundle(PRODUCTION, "plantest::outer")
    assert outer is not None
    assert set(outer.sources) == {"plantest::outer", "plantest::nested::inner"}
    assert set(outer.tasks) == {"testmod::echo"}
    commands = bundle(PRODUCTION, "plantest::commands")
    assert commands is not None
    assert set(commands.tasks) == {"bolt_shim::command", "bolt_shim::script", "bolt_shim::upload"}
    assert set(commands.files) == {"plantest/count_args.sh", "plantest/payload.txt"}


def test_a_puppet_language_plan_is_refused_naming_its_file() -> None:
    assert PRODUCTION is not None
    with pytest.raises(PuppetPlan, match=r"puppet\.pp.*only YAML plans run"):
        bundle(PRODUCTION, "plantest::puppet")


@pytest.mark.parametrize(
    ("plan", "step", "construct"),
    [
        ("plantest::unsupported", "step 2 (doubled)", "'.map'"),
        ("plantest::applies", "step 1", "resources steps"),
        ("plantest::downloads", "step 1", "download steps"),
    ],
)
def test_a_plan_outside_the_subset_is_refused_naming_plan_step_and_construct(
    plan: str, step: str, construct: str
) -> None:
    assert PRODUCTION is not None
    with pytest.raises(PlanError) as caught:
        bundle(PRODUCTION, plan)
    assert caught.value.details["plan"] == plan
    assert caught.value.details["step"] == step
    assert construct in str(caught.value.details["construct"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps:\n  - name: x\n", "No valid action detected"),
        ("steps:\n  - task: a\n    command: b\n    targets: x\n", "Multiple action keys"),
        ("steps:\n  - task: a\n", "requires 'targets'"),
        ("steps:\n  - command: ls\n    targets: x\n    run_as: root\n", "run_as is not supported"),
        (
            "steps:\n  - command: ls\n    targets: x\n    bogus: 1\n",
            "does not support the key 'bogus'",
        ),
        ("steps:\n  - message: $nope\n", r"unknown variable \$nope"),
        ("steps:\n  - message: hi\nextra: 1\n", "unknown top-level key 'extra'"),
        ("parameters: {}\n", "needs `steps`"),
        ("steps:\n  - name: Bad\n    message: x\n", "invalid step name"),
        ("steps:\n  - name: a\n    message: x\n  - name: a\n    message: y\n", "already used"),
        ("steps:\n  - eval: |\n      notice('hi')\n", "Puppet code in a block scalar"),
        ("steps:\n  - message: x\n    catch_errors: yes-please\n", "does not support the key"),
        ("steps:\n  - command: ls\n    targets: x\n    catch_errors: maybe\n", "true or false"),
        ("steps:\n  - task: $t\n    targets: x\n", "literal string"),
        ("steps:\n  - script: /etc/passwd\n    targets: x\n", "<module>/<file"),
        ("steps: [\n", "not valid YAML"),
        (
            "steps:\n  - name: one\n    eval: 1\n    parallel: true\n"
            "  - eval: $one\n    parallel: true\n",
            r"unknown variable \$one",
        ),
        ("steps:\n  - message: x\nreturn: $missing\n", r"unknown variable \$missing"),
    ],
)
def test_every_problem_is_one_error_naming_where(text: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        load(text)


def test_a_block_scalar_holding_an_expression_is_evaluated() -> None:
    plan = load_plan(
        "ops::p", "parameters:\n  x: {}\nsteps:\n  - name: y\n    eval: |\n      $x[1]\n"
    )
    assert plan.steps[0].body is not None
    assert evaluate(plan.steps[0].body, {"x": [1, 2]}) == 2


def test_a_plain_scalar_keeps_its_yaml_type() -> None:
    plan = load_plan("ops::p", "steps:\n  - eval: 42\n  - eval: true\n  - eval: '42'\n")
    assert [s.body for s in plan.steps] == [Literal(42), Literal(True), Literal("42")]
