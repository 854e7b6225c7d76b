"""What GET /jobs and the job events hide: sensitive parameters and a result's `_sensitive`."""

from __future__ import annotations

from podium.api.views import options
from podium.events.jobspec import TaskJob
from podium.events.render import REDACTED, redacted_result
from podium.jsontypes import Json


def test_sensitive_parameters_are_hidden_and_the_rest_kept() -> None:
    params = {"user": "u", "password": "p"}
    spec = TaskJob(environment="production", task="m::t", params=params, sensitive=["password"])
    shown = options(spec)
    assert shown["params"] == {"user": "u", "password": REDACTED}
    assert shown["sensitive"] == ["password"]
    assert spec.params["password"] == "p"  # the log's copy is untouched
    plain = TaskJob(environment="production", task="m::t", params={"a": 1})
    assert options(plain)["params"] == {"a": 1}


def test_a_results_sensitive_value_is_hidden_at_the_top_level_only() -> None:
    result: Json = {"_sensitive": {"token": "t"}, "nested": {"_sensitive": "kept"}}
    assert redacted_result(result) == {"_sensitive": REDACTED, "nested": {"_sensitive": "kept"}}
    assert redacted_result({"_output": "x"}) == {"_output": "x"}
    assert redacted_result(None) is None
