"""The SDK against a remote studio: ``rt.connect(api_url=..., api_key=...)`` (or
``PLAIT_API_URL`` + ``PLAIT_API_KEY``). ``RemoteClient`` answers what a ``Run`` asks
(``runtime.client.RunReads``) through the REST API with httpx, so ``g.run``, ``rt.runs``,
``run.wait()``, ``run.resume(...)``, ``run.cancel()``, ``run.events()`` and the rest work as
they do against a database, from a machine that cannot reach one.

Publishing sends the graph's spec and its cloudpickled code; the studio signs the code with
its own key (the caller needs none). Values come back as the studio encoded them, after its
redaction; pickled values are not sent.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import httpx

from runtime import codecs, codeversion
from runtime.auth.roles import Forbidden, Unauthenticated
from runtime.client import DocumentInfo, Run
from runtime.config import Settings
from runtime.errors import InputError, NotFound, PayloadError, PlaitError, RunStateError
from runtime.events import TOKENS
from runtime.graph import Graph
from runtime.mapview import Element
from runtime.statuses import RUN_END_EVENTS, SETTLING_EVENTS, ends_at
from runtime.store import tables as t
from runtime.store.tables import EventDict

PREFIX = "/api/v1"
POLL_SECONDS = 10.0
"""How long one events request waits for news (long polling)."""


class RemoteError(PlaitError):
    """The studio could not be reached or answered something unexpected."""


def _error(response: httpx.Response, *, node: str | None = None) -> PlaitError:
    try:
        body = response.json()
        detail = str(body.get("detail", response.text))
        errors = body.get("errors")
    except ValueError:
        detail, errors = response.text[:500], None
    code = response.status_code
    if code == 401:
        return Unauthenticated(detail)
    if code == 403:
        return Forbidden(detail)
    if code == 404:
        return NotFound(detail)
    if code == 409:
        return RunStateError(detail)
    if code == 422 and node is not None and errors:
        return PayloadError(node, [{**e, "loc": tuple(e.get("loc", ()))} for e in errors])
    if code == 422:
        return InputError(detail)
    return RemoteError(f"{response.request.method} {response.request.url.path}: {code} {detail}")


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _record(body: dict[str, Any]) -> t.Run:
    return t.Run(
        id=body["id"],
        workflow_id=0,
        version_id=0,
        status=body["status"],
        inputs={},
        error=body.get("error"),
        trigger=body.get("trigger", "api"),
        owner=body.get("owner"),
        created_at=_time(body["created_at"]),  # type: ignore[arg-type]
        started_at=_time(body.get("started_at")),
        ended_at=_time(body.get("ended_at")),
        targets=body.get("targets"),
        wake_at=_time(body.get("wake_at")),
        replay_of=body.get("replay_of"),
    )


def _decode(value: dict[str, Any]) -> Any:
    return codecs.decode(value["codec"], base64.b64decode(value["data"]), None)


class RemoteClient:
    """A studio's REST API, seen as a Plait client."""

    def __init__(self, api_url: str, api_key: str, *, timeout: float = 30.0) -> None:
        if not api_url.startswith(("http://", "https://")):
            raise InputError(f"api_url must be an http(s) address, not {api_url!r}")
        if not api_key:
            raise InputError("a remote studio needs an API key (PLAIT_API_KEY or api_key=...)")
        self.api_url = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._timeout = timeout
        self.http = httpx.Client(
            base_url=self.api_url + PREFIX, headers=self._headers, timeout=timeout
        )
        self._specs: dict[str, dict[str, Any]] = {}
        self._versions: dict[str, tuple[str, str]] = {}
        """Run id -> (workflow, version): fixed for a run's life."""
        self._published: set[tuple[str, str]] = set()

    @classmethod
    def from_settings(cls, config: Settings) -> RemoteClient:
        key = config.api_key.get_secret_value() if config.api_key else ""
        return cls(config.api_url or "", key)

    def __repr__(self) -> str:
        return f"<plait.RemoteClient {self.api_url}>"

    # -- HTTP -------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, node: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {self.api_url}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response, node=node)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).json()

    # -- workflows and runs -----------------------------------------------------------------

    def publish(self, graph: Graph) -> dict[str, Any]:
        """Send the graph's version (once); the studio signs and stores it."""
        version, modules = graph.versioned()
        key = (graph.name, version)
        if key in self._published:
            return {"workflow": graph.name, "version": version}
        try:
            payload = codeversion.ship(graph, modules)
        except Exception as exc:
            raise PlaitError(
                f"graph {graph.name!r} cannot be pickled ({exc}), so it cannot be sent to "
                f"{self.api_url}"
            ) from None
        body = {
            "version": version,
            "spec": graph.spec(),
            "code": base64.b64encode(payload).decode(),
        }
        if sources := graph.node_sources():  # only then: a server older than them refuses it
            body["node_sources"] = sources
        answer = self._json("POST", f"/workflows/{graph.name}/versions", json=body)
        self._published.add(key)
        return answer

    def start(
        self,
        graph: Graph,
        inputs: dict[str, Any],
        *,
        trigger: str = "sdk",
        owner: str | None = None,
        outputs: Sequence[str] | None = None,
        start_at: dt.datetime | None = None,
    ) -> Run:
        """Publish (once), then start a run of that version; returns at once."""
        del trigger, owner  # the studio records the caller's key and "api"
        inputs = graph.check_inputs(inputs, outputs)
        version = self.publish(graph)["version"]
        body: dict[str, Any] = {"inputs": inputs, "version": version}
        if outputs is not None:
            body["outputs"] = list(outputs)
        if start_at is not None:
            body["start_at"] = start_at.isoformat()
        try:
            answer = self._json("POST", f"/workflows/{graph.name}/runs", json=body)
        except TypeError as exc:
            raise InputError(f"run inputs must be JSON to go to a remote studio: {exc}") from None
        self._versions[answer["id"]] = (answer["workflow"], answer["version"])
        return Run(self, answer["id"])  # type: ignore[arg-type]

    def get_run(self, run_id: str) -> Run:
        self.run_record(run_id)
        return Run(self, run_id)  # type: ignore[arg-type]

    def runs(
        self,
        *,
        workflow: str | None = None,
        status: str | None = None,
        trigger: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Run]:
        params = {
            k: v
            for k, v in {
                "workflow": workflow,
                "status": status,
                "trigger": trigger,
                "owner": owner,
                "limit": limit,
                "offset": offset,
            }.items()
            if v is not None
        }
        page = self._json("GET", "/runs", params=params)
        for row in page["runs"]:
            self._versions[row["id"]] = (row["workflow"], row["version"])
        return [Run(self, row["id"]) for row in page["runs"]]  # type: ignore[arg-type]

    def resume(
        self, run_id: str, node: str, payload: Any, *, answered_by: str | None = None
    ) -> Run:
        """Answer a wait (the studio records this client's key as who answered)."""
        del answered_by
        if hasattr(payload, "model_dump"):
            payload = payload.model_dump(mode="json")
        self._call(
            "POST", f"/runs/{run_id}/resume", node=node, json={"node": node, "payload": payload}
        )
        return Run(self, run_id)  # type: ignore[arg-type]

    def cancel(self, run_id: str) -> str:
        return str(self._json("POST", f"/runs/{run_id}/cancel")["status"])

    def retry(self, run_id: str, *, retried_by: str | None = None) -> Run:
        """Continue the run from its failure (the studio records this client's key)."""
        del retried_by
        self._json("POST", f"/runs/{run_id}/retry")
        return Run(self, run_id)  # type: ignore[arg-type]

    def rerun(self, run_id: str, *, owner: str | None = None) -> Run:
        del owner
        answer = self._json("POST", f"/runs/{run_id}/rerun")
        self._versions[answer["id"]] = (answer["workflow"], answer["version"])
        return Run(self, answer["id"])  # type: ignore[arg-type]

    def _replay_body(
        self,
        from_nodes: Any,
        inputs: dict[str, Any] | None,
        overrides: dict[str, Any] | None,
        version: Any,
    ) -> dict[str, Any]:
        if not isinstance(version, str):
            raise PlaitError(
                "a remote client replays on a stored version: give latest, source or a hash "
                "(publish a graph first)"
            )
        nodes = [from_nodes] if isinstance(from_nodes, str) else list(from_nodes)
        return {
            "from_nodes": nodes,
            "inputs": inputs or {},
            "overrides": overrides or {},
            "version": version,
        }

    def replay_plan(
        self,
        run_id: str,
        *,
        from_nodes: Any = (),
        inputs: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        version: Any = "latest",
    ) -> Any:
        """The studio's ``replay_plan`` (``runtime.replay.ReplayPlan``)."""
        from runtime.replay import ReplayPlan

        body = self._replay_body(from_nodes, inputs, overrides, version)
        answer = self._json("POST", f"/runs/{run_id}/replay/plan", json=body)
        return ReplayPlan(
            source=answer["source"],
            version=answer["version"],
            version_id=0,
            reused=answer["reused"],
            rerun=answer["rerun"],
            spec=answer["spec"],
        )

    def replay(
        self,
        run_id: str,
        *,
        from_nodes: Any = (),
        inputs: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        version: Any = "latest",
    ) -> Run:
        body = self._replay_body(from_nodes, inputs, overrides, version)
        answer = self._json("POST", f"/runs/{run_id}/replay", json=body)
        self._versions[answer["id"]] = (answer["workflow"], answer["version"])
        return Run(self, answer["id"])  # type: ignore[arg-type]

    def recover(self, *, watch: bool = False) -> list[Run]:
        raise PlaitError("recover runs on the studio's side: a remote client executes nothing")

    def close(self) -> None:
        self.http.close()

    # -- RunReads ---------------------------------------------------------------------------

    def _detail(self, run_id: str) -> dict[str, Any]:
        body = self._json("GET", f"/runs/{run_id}")
        self._versions[run_id] = (body["workflow"], body["version"])
        return body

    def run_record(self, run_id: str) -> t.Run:
        return _record(self._detail(run_id))

    def run_spec(self, run_id: str) -> dict[str, Any]:
        spec = self._specs.get(run_id)
        if spec is None:
            if run_id not in self._versions:
                self._detail(run_id)
            workflow, version = self._versions[run_id]
            spec = self._json("GET", f"/workflows/{workflow}/versions/{version}")["spec"]
            self._specs[run_id] = spec
        return spec

    def run_attempts(self, run_id: str) -> list[t.NodeRun]:
        return [
            t.NodeRun(
                run_id=run_id,
                node=n["name"],
                attempt=n["attempts"],
                status=n["status"],
                started_at=_time(n.get("started_at")),
                ended_at=_time(n.get("ended_at")),
                error_type=n.get("error_type"),
                error_message=n.get("error"),
                traceback=n.get("traceback"),
                logs=n.get("logs"),
                answered_by=n.get("answered_by"),
                retry_at=_time(n.get("retry_at")),
                wake_at=_time(n.get("wake_at")),
            )
            for n in self._detail(run_id)["nodes"]
            if n["status"] != "pending"
        ]

    def node_attempt(self, run_id: str, node: str) -> t.NodeRun | None:
        return next((r for r in self.run_attempts(run_id) if r.node == node), None)

    def load_output(self, run_id: str, row: t.NodeRun) -> Any:
        return _decode(self._json("GET", f"/runs/{run_id}/nodes/{row.node}/output"))

    def run_elements(
        self, run_id: str, node: str, *, offset: int = 0, limit: int | None = None
    ) -> list[Element]:
        params = {"offset": offset, "limit": limit or 100_000}
        body = self._json("GET", f"/runs/{run_id}/nodes/{node}/elements", params=params)
        return [Element(**e) for e in body]

    def run_inputs(self, run_id: str) -> dict[str, Any]:
        names = list(self._detail(run_id)["inputs"])
        return {n: _decode(self._json("GET", f"/runs/{run_id}/inputs/{n}")) for n in names}

    def run_documents(self, run_id: str) -> list[DocumentInfo]:
        return [
            DocumentInfo(d["name"], d["node"], d["kind"], _decode(d["value"]), _time(d["saved_at"]))  # type: ignore[arg-type]
            for d in self._json("GET", f"/runs/{run_id}/documents")
        ]

    def _events(self, http: httpx.Client, run_id: str, after: int, wait: float) -> list[EventDict]:
        try:
            response = http.get(
                f"/runs/{run_id}/events",
                params={"after": after, "wait": wait},
                timeout=wait + self._timeout,
            )
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {self.api_url}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response)
        return [{**e, "run_id": run_id} for e in response.json()]  # type: ignore[typeddict-item]

    def _streamed(
        self, http: httpx.Client, run_id: str, after: int, wait: float
    ) -> Iterator[EventDict]:
        """The events stream with live tokens (``?tokens=true``, one JSON event a line)."""
        params: dict[str, str | float] = {"after": after, "wait": wait, "tokens": "true"}
        try:
            with http.stream(
                "GET", f"/runs/{run_id}/events", params=params, timeout=wait + self._timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                for line in response.iter_lines():
                    if line:
                        yield {**json.loads(line), "run_id": run_id}  # type: ignore[typeddict-item]
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {self.api_url}: {exc}") from None

    def follow(
        self,
        run_id: str,
        *,
        after: int = 0,
        stop_at_end: bool = True,
        timeout: float | None = None,
        tokens: bool = False,
    ) -> Iterator[EventDict]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = POLL_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return
            if tokens:
                last = None
                for event in self._streamed(self.http, run_id, after, wait):
                    if event["type"] != TOKENS:
                        after, last = event["seq"], event
                    yield event
                # the server ends the stream at the run's end (or after ``wait``)
                if stop_at_end and last is not None and last["type"] in RUN_END_EVENTS:
                    return
                continue
            batch = self._events(self.http, run_id, after, wait)
            for i, event in enumerate(batch):
                after = event["seq"]
                yield event
                if stop_at_end and ends_at(batch, i):
                    return

    async def afollow(
        self, run_id: str, *, after: int = 0, stop_at_end: bool = True, tokens: bool = False
    ) -> AsyncIterator[EventDict]:
        async with httpx.AsyncClient(
            base_url=self.api_url + PREFIX, headers=self._headers, timeout=self._timeout
        ) as http:
            while True:
                if tokens:
                    last = None
                    async for event in self._astreamed(http, run_id, after):
                        if event["type"] != TOKENS:
                            after, last = event["seq"], event
                        yield event
                    if stop_at_end and last is not None and last["type"] in RUN_END_EVENTS:
                        return
                    continue
                try:
                    response = await http.get(
                        f"/runs/{run_id}/events",
                        params={"after": after, "wait": POLL_SECONDS},
                        timeout=POLL_SECONDS + self._timeout,
                    )
                except httpx.HTTPError as exc:
                    raise RemoteError(f"cannot reach {self.api_url}: {exc}") from None
                if response.status_code >= 400:
                    raise _error(response)
                batch = response.json()
                for i, event in enumerate(batch):
                    after = event["seq"]
                    yield {**event, "run_id": run_id}  # type: ignore[typeddict-item]
                    if stop_at_end and ends_at(batch, i):
                        return
                await asyncio.sleep(0)

    async def _astreamed(
        self, http: httpx.AsyncClient, run_id: str, after: int
    ) -> AsyncIterator[EventDict]:
        params: dict[str, str | float] = {"after": after, "wait": POLL_SECONDS, "tokens": "true"}
        try:
            async with http.stream(
                "GET",
                f"/runs/{run_id}/events",
                params=params,
                timeout=POLL_SECONDS + self._timeout,
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error(response)
                async for line in response.aiter_lines():
                    if line:
                        yield {**json.loads(line), "run_id": run_id}  # type: ignore[typeddict-item]
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {self.api_url}: {exc}") from None

    def subscribe(
        self, run_id: str, listener: Callable[[list[EventDict]], None]
    ) -> Callable[[], None]:
        """Long-polls the run's events in a thread and hands each batch to ``listener``."""
        stopped = threading.Event()
        http = httpx.Client(
            base_url=self.api_url + PREFIX, headers=self._headers, timeout=self._timeout
        )

        def poll() -> None:
            try:
                after = self._events(http, run_id, 0, 0)[-1:]
                seen = after[0]["seq"] if after else 0
                while not stopped.is_set():
                    batch = self._events(http, run_id, seen, 2.0)
                    if batch and not stopped.is_set():
                        seen = batch[-1]["seq"]
                        listener(batch)
                        if any(e["type"] in SETTLING_EVENTS for e in batch):
                            continue
            except PlaitError:
                pass  # Run.wait re-reads the status every second anyway
            finally:
                http.close()

        threading.Thread(target=poll, name=f"plait-remote-{run_id[:8]}", daemon=True).start()
        return stopped.set

    def run_diff(self, run_a: str, run_b: str) -> Any:
        """The studio's diff of the two runs (its values redacted as the API shows them)."""
        from runtime.compare import RunDiff

        return RunDiff.from_dict(self._json("GET", f"/runs/{run_a}/diff/{run_b}"))

    def run_report(self, run: Run) -> Any:
        from runtime.report import ReportHTML

        return ReportHTML(self._call("GET", f"/runs/{run.id}/report").text)

    def last_seq(self, run_id: str) -> int:
        events = self._events(self.http, run_id, 0, 0)
        return events[-1]["seq"] if events else 0
