"""The deployment files: the compose file parses and runs every role, each with a health check;
there is a systemd unit per role."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
ROLES = ("api", "scheduler", "executor")


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def podium_services() -> dict[str, dict[str, Any]]:
    services = compose()["services"]
    return {name: s for name, s in services.items() if s.get("image") == "podium:latest"}


def test_the_compose_file_runs_two_apis_two_schedulers_and_three_executors() -> None:
    roles = Counter(service["command"][0] for service in podium_services().values())
    assert roles == {"api": 2, "scheduler": 2, "executor": 3}


def test_every_podium_service_reaches_the_broker_and_has_a_health_check() -> None:
    for name, service in podium_services().items():
        assert service["environment"]["PODIUM_AMQP_URL"].startswith("amqp://"), name
        assert "status/v1/simple" in " ".join(service["healthcheck"]["test"]), name
        assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy", name
        if service["command"][0] != "api":
            assert "--status-port" in service["command"], name


def test_rabbitmq_keeps_its_data_on_a_volume_and_has_a_health_check() -> None:
    rabbitmq = compose()["services"]["rabbitmq"]
    assert rabbitmq["image"].startswith("rabbitmq:3.10")
    assert any(volume.endswith(":/var/lib/rabbitmq") for volume in rabbitmq["volumes"])
    assert "rabbitmq-data" in compose()["volumes"]
    assert rabbitmq["healthcheck"]["test"]


def test_one_port_fronts_both_api_replicas() -> None:
    services = compose()["services"]
    apis = {name for name, s in podium_services().items() if s["command"][0] == "api"}
    lb = services["lb"]
    assert set(lb["depends_on"]) == apis
    assert lb["ports"] == ["127.0.0.1:8143:8143"]
    config = (DEPLOY / "nginx.conf").read_text()
    assert all(f"server {api}:8143" in config for api in apis)


def test_there_is_a_systemd_unit_per_role() -> None:
    for role in ROLES:
        unit = (DEPLOY / "systemd" / f"podium-{role}.service").read_text()
        assert f"podium {role}" in unit
        assert "EnvironmentFile=/etc/podium/podium.env" in unit
        assert "Restart=always" in unit


def test_the_image_runs_the_podium_command() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["podium"]' in dockerfile
    assert "pip install" in dockerfile
