"""What the views show of library nodes beyond their output and logs: an ``llm`` node's token
usage, an ``http`` node's request summary, a ``code`` node's stdout and stderr, and the run's
token usage summed. Read from the documents those nodes save (``token_usage``,
``http_request``, ``code_run``, ``stdout`` / ``stderr``), only for nodes of the kind that
saves them (a function node's own ``stdout`` document stays a plain document).

The notebook view, the studio's node panel and the report all read them here and render them
their own way; every text in them has been through the run's redactor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime import redaction
from runtime.nodes.code import RUN_DOCUMENT
from runtime.nodes.http import REQUEST_DOCUMENT
from runtime.nodes.llm import USAGE_DOCUMENT
from runtime.redaction import Redactor

if TYPE_CHECKING:
    from runtime.client import Run

SHOWN_AS_DETAILS = {
    "llm": frozenset({USAGE_DOCUMENT}),
    "http": frozenset({REQUEST_DOCUMENT}),
    "code": frozenset({RUN_DOCUMENT, "stdout", "stderr"}),
}
"""Node kind -> the documents its details show (the views leave them out of their list of
documents)."""


@dataclass(frozen=True)
class LlmCall:
    """One call of the model (a turn of a tool loop is one)."""

    model: str
    input_tokens: int
    output_tokens: int
    total_tokens: int
    reported: bool
    """Whether the model reported usage at all (else the counts are 0)."""


@dataclass(frozen=True)
class TokenUsage:
    """An ``llm`` node's usage, summed over its calls."""

    input_tokens: int
    output_tokens: int
    total_tokens: int
    calls: tuple[LlmCall, ...] = ()
    attempt: int | None = None
    """The node's attempt that recorded it (``None``: recorded before attempts were)."""

    @property
    def reported(self) -> bool:
        return all(c.reported for c in self.calls)

    @property
    def model(self) -> str:
        return self.calls[0].model if self.calls else ""


@dataclass(frozen=True)
class HttpTry:
    """One request sent by an attempt (the first, or a retry)."""

    status: int | None
    """``None``: no answer (a connect error or a timeout, ``error``)."""
    elapsed_ms: float | None
    size: int | None
    """Bytes of the response body."""
    error: str = ""


@dataclass(frozen=True)
class HttpSummary:
    """An ``http`` node's request and response, as its latest attempt that sent one saw them."""

    method: str
    url: str
    """Secret-looking query values and a password hidden."""
    status: int | None
    """The last answer's status (``None``: none came)."""
    elapsed_ms: float | None
    """The last try's time."""
    size: int | None
    retries: int
    """Tries after the first."""
    tries: tuple[HttpTry, ...] = ()
    error: str = ""
    """Why the attempt failed (after its retries), else ``""``."""
    attempt: int | None = None


@dataclass(frozen=True)
class CodeOutput:
    """A ``code`` node's output streams, from its latest attempt that reached the sandbox
    (failed and timed-out ones included)."""

    stdout: str
    stderr: str
    elapsed_ms: float | None = None
    error: str = ""
    """How it failed (``ZeroDivisionError: ...``, ``... timed out after 5 s``), else ``""``."""
    attempt: int | None = None


@dataclass(frozen=True)
class NodeDetails:
    node: str
    kind: str
    usage: TokenUsage | None = None
    http: HttpSummary | None = None
    code: CodeOutput | None = None

    @property
    def empty(self) -> bool:
        return self.usage is None and self.http is None and self.code is None


@dataclass(frozen=True)
class RunUsage:
    """A run's token usage summed over its ``llm`` nodes (as ``run.token_usage``)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    nodes: int = 0
    """``llm`` nodes that recorded usage."""
    calls: int = 0


@dataclass(frozen=True)
class RunDetails:
    nodes: dict[str, NodeDetails] = field(default_factory=dict)
    """Node -> its details, for each node that has some."""
    usage: RunUsage = field(default_factory=RunUsage)

    def node(self, name: str) -> NodeDetails | None:
        return self.nodes.get(name)


def shown_as_details(kind: str, document: str) -> bool:
    """Whether a document a node of ``kind`` saved is shown in its details (and so not again
    in the list of documents)."""
    return document in SHOWN_AS_DETAILS.get(kind, ())


def read(
    spec: Mapping[str, Any],
    documents: Iterable[tuple[str, str, Any]],
    shown: Redactor = redaction.DEFAULT,
) -> RunDetails:
    """The details of a run's nodes from its ``documents`` (node, name, value), shown
    through ``shown``."""
    kinds = {n["name"]: n["kind"] for n in spec["nodes"]}
    saved: dict[str, dict[str, Any]] = {}
    for node, name, value in documents:
        if shown_as_details(kinds.get(node, ""), name):
            saved.setdefault(node, {})[name] = value
    nodes = {}
    for node, docs in saved.items():
        kind = kinds[node]
        details = NodeDetails(
            node,
            kind,
            usage=_usage(docs.get(USAGE_DOCUMENT)) if kind == "llm" else None,
            http=_http(docs.get(REQUEST_DOCUMENT), shown) if kind == "http" else None,
            code=_code(docs, shown) if kind == "code" else None,
        )
        if not details.empty:
            nodes[node] = details
    used = [d.usage for d in nodes.values() if d.usage is not None]
    usage = RunUsage(
        input_tokens=sum(u.input_tokens for u in used),
        output_tokens=sum(u.output_tokens for u in used),
        total_tokens=sum(u.total_tokens for u in used),
        nodes=len(used),
        calls=sum(len(u.calls) for u in used),
    )
    return RunDetails(nodes, usage)


def run_details(run: Run, shown: Redactor | None = None) -> RunDetails:
    """A run's node details (``shown``: the run's redactor unless given)."""
    documents = [(d.node, d.name, d.value) for d in run.documents]
    return read(run.spec, documents, redaction.for_run(run) if shown is None else shown)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _attempt(doc: Mapping[str, Any]) -> int | None:
    value = doc.get("attempt")
    return value if isinstance(value, int) else None


def _usage(doc: Any) -> TokenUsage | None:
    if not isinstance(doc, Mapping):
        return None
    calls = tuple(
        LlmCall(
            model=str(c.get("model", "")),
            input_tokens=_int(c.get("input_tokens")),
            output_tokens=_int(c.get("output_tokens")),
            total_tokens=_int(c.get("total_tokens")),
            reported=bool(c.get("reported", True)),
        )
        for c in doc.get("calls", [])
        if isinstance(c, Mapping)
    )
    return TokenUsage(
        input_tokens=_int(doc.get("input_tokens")),
        output_tokens=_int(doc.get("output_tokens")),
        total_tokens=_int(doc.get("total_tokens")),
        calls=calls,
        attempt=_attempt(doc),
    )


def _http(doc: Any, shown: Redactor) -> HttpSummary | None:
    if not isinstance(doc, Mapping):
        return None
    tries = tuple(
        HttpTry(
            status=t.get("status") if isinstance(t.get("status"), int) else None,
            elapsed_ms=_number(t.get("elapsed_ms")),
            size=t.get("size") if isinstance(t.get("size"), int) else None,
            error=shown.text(str(t.get("error") or "")),
        )
        for t in doc.get("tries", [])
        if isinstance(t, Mapping)
    )
    status, size = doc.get("status"), doc.get("size")
    return HttpSummary(
        method=str(doc.get("method", "")),
        url=shown.text(str(doc.get("url", ""))),
        status=status if isinstance(status, int) else None,
        elapsed_ms=_number(doc.get("elapsed_ms")),
        size=size if isinstance(size, int) else None,
        retries=_int(doc.get("retries")),
        tries=tries,
        error=shown.text(str(doc.get("error") or "")),
        attempt=_attempt(doc),
    )


def _code(docs: Mapping[str, Any], shown: Redactor) -> CodeOutput | None:
    ran = docs.get(RUN_DOCUMENT)
    ran = ran if isinstance(ran, Mapping) else {}
    if not ran and "stdout" not in docs and "stderr" not in docs:
        return None
    return CodeOutput(
        stdout=shown.text(str(docs.get("stdout") or "")),
        stderr=shown.text(str(docs.get("stderr") or "")),
        elapsed_ms=_number(ran.get("elapsed_ms")),
        error=shown.text(str(ran.get("error") or "")),
        attempt=_attempt(ran),
    )


def usage_line(usage: TokenUsage | RunUsage) -> str:
    """``11 input + 4 output = 15 tokens`` (``in 3 calls`` when more than one)."""
    calls = len(usage.calls) if isinstance(usage, TokenUsage) else usage.calls
    more = f" in {calls} calls" if calls > 1 else ""
    line = (
        f"{usage.input_tokens:,} input + {usage.output_tokens:,} output = "
        f"{usage.total_tokens:,} tokens{more}"
    )
    if isinstance(usage, TokenUsage) and not usage.reported:
        line += " (not reported by the model)"
    return line


def http_line(summary: HttpSummary) -> str:
    """``GET https://api/items → 200 in 12.3 ms, 1,024 bytes, 1 retry``."""
    answer = f"→ {summary.status}" if summary.status is not None else "→ no answer"
    parts = [f"{summary.method} {summary.url} {answer}"]
    if summary.elapsed_ms is not None:
        parts[0] += f" in {summary.elapsed_ms:g} ms"
    if summary.size is not None:
        parts.append(f"{summary.size:,} bytes")
    if summary.retries:
        parts.append(f"{summary.retries} {'retry' if summary.retries == 1 else 'retries'}")
    return ", ".join(parts)


def try_line(t: HttpTry) -> str:
    """One try: ``503 in 2.1 ms, 17 bytes`` or ``ConnectError after 1.0 ms``."""
    took = "" if t.elapsed_ms is None else f"{t.elapsed_ms:g} ms"
    if t.status is None:
        return f"{t.error or 'no answer'}" + (f" after {took}" if took else "")
    size = "" if t.size is None else f", {t.size:,} bytes"
    return f"{t.status}" + (f" in {took}" if took else "") + size
