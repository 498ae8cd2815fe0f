"""The Python SDK: ``connect`` to a store, start runs, and follow them through ``Run`` handles."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import cloudpickle
import pydantic
import pydantic_core

from runtime import audit, codecs, codesign, codeversion, mapview, signing, statuses
from runtime.config import Settings, settings
from runtime.dispatch import Dispatcher, EmbeddedDispatcher
from runtime.engine import Engine
from runtime.errors import (
    GraphError,
    InputError,
    MissingSecretKey,
    NotFound,
    PayloadError,
    RunStateError,
    SignatureError,
    StoreUnavailable,
)
from runtime.events import Bus, EventDict, LocalBus, afollow, follow
from runtime.graph import Graph, check_run_inputs, needed_nodes
from runtime.keys import Keyring
from runtime.mapview import Element, MapProgress
from runtime.statuses import RUN_SETTLED, SETTLING_EVENTS, ends_at
from runtime.store import Store, Takeover, open_store
from runtime.store import tables as t
from runtime.store.contract import NewRun
from runtime.takeover import LeaseWatch, dead_local_holders, process_owner

if TYPE_CHECKING:
    from runtime.compare import RunDiff
    from runtime.replay import ReplayPlan

log = logging.getLogger("plait")


class RunReads(Protocol):
    """What a ``Run`` handle asks of its client, and nothing else: ``Client`` answers from its
    store and bus, ``runtime.remote.RemoteClient`` through a studio's REST API. A ``Run``
    does not know which it has."""

    def run_record(self, run_id: str) -> t.Run: ...
    def run_spec(self, run_id: str) -> dict[str, Any]: ...
    def run_attempts(self, run_id: str) -> list[t.NodeRun]:
        """The run's attempt rows, in order (at least each node's latest)."""
        ...

    def node_attempt(self, run_id: str, node: str) -> t.NodeRun | None:
        """One node's latest attempt row (``None`` before it started)."""
        ...

    def load_output(self, run_id: str, row: t.NodeRun) -> Any: ...
    def run_elements(
        self, run_id: str, node: str, *, offset: int = 0, limit: int | None = None
    ) -> list[Element]:
        """A map node's elements from index ``offset`` on (``limit`` of them; all when
        ``None``), each as its latest attempt shows it."""
        ...

    def run_inputs(self, run_id: str) -> dict[str, Any]: ...
    def run_documents(self, run_id: str) -> list[DocumentInfo]: ...
    def subscribe(
        self, run_id: str, listener: Callable[[list[EventDict]], None]
    ) -> Callable[[], None]:
        """Call ``listener`` with batches of the run's new events; returns the unsubscriber."""
        ...

    def follow(
        self,
        run_id: str,
        *,
        after: int,
        stop_at_end: bool,
        timeout: float | None,
        tokens: bool = False,
    ) -> Iterator[EventDict]:
        """The run's events (with ``tokens``, streamed LLM text too: ``TOKENS`` events)."""
        ...

    def afollow(
        self, run_id: str, *, after: int, stop_at_end: bool, tokens: bool = False
    ) -> AsyncIterator[EventDict]: ...
    def resume(
        self, run_id: str, node: str, payload: Any, *, answered_by: str | None = None
    ) -> Run: ...
    def cancel(self, run_id: str) -> str: ...
    def retry(self, run_id: str, *, retried_by: str | None = None) -> Run: ...
    def rerun(self, run_id: str, *, owner: str | None = None) -> Run: ...
    def run_diff(self, run_a: str, run_b: str) -> RunDiff:
        """How run B differs from run A (``runtime.compare``)."""
        ...

    def replay(
        self,
        run_id: str,
        *,
        from_nodes: Sequence[str] = (),
        inputs: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        version: Any = "latest",
    ) -> Run: ...
    def replay_plan(
        self,
        run_id: str,
        *,
        from_nodes: Sequence[str] = (),
        inputs: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        version: Any = "latest",
    ) -> ReplayPlan: ...
    def run_report(self, run: Run) -> Any:
        """The run's report page (``runtime.report.ReportHTML``)."""
        ...


class Client:
    """A connection to one Plait store, with the machinery that executes runs."""

    def __init__(self, config: Settings) -> None:
        self.settings = config
        self.keyring = Keyring.from_settings(config)
        """The key this process signs code with (publishers only) and the keys it trusts."""
        self.store = open_store(
            config.resolved_database_url(),
            config.existing_secret_key(),
            pooler=config.database_pooler,
        )
        self.store.migrate()
        try:
            secret_key = _pickle_key(config, self.store)
        except MissingSecretKey:
            self.store.dispose()
            raise
        self.secret_key = secret_key
        """HMAC key of pickled values (inputs, outputs); never of code."""
        self.store.secret_key = secret_key
        self.owner = process_owner()
        self.bus, self.dispatcher = self._transport(config)
        self._graphs: dict[int, Graph] = {}
        self._published: dict[tuple[str, str], t.WorkflowVersion] = {}
        self._fresh: weakref.WeakKeyDictionary[Graph, tuple[Any, t.WorkflowVersion]] = (
            weakref.WeakKeyDictionary()
        )
        """Graph -> the guard (``_guard``) it had when its version was last published here,
        and that version: a run of an unchanged graph is not hashed again."""
        self._declared: set[tuple[str, str]] = set()
        """(workflow, key) of the schedules declared in code that this client stored."""
        self._lock = threading.Lock()
        self._delayed: Any = None
        """The thread queueing this client's delayed runs in embedded mode (``Scheduler``)."""

    def _transport(self, config: Settings) -> tuple[Bus, Dispatcher]:
        """The one place that chooses: Redis pub/sub + Taskiq workers when ``redis_url`` is
        set, else the local bus (this process, and the others on the same SQLite file) and
        the in-process executor. The engine exists either way (workers and ``recover`` use
        it)."""
        if config.redis_url:
            from runtime.queue import TaskiqDispatcher
            from runtime.redis_bus import RedisBus

            bus: Bus = RedisBus(config.redis_url)
            self.engine = Engine(self.store, bus, config, self.owner, self.load_graph)
            dispatcher: Dispatcher = TaskiqDispatcher(config)
        else:
            bus = _local_bus(config)
            self.engine = Engine(self.store, bus, config, self.owner, self.load_graph)
            dispatcher = EmbeddedDispatcher(self.engine, config.worker_concurrency)
        self.engine.resubmit = dispatcher.submit
        self.engine.on_park = lambda run_id, wake_at: self._watch_delayed()
        return bus, dispatcher

    def __repr__(self) -> str:
        return f"<plait.Client {self.store.display_url}>"

    # -- workflows --------------------------------------------------------------------------

    def publish(
        self,
        graph: Graph,
        *,
        message: str | None = None,
        author: str | None = None,
        draft: bool = False,
        make_current: bool = False,
    ) -> t.WorkflowVersion:
        """Store the graph's current version (once) and return it; the graphs of its
        sub-graph nodes first, so that their versions are there for its child runs.

        ``message``/``author``: what changed and who publishes (``publish_draft``; the OS
        user otherwise); ``draft``: store it only to test-run a draft (not listed, not
        current); ``make_current``: make it current even if it was published before."""
        for node in graph.nodes.values():
            child = getattr(node.target, "graph", None)
            if isinstance(child, Graph):
                self.publish(child)
        plain = message is None and author is None and not draft and not make_current
        spec = graph.spec()
        guard = _guard(graph, spec) if plain else None
        with self._lock:
            fresh = self._fresh.get(graph)
        if guard is not None and fresh is not None and fresh[0] == guard:
            # nothing the version covers changed since it was published: no digest again
            self._store_declared_schedules(graph, only_new=True)
            return fresh[1]
        version_hash, modules, digests = graph.versioned_nodes()
        key = (graph.name, version_hash)
        with self._lock:
            published = self._published.get(key) if plain else None
        if published is not None and not published.published:
            published = None  # stored for a draft's test run: publish it now
        if published is not None and guard is not None:
            with self._lock:
                self._fresh[graph] = (_kept(guard), published)
        if published is not None:
            # a schedule declared after this code was first published (a later notebook cell)
            # is not part of the version: it is checked and stored all the same
            self._store_declared_schedules(graph, only_new=True)
            return published
        for declared in graph.schedules:
            graph.check_inputs(declared.inputs)  # before anything is stored
        code, key_id = b"", None
        try:
            payload = codeversion.ship(graph, modules)
        except Exception as exc:
            # runs still execute here; another process cannot load this graph's code
            log.warning(
                "graph %r cannot be pickled (%s); only this process can run it", graph.name, exc
            )
        else:
            # stops here, before anything is stored, if this process may not sign
            signer = self.keyring.signing_key(self._stored_key_ids)
            code = codesign.sign(payload, signer, codesign.subject(graph.name, version_hash))
            key_id = signer.key_id
        # a process on the store's side acts as its OS user, as the CLI's commands do
        version = self.store.publish(
            graph.name,
            version_hash,
            spec,
            code,
            key_id,
            digests,
            created_by=author or audit.cli_actor(),
            published=not draft,
            message=message,
            make_current=make_current,
            node_sources=graph.node_sources(),
        )
        self._store_declared_schedules(graph)
        if code and version.code != code and not _verifies(version, self.keyring):
            # stored under a key we do not trust (or HMAC-era): same content, sign it with ours
            self.store.replace_code(version.id, code, key_id)  # type: ignore[arg-type]
            version = version.model_copy(update={"code": code, "key_id": key_id})
        with self._lock:
            self._published[key] = version
            self._graphs.setdefault(version.id, graph)  # type: ignore[arg-type]
            if guard is not None and version.published:
                self._fresh[graph] = (_kept(guard), version)
        return version

    def delete_workflow(self, name: str) -> None:
        """Delete a workflow no run, schedule or webhook references (``Store.delete_workflow``)
        and forget what this client published of it, so that publishing it again stores it."""
        self.store.delete_workflow(name)
        with self._lock:
            for key in [k for k in self._published if k[0] == name]:
                gone = self._published.pop(key)
                self._graphs.pop(gone.id, None)  # type: ignore[arg-type]
            for graph in [g for g in self._fresh if g.name == name]:
                self._fresh.pop(graph, None)

    def _store_declared_schedules(self, graph: Graph, *, only_new: bool = False) -> None:
        """Declared in code: found again by its key on every publish, never duplicated.
        ``only_new``: those this client has not stored yet (the version is already stored)."""
        new = [
            d for d in graph.schedules if not only_new or (graph.name, d.key) not in self._declared
        ]
        for declared in new:
            graph.check_inputs(declared.inputs)  # before any of them is stored
        for declared in new:
            self.store.create_schedule(graph.name, declared.to_row())
            with self._lock:
                self._declared.add((graph.name, declared.key))

    def load_graph(self, version_id: int) -> Graph:
        graph = self._graphs.get(version_id)
        if graph is not None:
            return graph
        version = self.store.get_version(version_id)
        if not version.code:
            raise GraphError(
                f"the code of this version of {version.spec['name']!r} was not shippable; "
                "it can only run in the process that defined it"
            )
        payload = codesign.verify(
            version.code,
            self.keyring,
            codesign.subject(version.spec["name"], version.version),
            what=f"code of workflow {version.spec['name']!r} {version.version}",
        )
        graph = cloudpickle.loads(payload)
        self._graphs[version_id] = graph
        return graph

    def _graph_if_loadable(self, version_id: int) -> Graph | None:
        """The version's graph, or ``None`` when its code does not load in this process (not
        shippable, signed with a key not trusted here, a module missing): its inputs are then
        checked against the spec only, and typed where the code runs."""
        try:
            return self.load_graph(version_id)
        except Exception:  # unpickling code can fail in many ways
            log.debug("version %s: code does not load here; inputs checked by spec", version_id)
            return None

    def _stored_key_ids(self) -> list[str]:
        return sorted(k for k in self.store.code_key_ids() if k is not None)

    # -- runs -------------------------------------------------------------------------------

    def start(
        self,
        graph: Graph,
        inputs: dict[str, Any],
        *,
        trigger: str = "sdk",
        owner: str | None = None,
        outputs: Sequence[str] | None = None,
        start_at: dt.datetime | None = None,
        priority: int = 0,
        draft: bool = False,
    ) -> Run:
        """Validate, store a ``queued`` run, hand it to the executor, and return at once.
        With ``outputs``, only they and the nodes they need run; with ``start_at`` (aware)
        the run is stored ``scheduled`` and queued when due; ``priority``: higher runs of a
        limited workflow are admitted first; ``draft``: a test run of a draft (its version
        stored unpublished, the run's trigger ``draft``)."""
        inputs = graph.check_inputs(inputs, outputs)
        targets = None if outputs is None else list(outputs)
        if draft:
            trigger = "draft"
        return self._enqueue(
            self.publish(graph, draft=True, author=owner) if draft else self.publish(graph),
            inputs,
            graph.pickle,
            trigger,
            owner,
            targets=targets,
            start_at=_start_time(start_at),
            priority=priority,
        )

    def start_version(
        self,
        version_id: int,
        inputs: dict[str, Any],
        *,
        trigger: str = "studio",
        owner: str | None = None,
        trigger_ref: str | None = None,
        outputs: Sequence[str] | None = None,
        start_at: dt.datetime | None = None,
        priority: int = 0,
        run_id: str | None = None,
    ) -> Run:
        """Start a run of a stored version (the studio, the REST API, a rerun, a trigger).
        Inputs are checked against the version's spec, so the graph's code need not load here;
        ``trigger_ref`` names the schedule or delivery that started it; with ``outputs``,
        only they and the nodes they need run; ``start_at`` delays it; ``run_id`` is an id
        chosen beforehand (a webhook delivery claims it first)."""
        version = self.store.get_version(version_id)
        inputs = self._checked_version_inputs(version, inputs, outputs)
        targets = None if outputs is None else list(outputs)
        return self._enqueue(
            version,
            inputs,
            _allows_pickle(version),
            trigger,
            owner,
            trigger_ref,
            targets=targets,
            start_at=_start_time(start_at),
            priority=priority,
            run_id=run_id,
        )

    def _checked_version_inputs(
        self,
        version: t.WorkflowVersion,
        inputs: dict[str, Any],
        outputs: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Inputs checked against the version's spec and, where its code loads here, against
        the types its nodes declare (coerced); ``InputError`` names what is wrong."""
        _check_spec_inputs(version.spec, inputs, outputs)
        assert version.id is not None, "a stored version has an id"
        graph = self._graph_if_loadable(version.id)
        return inputs if graph is None else graph.check_inputs(inputs, outputs)

    def new_run(
        self,
        version: t.WorkflowVersion,
        inputs: dict[str, Any],
        *,
        trigger: str,
        owner: str | None = None,
        trigger_ref: str | None = None,
        start_at: dt.datetime | None = None,
    ) -> NewRun:
        """A run of a stored version to insert: its inputs checked (as ``start_version``
        checks them) and encoded (``InputError``/``CodecError`` name what is wrong)."""
        inputs = self._checked_version_inputs(version, inputs)
        encoded = self._encode_inputs(inputs, _allows_pickle(version))
        return NewRun(version, encoded, trigger, owner, trigger_ref, start_at)

    def hand_over(self, record: t.Run, events: list[EventDict]) -> None:
        """Announce a stored run's events and, unless it waits for its start time, give it
        to the executor."""
        self._announce(record.id, events)
        if record.status == "queued":
            self.dispatcher.submit(record.id)
        elif record.status == "scheduled":
            self._watch_delayed()

    def queued(self, run_id: str, events: list[EventDict]) -> None:
        """A stored run became ``queued`` (a delayed run now due): announce, execute."""
        self._announce(run_id, events)
        self.dispatcher.submit(run_id)

    def _encode_inputs(self, inputs: dict[str, Any], allow_pickle: bool) -> dict[str, Any]:
        return {
            name: codecs.encode(
                value, allow_pickle=allow_pickle, what=f"run input {name!r}", key=self.secret_key
            )
            for name, value in inputs.items()
        }

    def _enqueue(
        self,
        version: t.WorkflowVersion,
        inputs: dict[str, Any],
        allow_pickle: bool,
        trigger: str,
        owner: str | None,
        trigger_ref: str | None = None,
        *,
        targets: list[str] | None = None,
        start_at: dt.datetime | None = None,
        priority: int = 0,
        run_id: str | None = None,
    ) -> Run:
        """Store checked inputs and a ``queued`` (or delayed) run of ``version``, and hand
        it over."""
        if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > 1000:
            raise InputError(
                f"priority must be a whole number from -1000 to 1000, not {priority!r}"
            )
        record, events = self.store.create_run(
            version,
            self._encode_inputs(inputs, allow_pickle),
            trigger=trigger,
            owner=owner,
            inline_limit=self.settings.inline_limit,
            trigger_ref=trigger_ref,
            targets=targets,
            start_at=start_at,
            priority=priority,
            run_id=run_id,
        )
        self.hand_over(record, events)
        return Run(self, record.id)

    def _watch_delayed(self) -> None:
        """In-process execution has no scheduler process: this client queues its delayed
        runs itself when they are due (a ``plait scheduler`` or studio does too; a run is
        queued once whoever gets there first)."""
        if self.settings.redis_url:
            return  # ``plait scheduler`` queues them for the workers
        with self._lock:
            if self._delayed is None:
                from runtime.scheduler import Scheduler

                self._delayed = Scheduler(self, schedules=False).start()

    def set_run_limit(self, workflow: str, max_concurrent_runs: int | None) -> None:
        """At most ``max_concurrent_runs`` runs of ``workflow`` run (or wait for a person) at
        once, in every process on this store; the others wait ``queued``, highest priority
        first. ``None`` lifts the limit."""
        if max_concurrent_runs is not None and (
            isinstance(max_concurrent_runs, bool)
            or not isinstance(max_concurrent_runs, int)
            or max_concurrent_runs < 1
        ):
            raise InputError(
                f"max_concurrent_runs must be a whole number of at least 1 (or None), not "
                f"{max_concurrent_runs!r}"
            )
        self.store.set_run_limit(workflow, max_concurrent_runs)
        workflow_id = self.store.find_version(workflow).workflow_id
        for run_id in self.store.admissible_runs(workflow_id) or ():
            self.dispatcher.submit(run_id)

    def get_run(self, run_id: str) -> Run:
        self.store.get_run(run_id)  # raises NotFound
        return Run(self, run_id)

    def runs(
        self,
        *,
        workflow: str | None = None,
        status: str | list[str] | None = None,
        trigger: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Run]:
        """Runs, newest first, filtered by workflow name, status, trigger and who started
        them (a user name or ``key:<id>``, as ``Run.owner`` reads)."""
        rows = self.store.list_runs(
            workflow=workflow,
            status=status,
            trigger=trigger,
            owner=owner,
            limit=limit,
            offset=offset,
        )
        return [Run(self, record.id) for record, _ in rows]

    def resume(
        self, run_id: str, node: str, payload: Any, *, answered_by: str | None = None
    ) -> Run:
        """Submit a wait node's payload. An invalid payload raises ``PayloadError`` and
        changes nothing: the run keeps waiting."""
        record = self.store.get_run(run_id)
        graph = self.load_graph(record.version_id)
        wait = graph.nodes.get(node)
        if wait is None or wait.kind_impl.parks != "waiting" or wait.schema is None:
            waits = [n for n, x in graph.nodes.items() if x.kind_impl.parks == "waiting"]
            raise NotFound(
                f"run {run_id}: {node!r} is not a wait node "
                f"(wait nodes: {', '.join(waits) or 'none'})"
            )
        if isinstance(payload, pydantic.BaseModel):
            payload = payload.model_dump()
        try:
            # strictly, as the JSON it is: no "yes" for a bool, no "3" for an int (dates
            # and datetimes travel as ISO strings, which strict JSON validation accepts)
            model = wait.schema.model_validate_json(pydantic_core.to_json(payload), strict=True)
        except pydantic.ValidationError as exc:
            raise PayloadError(node, exc.errors(include_url=False)) from None
        except pydantic_core.PydanticSerializationError as exc:
            raise PayloadError(node, [{"loc": (), "msg": str(exc), "type": "json"}]) from None
        encoded = codecs.encode(model.model_dump(mode="json"), what=f"payload of {node!r}")
        status, events = self.store.answer_wait(
            run_id,
            node,
            encoded,
            answered_by=answered_by,
            inline_limit=self.settings.inline_limit,
        )
        self._announce(run_id, events)
        if status == "queued":
            self.dispatcher.submit(run_id)
        return Run(self, run_id)

    def cancel(self, run_id: str) -> str:
        """Cancel a run and its unfinished child runs (sub-graphs). A child cancelled on its
        own fails its parent's sub-graph node."""
        status, events = self.store.request_cancel(run_id)
        self._announce(run_id, events)
        for child in self.store.children(run_id):
            if child.status not in statuses.RUN_FINISHED:
                self.cancel(child.id)
        parent = self.store.get_run(run_id).parent_run_id
        if status == "cancelled" and parent is not None:
            self.dispatcher.submit(parent)  # its node failed with the cancel: let it go on
        return status

    def retry(self, run_id: str, *, retried_by: str | None = None) -> Run:
        """Continue a failed or cancelled run from its failure: the same run, queued again;
        its failed, skipped and cancelled nodes run again (with their retries anew) and no
        succeeded node does. ``RunStateError`` for a run in any other status."""
        _, events = self.store.retry_run(run_id, retried_by=retried_by)
        self._announce(run_id, events)
        self.dispatcher.submit(run_id)
        return Run(self, run_id)

    def rerun(self, run_id: str, *, trigger: str = "sdk", owner: str | None = None) -> Run:
        """A new run of the same version with the same inputs (and requested outputs)."""
        old = Run(self, run_id)
        record = old.record
        return self.start_version(
            record.version_id, old.inputs, trigger=trigger, owner=owner, outputs=record.targets
        )

    # -- replay (runtime.replay) -------------------------------------------------------------

    def replay_plan(
        self,
        run_id: str,
        *,
        from_nodes: Sequence[str] = (),
        inputs: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        version: str | Graph = "latest",
    ) -> ReplayPlan:
        """Which nodes a replay of the run would reuse and which it would run again, and why;
        nothing is stored. ``version``: ``"latest"`` (the workflow's latest stored version),
        ``"source"`` (the run's own), a version hash (or unique prefix), or a ``Graph`` (its
        current code, published)."""
        return self._replay(run_id, from_nodes, inputs or {}, overrides or {}, version)[0]

    def replay(
        self,
        run_id: str,
        *,
        from_nodes: Sequence[str] = (),
        inputs: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        version: str | Graph = "latest",
        trigger: str = "sdk",
        owner: str | None = None,
    ) -> Run:
        """A new run linked to this one (``replay_of``) that reuses, by reference, every
        checkpoint nothing upstream of changed, and runs the rest (``replay_plan`` says
        which): ``from_nodes`` run again, ``inputs`` replace the source's run inputs named,
        ``overrides`` are taken as those nodes' outputs (what reads them runs again)."""
        plan, new, encoded = self._replay(
            run_id, from_nodes, inputs or {}, overrides or {}, version, trigger, owner
        )
        record, events = self.store.create_replay(
            new, plan.reuse_rows, encoded, inline_limit=self.settings.inline_limit
        )
        self.hand_over(record, events)
        return Run(self, record.id)

    def _replay(
        self,
        run_id: str,
        from_nodes: Sequence[str],
        inputs: dict[str, Any],
        overrides: dict[str, Any],
        version: str | Graph,
        trigger: str = "sdk",
        owner: str | None = None,
    ) -> tuple[ReplayPlan, NewRun, dict[str, codecs.Encoded]]:
        from runtime import replay

        if isinstance(from_nodes, str):
            from_nodes = [from_nodes]
        source = self.store.get_run(run_id)
        if source.status not in t.RUN_FINISHED:
            raise RunStateError(
                f"run {run_id} is {source.status}: only a finished run can be replayed"
            )
        source_version = self.store.get_version(source.version_id)
        target = self._replay_version(source_version, version)
        old_inputs = self.run_inputs(run_id)
        allow_pickle = _allows_pickle(target)
        changed = [
            name
            for name, value in inputs.items()
            if name not in old_inputs or not _same_value(old_inputs[name], value, allow_pickle)
        ]
        merged = self._checked_version_inputs(target, {**old_inputs, **inputs}, source.targets)
        latest: dict[str, t.NodeRun] = {}
        for row in self.store.attempts(run_id):
            latest[row.node] = row
        succeeded = {n: row.id for n, row in latest.items() if row.status == "succeeded" and row.id}
        same = target.id == source_version.id
        source_digests = self._node_digests(source_version)
        plan = replay.plan(
            source=run_id,
            version=target.version,
            version_id=target.id,  # type: ignore[arg-type]
            source_spec=source_version.spec,
            source_digests=source_digests,
            target_spec=target.spec,
            target_digests=source_digests if same else self._node_digests(target),
            source_succeeded=succeeded,
            changed_inputs=changed,
            from_nodes=from_nodes,
            overrides=list(overrides),
        )
        overrides = self._checked_overrides(target, overrides)
        policies = {n["name"]: n["policies"] for n in target.spec["nodes"]}
        encoded = {
            name: codecs.encode(
                value,
                allow_pickle=bool(policies[name].get("pickle")),
                what=f"override of node {name!r}",
                key=self.secret_key,
            )
            for name, value in overrides.items()
        }
        new = NewRun(
            target,
            self._encode_inputs(merged, allow_pickle),
            trigger,
            owner,
            targets=source.targets,
            replay_of=run_id,
        )
        return plan, new, encoded

    def _checked_overrides(
        self, version: t.WorkflowVersion, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        """An override of a wait node is a payload: checked as ``resume`` checks one
        (``PayloadError``), where the version's code loads here."""
        waits = {n["name"] for n in version.spec["nodes"] if "schema" in n} & set(overrides)
        if not waits:
            return overrides
        assert version.id is not None, "a stored version has an id"
        graph = self._graph_if_loadable(version.id)
        if graph is None:
            return overrides
        checked = dict(overrides)
        for name in sorted(waits):
            schema = graph.nodes[name].schema
            if schema is None:
                continue
            payload = checked[name]
            if isinstance(payload, pydantic.BaseModel):
                payload = payload.model_dump()
            try:
                model = schema.model_validate_json(pydantic_core.to_json(payload), strict=True)
            except pydantic.ValidationError as exc:
                raise PayloadError(name, exc.errors(include_url=False)) from None
            checked[name] = model.model_dump(mode="json")
        return checked

    def _replay_version(self, source: t.WorkflowVersion, version: str | Graph) -> t.WorkflowVersion:
        name = source.spec["name"]
        if isinstance(version, Graph):
            if version.name != name:
                raise InputError(
                    f"cannot replay a run of {name!r} on graph {version.name!r}: "
                    "a replay runs a version of the same workflow"
                )
            return self.publish(version)
        if version == "source":
            return source
        if version == "latest":
            return self.store.find_version(name)
        return self.store.find_version(name, version)

    def _node_digests(self, version: t.WorkflowVersion) -> dict[str, str]:
        """The version's per-node digests: stored with it, else from its code when it loads
        here; otherwise none (every node then counts as changed against another version)."""
        if version.node_digests:
            return dict(version.node_digests)
        assert version.id is not None, "a stored version has an id"
        graph = self._graph_if_loadable(version.id)
        return {} if graph is None else graph.node_digests()

    def recover(self, *, watch: bool = False) -> list[Run]:
        """Continue runs nobody is advancing: those no process holds, and those held by a
        process of this host that no longer exists. With ``watch``, also those whose holder
        (on any host) leaves its lease unrenewed for ``lease_seconds`` while this call
        watches, which it then does for that long. Returns the runs handed to the executor."""
        taken: dict[str, Takeover | None] = {r.id: None for r in self.store.free_runs()}
        held = self.store.held_leases()
        taken.update(dead_local_holders(held))
        others = [r for r in held if r.id not in taken]
        if watch and others:
            leases = LeaseWatch(self.settings.lease_seconds)
            leases.unrenewed(others)
            deadline = time.monotonic() + self.settings.lease_seconds
            while others and time.monotonic() < deadline:
                time.sleep(min(self.settings.lease_seconds / 10, 1.0))
                others = [r for r in self.store.held_leases() if r.id not in taken]
                taken.update(leases.unrenewed(others))
        for run_id, takeover in taken.items():
            self.dispatcher.submit(run_id, takeover=takeover)
        if self.store.next_wake() is not None:
            self._watch_delayed()  # delayed and sleeping runs of a process gone: queued when due
        return [Run(self, run_id) for run_id in taken]

    def _announce(self, run_id: str, events: list[EventDict]) -> None:
        if events:
            self.bus.publish(run_id, events)

    # -- what a Run reads (RunReads) --------------------------------------------------------

    def run_record(self, run_id: str) -> t.Run:
        return self.store.get_run(run_id)

    def run_spec(self, run_id: str) -> dict[str, Any]:
        return self.store.get_version(self.store.get_run(run_id).version_id).spec

    def run_attempts(self, run_id: str) -> list[t.NodeRun]:
        return self.store.attempts(run_id)

    def node_attempt(self, run_id: str, node: str) -> t.NodeRun | None:
        rows = self.store.node_attempts(run_id, node)
        return rows[-1] if rows else None

    def load_output(self, run_id: str, row: t.NodeRun) -> Any:
        return self.store.load_output(row)

    def run_elements(
        self, run_id: str, node: str, *, offset: int = 0, limit: int | None = None
    ) -> list[Element]:
        rows = self.store.element_page(run_id, node, offset=offset, limit=limit or 2**31 - 1)
        return mapview.elements(rows, self.store.get_run(run_id).status)

    def run_inputs(self, run_id: str) -> dict[str, Any]:
        record = self.store.get_run(run_id)
        return {k: self.store.load_input(v) for k, v in record.inputs.items()}

    def run_documents(self, run_id: str) -> list[DocumentInfo]:
        return [
            DocumentInfo(doc.name, doc.node, doc.kind, value, doc.created_at)
            for doc, value in self.store.documents(run_id)
        ]

    def subscribe(
        self, run_id: str, listener: Callable[[list[EventDict]], None]
    ) -> Callable[[], None]:
        return self.bus.subscribe(run_id, listener)

    def follow(
        self,
        run_id: str,
        *,
        after: int,
        stop_at_end: bool,
        timeout: float | None,
        tokens: bool = False,
    ) -> Iterator[EventDict]:
        return follow(
            self.store,
            self.bus,
            run_id,
            after=after,
            stop_at_end=stop_at_end,
            timeout=timeout,
            tokens=tokens,
        )

    def afollow(
        self, run_id: str, *, after: int, stop_at_end: bool, tokens: bool = False
    ) -> AsyncIterator[EventDict]:
        return afollow(
            self.store, self.bus, run_id, after=after, stop_at_end=stop_at_end, tokens=tokens
        )

    def run_diff(self, run_a: str, run_b: str) -> RunDiff:
        from runtime.compare import diff_runs

        return diff_runs(self.get_run(run_a), self.get_run(run_b))

    def run_report(self, run: Run) -> Any:
        from runtime import report

        return report.render(run)

    def last_seq(self, run_id: str) -> int:
        return self.store.last_seq(run_id)

    def close(self) -> None:
        if self._delayed is not None:
            self._delayed.stop()
        self.dispatcher.close()
        self.engine.close()
        self.bus.close()
        self.store.dispose()


def _local_bus(config: Settings) -> Bus:
    """The embedded bus: over sockets to the other processes on this store when it is a
    SQLite file and the platform can, else within this process."""
    from runtime import socket_bus

    directory = socket_bus.bus_directory(config.resolved_database_url())
    if config.local_bus == "process" or directory is None or not socket_bus.supported():
        return LocalBus()
    try:
        return socket_bus.SocketBus(directory)
    except OSError as exc:  # an unwritable directory: other processes see us by re-reading
        log.warning("events stay in this process (%s: %s)", directory, exc)
        return LocalBus()


def _same_value(old: Any, new: Any, allow_pickle: bool) -> bool:
    """Whether a replay's run input equals the source's (the same encoding)."""
    try:
        return old == new or (
            codecs.encode(old, allow_pickle=allow_pickle).data
            == codecs.encode(new, allow_pickle=allow_pickle).data
        )
    except Exception:  # values without a meaningful == (arrays, frames) that do not encode
        return False


def _guard(graph: Graph, spec: dict[str, Any]) -> tuple[Any, ...] | None:
    """What the graph's version depends on, cheap to compare (``codeversion.guard``): its
    spec and the code its nodes reach. ``None``: only a digest can tell it changed."""
    code = codeversion.guard(*(part for n in graph.nodes.values() for part in (n.target, n.schema)))
    return None if code is None else (spec, code)


def _kept(guard: tuple[Any, ...]) -> tuple[Any, ...]:
    """The guard as a client keeps it: its spec copied, since the spec holds the nodes' own
    options dicts and one changed in place would change a kept guard with it (a stale
    version would run the new options). Only what is kept is copied, not every check."""
    spec, code = guard
    return (copy.deepcopy(spec), code)


def _check_kernel_can_await() -> None:
    import sys

    kernel = sys.modules.get("ipykernel")
    if kernel is None:
        return
    version = tuple(int(p) for p in kernel.__version__.split(".")[:2] if p.isdigit())
    if version < (7, 4):
        raise RuntimeError(
            f"`await run` needs ipykernel >= 7.4 (this kernel is {kernel.__version__}): older "
            "kernels cannot deliver a form's click while a cell awaits. Display the run and "
            "answer its form instead, or upgrade ipykernel."
        )


def _child_of(run_id: str, node: dict[str, Any], row: t.NodeRun | None) -> str | None:
    """The child run a sub-graph node's attempt started (its spec names the sub-graph)."""
    from runtime.nodes.subgraph import child_run_id

    if "subgraph" not in node or row is None or row.status in statuses.NODE_NOT_RUN:
        return None
    return child_run_id(run_id, node["name"])


def _allows_pickle(version: t.WorkflowVersion) -> bool:
    # values typed into a form are plain data; pickle only where the graph opted in
    return any(n["policies"].get("pickle") for n in version.spec["nodes"])


def _start_time(start_at: dt.datetime | None) -> dt.datetime | None:
    """A delayed run's start time, aware (``InputError`` for a naive one: its zone is
    unknown); ``None`` for a time already past, which starts at once."""
    if start_at is None:
        return None
    if not isinstance(start_at, dt.datetime):
        raise InputError(f"start_at must be a datetime, got {type(start_at).__name__}")
    if start_at.tzinfo is None:
        raise InputError(
            "start_at must carry a time zone (e.g. datetime(..., tzinfo=timezone.utc)); "
            f"got naive {start_at.isoformat()}"
        )
    return start_at if start_at > t.utcnow() else None


def _check_spec_inputs(
    spec: dict[str, Any], inputs: dict[str, Any], outputs: Sequence[str] | None = None
) -> None:
    deps = {n["name"]: n["depends_on"] for n in spec["nodes"]}
    needed = needed_nodes(spec["name"], deps, outputs)
    used = {s for n in spec["nodes"] if n["name"] in needed for s in n["inputs"].values()}
    required = {n: bool(d.get("required")) and n in used for n, d in spec.get("inputs", {}).items()}
    check_run_inputs(spec["name"], required, inputs)


def _verifies(version: t.WorkflowVersion, keyring: Keyring) -> bool:
    try:
        codesign.verify(
            version.code,
            keyring,
            codesign.subject(version.spec["name"], version.version),
            what="stored code",
        )
    except SignatureError:
        return False
    return True


@dataclass(frozen=True)
class NodeInfo:
    """A node as seen on one run: its latest attempt."""

    name: str
    kind: str
    status: str
    attempts: int
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error_type: str | None
    error: str | None
    traceback: str | None
    logs: str | None
    retry_at: dt.datetime | None = None
    """When a ``retrying`` node's next attempt is due."""
    child_run: str | None = None
    """A sub-graph node's child run, once started."""
    wake_at: dt.datetime | None = None
    """When a ``sleeping`` node wakes, or a ``waiting`` one with a timeout times out."""
    cached_from: tuple[str, int] | None = None
    """A ``cached`` node: the run id and attempt number whose output it took."""

    @property
    def label(self) -> str:
        """The status as people read it (``not needed``, ``retrying at 12:00:03 UTC``,
        ``sleeping until 14:05:00 UTC``)."""
        if self.status == "retrying" and self.retry_at is not None:
            return f"retrying at {self.retry_at:%H:%M:%S} UTC"
        if self.wake_at is not None and self.status in statuses.NODE_PARKED:
            return statuses.parked_label(self.status, self.wake_at)
        return statuses.label(self.status)

    @property
    def duration(self) -> float | None:
        """Seconds the latest attempt took."""
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None


@dataclass(frozen=True)
class DocumentInfo:
    """A document a node saved."""

    name: str
    node: str
    kind: str
    """``text``, ``markdown``, ``table``, ``image`` or ``json``."""
    value: Any
    saved_at: dt.datetime


class Run:
    """Handle on one run. Every property reads the store, so it is always current."""

    def __init__(self, client: Client, run_id: str) -> None:
        self.client = client
        """A ``Client`` or a ``RemoteClient``: every read goes through its ``RunReads``."""
        self.id = run_id

    @property
    def record(self) -> t.Run:
        return self.client.run_record(self.id)

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def error(self) -> str | None:
        """Why the run failed, and the first failed node's error with its traceback."""
        record = self.record
        if record.status != "failed":
            return record.error
        failed = [n for n in self.nodes.values() if n.status == "failed"]
        parts = [record.error or "failed"]
        for node in failed[:1]:
            parts.append(f"{node.name}: {node.error_type}: {node.error}\n{node.traceback or ''}")
        return "\n".join(parts)

    @property
    def spec(self) -> dict[str, Any]:
        return self.client.run_spec(self.id)

    @property
    def workflow(self) -> str:
        return self.spec["name"]

    @property
    def parent(self) -> Run | None:
        """The run whose sub-graph node started this one (``None``: not a child run)."""
        parent = self.record.parent_run_id
        return None if parent is None else Run(self.client, parent)

    @property
    def parent_node(self) -> str | None:
        """The sub-graph node of ``parent`` this run is the child of."""
        return self.record.parent_node

    @property
    def children(self) -> list[Run]:
        """The child runs its sub-graph nodes started, in node order."""
        latest = self._latest_attempts()
        found = (_child_of(self.id, n, latest.get(n["name"])) for n in self.spec["nodes"])
        return [Run(self.client, child) for child in found if child is not None]

    def wait(self, timeout: float | None = None) -> Run:
        """Block until the run has succeeded, failed, been cancelled, or is waiting for
        input. A ``sleeping`` run is not settled: this keeps waiting through its sleep
        (something must queue it when due: this client in embedded mode, ``plait scheduler``
        or a worker's reaper otherwise). Raises ``TimeoutError`` after ``timeout``
        seconds."""
        changed, ended = threading.Event(), threading.Event()

        def on_events(batch: list[EventDict]) -> None:
            # only these events can settle the run; others are no reason to look
            types = {e["type"] for e in batch}
            if any(ends_at(batch, i) for i in range(len(batch))):
                ended.set()  # only a retry changes a final status: no need to read it
            if types & SETTLING_EVENTS:
                changed.set()

        unsubscribe = self.client.subscribe(self.id, on_events)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            status = "unknown"
            while True:
                changed.clear()
                if ended.is_set():
                    return self
                try:
                    status = self.status
                except StoreUnavailable as exc:
                    # the database is briefly unreachable: keep waiting, as the workers do
                    log.warning("run %s: cannot read status (%s); retrying", self.id, exc)
                if status in RUN_SETTLED:
                    return self
                remaining = 1.0 if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"run {self.id} is still {status} after {timeout}s")
                # the bus wakes us; the short cap covers writers in processes we cannot hear
                changed.wait(min(remaining, 1.0))
        finally:
            unsubscribe()

    def _latest_attempts(self) -> dict[str, t.NodeRun]:
        latest: dict[str, t.NodeRun] = {}
        for row in self.client.run_attempts(self.id):
            latest[row.node] = row
        return latest

    @property
    def nodes(self) -> dict[str, NodeInfo]:
        """Every node in topological order with its latest attempt (``pending`` if none)."""
        latest = self._latest_attempts()
        run_status = self.status
        out = {}
        hits = [r.cached_from for r in latest.values() if r.cached_from is not None]
        origins = self.client.store.attempt_origins(hits) if hits else {}
        for node in self.spec["nodes"]:
            row = latest.get(node["name"])
            cached = row.cached_from if row else None
            status = statuses.node_status(
                row.status if row else None,
                bool(row and row.will_retry),
                run_status,
                cached=cached is not None,
            )
            out[node["name"]] = NodeInfo(
                name=node["name"],
                kind=node["kind"],
                status=status,
                attempts=row.attempt if row else 0,
                started_at=row.started_at if row else None,
                ended_at=row.ended_at if row else None,
                error_type=row.error_type if row else None,
                error=row.error_message if row else None,
                traceback=row.traceback if row else None,
                logs=row.logs if row else None,
                retry_at=row.retry_at if row and status == "retrying" else None,
                child_run=_child_of(self.id, node, row),
                wake_at=row.wake_at if row and status in statuses.NODE_PARKED else None,
                cached_from=origins.get(cached) if cached is not None else None,
            )
        return out

    def output(self, node: str) -> Any:
        """The value a node returned (a wait node: its payload): one row and one value read,
        however large the run."""
        row = self.client.node_attempt(self.id, node)
        if row is None or row.status != "succeeded":
            known = [n["name"] for n in self.spec["nodes"]]
            if node not in known:
                raise NotFound(f"run {self.id} has no node {node!r} (nodes: {', '.join(known)})")
            raise NotFound(
                f"node {node!r} of run {self.id} has no output: it is "
                f"{row.status if row else 'pending'}"
            )
        return self.client.load_output(self.id, row)

    @property
    def outputs(self) -> dict[str, Any]:
        """Values of the outputs the run was asked for (``outputs=``), else of the graph's
        final nodes (those nothing depends on), that succeeded."""
        latest = self._latest_attempts()
        names = self.record.targets or self.spec["outputs"]
        return {
            name: self.client.load_output(self.id, latest[name])
            for name in names
            if name in latest and latest[name].status == "succeeded"
        }

    @property
    def inputs(self) -> dict[str, Any]:
        return self.client.run_inputs(self.id)

    def elements(self, node: str, *, offset: int = 0, limit: int | None = None) -> list[Element]:
        """The elements of map node ``node`` from index ``offset`` on (``limit`` of them;
        all when ``None``): status, attempts, duration and error of each one's latest
        attempt."""
        return self.client.run_elements(self.id, node, offset=offset, limit=limit)

    @property
    def maps(self) -> dict[str, MapProgress]:
        """Map node -> how far its elements are (``run.maps["squares"].text``: ``312/1000``),
        from the run's ``map.progress`` events."""
        return mapview.progress_from_events(self.events(stop_at_end=False, timeout=0))

    @property
    def documents(self) -> list[DocumentInfo]:
        """Artifacts nodes saved with ``rt.current().save_document(...)``, oldest first."""
        return self.client.run_documents(self.id)

    @property
    def token_usage(self) -> dict[str, Any]:
        """LLM token usage of the run's ``llm`` nodes: ``nodes`` (node -> its calls and
        sums) and ``input_tokens``, ``output_tokens``, ``total_tokens`` summed over them."""
        from runtime.nodes.llm import run_usage

        return run_usage(self)

    @property
    def waiting(self) -> dict[str, dict[str, Any]]:
        """Wait nodes now waiting -> the JSON schema of the payload they expect."""
        spec = self.spec["nodes"]
        # a sub-graph node waits too, for its child run: nobody answers it
        schemas = {n["name"]: n.get("schema", {}) for n in spec if "subgraph" not in n}
        return {
            name: schemas[name]
            for name, row in self._latest_attempts().items()
            if row.status == "waiting" and name in schemas
        }

    def resume(
        self, node: str, payload: Any = None, *, answered_by: str | None = None, **fields: Any
    ) -> Run:
        """Answer a wait node: ``run.resume("approve", {"ok": True})`` or
        ``run.resume("approve", ok=True)``."""
        if payload is None:
            payload = fields
        self.client.resume(self.id, node, payload, answered_by=answered_by)
        return self

    def cancel(self) -> str:
        """Cancel the run; running nodes are stopped and nothing else starts."""
        return self.client.cancel(self.id)

    def retry(self) -> Run:
        """Continue this (failed or cancelled) run from its failure: its failed, skipped and
        cancelled nodes run again, and every succeeded node keeps its checkpoint. Returns
        this run, queued again; ``RunStateError`` when it is not failed or cancelled."""
        return self.client.retry(self.id)

    def rerun(self) -> Run:
        """Start a new run of the same version with the same inputs; returns it."""
        return self.client.rerun(self.id)

    def replay(
        self,
        from_nodes: Sequence[str] = (),
        *,
        inputs: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        version: Any = "latest",
    ) -> Run:
        """A new run that reuses this run's checkpoints for every node not downstream of a
        change and runs the rest: the nodes named, those reading an edited run input, those
        whose code differs in ``version`` (``"latest"``, ``"source"``, a version hash or a
        ``Graph``), and what reads an overridden output. Returns it (``.replay_of`` is this
        run's id); ``replay_plan`` tells beforehand what it will do."""
        return self.client.replay(
            self.id, from_nodes=from_nodes, inputs=inputs, overrides=overrides, version=version
        )

    def replay_plan(
        self,
        from_nodes: Sequence[str] = (),
        *,
        inputs: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        version: Any = "latest",
    ) -> ReplayPlan:
        """What ``replay`` with these arguments would reuse (``.reused``) and run again
        (``.rerun``), each node with its reason; nothing runs. Displays as the graph with
        the plan drawn on it in a notebook."""
        return self.client.replay_plan(
            self.id, from_nodes=from_nodes, inputs=inputs, overrides=overrides, version=version
        )

    @property
    def replay_of(self) -> str | None:
        """The id of the run this one replays (``None``: not a replay)."""
        return self.record.replay_of

    def events(
        self,
        after: int = 0,
        *,
        stop_at_end: bool = True,
        timeout: float | None = None,
        tokens: bool = False,
    ) -> Iterator[EventDict]:
        """The run's events: history, then live, in order, without gaps or duplicates. With
        ``tokens``, LLM nodes' streamed text too, live (``node.tokens`` events, never
        stored: a follower that joins later sees the final output only). Through the API
        as well (``runtime.remote``)."""
        return self.client.follow(
            self.id, after=after, stop_at_end=stop_at_end, timeout=timeout, tokens=tokens
        )

    def aevents(
        self, after: int = 0, *, stop_at_end: bool = True, tokens: bool = False
    ) -> AsyncIterator[EventDict]:
        """Async form of ``events``."""
        return self.client.afollow(self.id, after=after, stop_at_end=stop_at_end, tokens=tokens)

    def diff(self, other: Run | str) -> RunDiff:
        """How this run differs from ``other`` (run A, the baseline; a run or a run id),
        node by node: ``.changed``, ``.unchanged``, ``.only_in_a``, ``.only_in_b``."""
        return self.client.run_diff(other if isinstance(other, str) else other.id, self.id)

    def report(self, path: str | None = None) -> Any:
        """The run's self-contained HTML report (written to ``path`` when given); in a
        notebook it displays inline."""
        from pathlib import Path

        page = self.client.run_report(self)
        if path:
            Path(path).write_text(page, encoding="utf-8")
        return page

    @functools.cached_property
    def view(self) -> Any:
        """The live notebook view (``runtime.notebook.view.RunView``) of this run."""
        from runtime.notebook.view import RunView

        return RunView(self)

    def _ipython_display_(self) -> None:
        from runtime.notebook.display import display_run

        display_run(self)

    def __await__(self) -> Any:
        """``await run`` in a notebook cell: returns when the run has finished, while wait
        forms keep working (the kernel handles widget messages during a top-level await only
        from ipykernel 7.4 on; older kernels would hang, so they get an error instead)."""
        _check_kernel_can_await()
        from runtime.notebook.kernel import unattended

        return (self._finished_unattended() if unattended() else self.finished()).__await__()

    async def _finished_unattended(self) -> Run:
        """``finished()`` where nobody can answer a form (nbconvert, papermill): a wait for
        input ends the await with an error naming it, instead of hanging the cell."""
        self._refuse_if_waiting()
        async for event in self.aevents(stop_at_end=True):
            if event["type"] == "run.waiting":
                self._refuse_if_waiting()
        return self

    def _refuse_if_waiting(self) -> None:
        waiting = sorted(self.waiting)
        if waiting:
            node = waiting[0]
            raise RunStateError(
                f"run {self.id} of {self.workflow!r} is waiting for input at "
                f"{', '.join(repr(n) for n in waiting)}, and nobody can answer a form in this "
                "kernel (it runs unattended: nbconvert, papermill). Answer it in code before "
                f"awaiting (run.resume({node!r}, ...)), from the studio, or with "
                f"`plait resume {self.id} {node} --json '{{...}}'`"
            )

    async def finished(self, timeout: float | None = None) -> Run:
        """Wait, without blocking the event loop, until the run succeeded, failed or was
        cancelled (a wait for input is not an end: answer it meanwhile)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        async for event in self.aevents(stop_at_end=True):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {self.id} did not finish in {timeout}s")
            del event
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        try:
            record = self.record
        except NotFound:
            return f"<Run {self.id} (missing)>"
        return f"<Run {self.id} {self.workflow!r} {record.status}>"


_default: Client | None = None
_default_lock = threading.Lock()


def connect(
    database_url: str | None = None,
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    **overrides: Any,
) -> Any:
    """Connect to a store and make it the default for ``g.run``. With no URL: the embedded
    SQLite file (``PLAIT_DATABASE_URL`` or ``.plait/plait.db``) and in-process execution.
    With ``api_url`` and ``api_key`` (or ``PLAIT_API_URL`` and ``PLAIT_API_KEY`` when no
    database URL is given): a ``RemoteClient`` that drives a studio through its REST API."""
    global _default
    values = settings().model_dump()
    if database_url is not None:
        overrides["database_url"] = database_url
    if api_url is not None:
        overrides["api_url"] = api_url
    if api_key is not None:
        overrides["api_key"] = api_key
    values.update(overrides)
    config = Settings.model_validate(values)
    client: Any
    if config.api_url and database_url is None:
        from runtime.remote import RemoteClient

        client = RemoteClient.from_settings(config)
    else:
        client = Client(config)
    with _default_lock:
        # the previous client keeps executing the runs it started
        _default = client
    return client


def default_client() -> Client:
    """The client ``g.run`` uses: the last ``connect``'s, else one from the settings (a
    ``RemoteClient`` when ``PLAIT_API_URL`` is set)."""
    global _default
    with _default_lock:
        if _default is None:
            config = settings()
            if config.api_url:
                from runtime.remote import RemoteClient

                _default = RemoteClient.from_settings(config)  # type: ignore[assignment]
            else:
                _default = Client(config)
        return _default  # type: ignore[return-value]


def _pickle_key(config: Settings, store: Store) -> bytes:
    """The pickle key; minted only for a store that holds no pickled value (values signed
    with a lost key would otherwise never load again, and nothing would say why)."""
    existing = config.existing_secret_key()
    if existing is not None:
        return existing
    expected = store.pickle_key_ids()
    if expected:
        raise MissingSecretKey(
            f"{store.display_url} holds values pickled with key {', '.join(expected)}, and this "
            f"process has no pickle key: PLAIT_SECRET_KEY is not set and "
            f"{config.home / 'secret_key'} does not exist. Refusing to make a new one. "
            f"{signing.KEYS_COME_FROM}: set PLAIT_SECRET_KEY, or PLAIT_HOME to the directory "
            "holding the secret_key file of the process that wrote them",
            expected=expected,
        )
    return config.resolved_secret_key()
