"""docker-compose.yml cannot run here (no Docker engine); check that what it runs exists:
each service command is a real ``plait`` subcommand and each PLAIT_ setting is one the code
reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main
import yaml

from runtime.cli import app
from runtime.config import Settings

ROOT = Path(__file__).parent.parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _resolve(argv: list[str]) -> Any:
    command: Any = typer.main.get_command(app)
    ctx = command.context_class(command)
    for word in argv:
        if word.startswith("-"):
            break
        assert hasattr(command, "get_command"), f"{argv}: {command.name} takes no subcommand"
        sub = command.get_command(ctx, word)
        assert sub is not None, f"`plait {' '.join(argv)}`: no subcommand {word!r}"
        command = sub
    return command


def _plait_services() -> dict[str, dict]:
    return {
        name: svc
        for name, svc in COMPOSE["services"].items()
        if svc.get("command", [None])[0] == "plait"
    }


def test_services_run_real_plait_subcommands() -> None:
    services = _plait_services()
    assert {"migrate", "worker", "scheduler", "studio"} <= set(services)
    for name, svc in services.items():
        argv = svc["command"][1:]
        command = _resolve(argv)
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        for word in argv:
            if word.startswith("--"):
                assert word in options, f"service {name}: `{word}` is not an option of {argv}"


def test_environment_names_settings_the_code_reads() -> None:
    fields = {f"PLAIT_{name.upper()}" for name in Settings.model_fields}
    for name, svc in _plait_services().items():
        env = svc.get("environment", {})
        plait_vars = {key for key in env if key.startswith("PLAIT_")}
        assert {"PLAIT_DATABASE_URL", "PLAIT_REDIS_URL", "PLAIT_SECRET_KEY"} <= plait_vars, name
        unknown = plait_vars - fields
        assert not unknown, f"service {name} sets settings nothing reads: {unknown}"


def test_only_publishers_get_the_private_signing_key() -> None:
    services = _plait_services()
    for name in ("worker", "scheduler"):  # they run code, or will: public keys only
        env = services[name]["environment"]
        assert "PLAIT_VERIFY_KEYS" in env and "PLAIT_SIGNING_KEY" not in env, name
    for name in ("studio", "migrate"):  # the studio publishes; migrate is the operator's shell
        assert "PLAIT_SIGNING_KEY" in services[name]["environment"], name


def test_infrastructure_services_persist() -> None:
    services = COMPOSE["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert services["redis"]["image"].startswith("redis:7")
    assert "--appendonly" in services["redis"]["command"]
    assert services["worker"].get("deploy", {}).get("replicas") is None  # scaled with --scale
