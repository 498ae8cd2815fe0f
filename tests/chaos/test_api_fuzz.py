"""The REST API under a fuzzer: schemathesis drives every operation of ``/api/v1`` (examples,
coverage, fuzzing and the stateful phase that chains start -> read -> resume -> cancel ->
retry through the links it infers) against a real uvicorn process on a PostgreSQL store
seeded with runs of a graph with a wait node. No answer may be a 5xx, and every answer must
match the OpenAPI schema (status code, content type, headers, body).

The request count and the 5xx count come from the server's own access log, not from the
fuzzer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis.engine import Status, events

import runtime as rt
from runtime.auth.apikeys import ApiKeys
from tests.chaos import api_flows, ledger
from tests.faults.servers import free_port

ROOT = Path(__file__).parent.parent.parent
MAX_EXAMPLES = 100
"""Examples per operation and phase: about two minutes on a quiet 2-core machine."""
MAX_SECONDS = 120
"""The fuzzer stops there whatever it has left (a busy machine makes fewer requests)."""
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def seed(client: rt.Client) -> None:
    """Runs in every state the API can show: waiting, succeeded, failed, cancelled."""
    waiting = api_flows.review.run(topic="fuzz").wait(30)
    assert waiting.status == "waiting", waiting.error
    answered = api_flows.review.run(topic="answered").wait(30)
    answered.resume("approve", ok=True, amount=2, answered_by="seed").wait(30)
    assert answered.status == "succeeded", answered.error
    cancelled = api_flows.review.run().wait(30)
    cancelled.cancel()
    assert api_flows.broken.run().wait(30).status == "failed"


@pytest.fixture
def server(pg_client: rt.Client, tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    seed(pg_client)
    # the fuzzer calls as an admin: it may well add users, which turns logins on
    token, _ = ApiKeys(pg_client.store).create("fuzzer", "admin", by="test")
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "PLAIT_DATABASE_URL": pg_client.store.url,
        "PLAIT_HOME": str(tmp_path),  # the same generated secret key the seeding client signed with
        "PYTHONPATH": str(ROOT),
        # the fuzzer makes thousands of calls with one key: let them reach the operations
        "PLAIT_API_KEY_RATE_LIMIT": "1000000 per minute",
    }
    env.pop("PLAIT_REDIS_URL", None)
    command = [sys.executable, "-m", "uvicorn", "--factory", "tests.chaos.api_server:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-server-header"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api/v1/openapi.json", timeout=2)
            break
        except OSError:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the API server did not start:\n" + log.read_text()
            time.sleep(0.1)
    yield url, log, token
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def test_fuzzed_api_answers_every_request_within_its_schema(
    server: tuple[str, Path, str],
) -> None:
    url, log, token = server
    config = schemathesis.Config.from_dict(
        {
            "base-url": url,
            "headers": {"Authorization": f"Bearer {token}"},
            # events may be long-polled for up to 30 s
            "request-timeout": 45,
            "seed": 10,
            "max-time": MAX_SECONDS,
            "cache": {"enabled": False},
            "continue-on-failure": True,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"stateful": {"max-steps": 25}},
            "checks": {
                "enabled": False,
                **{name: {"enabled": True} for name in CHECKS},
            },
        }
    )
    schema = schemathesis.openapi.from_url(url + "/api/v1/openapi.json", config=config)
    failures: list[str] = []
    errors: list[str] = []
    phases: Counter[str] = Counter()
    started = time.monotonic()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            phases[event.phase.value] += len(event.recorder.cases)
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures.append(f"{failure.operation}: {check.name}: {failure.title}")
        elif isinstance(event, events.NonFatalError):
            errors.append(str(event.info.message))
        elif isinstance(event, events.FatalError):
            raise AssertionError(f"schemathesis stopped: {event.exception!r}")
    took = time.monotonic() - started
    statuses = Counter(m["status"] for m in ACCESS_LINE.finditer(log.read_text()))
    requests = sum(statuses.values())
    server_errors = sum(n for status, n in statuses.items() if status.startswith("5"))
    unique = Counter(failures)
    print(
        f"\nfuzzed {requests} requests in {took:.0f} s: {server_errors} answered 5xx, "
        f"{len(failures)} failed checks ({len(unique)} distinct); test cases by phase: "
        + ", ".join(f"{phase} {n}" for phase, n in sorted(phases.items()))
        + "; answers: "
        + ", ".join(f"{status} x {n}" for status, n in sorted(statuses.items()))
    )
    for line, n in sorted(unique.items()):
        print(f"  {n:4} x {line}")
    for line in errors:
        print(f"  error: {line}")
    ledger.emit(
        "REST API fuzzing (schemathesis)",
        requests=requests,
        server_errors=server_errors,
        failed_checks=len(failures),
    )
    assert requests > 0
    assert server_errors == 0, statuses
    assert not unique, "\n".join(unique)
    assert not errors, errors
