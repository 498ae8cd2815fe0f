"""A published version as one JSON file (its spec, each node's options, the secrets it reads
by name only) and back; the same version as a Python module of ``rt.nodes.*`` calls; and
``rt.workflow(name)``, a version as a ``Graph`` to run or extend.

Importing a file publishes the version it holds under its name (its hash is the same: the
hash is of the spec, and the spec is rebuilt exactly) or saves it as the draft of a workflow.
"""

from __future__ import annotations

import datetime as dt
import json
import keyword
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cloudpickle

from runtime import drafts
from runtime.errors import GraphError, InputError
from runtime.graph import Graph
from runtime.nodes.registry import kind_of, kinds
from runtime.store.tables import WorkflowDraft, WorkflowVersion

if TYPE_CHECKING:
    from runtime.client import Client

FORMAT = "plait.workflow/1"
"""The ``format`` of an exported file."""


def export_version(client: Client, workflow: str, version: str | None = None) -> dict[str, Any]:
    """The version (the current one when ``None``) as one JSON document; ``InputError`` for a
    workflow with Python nodes, whose code a file cannot hold."""
    found = client.store.find_version(workflow, version)
    draft = drafts.draft_from_spec(found.spec)
    return {
        "format": FORMAT,
        "name": workflow,
        "version": found.version,
        "message": found.message,
        "published_by": found.created_by,
        "published_at": found.created_at.isoformat(),
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "kinds": sorted({n["kind"] for n in found.spec["nodes"]}),
        "secrets": secrets_of(found.spec),
        "spec": found.spec,
        "draft": draft,
    }


def secrets_of(spec: Mapping[str, Any]) -> list[str]:
    """The names of the stored secrets the nodes read (never their values)."""
    return sorted({s for n in spec["nodes"] for s in n.get("secrets", [])})


def read_file(text: str, where: str = "the file") -> dict[str, Any]:
    """An exported document, checked to be one (``InputError`` saying what is wrong)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not JSON: {exc}") from None
    return read_file_object(doc, where)


def read_file_object(doc: Any, where: str = "the file") -> dict[str, Any]:
    """``read_file`` of a document already parsed."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{where} is not a Plait workflow export (format {FORMAT!r})")
    for key in ("name", "version", "draft"):
        if key not in doc:
            raise InputError(f"{where}: {key!r} is missing")
    if not isinstance(doc["draft"], dict) or not isinstance(doc["draft"].get("nodes"), list):
        raise InputError(f"{where}: 'draft' is not a workflow of nodes")
    return dict(doc)


def check_references(client: Client, doc: Mapping[str, Any], where: str = "the file") -> None:
    """``InputError`` naming the node kinds not registered here and the secrets not stored."""
    known = kinds()
    nodes = doc["draft"].get("nodes", [])
    missing_kinds = sorted(
        {f"{n.get('kind')} (node {n.get('name')})" for n in nodes if n.get("kind") not in known}
    )
    from runtime.secrets import Secrets

    stored = {s.name for s in Secrets(client.store, client.settings).list()}
    wanted = {s for n in nodes for s in n.get("secrets", [])} | set(doc.get("secrets", []))
    missing_secrets = sorted(wanted - stored)
    problems = []
    if missing_kinds:
        problems.append(f"unknown node kinds: {', '.join(missing_kinds)}")
    if missing_secrets:
        problems.append(
            f"secrets not stored here: {', '.join(missing_secrets)} (store them with "
            "`plait secrets set NAME`)"
        )
    if problems:
        raise InputError(f"{where} cannot be imported: " + "; ".join(problems))


def import_workflow(
    client: Client,
    doc: Mapping[str, Any],
    *,
    name: str | None = None,
    as_draft: bool = False,
    revision: int | None = None,
    author: str | None = None,
    where: str = "the file",
) -> WorkflowVersion | WorkflowDraft:
    """Publish the exported version as workflow ``name`` (the file's by default), or with
    ``as_draft`` save it as that workflow's draft (from its draft ``revision``).

    Published under its own name it keeps its version hash; a spec changed by hand since
    the export (its hash no longer its own) is refused: import it as a draft instead."""
    check_references(client, doc, where)
    target = name or doc["name"]
    draft = {**doc["draft"], "name": target}
    if as_draft:
        saved, _problems = drafts.save_draft(client, target, draft, revision, author)
        return saved
    graph = drafts.build(draft)
    if target == doc["name"] and graph.version != doc["version"]:
        raise InputError(
            f"{where}: its spec builds version {graph.version}, not the {doc['version']} it "
            "names (was it edited after the export?); import it as a draft to publish it anew"
        )
    existing = {w.name for w in client.store.workflows()}
    if target in existing:
        known = {v.version for v in client.store.version_infos(target)}
        if graph.version not in known:
            raise InputError(
                f"workflow {target!r} exists already: import the file as its draft "
                "(--draft), or under another name (--name)"
            )
    message = doc.get("message") or f"imported {doc['name']} {doc['version']}"
    return client.publish(graph, message=message, author=author)


def workflow(client: Client, name: str, version: str | None = None) -> Graph:
    """The version (the current one when ``None``) as a ``Graph`` of its own: rebuilt from
    its spec when it is made of library nodes, else loaded from its signed code. Adding
    nodes to it and running it publishes a new version; the store's copy is untouched."""
    found = client.store.find_version(name, version)
    try:
        graph = Graph.from_spec(found.spec)
    except GraphError:
        graph = None
    if graph is not None and graph.version == found.version:
        return graph
    assert found.id is not None
    loaded = client.load_graph(found.id)
    return cloudpickle.loads(cloudpickle.dumps(loaded))  # a copy: extending it is local


# -- Python --------------------------------------------------------------------------------------


def python_module(doc: Mapping[str, Any]) -> str:
    """A module that rebuilds the exported version with ``rt.nodes.*`` calls; running it
    (``python flow.py``) publishes the same version hash."""
    draft = doc["draft"]
    lines = [
        f'"""Workflow {draft["name"]!r}, version {doc["version"]}: exported by '
        "`plait export --python`.",
        "",
        "Running it publishes that version (the same hash) to the store PLAIT_DATABASE_URL",
        'names: `python flow.py`. Import it to extend the graph `g`."""',
        "",
        "import runtime as rt",
        "",
        f"g = rt.Graph({draft['name']!r}, description={draft.get('description', '')!r})",
    ]
    built = drafts.build(draft)
    for entry in draft["nodes"]:
        lines.append(_node_line(entry, built))
    lines += [
        "",
        'if __name__ == "__main__":',
        "    version = rt.default_client().publish(g)",
        '    print(f"published {g.name} {version.version}")',
        "",
    ]
    return "\n".join(lines)


def _node_line(entry: Mapping[str, Any], built: Graph) -> str:
    name, kind = entry["name"], entry["kind"]
    impl = kind_of(kind)
    assert impl.options is not None
    options = impl.options.model_validate(entry.get("options") or {}).model_dump(
        mode="json", exclude_defaults=True
    )
    policies = {
        k: entry[k]
        for k in ("retries", "backoff", "timeout", "pickle", "isolation", "max_interruptions")
        if k in entry and entry[k] not in (None, False, drafts._POLICIES.get(k))
    }
    if entry.get("after"):
        policies["after"] = list(entry["after"])
    if entry.get("join", "all") != "all":
        policies["join"] = entry["join"]
    if entry.get("cache"):
        policies["cache"] = entry["cache"]
    # only what the options do not imply: ``rt.nodes.*`` derives the rest as it did
    plain = _bare_node(kind, options)
    if plain is not None:
        implied = plain
        wiring = dict(entry.get("inputs") or {})
        if wiring and wiring != implied.inputs:
            policies["inputs"] = wiring
        secrets = list(entry.get("secrets") or [])
        if secrets and secrets != list(implied.secrets):
            policies["secrets"] = secrets
    node = built.nodes[name]
    constructor = _constructor(kind, options)
    if constructor is not None and not entry.get("description"):
        args = ", ".join([repr(name), constructor, *(f"{k}={v!r}" for k, v in policies.items())])
        text = f"g.add({args})"
    else:
        full = dict(policies)
        full.setdefault("inputs", dict(node.inputs))
        full.setdefault("secrets", list(node.secrets))
        if entry.get("description"):
            full["description"] = entry["description"]
        cache = full.pop("cache", None)
        join = full.pop("join", None)
        args = ", ".join(
            [
                repr(name),
                repr(kind),
                f"options={options!r}",
                *(f"{k}={v!r}" for k, v in full.items()),
            ]
        )
        text = f"g.add_node({args})"
        if join:
            text += f"\ng.nodes[{name!r}].join = {join!r}"
        if cache:
            text += f"\ng.nodes[{name!r}].cache = {cache!r}"
    return text if len(text) <= 99 else _wrapped(text)


def _constructor(kind: str, options: dict[str, Any]) -> str | None:
    """``rt.nodes.<kind>(...)`` when that call gives these options exactly, else ``None``."""
    import runtime.nodes as library

    if kind in ("map", "graph", "sleep"):
        return _structural(kind, options)

    make = getattr(library, kind, None)
    if make is None or not all(k.isidentifier() and not keyword.iskeyword(k) for k in options):
        return None
    try:
        made = make(**options)
        impl = kind_of(kind)
        assert impl.options is not None
        same = impl.options.model_validate(made.options).model_dump(
            mode="json"
        ) == impl.options.model_validate(options).model_dump(mode="json")
    except (GraphError, TypeError, ValueError):
        return None
    if not same or made.target is not None:
        return None
    args = ", ".join(f"{k}={v!r}" for k, v in options.items())
    return f"rt.nodes.{kind}({args})"


def _structural(kind: str, options: dict[str, Any]) -> str | None:
    """``rt.nodes.map(rt.nodes.http(...), over=...)``, ``rt.nodes.subgraph("w@v")``,
    ``rt.nodes.sleep(...)``: the calls making the nodes these options make (``g.add`` makes
    a sub-graph and a sleep as ``g.sleep`` does), else ``None``."""
    if kind == "graph":
        version = options.get("version")
        return f"rt.nodes.subgraph({options['workflow'] + '@' + version!r})" if version else None
    if kind == "sleep":
        if set(options) == {"seconds"}:
            return f"rt.nodes.sleep({options['seconds']!r})"
        if set(options) == {"until_from"}:
            return f"rt.nodes.sleep(until={options['until_from']!r})"
        return None  # an aware time: the node's options say it as text
    body = options.get("body") or {}
    inner = _constructor(str(body.get("kind")), _short(body.get("kind"), body.get("options")))
    if inner is None:
        return None
    rest = {k: v for k, v in options.items() if k != "body"}
    args = ", ".join([inner, *(f"{k}={v!r}" for k, v in rest.items())])
    text = f"rt.nodes.map({args})"
    import runtime as rt

    try:  # the call written must make the very node the options make
        made = _bare_node(kind, eval(text, {"rt": rt}).options)
    except (GraphError, TypeError, ValueError):
        return None
    wanted = _bare_node(kind, options)
    return (
        text if made is not None and wanted is not None and made.options == wanted.options else None
    )


def _short(kind: Any, options: Any) -> dict[str, Any]:
    """A body's options without their defaults (what its ``rt.nodes.*`` call is given)."""
    try:
        impl = kind_of(str(kind))
    except GraphError:
        return {}
    if impl.options is None:
        return {}
    return impl.options.model_validate(options or {}).model_dump(mode="json", exclude_defaults=True)


def _bare_node(kind: str, options: dict[str, Any]) -> Any:
    """The node these options make without explicit wiring or secrets (what they imply)."""
    probe = Graph("probe")
    try:
        return probe.add_node("probe", kind, options=options, inputs={})
    except GraphError:
        return None


def _wrapped(text: str) -> str:
    """A long call as black would keep it readable: one argument a line."""
    head, _, rest = text.partition("(")
    if "\n" in rest:
        return text
    try:
        import ast

        call = ast.parse(text).body[0].value  # type: ignore[attr-defined]
    except SyntaxError:
        return text
    parts = [ast.get_source_segment(text, a) for a in call.args]
    parts += [f"{k.arg}={ast.get_source_segment(text, k.value)}" for k in call.keywords]
    body = "".join(f"    {p},\n" for p in parts)
    return f"{head}(\n{body})"
