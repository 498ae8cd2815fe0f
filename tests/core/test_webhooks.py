"""Signed webhooks: the Standard Webhooks vectors and GitHub's, then ``POST /hooks/<id>`` on
SQLite and PostgreSQL: a signed request starts one run (202), a replay returns it (200),
unsigned, wrong, stale or tampered requests get 401, oversized 413, unfitting 422, floods 429,
and none of those start anything; rotation keeps both secrets valid for its overlap."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import runtime as rt
from runtime.api import create_api
from runtime.api_webhooks import webhooks_of
from runtime.errors import InputError
from runtime.triggers import signatures
from runtime.triggers.webhooks import Created
from tests import hook_flows

# -- signature vectors -----------------------------------------------------------------------

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
"""The Standard Webhooks reference libraries' test vector."""


def _headers(signature: str, msg_id: str = VECTOR_ID, ts: int = VECTOR_TS) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def _verify(
    headers: dict[str, str],
    body: bytes = VECTOR_BODY,
    secrets: list[str] | None = None,
    now: float = VECTOR_TS,
) -> str:
    return signatures.verify("standard", secrets or [VECTOR_SECRET], headers, body, now).verdict


def test_standard_webhooks_vectors() -> None:
    assert signatures.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    assert _verify(_headers(VECTOR_SIGNATURE)) == "valid"
    other = signatures.new_secret()
    assert _verify(_headers(VECTOR_SIGNATURE), secrets=[other]) == "invalid"
    assert _verify(_headers(VECTOR_SIGNATURE), body=b'{"test": 2432232315}') == "invalid"
    assert _verify(_headers(VECTOR_SIGNATURE, msg_id="msg_other")) == "invalid"
    # five minutes either way, and not a second more
    assert _verify(_headers(VECTOR_SIGNATURE), now=VECTOR_TS + 300) == "valid"
    assert _verify(_headers(VECTOR_SIGNATURE), now=VECTOR_TS + 301) == "stale"
    assert _verify(_headers(VECTOR_SIGNATURE), now=VECTOR_TS - 301) == "stale"
    assert _verify({"webhook-id": VECTOR_ID}) == "missing"
    assert _verify(_headers("v1,bm90IGl0")) == "invalid"
    assert _verify(_headers(VECTOR_SIGNATURE.replace("v1,", "v2,"))) == "invalid"
    # several signatures in one header (a sender mid-rotation): any one matching will do
    several = f"v1,Zm9vYmFy {VECTOR_SIGNATURE} v1a,whatever"
    assert _verify(_headers(several)) == "valid"
    # several secrets on our side (our rotation's overlap): any one matching will do
    assert _verify(_headers(VECTOR_SIGNATURE), secrets=[other, VECTOR_SECRET]) == "valid"


def test_github_vector() -> None:
    # GitHub's documented example of X-Hub-Signature-256
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signatures.sign_github(secret, body) == expected
    headers = {"x-hub-signature-256": expected, "x-github-delivery": "72d3162e"}
    assert signatures.verify("github", [secret], headers, body, 0).verdict == "valid"
    assert signatures.verify("github", [secret], headers, body + b"!", 0).verdict == "invalid"
    assert signatures.verify("github", ["other"], headers, body, 0).verdict == "invalid"
    assert signatures.verify("github", [secret], {}, body, 0).verdict == "missing"


# -- the endpoint ------------------------------------------------------------------------------


@pytest.fixture
def api(client: rt.Client) -> Iterator[TestClient]:
    with TestClient(create_api(lambda: client)) as http:
        yield http


def signed(secret: str, body: bytes, msg_id: str, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signatures.sign(secret, msg_id, ts, body),
    }


def run_count(client: rt.Client) -> int:
    return len(client.runs(limit=500))


@pytest.fixture
def echo(client: rt.Client) -> Created:
    client.publish(hook_flows.echo)
    return webhooks_of(client).create("hook_echo", by="test")


def test_a_signed_request_starts_one_run_and_a_replay_returns_it(
    api: TestClient, client: rt.Client, echo: Created
) -> None:
    body = json.dumps({"order": 17, "items": ["a", "b"]}).encode()
    first = api.post(echo.path, content=body, headers=signed(echo.secret, body, "msg_1"))
    assert first.status_code == 202, first.text
    run_id = first.json()["run_id"]
    run = client.get_run(run_id).wait(30)
    assert run.status == "succeeded"
    assert run.outputs["received"] == {"order": 17, "items": ["a", "b"]}
    record = run.record
    assert record.trigger == "webhook"
    (delivery,) = webhooks_of(client).deliveries(echo.endpoint.id)
    assert record.trigger_ref == f"delivery:{delivery.id}"
    assert (delivery.status_code, delivery.verdict, delivery.run_id) == (202, "valid", run_id)
    detail = api.get(f"/api/v1/runs/{run_id}").json()
    assert (detail["trigger"], detail["trigger_ref"]) == ("webhook", f"delivery:{delivery.id}")
    assert detail["owner"] == f"webhook {echo.endpoint.id}"
    # the same message again (a retry, or a replay within the tolerance): the first run
    again = api.post(echo.path, content=body, headers=signed(echo.secret, body, "msg_1"))
    assert again.status_code == 200 and again.json()["run_id"] == run_id
    assert run_count(client) == 1
    # the secret is stored encrypted, never in clear
    from runtime.store import tables

    with client.store.read() as conn:
        stored = conn.execute(tables.webhook_secret.select()).all()
    assert stored and all(echo.secret.encode() not in row.ciphertext for row in stored)


def test_a_message_whose_claiming_process_died_gets_its_run_on_the_retry(
    api: TestClient, client: rt.Client, echo: Created
) -> None:
    # the process that accepted the message claimed a run id, then died before storing it
    from runtime.store.sql import new_run_id

    claimed = new_run_id()
    client.store.claim_delivery(echo.endpoint.id, "msg_lost", "msg_lost", "valid", claimed)
    body = json.dumps({"order": 3}).encode()
    retry = api.post(echo.path, content=body, headers=signed(echo.secret, body, "msg_lost"))
    assert retry.status_code == 200, retry.text
    assert retry.json()["run_id"] == claimed, "the run the first answer would have named"
    assert client.get_run(claimed).wait(30).status == "succeeded"
    again = api.post(echo.path, content=body, headers=signed(echo.secret, body, "msg_lost"))
    assert again.status_code == 200 and again.json()["run_id"] == claimed
    assert run_count(client) == 1


def test_bad_requests_are_refused_and_start_nothing(
    api: TestClient, client: rt.Client, echo: Created
) -> None:
    body = b'{"x": 1}'
    now = int(time.time())
    wrong = signatures.new_secret()
    cases = {
        "unsigned": ({"content-type": "application/json"}, body, 401, "not signed"),
        "wrong secret": (signed(wrong, body, "m2"), body, 401, "no webhook-signature matches"),
        "stale": (signed(echo.secret, body, "m3", now - 301), body, 401, "300 seconds"),
        "tampered": (signed(echo.secret, body, "m4"), b'{"x": 2}', 401, "no webhook-signature"),
    }
    for name, (headers, sent, code, words) in cases.items():
        answer = api.post(echo.path, content=sent, headers=headers)
        assert answer.status_code == code, (name, answer.text)
        assert words in answer.json()["detail"], (name, answer.text)
    big = b'{"x": "' + b"a" * 1_000_000 + b'"}'
    answer = api.post(echo.path, content=big, headers=signed(echo.secret, big, "m5"))
    assert answer.status_code == 413 and "1,000,000 bytes" in answer.json()["detail"]
    bad_json = b"{not json"
    answer = api.post(echo.path, content=bad_json, headers=signed(echo.secret, bad_json, "m6"))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["body"]
    assert api.post("/hooks/wh_nobody", content=body).status_code == 404
    assert run_count(client) == 0
    verdicts = [
        (d.status_code, d.verdict) for d in webhooks_of(client).deliveries(echo.endpoint.id)
    ]
    assert sorted(verdicts) == sorted(
        [
            (401, "missing"),
            (401, "invalid"),
            (401, "stale"),
            (401, "invalid"),
            (413, "unchecked"),
            (422, "valid"),
        ]
    )
    # a refused message did not claim its id: sent again, fixed, it starts its run
    fixed = b'{"x": 3}'
    answer = api.post(echo.path, content=fixed, headers=signed(echo.secret, fixed, "m6"))
    assert answer.status_code == 202


def test_form_and_raw_bodies_and_a_mapping_to_named_inputs(
    api: TestClient, client: rt.Client, echo: Created
) -> None:
    form = b"name=ada&tag=a&tag=b"
    headers = signed(echo.secret, form, "f1") | {
        "content-type": "application/x-www-form-urlencoded"
    }
    run_id = api.post(echo.path, content=form, headers=headers).json()["run_id"]
    assert client.get_run(run_id).wait(30).outputs["received"] == {"name": "ada", "tag": ["a", "b"]}
    raw = b"\x00\x01binary"
    headers = signed(echo.secret, raw, "r1") | {"content-type": "application/octet-stream"}
    run_id = api.post(echo.path, content=raw, headers=headers).json()["run_id"]
    assert client.get_run(run_id).wait(30).outputs["received"] == raw

    client.publish(hook_flows.order)
    hooks = webhooks_of(client)
    with pytest.raises(InputError, match="'colour' is not a run input of 'hook_order'"):
        hooks.create("hook_order", mapping={"colour": "c"})
    with pytest.raises(InputError, match="has no run input 'payload'"):
        hooks.create("hook_order")
    mapped = hooks.create("hook_order", mapping={"sku": "item", "quantity": "qty"})
    body = json.dumps({"item": "A-1", "qty": 3, "ignored": True}).encode()
    answer = api.post(mapped.path, content=body, headers=signed(mapped.secret, body, "o1"))
    assert client.get_run(answer.json()["run_id"]).wait(30).outputs["total"] == {
        "sku": "A-1",
        "quantity": 3,
        "note": "",
    }
    body = json.dumps({"item": "A-1"}).encode()
    answer = api.post(mapped.path, content=body, headers=signed(mapped.secret, body, "o2"))
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {
            "loc": ["body", "qty"],
            "msg": "field required (it is the run input 'quantity')",
            "type": "missing",
        }
    ]
    assert run_count(client) == 3


def test_rotation_keeps_both_secrets_for_the_overlap(
    api: TestClient, client: rt.Client, echo: Created
) -> None:
    hooks = webhooks_of(client)
    rotated = hooks.rotate(echo.endpoint.id, overlap=dt.timedelta(hours=1))
    assert rotated.secret != echo.secret
    body = b'{"n": 1}'
    for i, secret in enumerate([echo.secret, rotated.secret]):
        answer = api.post(echo.path, content=body, headers=signed(secret, body, f"rot{i}"))
        assert answer.status_code == 202, answer.text
    # a sender signing with both during its switch is accepted too
    headers = signed(rotated.secret, body, "both")
    headers["webhook-signature"] += " " + signed(echo.secret, body, "both")["webhook-signature"]
    assert api.post(echo.path, content=body, headers=headers).status_code == 202
    # rotated again with no overlap: only the newest verifies
    newest = hooks.rotate(echo.endpoint.id, overlap=dt.timedelta(0))
    for i, secret in enumerate([echo.secret, rotated.secret]):
        answer = api.post(echo.path, content=body, headers=signed(secret, body, f"old{i}"))
        assert answer.status_code == 401
    answer = api.post(echo.path, content=body, headers=signed(newest.secret, body, "new"))
    assert answer.status_code == 202


def test_github_mode(api: TestClient, client: rt.Client) -> None:
    client.publish(hook_flows.echo)
    made = webhooks_of(client).create("hook_echo", mode="github")
    body = b'{"action": "opened"}'
    headers = {
        "content-type": "application/json",
        "x-github-delivery": "d-1",
        "x-hub-signature-256": signatures.sign_github(made.secret, body),
    }
    first = api.post(made.path, content=body, headers=headers)
    assert first.status_code == 202
    assert api.post(made.path, content=body, headers=headers).json() == {
        "run_id": first.json()["run_id"],
        "replayed": True,
    }
    headers["x-hub-signature-256"] = signatures.sign_github("not it", body)
    headers["x-github-delivery"] = "d-2"
    assert api.post(made.path, content=body, headers=headers).status_code == 401
    assert run_count(client) == 1


def test_an_endpoint_past_its_rate_limit_gets_429(api: TestClient, client: rt.Client) -> None:
    client.publish(hook_flows.echo)
    made = webhooks_of(client).create("hook_echo", rate_limit="2 per minute")
    body = b"{}"
    codes = [
        api.post(made.path, content=body, headers=signed(made.secret, body, f"r{i}")).status_code
        for i in range(2)
    ]
    refused = api.post(made.path, content=body, headers=signed(made.secret, body, "r3"))
    assert codes == [202, 202] and refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert run_count(client) == 2


def test_send_test_event(client: rt.Client, echo: Created) -> None:
    answer = webhooks_of(client).send_test(echo.endpoint.id)
    assert answer.status == 202
    run = client.get_run(answer.body["run_id"]).wait(30)
    assert run.outputs["received"] == {"test": True}


def test_rate_limit_counts_are_shared_through_redis() -> None:
    """Two studio processes with ``PLAIT_REDIS_URL`` count one endpoint's requests together."""
    import secrets as random

    from runtime.auth.ratelimit import RequestLimiter
    from tests.conftest import REDIS_URL

    key = "wh_" + random.token_hex(6)
    one, two = RequestLimiter(redis_url=REDIS_URL), RequestLimiter(redis_url=REDIS_URL)
    assert one.hit("webhook", key, "3 per minute") is None
    assert two.hit("webhook", key, "3 per minute") is None
    assert one.hit("webhook", key, "3 per minute") is None
    wait = two.hit("webhook", key, "3 per minute")
    assert wait is not None and 1 <= wait <= 60
    assert one.hit("webhook", key + "x", "3 per minute") is None  # another endpoint's count
