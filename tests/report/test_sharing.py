"""Share links against the real store: valid, revoked, expired and guessed tokens; a
read-only page; live events while the run moves."""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from starlette.testclient import TestClient

import runtime as rt
from runtime import sharing
from runtime.errors import OptionError
from runtime.store import tables
from tests import secret_flows
from tests.faults.servers import free_port
from tests.secret_flows import assert_no_secret


def waiting_run() -> rt.Run:
    g = rt.Graph("shared")

    @g.node
    def prepare(api_key: str = "sk-secret-999") -> str:
        return "ready"

    g.wait("approve", {"ok": bool}, after=["prepare"])

    @g.node
    def done(approve: dict) -> str:
        return "approved" if approve["ok"] else "rejected"

    return g.run().wait(20)


def test_link_opens_the_report_read_only(client: rt.Client) -> None:
    run = waiting_run()
    token, path = sharing.create_link(run.id, created_by="ada")
    assert path == f"/r/{token}" and len(token) >= 32  # 192 random bits, url-safe
    with client.store.read() as conn:
        stored = conn.execute(sa.select(tables.share_link.c.token_hash)).scalar_one()
    assert token not in stored  # only the hash is kept
    http = TestClient(sharing.share_app(client))
    page = http.get(path)
    assert page.status_code == 200
    assert run.id in page.text and 'data-node="approve" data-status="waiting"' in page.text
    assert "<button" not in page.text and "<form" not in page.text  # nothing to act with
    assert "sk-secret-999" not in page.text
    assert "EventSource" in page.text  # live while the run is waiting
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    # the page's own policy lets it follow the run
    assert f'content="{policy}"' in html.unescape(page.text)
    assert [link.active for link in sharing.list_links(run.id)] == [True]


def test_revoked_expired_and_guessed_tokens_get_the_same_page(client: rt.Client) -> None:
    run = waiting_run()
    http = TestClient(sharing.share_app(client))
    _, revoked_path = sharing.create_link(run.id)
    sharing.revoke_link(sharing.list_links(run.id)[0].id)
    _, expired_path = sharing.create_link(run.id, expires_in=dt.timedelta(seconds=-1))
    answers = [http.get(p) for p in (revoked_path, expired_path, "/r/" + "A" * 32)]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1
    assert "no longer valid" in answers[0].text and run.id not in answers[0].text
    assert http.get(revoked_path + "/events").status_code == 404
    assert [link.active for link in sharing.list_links(run.id)] == [False, False]


def test_events_stream_follows_the_run_live(client: rt.Client) -> None:
    run = waiting_run()
    _, path = sharing.create_link(run.id)
    http = TestClient(sharing.share_app(client))
    seen: list[str] = []
    with http.stream("GET", path + "/events") as stream:
        threading.Timer(0.2, lambda: run.resume("approve", ok=True)).start()
        for line in stream.iter_lines():
            seen.append(line)
            if line.startswith("event: end"):
                break
    text = "\n".join(seen)
    assert '"type": "node.succeeded", "node": "approve"' in text
    assert '"type": "run.succeeded"' in text
    finished = http.get(path).text
    assert "EventSource" not in finished and 'data-run-status="succeeded"' in finished


def test_lifetimes_read_as_the_cli_and_studio_offer_them() -> None:
    assert sharing.parse_lifetime("30m") == dt.timedelta(minutes=30)
    assert sharing.parse_lifetime(" 7D ") == dt.timedelta(days=7)
    assert sharing.parse_lifetime("") is None and sharing.parse_lifetime("never") is None
    for bad in ("7", "0d", "1w", "-3h", "d", "²d"):
        with pytest.raises(OptionError, match=f"link lifetime {bad.lower()!r}: use a number"):
            sharing.parse_lifetime(bad)
    with pytest.raises(OptionError, match="at most 3650d, or never"):
        sharing.parse_lifetime("99999999999d")


def test_events_the_page_missed_while_loading_still_arrive(client: rt.Client) -> None:
    run = waiting_run()
    _, path = sharing.create_link(run.id)
    http = TestClient(sharing.share_app(client))
    page = http.get(path).text
    shown = int(re.search(r'<body data-seq="(\d+)">', page).group(1))  # type: ignore[union-attr]
    run.resume("approve", ok=True).wait(20)  # all of it before the page's stream connects
    with http.stream("GET", f"{path}/events?after={shown}") as stream:
        lines = []
        for line in stream.iter_lines():
            lines.append(line)
            if line.startswith("event: end"):
                break
    assert any('"type": "run.succeeded"' in line for line in lines)


def test_viewers_of_an_unchanged_run_share_one_rendering(client: rt.Client) -> None:
    run = waiting_run()
    _, path = sharing.create_link(run.id)
    http = TestClient(sharing.share_app(client))
    first = http.get(path).text
    time.sleep(1.1)  # the report says when it was generated, to the second
    assert http.get(path).text == first  # no event since: the same page, not rendered again
    run.resume("approve", ok=True).wait(20)
    assert 'data-run-status="succeeded"' in http.get(path).text


def test_share_page_shows_no_secret(client: rt.Client) -> None:
    run = secret_flows.run_to_the_end()
    _, path = sharing.create_link(run.id)
    page = TestClient(sharing.share_app(client)).get(path)
    assert page.status_code == 200 and "login refused for ada with" in page.text
    assert_no_secret(page.text, "the share page")


@pytest.fixture
def share_server(client: rt.Client) -> Iterator[str]:
    config = uvicorn.Config(
        sharing.share_app(client), host="127.0.0.1", port=free_port(), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://{config.host}:{config.port}"
    server.should_exit = True
    thread.join(10)


def test_revoking_a_link_closes_its_open_event_streams(
    client: rt.Client, share_server: str
) -> None:
    run = waiting_run()  # nothing happens to it: only the revocation can end the stream
    _, path = sharing.create_link(run.id)
    link = sharing.list_links(run.id)[0]
    lines: list[str] = []
    revoked_at = 0.0

    def revoke() -> None:
        nonlocal revoked_at
        revoked_at = time.monotonic()
        sharing.revoke_link(link.id, client=client)

    # a real HTTP client reading the stream as a browser would; a stream that stayed open
    # would end the test by its read timeout
    with httpx.stream("GET", share_server + path + "/events", timeout=5) as stream:
        assert stream.status_code == 200
        threading.Timer(0.3, revoke).start()
        for line in stream.iter_lines():
            lines.append(line)
            if line.startswith("event: end"):
                break
    took = time.monotonic() - revoked_at
    print(f"stream closed {took:.2f} s after the revocation")
    assert lines[0] == "event: end" and revoked_at > 0
    assert took < 1.0, f"a revoked link's stream delivered for {took:.2f} s"  # the promise
    assert httpx.get(share_server + path + "/events").status_code == 404
