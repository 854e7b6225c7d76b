"""What GET /jobs and the job events hide: sensitive parameters and a result's `_sensitive`."""

from __future__ import annotations

from podium.api.views import redacted_options
from podium.events.render import REDACTED, redacted_result
from podium.jsontypes import Json


def test_sensitive_parameters_are_hidden_and_the_rest_kept() -> None:
    options: dict[str, Json] = {
        "task": "m::t",
        "params": {"user": "u", "password": "p"},
        "sensitive": ["password"],
    }
    shown = redacted_options(options)
    assert shown["params"] == {"user": "u", "password": REDACTED}
    assert options["params"]["password"] == "p"  # the log's copy is untouched
    assert redacted_options({"params": {"a": 1}, "sensitive": []}) == {
        "params": {"a": 1},
        "sensitive": [],
    }


def test_a_results_sensitive_value_is_hidden_at_the_top_level_only() -> None:
    result: Json = {"_sensitive": {"token": "t"}, "nested": {"_sensitive": "kept"}}
    assert redacted_result(result) == {"_sensitive": REDACTED, "nested": {"_sensitive": "kept"}}
    assert redacted_result({"_output": "x"}) == {"_output": "x"}
    assert redacted_result(None) is None
