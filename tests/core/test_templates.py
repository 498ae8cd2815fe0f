"""Every template of the gallery is used into a fresh store (as a new workflow's draft) and
test-run as its user would: the LLM is a LangChain fake chat model behind the template's own
``"openai:..."`` string (a provider registered here, as ``rt.nodes.register_provider`` is
for), its APIs a real HTTP server on localhost, its approvals answered. A template file
without a scenario here fails ``test_each_template_runs``: add one."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from typer.testing import CliRunner

import runtime as rt
from runtime import drafts, gallery
from runtime.api import create_api
from runtime.auth.apikeys import ApiKeys
from runtime.auth.users import Users
from runtime.cli import app
from runtime.errors import InputError, NotFound, RunStateError
from runtime.nodes import models
from runtime.secrets import Secrets

OPENAI_KEY = "sk-fake-gallery-0042"
CRM_TOKEN = "crm-token-7"
REPLIES: list[str] = []
"""What the fake model answers next, one reply per model the ``openai`` provider makes."""
KEYS: list[str | None] = []


def _fake_openai(model: str, **options: Any) -> GenericFakeChatModel:
    KEYS.append(options.get("api_key"))
    assert REPLIES, f"the template called the model {model!r} more often than its scenario says"
    return GenericFakeChatModel(messages=iter([AIMessage(content=REPLIES.pop(0))]))


@pytest.fixture(autouse=True)
def fake_openai() -> Iterator[None]:
    """The ``openai`` provider is the fake for this module's tests only: other tests resolve
    ``"openai:..."`` with LangChain's own."""
    rt.nodes.register_provider("openai", _fake_openai)
    yield
    with models._lock:
        models._providers.pop("openai", None)


@dataclass
class Api:
    """A local HTTP server standing in for the APIs the templates call."""

    received: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: Any, kind: str = "application/json") -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path == "/crm/customers/c-42":
                    if self.headers.get("Authorization") != f"Bearer {CRM_TOKEN}":
                        self._send(401, {"error": "no token"})
                    else:
                        self._send(200, {"id": "c-42", "name": "Grace Hopper", "tier": "gold"})
                elif path == "/sales/orders" and query == "day=2026-01-31":
                    self._send(200, {"orders": ORDERS})
                elif path == "/article":
                    self._send(200, ARTICLE, "text/html; charset=utf-8")
                else:
                    self._send(404, {"error": f"no {self.path}"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                api.received.append(
                    {"path": self.path, "json": json.loads(self.rfile.read(length))}
                )
                self._send(200, {"ok": True})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


ORDERS = [
    {"region": "north ", "amount": "100.50"},
    {"region": "South", "amount": 20},
    {"region": "North", "amount": 49.5},
]
ARTICLE = "<html><body><h1>Durable graphs</h1><p>Checkpoint every node.</p></body></html>"


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    yield server
    server.stop()


def _run(client: rt.Client, name: str, inputs: dict[str, Any]) -> rt.Run:
    return drafts.test_run(client, name, inputs, owner="tester").wait(60)


# -- one scenario per template: what its user gives it and what they get ------------------------


def summarise_and_approve(client: rt.Client, api: Api) -> None:
    REPLIES.append("- Plait runs durable graphs\n- Nodes are checkpointed\n- Runs resume")
    run = _run(client, "summarise-and-approve", {"document": "A long text about Plait."})
    assert run.status == "waiting", run.error
    assert "review" in run.waiting
    run.resume("review", {"approved": True, "approver": "ada", "comment": ""})
    run = run.wait(60)
    assert run.status == "succeeded", run.error
    assert run.output("publish").startswith("- Plait runs durable graphs")
    assert run.output("publish").endswith("Approved by ada.")
    assert run.nodes["rejected"].status == "skipped"


def webhook_enrich_notify(client: rt.Client, api: Api) -> None:
    event = {"customer_id": "c-42", "order_id": "o-7", "total": 1250.0}
    inputs = {"event": event, "crm_url": f"{api.base}/crm", "notify_url": f"{api.base}/alerts"}
    run = _run(client, "webhook-enrich-notify", inputs)
    assert run.status == "succeeded", run.error
    assert api.received == [
        {
            "path": "/alerts",
            "json": {"text": "Gold customer Grace Hopper placed order o-7 (1250.0)"},
        }
    ]
    assert run.nodes["log"].status == "skipped"


def daily_sales_report(client: rt.Client, api: Api) -> None:
    inputs = {"sales_url": f"{api.base}/sales/orders", "day": "2026-01-31"}
    run = _run(client, "daily-sales-report", inputs)
    assert run.status == "succeeded", run.error
    assert run.output("by_region") == {
        "rows": [
            {"region": "North", "orders": 2, "revenue": 150.0, "average": 75.0},
            {"region": "South", "orders": 1, "revenue": 20.0, "average": 20.0},
        ],
        "total": 170.0,
    }
    report = run.output("report")
    assert report.startswith("# Sales on 2026-01-31")
    assert "| North | 2 | 150.0 | 75.0 |" in report and "**Total: 170.0**" in report


def contacts_cleanup(client: rt.Client, api: Api) -> None:
    contacts = [
        {"name": "  ada  lovelace", "email": "Ada@Example.com "},
        {"name": "Ada L.", "email": "ada@example.com"},
        {"name": "nobody", "email": "not-an-email"},
        {"name": "grace hopper", "email": "grace@navy.mil"},
    ]
    run = _run(client, "contacts-cleanup", {"contacts": contacts})
    assert run.status == "succeeded", run.error
    assert run.output("clean")["contacts"] == [
        {"name": "Ada Lovelace", "email": "ada@example.com"},
        {"name": "Grace Hopper", "email": "grace@navy.mil"},
    ]
    assert [d["why"] for d in run.output("clean")["dropped"]] == ["duplicate", "invalid email"]
    assert run.output("emails") == ["ada@example.com", "grace@navy.mil"]
    assert run.output("summary") == "2 kept, 2 dropped"


def ticket_triage(client: rt.Client, api: Api) -> None:
    REPLIES.append(
        '```json\n{"category": "bug", "urgency": "high", "summary": "Checkout down"}\n```'
    )
    inputs = {"ticket": "Checkout is down!", "escalation_url": f"{api.base}/page"}
    run = _run(client, "ticket-triage", inputs)
    assert run.status == "succeeded", run.error
    assert run.output("triage")["urgency"] == "high"
    assert api.received == [
        {
            "path": "/page",
            "json": {"summary": "Checkout down", "category": "bug", "ticket": "Checkout is down!"},
        }
    ]
    assert run.nodes["reply"].status == "skipped"  # its model was never made: no reply queued


def page_digest(client: rt.Client, api: Api) -> None:
    REPLIES.append("TITLE: Durable graphs\nDIGEST: Plait checkpoints nodes. Runs resume.")
    run = _run(client, "page-digest", {"url": f"{api.base}/article"})
    assert run.status == "succeeded", run.error
    assert "Checkpoint every node." in run.output("excerpt")
    assert run.output("digest") == {
        "title": "Durable graphs",
        "digest": "Plait checkpoints nodes. Runs resume.",
    }


def url_fetch_map(client: rt.Client, api: Api) -> None:
    urls = [f"{api.base}/article", f"{api.base}/missing", "http://127.0.0.1:1/unreachable"]
    run = _run(client, "url-fetch-map", {"urls": urls})
    assert run.status == "succeeded", run.error
    fetched = run.output("fetch")
    assert [page and page["status"] for page in fetched] == [200, 404, None]  # collected
    missing = len(json.dumps({"error": "no /missing"}).encode())
    assert run.output("summary") == {
        "fetched": 2,
        "unreachable": 1,
        "by_status": {"200": 1, "404": 1},
        "total_bytes": len(ARTICLE.encode()) + missing,
        "largest": f"{api.base}/article",
    }


def subgraph_reuse(client: rt.Client, api: Api) -> None:
    inner = gallery.template("subgraph-reuse").requires[0]
    # use_template published the workflow it runs, the very version its nodes pin
    assert client.store.find_version("text-stats").version == inner["version"]
    inputs = {"title": "Durable graphs", "body": "Every node is checkpointed."}
    run = _run(client, "subgraph-reuse", inputs)
    assert run.status == "succeeded", run.error
    assert run.output("report") == "Title: 2 words. Body: 4 words, 27 characters."
    children = client.runs(workflow="text-stats")
    assert len(children) == 2 and {c.record.parent_node for c in children} == {
        "title_stats",
        "body_stats",
    }


SCENARIOS: dict[str, Callable[[rt.Client, Api], None]] = {
    "summarise-and-approve": summarise_and_approve,
    "webhook-enrich-notify": webhook_enrich_notify,
    "daily-sales-report": daily_sales_report,
    "contacts-cleanup": contacts_cleanup,
    "ticket-triage": ticket_triage,
    "page-digest": page_digest,
    "url-fetch-map": url_fetch_map,
    "subgraph-reuse": subgraph_reuse,
}
NAMES = [t.name for t in gallery.templates()]


@pytest.mark.parametrize("name", NAMES)
def test_each_template_runs(name: str, client: rt.Client, api: Api) -> None:
    assert name in SCENARIOS, f"template {name!r} has no scenario in this test: add one"
    store = Secrets(client.store, client.settings)
    used = gallery.use_template(client, name, author="alice")
    template = gallery.template(name)
    assert used.missing_secrets == template.secrets  # a fresh store holds none of them
    for secret in template.secrets:
        store.set(secret, OPENAI_KEY if secret == "OPENAI_API_KEY" else CRM_TOKEN, by="test")
    assert used.draft.revision == 1 and used.draft.spec["nodes"] == template.doc["draft"]["nodes"]
    assert drafts.validate(used.draft.spec) == []
    REPLIES.clear()
    KEYS.clear()
    SCENARIOS[name](client, api)
    assert REPLIES == [], "the template called the model fewer times than its scenario says"
    assert all(key == OPENAI_KEY for key in KEYS)  # the key came from the secret store
    # published from the draft, the version is the one the file names
    published = drafts.publish_draft(client, name, message="from the gallery", author="alice")
    assert published.version == template.doc["version"]


@pytest.mark.parametrize("name", NAMES)
def test_each_file_is_an_export_of_its_draft(name: str, request: pytest.FixtureRequest) -> None:
    template = gallery.template(name)
    if template.requires:  # its sub-graphs' workflows are found in the default store
        gallery.publish_required(request.getfixturevalue("sqlite_client"), template)
    graph = drafts.build(template.doc["draft"])
    hint = "run `python -m runtime.gallery` after editing a template's draft"
    assert graph.version == template.doc["version"], hint
    assert graph.spec() == template.doc["spec"], hint
    assert rt.Graph.from_spec(template.doc["spec"]).version == graph.version
    assert template.title and template.description
    assert template.category in {"AI", "Integrations", "Reports", "Data"}


def test_the_gallery_lists_six_and_refuses_taken_names_and_unknown_templates(
    sqlite_client: rt.Client,
) -> None:
    assert len(NAMES) >= 6
    used = gallery.use_template(sqlite_client, "contacts-cleanup", "crm-clean", author="bob")
    assert used.draft.spec["name"] == "crm-clean" and used.missing_secrets == []
    with pytest.raises(RunStateError, match="'crm-clean' exists already"):
        gallery.use_template(sqlite_client, "page-digest", "crm-clean")
    with pytest.raises(NotFound, match=r"no template named 'nope' \(templates: .*page-digest"):
        gallery.use_template(sqlite_client, "nope")


def test_a_template_running_another_workflow_publishes_it_once(sqlite_client: rt.Client) -> None:
    inner = gallery.template("subgraph-reuse").requires[0]
    gallery.use_template(sqlite_client, "subgraph-reuse", "stats-a")
    gallery.use_template(sqlite_client, "subgraph-reuse", "stats-b")  # found, not again
    infos = sqlite_client.store.version_infos("text-stats")
    assert [(i.version, i.current) for i in infos] == [(inner["version"], True)]
    # under the name of the workflow it runs, it would run itself: refused, nothing saved
    with pytest.raises(InputError, match="publishes a workflow named 'text-stats' it runs"):
        gallery.use_template(sqlite_client, "subgraph-reuse", "text-stats")
    assert sqlite_client.store.draft("text-stats") is None


def test_a_template_never_adds_a_version_to_someone_elses_workflow(
    sqlite_client: rt.Client,
) -> None:
    taken = rt.Graph("text-stats")
    taken.add("say", rt.nodes.template("a workflow of someone's"))
    sqlite_client.publish(taken)
    with pytest.raises(RunStateError, match="'text-stats' without that version exists"):
        gallery.use_template(sqlite_client, "subgraph-reuse")
    assert [i.version for i in sqlite_client.store.version_infos("text-stats")] == [taken.version]
    assert [w.name for w in sqlite_client.store.workflows()] == ["text-stats"]  # no draft


def test_cli_lists_and_uses_templates(sqlite_client: rt.Client) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["templates"])
    assert listed.exit_code == 0, listed.output
    for name in NAMES:
        assert name in listed.output
    made = runner.invoke(app, ["templates", "use", "page-digest", "--as", "digest"])
    assert made.exit_code == 0, made.output
    assert "OPENAI_API_KEY" in made.output  # the secret to store before a run
    assert sqlite_client.store.draft("digest") is not None
    again = runner.invoke(app, ["templates", "use", "page-digest", "--as", "digest"])
    assert again.exit_code != 0 and "exists already" in again.output


def test_rest_lists_templates_to_viewers_and_editors_use_them(sqlite_client: rt.Client) -> None:
    users, keys = Users(sqlite_client.store), ApiKeys(sqlite_client.store)
    users.add("alice", "admin", "correct horse battery")
    viewer, editor = (
        {"Authorization": f"Bearer {keys.create(f'{r}-key', r, by='alice')[0]}"}
        for r in ("viewer", "editor")
    )
    with TestClient(create_api(lambda: sqlite_client)) as api:
        listed = api.get("/api/v1/templates", headers=viewer)
        assert listed.status_code == 200, listed.text
        by_name = {t["name"]: t for t in listed.json()}
        assert set(by_name) == set(NAMES)
        assert by_name["ticket-triage"]["secrets"] == ["OPENAI_API_KEY"]
        assert by_name["contacts-cleanup"]["inputs"]["contacts"]["type"] == "list"

        path = "/api/v1/templates/webhook-enrich-notify/use"
        assert api.post(path, json={"as": "orders"}, headers=viewer).status_code == 403
        used = api.post(path, json={"as": "orders"}, headers=editor)
        assert used.status_code == 201, used.text
        body = used.json()
        assert body["missing_secrets"] == ["CRM_TOKEN"]
        assert body["draft"]["workflow"] == "orders" and body["draft"]["problems"] == []
        draft = api.get("/api/v1/workflows/orders/draft", headers=viewer).json()
        assert draft["revision"] == 1 and draft["updated_by"].startswith("editor-key")
        assert api.post(path, json={"as": "orders"}, headers=editor).status_code == 409
        missing = api.post("/api/v1/templates/nope/use", json={}, headers=editor)
        assert missing.status_code == 404 and "no template named 'nope'" in missing.text
