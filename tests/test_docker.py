"""docker/: the compose file against the Compose Specification's JSON schema, and what a compose
tool's `config` would also catch (dangling references), plus each instance's settings against
Cercle's own validation. No container engine runs here."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from server.config import load_settings

REPO = Path(__file__).resolve().parent.parent
DOCKER = REPO / "docker"
SCHEMA = json.loads((REPO / "tests" / "data" / "compose-spec.json").read_text())
INSTANCES = {"paris": ("FR", "fr"), "munich": ("DE", "de"), "chicago": ("US", "us")}
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def spec_errors(document: dict[str, Any]) -> list[str]:
    validator_class = jsonschema.validators.validator_for(SCHEMA)
    validator_class.check_schema(SCHEMA)
    validator = validator_class(SCHEMA)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    constraint = validator_class(SCHEMA["definitions"]["constraints"]["service"])
    for name, service in document.get("services", {}).items():
        errors += [f"services/{name}: {e.message}" for e in constraint.iter_errors(service)]
    return errors


def interpolate(value: str) -> str:
    return _VARIABLE.sub(lambda m: m.group(2) or "", value)


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert spec_errors(compose()) == []


def test_the_schema_catches_a_wrong_file() -> None:
    wrong = compose()
    wrong["services"]["web-paris"]["dependson"] = wrong["services"]["web-paris"].pop("depends_on")
    wrong["services"]["mailpit"].pop("image")
    errors = spec_errors(wrong)
    assert any("dependson" in error for error in errors)
    assert any(error.startswith("services/mailpit") for error in errors)


def test_references_resolve() -> None:
    document = compose()
    services, volumes, networks = document["services"], document["volumes"], document["networks"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on an unknown service {dependency}"
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source.startswith(".") or source in volumes, f"{name} mounts an undeclared volume {source}"
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name} mounts a missing file {source}"
        for network in service.get("networks", []):
            assert network in networks
    caddy = (DOCKER / "Caddyfile").read_text()
    for upstream in re.findall(r"dynamic a (\S+) 8000", caddy):
        assert upstream in services


def test_three_jurisdictions_each_with_its_database_web_and_workers() -> None:
    services = compose()["services"]
    assert "mailpit" in services and services["mailpit"]["image"].startswith("axllent/mailpit")
    for instance, (jurisdiction, charter) in INSTANCES.items():
        setup, web, worker = (
            services[f"setup-{instance}"],
            services[f"web-{instance}"],
            services[f"worker-{instance}"],
        )
        assert services[f"db-{instance}"]["image"].startswith("postgres:")
        assert setup["command"] == ["setup"] and web["command"] == ["web"] and worker["command"] == ["worker"]
        assert web["deploy"]["replicas"] >= 2 and worker["deploy"]["replicas"] >= 2
        assert f"media-{instance}:/var/lib/cercle/media" in web["volumes"]
        assert f"media-{instance}:/var/lib/cercle/media" in worker["volumes"]
        for service in (web, worker):
            assert service["depends_on"][f"setup-{instance}"]["condition"] == "service_completed_successfully"
        environment = web["environment"]
        assert environment["CERCLE_CHARTER"] == charter
        assert environment["CERCLE_RUN_WORKERS_IN_PROCESS"] == "false"
        assert f"@db-{instance}/" in environment["CERCLE_DATABASE_URL"]
        peers = json.loads(environment["CERCLE_PEERS"])
        assert {p["jurisdiction"] for p in peers} == {j for i, (j, _) in INSTANCES.items() if i != instance}
        assert jurisdiction not in {p["jurisdiction"] for p in peers}


@pytest.mark.parametrize("instance", sorted(INSTANCES))
def test_each_instance_has_valid_cercle_settings(instance: str, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = compose()["services"][f"web-{instance}"]["environment"]
    for key in [k for k in os.environ if k.startswith("CERCLE_")]:
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, interpolate(str(value)))
    monkeypatch.setenv("CERCLE_CHARTER_DIR", str(REPO / "charter"))
    settings = load_settings(None)
    assert settings.domain == f"{instance}.cercle.test" and settings.scheme == "https"
    assert settings.is_postgres and not settings.run_workers_in_process
    assert (REPO / "charter" / f"{settings.charter}.toml").exists()


def test_the_image_runs_unprivileged_with_a_health_check() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    user = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user and not user[-1].startswith(("root", "0"))
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    for copied in re.findall(r"^COPY (?:--\S+ )*(docker/\S+)", dockerfile, re.MULTILINE):
        assert (REPO / copied).exists(), copied
    subprocess.run(["sh", "-n", str(DOCKER / "entrypoint.sh")], check=True)
