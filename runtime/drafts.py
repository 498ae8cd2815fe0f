"""Workflows built from the node library as JSON: a draft (what an editor saves, one per
workflow, with a revision), its validation (the checks a Python graph gets, each problem
naming its node and field), test runs, publishing, and the diff of two versions.

A draft is a plain JSON object::

    {"name": "enrich", "description": "",
     "nodes": [{"name": "fetch", "kind": "http",
                "options": {"url": "https://x.test/{{ inputs.city }}"},
                "after": [], "inputs": {}, "retries": 0, "secrets": [], ...}],
     "inputs": {"city": {"type": "str", "description": "Where"}},
     "test_inputs": {"city": "Paris"}}

A node's ``options`` are its kind's options (``GET /node-kinds`` has their schemas); its
policies (``retries``, ``backoff``, ``timeout``, ``isolation``, ``max_interruptions``,
``pickle``, ``join``, ``cache``), ``after``, ``secrets``, ``description`` and an explicit
``inputs`` wiring are optional, as in ``g.add``. Keys an editor keeps for itself (a node's
``position``) are kept and ignored. ``inputs`` declares run inputs: a type other than ``str``
becomes the ``input_types`` of the nodes reading it.

Three kinds hold more than a library node's options:

- ``map`` runs one library node per element of a list: ``{"kind": "map", "options": {"over":
  "urls", "concurrency": 4, "on_error": "collect", "retries": 1, "body": {"kind": "http",
  "options": {"url": "{{ inputs.urls }}"}}}}``. In the body's expressions the one naming
  ``over`` (``inputs.urls``, or ``nodes.urls.output`` for a node's list) is one element; a
  run input mapped over is declared ``list`` (or ``any``). Its ``retries``, ``backoff`` and
  ``timeout`` are each element's, in its options. A body is a kind that runs code of its
  own (not an approval, sleep, sub-graph, filter, router or map), reading no secrets.
- ``graph`` (a sub-graph) runs a published workflow as a child run: ``{"kind": "graph",
  "options": {"workflow": "enrich", "version": "3f2a..."}}``; without ``version`` the
  workflow's current version is pinned when the draft is built (published, test-run). Its
  parameters are the child's run inputs, fed by the nodes or run inputs of the same names
  unless ``inputs`` rewires them. The node is the one ``g.add(name, "enrich@3f2a...")``
  makes: a version opened as a draft names the version it pinned.
- ``sleep``: ``{"kind": "sleep", "options": {"seconds": 30}}`` (or ``"until"``: an aware ISO
  8601 time, or ``"until_from"``: a run input or node holding one), as ``g.sleep``.

The graph a draft builds is an ordinary ``Graph``: publishing it stores a content-hashed
version as ``g.run`` does, and a version built from the same draft has the same hash.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from runtime.errors import GraphError, InputError, PlaitError
from runtime.graph import Graph
from runtime.nodes.expressions import field_refs, references
from runtime.nodes.kind import NodeKind
from runtime.nodes.library import LibraryKind
from runtime.nodes.registry import kind_of, kinds
from runtime.store.contract import DraftConflict
from runtime.store.tables import WorkflowDraft, WorkflowVersion

if TYPE_CHECKING:
    from runtime.client import Client, Run

__all__ = [
    "DraftConflict",
    "DraftInvalid",
    "Problem",
    "build",
    "diff_specs",
    "diff_versions",
    "draft_from_spec",
    "publish_draft",
    "save_draft",
    "test_run",
    "validate",
]

INPUT_TYPES = ("str", "int", "float", "bool", "dict", "list", "any")
_POLICIES: dict[str, Any] = {
    "retries": 0,
    "backoff": 1.0,
    "timeout": None,
    "pickle": None,
    "isolation": None,
    "max_interruptions": 3,
}
_NODE_KEYS = {
    "name",
    "kind",
    "options",
    "after",
    "inputs",
    "secrets",
    "join",
    "cache",
    "description",
    "position",
    *_POLICIES,
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a draft."""

    node: str | None
    """The node it is about (``None``: the workflow as a whole)."""
    field: str | None
    """Where in the node: ``kind``, ``options.url``, ``after``, ``inputs``, a policy."""
    message: str

    def __str__(self) -> str:
        where = ".".join(p for p in (self.node, self.field) if p)
        return f"{where or '(workflow)'}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class DraftInvalid(PlaitError):
    """A draft with problems: it saves, but it neither publishes nor test-runs."""

    def __init__(self, workflow: str, problems: Sequence[Problem]) -> None:
        self.workflow = workflow
        self.problems = list(problems)
        # the REST API's ``errors``: where (node, field) and what
        self.errors = [
            {"loc": [p.node or "(workflow)", *([p.field] if p.field else [])], "msg": p.message}
            for p in self.problems
        ]
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"draft of workflow {workflow!r} has {len(self.problems)} problem(s):\n{lines}"
        )


def is_buildable(kind: NodeKind) -> bool:
    """Whether nodes of this kind are whole in their options (a draft can hold them): the
    node library's kinds, ``approval``, a plug-in's kinds with options; as
    ``Graph.from_spec`` rebuilds them."""
    from runtime.rebuild import _CODE_KINDS

    return kind.options is not None and kind.name not in _CODE_KINDS


def library_kinds() -> list[str]:
    return sorted(name for name, kind in kinds().items() if is_buildable(kind))


# -- validation and building ------------------------------------------------------------------


def validate(draft: Mapping[str, Any]) -> list[Problem]:
    """Every problem of the draft, each naming its node and field; ``[]`` when it builds."""
    return _build(draft)[1]


def build(draft: Mapping[str, Any]) -> Graph:
    """The graph the draft describes; ``DraftInvalid`` listing every problem."""
    graph, problems = _build(draft)
    if problems or graph is None:
        raise DraftInvalid(str(draft.get("name") or "?"), problems)
    return graph


def _build(draft: Mapping[str, Any]) -> tuple[Graph | None, list[Problem]]:
    problems: list[Problem] = []
    if not isinstance(draft, Mapping):
        return None, [Problem(None, None, f"a draft is a JSON object, got {type(draft).__name__}")]
    name = draft.get("name")
    if not isinstance(name, str) or not name.strip():
        return None, [Problem(None, "name", "the workflow needs a non-empty name")]
    description = draft.get("description", "")
    if not isinstance(description, str):
        problems.append(Problem(None, "description", "must be text"))
        description = ""
    declared = _declared_inputs(draft.get("inputs", {}), problems)
    nodes = draft.get("nodes", [])
    if not isinstance(nodes, list):
        return None, [*problems, Problem(None, "nodes", "must be a list of nodes")]
    if not nodes:
        problems.append(Problem(None, "nodes", "the workflow has no nodes yet"))
    graph = Graph(name, description=description)
    names = [n.get("name") for n in nodes if isinstance(n, Mapping)]
    for index, entry in enumerate(nodes):
        _add(graph, index, entry, nodes, declared, problems)
    for node in graph.nodes.values():
        for before in node.after:
            if before not in names:
                problems.append(Problem(node.name, "after", f"names no node: {before!r}"))
        for param, (what, where) in node.expects.items():
            source = node.inputs.get(param, param)
            if what == "node" and source not in names:
                problems.append(
                    Problem(node.name, f"options.{where}", f"names unknown node {source!r}")
                )
            if what == "input" and source in names:
                problems.append(
                    Problem(
                        node.name,
                        f"options.{where}",
                        f"reads inputs.{source}, but {source!r} is a node: write "
                        f"nodes.{source}.output",
                    )
                )
    cycle = _cycle(graph)
    if cycle:
        problems.append(
            Problem(cycle[0], "inputs", "is in a cycle: " + " -> ".join([*cycle, cycle[0]]))
        )
    if problems:
        return None, problems
    try:
        graph.validate()
    except GraphError as exc:  # a check of a kind's own (a router's routes)
        return None, [Problem(_node_named(str(exc), graph), None, str(exc))]
    return graph, []


def _declared_inputs(raw: Any, problems: list[Problem]) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        problems.append(Problem(None, "inputs", "must be an object of run inputs by name"))
        return {}
    types = {}
    for name, spec in raw.items():
        kind = spec.get("type", "str") if isinstance(spec, Mapping) else spec
        if kind not in INPUT_TYPES:
            problems.append(
                Problem(
                    None, f"inputs.{name}", f"type {kind!r} is not one of {', '.join(INPUT_TYPES)}"
                )
            )
            continue
        types[str(name)] = kind
    return types


def _add(
    graph: Graph,
    index: int,
    entry: Any,
    nodes: list[Any],
    declared: Mapping[str, str],
    problems: list[Problem],
) -> None:
    if not isinstance(entry, Mapping):
        problems.append(Problem(f"nodes[{index}]", None, "a node is a JSON object"))
        return
    name = entry.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        problems.append(
            Problem(
                f"nodes[{index}]" if not isinstance(name, str) else name,
                "name",
                f"node name {name!r} must be a Python identifier (other nodes name it)",
            )
        )
        return
    names = [n.get("name") for n in nodes if isinstance(n, Mapping)]
    if names.count(name) > 1 and name in graph.nodes:
        problems.append(Problem(name, "name", "another node has this name"))
        return
    unknown = sorted(set(entry) - _NODE_KEYS)
    if unknown:
        problems.append(Problem(name, unknown[0], f"unknown key(s): {', '.join(unknown)}"))
    kind_name = entry.get("kind")
    try:
        impl = kind_of(str(kind_name))
    except (GraphError, TypeError):
        problems.append(
            Problem(
                name,
                "kind",
                f"unknown node kind {kind_name!r} (library kinds: {', '.join(library_kinds())})",
            )
        )
        return
    if not is_buildable(impl):
        problems.append(
            Problem(
                name,
                "kind",
                f"kind {kind_name!r} is not a library node (it runs Python code a draft cannot "
                f"hold); library kinds: {', '.join(library_kinds())}",
            )
        )
        return
    raw = entry.get("options") or {}
    if not isinstance(raw, Mapping):
        problems.append(Problem(name, "options", "must be an object"))
        return
    options = _typed_inputs(impl, dict(raw), declared)
    before = len(problems)
    model = _options_model(impl, name, options, problems)
    if model is None or _expression_problems(impl, name, model, problems) or len(problems) > before:
        return
    kinds_by_name = {n.get("name"): n.get("kind") for n in nodes if isinstance(n, Mapping)}
    if impl.name == "map" and _map_problems(name, options, kinds_by_name, declared, problems):
        return
    policies = {k: entry.get(k, default) for k, default in _POLICIES.items()}
    if impl.name == "approval" and policies["timeout"] is not None:
        problems.append(Problem(name, "timeout", "an approval's timeout is its deadline option"))
        return
    if entry.get("cache") not in (None, False) and (impl.parks or impl.drives):
        problems.append(
            Problem(
                name,
                "cache",
                f"a {impl.name} node cannot be cached (it runs no code of "
                "its own whose output could be reused)",
            )
        )
        return
    try:
        node = graph.add_node(
            name,
            impl.name,
            options=options,
            inputs=dict(entry.get("inputs") or {}),
            after=list(entry.get("after") or []),
            secrets=list(entry.get("secrets") or []),
            description=entry.get("description") or "",
            **policies,
        )
        node.join = entry.get("join", "all")
        if node.join not in ("all", "any"):
            raise GraphError(f"node {name!r}: join must be all or any, got {node.join!r}")
        node.cache = _cache(name, entry.get("cache", False))
    except GraphError as exc:
        graph.nodes.pop(name, None)
        problems.append(Problem(name, _field_named(str(exc)), _said(str(exc))))
    except (TypeError, ValueError) as exc:
        graph.nodes.pop(name, None)
        problems.append(Problem(name, None, str(exc)))


_NOT_LISTS = {
    "template": "text",
    "http": "a response (a dict)",
    "approval": "a decision (a dict)",
    "sleep": "a time",
    "graph": "the child run's outputs (a dict)",
}
"""Kinds whose output is never a list: a map over one is refused with what it gives."""


def _map_problems(
    name: str,
    options: dict[str, Any],
    node_kinds: Mapping[Any, Any],
    declared: Mapping[str, str],
    problems: list[Problem],
) -> bool:
    """Add the problems of a map node's ``over`` and ``body`` (each field named as
    ``options.body.options.url``); whether there was one. ``options["body"]["options"]``
    gets the declared types of the run inputs the body reads, as a top-level node's do."""
    before = len(problems)
    over, body = options.get("over"), options.get("body")
    if not isinstance(over, str) or not over.isidentifier():
        problems.append(
            Problem(name, "options.over", f"must name a node or run input, got {over!r}")
        )
    elif over in declared and declared[over] not in ("list", "any"):
        problems.append(
            Problem(
                name,
                "options.over",
                f"maps over run input {over!r}, declared {declared[over]}: declare it list",
            )
        )
    elif over in node_kinds:
        gives = _NOT_LISTS.get(str(node_kinds[over]))
        if gives is not None:
            problems.append(
                Problem(
                    name,
                    "options.over",
                    f"maps over node {over!r}, a {node_kinds[over]} node giving {gives}, "
                    "not a list: map over a transform of it that gives one",
                )
            )
    if not isinstance(body, Mapping):
        problems.append(
            Problem(
                name,
                "options.body",
                "a map in a draft runs a library node per element: give body "
                '({"kind": "http", "options": {...}})',
            )
        )
        return True
    from runtime.nodes.map_body import body_problem

    try:
        impl = kind_of(str(body.get("kind")))
    except GraphError:
        problems.append(
            Problem(
                name,
                "options.body.kind",
                f"unknown node kind {body.get('kind')!r} (library kinds: "
                f"{', '.join(library_kinds())})",
            )
        )
        return True
    refused = body_problem(impl)
    if refused is not None:
        problems.append(Problem(name, "options.body.kind", refused))
        return True
    inner: list[Problem] = []
    # the element is no list: the body's ``over`` keeps its own type
    outer = {k: v for k, v in declared.items() if k != over}
    typed = _typed_inputs(impl, dict(body.get("options") or {}), outer)
    model = _options_model(impl, name, typed, inner)
    if model is not None:
        _expression_problems(impl, name, model, inner)
    problems.extend(
        Problem(name, f"options.body.{p.field}" if p.field else "options.body", p.message)
        for p in inner
    )
    options["body"] = {**body, "options": typed}
    return len(problems) > before


def _typed_inputs(impl: NodeKind, options: dict[str, Any], declared: Mapping[str, str]) -> dict:
    """The declared types of the run inputs the node's expressions read, in its
    ``input_types`` (as ``rt.nodes.*(input_types=...)`` would hold them)."""
    typed = {k: v for k, v in declared.items() if v != "str"}
    if not typed or not isinstance(impl, LibraryKind):
        return options
    try:
        assert impl.options is not None
        refs = impl.named("_", impl.options.model_validate(options))
    except (pydantic.ValidationError, GraphError):
        return options  # reported with its field by the checks that follow
    reads = {k: v for k, v in typed.items() if k in refs.inputs}
    if reads:
        options["input_types"] = {**reads, **dict(options.get("input_types") or {})}
    return options


def _options_model(
    impl: NodeKind, node: str, options: dict[str, Any], problems: list[Problem]
) -> pydantic.BaseModel | None:
    assert impl.options is not None
    try:
        return impl.options.model_validate(options)
    except pydantic.ValidationError as exc:
        for e in exc.errors():
            where = ".".join(map(str, e["loc"]))
            message = "is required" if e["type"] == "missing" else e["msg"]
            problems.append(Problem(node, f"options.{where}" if where else "options", message))
        return None


def _expression_problems(
    impl: NodeKind, node: str, model: pydantic.BaseModel, problems: list[Problem]
) -> bool:
    """Add a problem for each expression field that does not parse; whether there was one."""
    if not isinstance(impl, LibraryKind):
        return False
    found = False
    for field, language in impl.expressions.items():
        value = getattr(model, field, None)
        if value is None:
            continue
        try:
            if language == "text":
                field_refs(node, value, field)
            else:
                references(node, field, value, language)
        except GraphError as exc:
            problems.append(Problem(node, f"options.{field}", str(exc)))
            found = True
    return found


def _cache(node: str, value: Any) -> Any:
    import datetime as dt

    if value is True or value is False:
        return value
    if isinstance(value, int | float) and value > 0:
        return dt.timedelta(seconds=value)
    raise GraphError(f"node {node!r}: cache is true, false or a number of seconds, got {value!r}")


def _cycle(graph: Graph) -> list[str]:
    deps = {
        name: [s for s in [*node.inputs.values(), *node.after] if s in graph.nodes]
        for name, node in graph.nodes.items()
    }
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for d in deps[name]:
            if state.get(d) == 1:
                return path[path.index(d) :]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return []

    for name in graph.nodes:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []


def _node_named(message: str, graph: Graph) -> str | None:
    found = re.search(r"node '([^']+)'", message) or re.search(r"(\w+) '([^']+)'", message)
    if found:
        name = found.group(found.lastindex or 1)
        return name if name in graph.nodes else None
    return None


def _said(message: str) -> str:
    """A kind's message about one of its fields (``node 'x': field workflow: no ...``)
    without what the problem says already: its node and field."""
    found = re.match(r"^(?:[\w-]+ )?node '[^']+': field [\w.\[\]]+: (.+)$", message, re.S)
    return found.group(1) if found else message


def _field_named(message: str) -> str | None:
    named = re.search(r"field ([\w.\[\]]+):", message)
    if named:  # an expression of the kind's own (``runtime.nodes.expressions``)
        return f"options.{named.group(1)}"
    for field in ("after", "secrets", "join", "cache", "inputs", *_POLICIES):
        if re.search(rf"\b{field}\b", message):
            return field
    return None


# -- from a version back to a draft -------------------------------------------------------------


def python_nodes(spec: Mapping[str, Any]) -> dict[str, str]:
    """The nodes of a version that run Python code (or a kind unknown here) rather than a
    library kind's options: name -> what it is (``function``, ``x: unknown here``)."""
    from runtime.rebuild import runs_code

    out = {}
    for stored in spec.get("nodes", []):
        try:
            impl = kind_of(stored["kind"])
        except GraphError:
            out[stored["name"]] = f"{stored['kind']}: unknown here"
            continue
        code = stored.get("code") and stored["kind"] != "code"
        if not is_buildable(impl) or code or runs_code(stored):
            out[stored["name"]] = str(stored["kind"])
    return out


def draft_from_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The draft that builds the version ``spec`` again (the same version hash); ``InputError``
    naming the nodes that are Python code rather than library nodes. A sub-graph node names
    the published version it runs (one whose child was a ``Graph`` object then runs that
    graph's published version: the same child, under a version hash of its own)."""
    from runtime.rebuild import spec_options

    if foreign := python_nodes(spec):
        named = ", ".join(f"{name} ({what})" for name, what in foreign.items())
        raise InputError(
            f"workflow {spec['name']!r} has nodes that are Python code, not library nodes: "
            f"{named}; only a workflow of library nodes becomes a draft"
        )
    nodes = []
    for entry in spec["nodes"]:
        policies = dict(entry.get("policies", {}))
        node: dict[str, Any] = {
            "name": entry["name"],
            "kind": entry["kind"],
            "options": spec_options(entry) or {},
        }
        if entry["kind"] == "approval":
            policies.pop("timeout", None)  # its deadline option sets it
        for key, default in _POLICIES.items():
            # the spec holds ``pickle`` resolved: false is the default there
            if policies.get(key, default) not in (default, False if key == "pickle" else default):
                node[key] = policies[key]
        for key, value in (
            ("inputs", entry.get("inputs") or {}),
            ("after", entry.get("after") or []),
            ("secrets", entry.get("secrets") or []),
            ("join", entry.get("join", "all")),
            ("cache", entry.get("cache", False)),
            ("description", entry.get("doc") or ""),
        ):
            node[key] = value
        nodes.append(node)
    # a run input a map maps over is a list (its node's annotation says so, not the spec)
    mapped = {
        (n.get("inputs") or {}).get(over, over)
        for n in spec["nodes"]
        if n["kind"] == "map" and isinstance(over := (n.get("options") or {}).get("over"), str)
    }
    inputs = {
        name: {"type": "list" if name in mapped else "str", "description": ""}
        for name, about in spec.get("inputs", {}).items()
        if isinstance(about, Mapping)
    }
    return {
        "name": spec["name"],
        "description": spec.get("description", ""),
        "nodes": nodes,
        "inputs": inputs,
        "test_inputs": {},
    }


def graph_from_spec(spec: Mapping[str, Any]) -> Graph:
    """The graph of a version of library nodes, built again from its spec."""
    return build(draft_from_spec(spec))


# -- drafts in the store ------------------------------------------------------------------------


def save_draft(
    client: Client,
    workflow: str,
    draft: Mapping[str, Any],
    revision: int | None,
    by: str | None,
    *,
    checked: bool = False,
) -> tuple[WorkflowDraft, list[Problem]]:
    """Save the draft (problems and all) from ``revision`` (``None``: there is none yet);
    ``DraftConflict`` when someone saved in between. Returns it with its problems;
    ``checked``: the caller has just validated this very draft (the editor, on each edit),
    so it is not validated again and no problems are returned."""
    data = json.loads(json.dumps(dict(draft)))  # JSON only: what the store keeps
    if data.get("name") not in (None, workflow):
        raise InputError(f"the draft is of workflow {data['name']!r}, not {workflow!r}")
    data["name"] = workflow
    saved = client.store.save_draft(workflow, data, revision, by)
    return saved, [] if checked else validate(data)


def current_draft(client: Client, workflow: str) -> WorkflowDraft:
    found = client.store.draft(workflow)
    if found is None:
        raise InputError(
            f"workflow {workflow!r} has no draft (save one, or open a version as a draft)"
        )
    return found


def publish_draft(
    client: Client,
    workflow: str,
    *,
    message: str,
    author: str | None,
    revision: int | None = None,
) -> WorkflowVersion:
    """Publish the workflow's draft as an immutable version with ``message`` and ``author``,
    and make it current. ``revision``: the draft revision the publisher looked at
    (``DraftConflict`` if it changed since); ``DraftInvalid`` lists its problems."""
    draft = current_draft(client, workflow)
    if revision is not None and draft.revision != revision:
        raise DraftConflict(workflow, revision, draft.revision)
    if not isinstance(message, str) or not message.strip():
        raise InputError("publishing takes a message saying what changed")
    graph = build(draft.spec)
    return client.publish(graph, message=message.strip(), author=author, make_current=True)


def test_run(
    client: Client,
    workflow: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    owner: str | None = None,
) -> Run:
    """Run the workflow's draft as it is now: a draft run (trigger ``draft``) of a version
    stored unpublished; ``inputs`` default to the draft's ``test_inputs``."""
    draft = current_draft(client, workflow)
    graph = build(draft.spec)
    given = dict(draft.spec.get("test_inputs") or {}) if inputs is None else dict(inputs)
    return client.start(graph, given, owner=owner, draft=True)


def open_as_draft(
    client: Client, workflow: str, version: str | None, revision: int | None, by: str | None
) -> WorkflowDraft:
    """Make a published version the workflow's draft (to edit it further)."""
    found = client.store.find_version(workflow, version)
    return client.store.save_draft(workflow, draft_from_spec(found.spec), revision, by)


MAX_WORKFLOW_NAME = 200
"""The longest workflow name the store keeps (``workflow.name``)."""


def duplicate(client: Client, source: str, new_name: str, *, by: str | None) -> WorkflowDraft:
    """A new workflow ``new_name`` whose draft copies ``source``'s draft (or, without one,
    its current version); nothing is published."""
    if not new_name.strip() or len(new_name) > MAX_WORKFLOW_NAME:
        raise InputError(
            f"a workflow's name is 1 to {MAX_WORKFLOW_NAME} characters, got {len(new_name)}"
        )
    if new_name in {w.name for w in client.store.workflows()}:
        raise InputError(f"a workflow named {new_name!r} exists already")
    found = client.store.draft(source)
    if found is not None:
        spec = dict(found.spec)
    else:
        spec = draft_from_spec(client.store.find_version(source).spec)
    return client.store.save_draft(new_name, {**spec, "name": new_name}, None, by)


# -- diff ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: str
    """``kind``, ``options.url``, ``policies.retries``, ``after``, ``inputs``..."""
    old: Any
    new: Any


@dataclass(frozen=True)
class VersionDiff:
    """How version B differs from version A."""

    added: list[str]
    removed: list[str]
    changed: dict[str, list[Change]]
    """Node -> what changed about it, field by field."""
    unchanged: list[str]
    workflow: list[Change]
    """Changes of the workflow itself: its description, its run inputs."""

    def shown(self) -> VersionDiff:
        """The diff as a person may read it: secret-looking text in the sources of ``code``
        changes replaced (``runtime.redaction``; a key typed into a function's body)."""
        from runtime.redaction import DEFAULT

        def hide(c: Change) -> Change:
            if c.field != "code":
                return c
            return Change(
                c.field, *(None if t is None else DEFAULT.text(t) for t in (c.old, c.new))
            )

        changed = {name: [hide(c) for c in cs] for name, cs in self.changed.items()}
        return VersionDiff(self.added, self.removed, changed, self.unchanged, self.workflow)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": {n: [asdict(c) for c in cs] for n, cs in self.changed.items()},
            "unchanged": self.unchanged,
            "workflow": [asdict(c) for c in self.workflow],
        }


_ASPECTS = ("kind", "inputs", "after", "depends_on", "secrets", "join", "cache", "doc", "schema")


def diff_specs(old: Mapping[str, Any], new: Mapping[str, Any]) -> VersionDiff:
    """Nodes added, removed, changed (each option and policy that changed, as
    ``options.<field>``), by the new version's order."""
    before = {n["name"]: n for n in old.get("nodes", [])}
    after = {n["name"]: n for n in new.get("nodes", [])}
    changed: dict[str, list[Change]] = {}
    unchanged = []
    for name, node in after.items():
        if name not in before:
            continue
        was = before[name]
        changes = [
            Change(a, was.get(a), node.get(a)) for a in _ASPECTS if was.get(a) != node.get(a)
        ]
        changes += _flat_changes("policies", was.get("policies") or {}, node.get("policies") or {})
        changes += _flat_changes("options", was.get("options") or {}, node.get("options") or {})
        if changes:
            changed[name] = changes
        else:
            unchanged.append(name)
    workflow = []
    for key in ("description", "inputs"):
        if old.get(key) != new.get(key):
            workflow.append(Change(key, old.get(key), new.get(key)))
    return VersionDiff(
        added=[n for n in after if n not in before],
        removed=[n for n in before if n not in after],
        changed=changed,
        unchanged=unchanged,
        workflow=workflow,
    )


def diff_versions(old: WorkflowVersion, new: WorkflowVersion) -> VersionDiff:
    """``diff_specs`` of the two versions, and a ``code`` change for each node in both whose
    code differs: ``Change("code", old_source, new_source)`` when both versions recorded its
    source (``node_sources``) and the texts differ. Otherwise their ``node_digests`` tell
    (a digest covers the helpers a node calls too): the change then holds ``None`` for each
    source not recorded, or the same text twice when the node's own source is unchanged and
    code it calls changed (``code_change_lines`` words each case)."""
    found = diff_specs(old.spec, new.spec)
    before, after = old.node_sources or {}, new.node_sources or {}
    old_digests, new_digests = old.node_digests or {}, new.node_digests or {}
    code: dict[str, Change] = {}
    for name in [*found.changed, *found.unchanged]:
        if name in before and name in after and before[name] != after[name]:
            code[name] = Change("code", before[name], after[name])
        elif (
            name not in found.changed  # else the digests differ for the spec entry as well
            and name in old_digests
            and name in new_digests
            and old_digests[name] != new_digests[name]
        ):
            code[name] = Change("code", before.get(name), after.get(name))
    order = [n["name"] for n in new.spec.get("nodes", [])]
    changed = {
        name: [*found.changed.get(name, []), *([code[name]] if name in code else [])]
        for name in order
        if name in found.changed or name in code
    }
    return VersionDiff(
        added=found.added,
        removed=found.removed,
        changed=changed,
        unchanged=[name for name in found.unchanged if name not in code],
        workflow=found.workflow,
    )


def code_change_lines(change: Change, old: str = "old", new: str = "new") -> tuple[str, list[str]]:
    """How a ``code`` change reads: a note, and the unified diff of the two sources (its
    ``---``/``+++`` header naming ``old`` and ``new``) when both were recorded and differ."""
    if change.old is None or change.new is None:
        return "changed (source not recorded)", []
    if change.old == change.new:
        # equal texts: a helper it calls changed, or what differs is hidden as a secret
        return "changed in code it calls (its own source reads the same)", []
    lines = difflib.unified_diff(
        change.old.splitlines(), change.new.splitlines(), old, new, lineterm="", n=2
    )
    return "", list(lines)


def _flat_changes(prefix: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += _flat_changes(f"{prefix}.{key}", a, b)
        else:
            out.append(Change(f"{prefix}.{key}", a, b))
    return out
