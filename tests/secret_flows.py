"""A graph that leaks secrets everywhere a person could read them: input values, a secret
input's default, log lines (its own and ``logging``'s), an error message and its traceback,
outputs under secret keys and inside text, and a wait answer. Every surface's test runs it
and checks that none of ``SECRETS`` shows. Importable by reference (CLI, workers, studio)."""

from __future__ import annotations

import logging

import runtime as rt

DB_PASSWORD = "hunter2-db-pass"
"""Given as the run input ``db_password``: a known value once the run's redactor is built."""
DEFAULT_KEY = "sk-default-key-123"
"""The default of the secret-named input ``api_key``."""
LOGGED = "pattern-secret-9"
"""Only ever logged as ``password=...``: the pattern rule hides it."""
OUTPUT_TOKEN = "tok-output-777"
"""Returned under the key ``token``."""
ANSWER = "wait-secret-55"
"""Given to the wait node's ``pin_password`` field."""
SECRETS = (DB_PASSWORD, DEFAULT_KEY, LOGGED, OUTPUT_TOKEN, ANSWER)

leaky = rt.Graph("leaky", description="Leaks its secrets into every view.")


@leaky.node
def connect(db_password: str, api_key: str = DEFAULT_KEY) -> dict:
    rt.current().log(f"connecting with {db_password} and {api_key}")
    logging.getLogger("tests.leaky").warning("retrying with password=%s", LOGGED)
    return {
        "user": "ada",
        "password": db_password,
        "token": OUTPUT_TOKEN,
        "dsn": f"postgresql://ada:{db_password}@db/app",
    }


@leaky.node
def check(connect: dict) -> None:
    raise PermissionError(f"login refused for {connect['user']} with {connect['password']}")


leaky.wait("approve", {"ok": bool, "pin_password": (str, "")}, after=["connect"])


@leaky.node
def confirm(approve: dict) -> str:
    return f"approved with pin {approve['pin_password']}"


def run_to_the_end() -> rt.Run:
    """A run of ``leaky`` that waited, was answered and failed (``check``)."""
    run = leaky.run(db_password=DB_PASSWORD).wait(30)
    assert run.status == "waiting", run.error
    run.resume("approve", ok=True, pin_password=ANSWER, answered_by="ada").wait(30)
    assert run.status == "failed", run.status
    return run


def assert_no_secret(text: str, where: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{where} shows {leaked}"
