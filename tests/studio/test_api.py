"""The REST API (``/api/v1``), in-process on SQLite and PostgreSQL: reads, actions, redaction,
bad input answered by name, one error model, and the request size limit on a real server."""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

import runtime as rt
from runtime import config
from runtime.api import create_api
from runtime.api_errors import ErrorOut
from runtime.redaction import REDACTED
from tests import secret_flows
from tests.core import retry_flows
from tests.core.retry_flows import executions
from tests.faults.servers import free_port
from tests.secret_flows import assert_no_secret
from tests.studio import flows


@pytest.fixture
def api(client: rt.Client) -> Iterator[TestClient]:
    with TestClient(create_api(lambda: client)) as http:
        yield http


def test_workflows_and_versions(api: TestClient, client: rt.Client) -> None:
    client.publish(flows.approval)
    flows.failing.run().wait(30)
    listed = api.get("/api/v1/workflows").json()
    assert [w["name"] for w in listed] == ["studio_approval", "studio_failing"]
    assert listed[1]["last_run_status"] == "failed" and listed[1]["runs_last_day"] == 1
    assert [w["name"] for w in api.get("/api/v1/workflows?search=human").json()] == [
        "studio_approval"
    ]
    latest = api.get("/api/v1/workflows/studio_approval").json()
    assert latest["version"] == flows.approval.version
    assert [n["name"] for n in latest["spec"]["nodes"]] == ["draft", "review", "result"]
    versions = api.get("/api/v1/workflows/studio_approval/versions").json()
    assert [v["version"] for v in versions] == [flows.approval.version]
    short = flows.approval.version[:6]
    assert api.get(f"/api/v1/workflows/studio_approval/versions/{short}").status_code == 200
    missing = api.get("/api/v1/workflows/nope")
    assert missing.status_code == 404
    assert "workflows: studio_approval, studio_failing" in missing.json()["detail"]


def test_start_a_run_and_read_it(api: TestClient, client: rt.Client, tmp_path: Path) -> None:
    client.publish(flows.gated)
    gate = tmp_path / "open"
    gate.touch()
    started = api.post(
        "/api/v1/workflows/studio_gated/runs", json={"inputs": {"gate_file": str(gate)}}
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    assert started.json()["trigger"] == "api"
    client.get_run(run_id).wait(30)
    detail = api.get(f"/api/v1/runs/{run_id}").json()
    assert detail["status"] == "succeeded"
    assert [(n["name"], n["status"]) for n in detail["nodes"]] == [
        ("prepare", "succeeded"),
        ("gate", "succeeded"),
        ("summary", "succeeded"),
    ]
    assert detail["inputs"] == {"gate_file": str(gate)}
    assert detail["outputs"]["summary"].startswith("# Summary")
    events = api.get(f"/api/v1/runs/{run_id}/events?after=1").json()
    assert events[0]["seq"] == 2 and events[-1]["type"] == "run.succeeded"
    page = api.get("/api/v1/runs?workflow=studio_gated&status=succeeded").json()
    assert page["total"] == 1 and page["runs"][0]["id"] == run_id
    report = api.get(f"/api/v1/runs/{run_id}/report")
    assert report.status_code == 200 and "studio_gated" in report.text


def test_bad_requests_are_named(api: TestClient, client: rt.Client) -> None:
    client.publish(flows.typed)
    missing = api.post("/api/v1/workflows/studio typed inputs/runs", json={"inputs": {}})
    assert missing.status_code == 422
    assert "missing required input(s): count" in missing.json()["detail"]
    assert api.get("/api/v1/runs/nope").status_code == 404
    assert api.get("/api/v1/runs?limit=0").status_code == 422
    bad = api.get("/api/v1/runs?after=not-a-cursor")
    assert bad.status_code == 422 and "page cursor 'not-a-cursor'" in bad.text


def test_runs_pages_by_cursor(api: TestClient, client: rt.Client) -> None:
    g = rt.Graph("paged")
    g.add("one", lambda x: x)
    made = {client.start(g, {"x": i}).wait(30).id for i in range(5)}
    first = api.get("/api/v1/runs?workflow=paged&limit=2").json()
    assert (first["total"], first["total_exact"], len(first["runs"])) == (5, True, 2)
    seen, page = [r["id"] for r in first["runs"]], first
    while page["next"]:
        page = api.get(f"/api/v1/runs?workflow=paged&limit=2&after={page['next']}").json()
        seen += [r["id"] for r in page["runs"]]
    assert len(seen) == 5 and set(seen) == made


def test_resume_validates_then_continues(api: TestClient, client: rt.Client) -> None:
    run = flows.approval.run(topic="api").wait(30)
    detail = api.get(f"/api/v1/runs/{run.id}").json()
    assert detail["waiting"]["review"]["properties"]["amount"]["minimum"] == 1
    bad = api.post(
        f"/api/v1/runs/{run.id}/resume", json={"node": "review", "payload": {"amount": 0}}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["amount"]
    assert run.status == "waiting"
    wrong = api.post(f"/api/v1/runs/{run.id}/resume", json={"node": "draft", "payload": {}})
    assert wrong.status_code == 404 and "not a wait node" in wrong.json()["detail"]
    forged = api.post(
        f"/api/v1/runs/{run.id}/resume",
        json={"node": "review", "payload": {"amount": 3}, "answered_by": "ann"},
    )
    # who answered is the caller, never what the body claims
    assert forged.status_code == 422 and forged.json()["errors"][0]["loc"] == [
        "body",
        "answered_by",
    ]
    ok = api.post(
        f"/api/v1/runs/{run.id}/resume", json={"node": "review", "payload": {"amount": 3}}
    )
    assert ok.status_code == 200, ok.text
    assert run.wait(30).status == "succeeded"
    assert api.get(f"/api/v1/runs/{run.id}").json()["nodes"][1]["answered_by"] == "local"
    again = api.post(
        f"/api/v1/runs/{run.id}/resume", json={"node": "review", "payload": {"amount": 3}}
    )
    assert again.status_code == 409


def test_cancel_retry_and_rerun(api: TestClient, client: rt.Client) -> None:
    run = flows.approval.run().wait(30)
    cancelled = api.post(f"/api/v1/runs/{run.id}/cancel").json()
    assert cancelled == {"id": run.id, "status": "cancelled"}
    # retry continues the same run: the draft keeps its checkpoint, the wait opens again
    retried = api.post(f"/api/v1/runs/{run.id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["id"] == run.id
    assert run.wait(30).status == "waiting" and run.nodes["draft"].attempts == 1
    refused = api.post(f"/api/v1/runs/{run.id}/retry")
    assert refused.status_code == 409 and "is waiting" in refused.json()["detail"]
    # rerun is a new run with the same inputs
    rerun = api.post(f"/api/v1/runs/{run.id}/rerun")
    assert rerun.status_code == 201, rerun.text
    assert rerun.headers["location"] == f"/api/v1/runs/{rerun.json()['id']}"
    again = client.get_run(rerun.json()["id"]).wait(30)
    assert again.id != run.id and again.inputs == run.inputs and again.status == "waiting"


def test_retry_reuses_succeeded_checkpoints(
    api: TestClient, client: rt.Client, tmp_path: Path
) -> None:
    ledger, fix = tmp_path / "ledger", tmp_path / "fix"
    ledger.mkdir()
    client.publish(retry_flows.flaky)
    inputs = {"ledger": str(ledger), "fix": str(fix)}
    started = api.post("/api/v1/workflows/retry_flaky/runs", json={"inputs": inputs})
    run = client.get_run(started.json()["id"]).wait(30)
    assert run.status == "failed"
    fix.touch()
    assert api.post(f"/api/v1/runs/{run.id}/retry").status_code == 200
    assert run.wait(30).status == "succeeded"
    assert executions(ledger) == {"prepare": 1, "side": 1, "fragile": 2, "publish": 1}


def test_start_with_outputs(api: TestClient, client: rt.Client, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    client.publish(retry_flows.flaky)
    body = {"inputs": {"ledger": str(ledger)}, "outputs": ["side"]}
    started = api.post("/api/v1/workflows/retry_flaky/runs", json=body)
    assert started.status_code == 201, started.text
    assert started.json()["targets"] == ["side"]
    client.get_run(started.json()["id"]).wait(30)
    detail = api.get(f"/api/v1/runs/{started.json()['id']}").json()
    assert detail["status"] == "succeeded" and detail["outputs"] == {"side": 40}
    assert {n["name"]: n["status"] for n in detail["nodes"]}["publish"] == "not_needed"
    bad = api.post(
        "/api/v1/workflows/retry_flaky/runs", json={"inputs": body["inputs"], "outputs": ["nope"]}
    )
    assert bad.status_code == 422 and "unknown output(s): nope" in bad.json()["detail"]
    assert len(client.runs()) == 1


def test_openapi_schema_and_offline_docs(api: TestClient) -> None:
    schema = api.get("/api/v1/openapi.json").json()
    assert {
        "/api/v1/workflows",
        "/api/v1/workflows/{name}/runs",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}/resume",
        "/api/v1/runs/{run_id}/cancel",
    } <= set(schema["paths"])
    docs = api.get("/api/v1/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert sources and all(s.startswith("/api/v1/") for s in sources), sources
    assert "cdn" not in docs.lower()
    assert api.get("/api/v1/docs-assets/swagger-ui-bundle.js").status_code == 200


# -- secrets ---------------------------------------------------------------------------------


def test_secrets_never_leave_the_api(api: TestClient, client: rt.Client) -> None:
    run = secret_flows.run_to_the_end()
    detail = api.get(f"/api/v1/runs/{run.id}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["inputs"]["db_password"] == REDACTED
    connect = next(n for n in body["nodes"] if n["name"] == "connect")
    assert "connecting with" in connect["logs"] and f"password={REDACTED}" in connect["logs"]
    check = next(n for n in body["nodes"] if n["name"] == "check")
    assert check["error"] == f"login refused for ada with {REDACTED}"
    assert "PermissionError" in check["traceback"]
    assert body["outputs"]["confirm"] == f"approved with pin {REDACTED}"
    assert_no_secret(detail.text, "GET /runs/{id}")
    events = api.get(f"/api/v1/runs/{run.id}/events")
    assert any(e["type"] == "node.failed" for e in events.json())
    assert_no_secret(events.text, "GET /runs/{id}/events")
    spec = api.get("/api/v1/workflows/leaky").json()["spec"]
    assert spec["inputs"]["api_key"] == {"required": False, "default": REDACTED}
    assert_no_secret(api.get("/api/v1/workflows/leaky").text, "GET /workflows/{name}")
    report = api.get(f"/api/v1/runs/{run.id}/report")
    assert report.status_code == 200 and "login refused for ada" in report.text
    assert_no_secret(report.text, "GET /runs/{id}/report")
    # the stored values themselves are untouched
    assert run.output("connect")["password"] == secret_flows.DB_PASSWORD


# -- bad input -------------------------------------------------------------------------------


def _runs(client: rt.Client) -> int:
    return len(client.store.list_runs(limit=1000))


def test_nul_bytes_are_refused_by_name_and_change_nothing(
    api: TestClient, client: rt.Client
) -> None:
    run = flows.approval.run(topic="nul").wait(30)
    before = _runs(client)
    cases = [
        (api.get("/api/v1/runs/ab%00cd"), ["path", "run_id"]),
        (api.get("/api/v1/workflows/studio%00approval/versions"), ["path", "name"]),
        (api.get("/api/v1/runs?workflow=a%00b"), ["query", "workflow"]),
        (api.get("/api/v1/workflows?search=%00"), ["query", "search"]),
        (
            api.post("/api/v1/workflows/studio_approval/runs", json={"inputs": {"topic": "a\0b"}}),
            ["body", "inputs"],
        ),
        (
            api.post("/api/v1/workflows/studio_approval/runs", json={"version": "\0"}),
            ["body", "version"],
        ),
        (
            api.post(
                f"/api/v1/runs/{run.id}/resume",
                json={"node": "review", "payload": {"amount": 2, "note": "x\0"}},
            ),
            ["body", "payload"],
        ),
        (
            api.post(f"/api/v1/runs/{run.id}/resume", json={"node": "re\0view", "payload": {}}),
            ["body", "node"],
        ),
    ]
    for answer, loc in cases:
        assert answer.status_code == 422, (loc, answer.text)
        body = answer.json()
        assert [e["loc"] for e in body["errors"]] == [loc], body
        assert "NUL" in body["errors"][0]["msg"] and ".".join(loc) in body["detail"]
    nested = cases[4][0].json()["errors"][0]["msg"]
    assert "['topic']" in nested  # where inside the object
    assert _runs(client) == before and run.status == "waiting"


def test_integers_out_of_range_are_refused_by_name(api: TestClient, client: rt.Client) -> None:
    run = flows.approval.run().wait(30)
    cases = [
        (f"/api/v1/runs/{run.id}/events?after={2**31}", ["query", "after"]),
        (f"/api/v1/runs/{run.id}/events?after=-1", ["query", "after"]),
        (f"/api/v1/runs?offset={2**63}", ["query", "offset"]),
        ("/api/v1/runs?limit=100000", ["query", "limit"]),
        ("/api/v1/runs?status=napping", ["query", "status"]),
    ]
    for path, loc in cases:
        answer = api.get(path)
        assert answer.status_code == 422, (path, answer.text)
        assert [e["loc"] for e in answer.json()["errors"]] == [loc]
    assert api.get(f"/api/v1/runs/{run.id}/events?after={2**31 - 1}").json() == []


def test_wait_payloads_validate_strictly(api: TestClient, client: rt.Client) -> None:
    run = flows.two_waits.run().wait(30)
    bad = api.post(
        f"/api/v1/runs/{run.id}/resume", json={"node": "first", "payload": {"ok": "yes"}}
    )
    assert bad.status_code == 422, bad.text
    assert [e["loc"] for e in bad.json()["errors"]] == [["ok"]]
    assert run.status == "waiting"
    good = api.post(
        f"/api/v1/runs/{run.id}/resume", json={"node": "first", "payload": {"ok": True}}
    )
    assert good.status_code == 200, good.text


def test_every_error_answer_has_the_one_error_model(api: TestClient, client: rt.Client) -> None:
    client.publish(flows.typed)
    run = flows.approval.run().wait(30)
    answers = {
        "unknown run": api.get("/api/v1/runs/nope"),
        "unknown route": api.get("/api/v1/nothing-here"),
        "wrong method": api.delete("/api/v1/runs"),
        "validation": api.get("/api/v1/runs?limit=0"),
        "invalid json": api.post(
            f"/api/v1/runs/{run.id}/resume",
            content=b"{not json",
            headers={"content-type": "application/json"},
        ),
        "missing input": api.post("/api/v1/workflows/studio typed inputs/runs", json={}),
        "payload": api.post(
            f"/api/v1/runs/{run.id}/resume", json={"node": "review", "payload": {"amount": 0}}
        ),
        "not waiting": api.post(
            f"/api/v1/runs/{run.id}/resume", json={"node": "draft", "payload": {}}
        ),
    }
    run.cancel()
    answers["finished"] = api.post(
        f"/api/v1/runs/{run.id}/resume", json={"node": "review", "payload": {"amount": 2}}
    )
    codes = {what: a.status_code for what, a in answers.items()}
    assert codes == {
        "unknown run": 404,
        "unknown route": 404,
        "wrong method": 405,
        "validation": 422,
        "invalid json": 422,
        "missing input": 422,
        "payload": 422,
        "not waiting": 404,
        "finished": 409,
    }
    for what, answer in answers.items():
        body = answer.json()
        assert set(body) == {"detail", "errors"}, (what, body)
        ErrorOut.model_validate(body)
        assert isinstance(body["detail"], str) and body["detail"], what
    assert "input" not in answers["payload"].json()["errors"][0]  # values are not echoed


def test_openapi_documents_every_error_with_the_error_model(api: TestClient) -> None:
    schema = api.get("/api/v1/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {c: r for c, r in operation["responses"].items() if not c.startswith("2")}
            assert "422" in errors, (method, path)
            # a webhook's POST is signed, not logged in: a bad signature is its 401, and
            # there is no role to lack
            signed_only = path.startswith("/hooks/")
            assert {"401"} | (set() if signed_only else {"403"}) <= set(errors), (method, path)
            # an operation that creates what its path names cannot miss it
            creates = (method, path) in {
                ("post", "/api/v1/workflows/{name}/versions"),
                ("put", "/api/v1/secrets/{name}"),
                ("put", "/api/v1/workflows/{name}/draft"),
            }
            if "{" in path and not creates:
                assert "404" in errors, (method, path)
            if method in ("post", "put", "patch") and "requestBody" in operation:
                assert "413" in errors, (method, path)
            for code, response in errors.items():
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorOut", (method, path, code)


# -- the request size limit, on a real server ------------------------------------------------


@pytest.fixture
def small_server(client: rt.Client) -> Iterator[tuple[str, int]]:
    config = uvicorn.Config(
        create_api(lambda: client, max_request_bytes=1_000),
        host="127.0.0.1",
        port=free_port(),
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield config.host, config.port
    server.should_exit = True
    thread.join(10)


def _answer(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _length(data: bytes) -> int:
    found = re.search(rb"content-length: (\d+)", data.partition(b"\r\n\r\n")[0], re.I)
    return int(found.group(1)) if found else 0


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(
    small_server: tuple[str, int],
) -> None:
    with socket.create_connection(small_server, timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/workflows/x/runs HTTP/1.1\r\nhost: t\r\n"
            b"content-type: application/json\r\ncontent-length: 100000000\r\n\r\n"
        )
        status, body = _answer(sock)  # not one byte of the 100 MB was sent
    assert status == 413
    assert body == {
        "detail": "the request body is larger than the limit of 1,000 bytes",
        "errors": None,
    }


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(
    small_server: tuple[str, int], client: rt.Client
) -> None:
    client.publish(flows.approval)
    with socket.create_connection(small_server, timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/workflows/studio_approval/runs HTTP/1.1\r\nhost: t\r\n"
            b"content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        chunk = b'{"inputs": {"topic": "' + b"x" * 300
        sent = 0
        for _ in range(1000):  # 300 KB if nobody stopped us
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            chunk = b"x" * 300
            if select.select([sock], [], [], 0.3 if sent > 1_000 else 0.02)[0]:
                break
        status, body = _answer(sock)
    assert status == 413 and "limit of 1,000 bytes" in body["detail"]
    assert sent < 10_000, f"answered only after {sent:,} bytes"
    assert _runs(client) == 0


def test_the_limit_is_a_setting(client: rt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_MAX_REQUEST_BYTES", "2000")
    config.settings.cache_clear()
    try:
        http = TestClient(create_api(lambda: client))
        big = http.post("/api/v1/workflows/x/runs", json={"inputs": {"t": "x" * 3000}})
        assert big.status_code == 413
        assert http.post("/api/v1/workflows/x/runs", json={"inputs": {}}).status_code == 404
    finally:
        config.settings.cache_clear()


def test_an_ill_typed_run_input_is_a_422_naming_it(api: TestClient, client: rt.Client) -> None:
    client.publish(flows.typed)
    bad = api.post(
        "/api/v1/workflows/studio typed inputs/runs", json={"inputs": {"count": "three"}}
    )
    assert bad.status_code == 422, bad.text
    assert "input 'count' expects int" in bad.json()["detail"]
    assert "'three' (str)" in bad.json()["detail"]
    assert api.get("/api/v1/runs").json()["total"] == 0
    good = api.post("/api/v1/workflows/studio typed inputs/runs", json={"inputs": {"count": "3"}})
    assert good.status_code == 201, good.text
    run = client.get_run(good.json()["id"]).wait(30)
    assert run.output("echo") == {"count": 3, "ratio": 0.5, "label": "x"}


def test_a_map_nodes_elements_by_page(api: TestClient, client: rt.Client) -> None:
    from tests import map_flows

    run = map_flows.collecting.run(n=12).wait(60)
    assert run.status == "succeeded", run.error
    page = api.get(f"/api/v1/runs/{run.id}/nodes/checked/elements?offset=2&limit=4").json()
    assert [(e["index"], e["status"], e["attempts"]) for e in page] == [
        (2, "failed", 1),
        (3, "succeeded", 1),
        (4, "succeeded", 1),
        (5, "failed", 1),
    ]
    assert page[0]["error"] == "ValueError: no 2" and page[1]["duration"] >= 0
    assert api.get(f"/api/v1/runs/{run.id}/nodes/items/elements").json() == []
