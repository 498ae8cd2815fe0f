"""``prompt`` and ``llm``: chat messages templated from inputs and node outputs, and one call
of a LangChain chat model with them.

``llm``'s model is a chat model object (the node's target, shipped with the graph) or a
``"provider:model"`` string resolved with LangChain's ``init_chat_model`` where the node
runs, its API key read from the stored secret ``api_key_secret`` names. The model's answer
is streamed and coalesced: only the final message is checkpointed. Its token usage, as the
provider reports it, is saved as the node's ``token_usage`` document (``run_usage`` sums a
run's). With a pydantic model or a JSON schema as ``schema`` the output is structured.
"""

from __future__ import annotations

import json
import re
import threading
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from runtime.errors import GraphError
from runtime.nodes.expressions import render_fields
from runtime.nodes.kind import Call, Scope
from runtime.nodes.library import LibraryKind, LibraryOptions
from runtime.nodes.llm_tools import JOURNAL_DOCUMENT
from runtime.nodes.llm_tools import loop as tool_loop
from runtime.nodes.models import check_model_string
from runtime.nodes.models import resolve as resolve_model
from runtime.nodes.secret_options import SECRET_NAME_SCHEMA
from runtime.nodes.tools import ToolRef, node_tool_secrets
from runtime.nodes.tools import resolve as resolve_tools

if TYPE_CHECKING:
    from runtime.nodes.node import Node

Role = Literal["system", "user", "human", "assistant", "ai"]
USAGE_DOCUMENT = "token_usage"
"""The document an ``llm`` node saves its token usage as."""


class Message(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    role: Role
    content: str


class PromptOptions(LibraryOptions):
    template: str | None = pydantic.Field(
        default=None, description="A string template (Jinja2): text out."
    )
    messages: list[Message] | None = pydantic.Field(
        default=None, description="A chat template: role and Jinja2 content per message."
    )

    @pydantic.model_validator(mode="after")
    def _one(self) -> PromptOptions:
        if (self.template is None) == (self.messages is None):
            raise ValueError("give template (text) or messages (chat), not both")
        return self


class PromptKind(LibraryKind):
    """Renders a string or chat prompt template: text, or a list of chat messages."""

    name = "prompt"
    options = PromptOptions
    expressions = {"template": "text", "messages": "text"}

    def named(self, node: str, opts: Any) -> Any:
        if opts.messages is not None:  # the walk reads plain data, not models
            opts = opts.model_copy(update={"messages": [m.model_dump() for m in opts.messages]})
        return super().named(node, opts)

    def run(self, node: str, options: Any, target: Any, ctx: dict, values: dict) -> Any:
        if options.template is not None:
            return render_fields(node, options.template, ctx, "template", native=False)
        return _messages(node, [m.model_dump() for m in options.messages], ctx)


class LlmOptions(LibraryOptions):
    model: str | None = pydantic.Field(
        default=None,
        description='"provider:model" for init_chat_model, e.g. "openai:gpt-4o-mini" (or a '
        "chat model object from Python).",
    )
    prompt: str | None = pydantic.Field(
        default=None,
        description="The user message (Jinja2); exactly {{ nodes.p.output }} passes a prompt "
        "node's messages on as they are.",
    )
    system: str | None = None
    messages: list[Message] | None = None
    api_key_secret: str | None = pydantic.Field(
        default=None,
        description="The stored secret holding the provider's API key.",
        json_schema_extra=SECRET_NAME_SCHEMA,
    )
    model_options: dict[str, Any] = pydantic.Field(
        default_factory=dict, description="More init_chat_model arguments (temperature...)."
    )
    schema_: dict[str, Any] | None = pydantic.Field(
        default=None, alias="schema", description="A JSON schema for structured output."
    )
    stream: bool = True
    tools: list[ToolRef] = pydantic.Field(
        default_factory=list,
        description="Tools the model may call: library nodes with their kind and options, "
        'or Python tools by registered name or import path ("package.module:name").',
    )
    max_steps: int = pydantic.Field(
        default=10,
        ge=1,
        le=1000,
        description="With tools: at most this many model turns; one more fails the node.",
    )

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)

    @pydantic.model_validator(mode="after")
    def _some_message(self) -> LlmOptions:
        if self.prompt is None and not self.messages:
            raise ValueError("give prompt or messages")
        if "api_key" in self.model_options:
            raise ValueError(
                "model_options holds api_key in clear: store it as a secret and name it "
                "with api_key_secret"
            )
        names = [t.name for t in self.tools]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"two tools are named {', '.join(map(repr, dupes))}")
        return self


class LlmTarget(pydantic.BaseModel):
    """What an ``llm`` node holds beyond JSON: its model object, its output model."""

    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    model: Any = None
    schema_model: Any = None
    tools: list[Any] = pydantic.Field(default_factory=list)
    """LangChain tools (plain functions were made into tools by ``rt.nodes.llm``)."""


class LlmKind(LibraryKind):
    """Calls a LangChain chat model with templated messages; token usage recorded."""

    name = "llm"
    options = LlmOptions
    expressions = {"prompt": "text", "system": "text", "messages": "text"}

    def named(self, node: str, opts: Any) -> Any:
        if opts.messages is not None:
            opts = opts.model_copy(update={"messages": [m.model_dump() for m in opts.messages]})
        return super().named(node, opts)

    def prepare(self, node: Node) -> None:
        super().prepare(node)
        opts: Any = self.configured(node)
        # a node tool's secrets (an http tool's auth) are read in this node's attempt
        wanted = node_tool_secrets(node.name, _refs(opts))
        node.secrets = (*node.secrets, *(s for s in wanted if s not in node.secrets))

    def check(self, node: Node) -> None:
        opts: Any = self.configured(node)
        target = node.target
        held = target.model if isinstance(target, LlmTarget) else None
        if (opts.model is None) == (held is None):
            raise GraphError(
                f"llm node {node.name!r}: give model as a chat model object or a "
                '"provider:model" string, not both'
            )
        if opts.model is not None:
            check_model_string(f"llm node {node.name!r}", opts.model)
        # every tool found now: a spec naming one this process cannot find is refused here
        resolve_tools(node.name, _refs(opts), _held(target))

    def call_in(self, node: Node, kwargs: dict[str, Any], scope: Scope) -> Call:
        call = self.call(node, kwargs)
        if not (_refs(self.configured(node)) or _held(node.target)):
            return call
        # what an earlier attempt journaled (one killed mid-loop): read here, where the
        # store is, and handed to the attempt, which may run in a child process
        journal = scope.store.document(scope.run_id, node.name, JOURNAL_DOCUMENT)
        return Call(execute_journaled, {**call.kwargs, "journal": journal})

    def run(self, node: str, options: Any, target: Any, ctx: dict, values: dict) -> Any:
        return self.answer(node, options, target, ctx, None)

    def answer(self, node: str, options: Any, target: Any, ctx: dict, journal: Any) -> Any:
        model = _model(node, options, target)
        messages = _prompt_messages(node, options, ctx)
        structured = target.schema_model if isinstance(target, LlmTarget) else None
        schema = structured or options.schema_
        stream = options.stream and schema is None
        tools = resolve_tools(node, _refs(options), _held(target))
        if tools:
            message, entries = _tool_loop(node, options, model, messages, tools, stream, journal)
        else:
            message, chunks = _call(model, messages, stream)
            entries = [_usage_entry(options, model, message, chunks)]
        _record_usage(entries)
        text = message.content if isinstance(message.content, str) else str(message.content)
        if schema is None:
            return text
        return _structured(node, text, structured, options.schema_)


def _messages(node: str, templates: list[dict], ctx: dict) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {
        "system": SystemMessage,
        "user": HumanMessage,
        "human": HumanMessage,
        "assistant": AIMessage,
        "ai": AIMessage,
    }
    out = []
    for i, m in enumerate(templates):
        content = render_fields(node, m["content"], ctx, f"messages[{i}].content", native=False)
        out.append(kinds[m["role"]](content=content))
    return out


def _prompt_messages(node: str, options: Any, ctx: dict) -> list[Any]:
    from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

    messages: list[Any] = []
    if options.system is not None:
        system = render_fields(node, options.system, ctx, "system", native=False)
        messages.append(SystemMessage(content=system))
    if options.messages:
        messages += _messages(node, [m.model_dump() for m in options.messages], ctx)
    if options.prompt is not None:
        prompt = render_fields(node, options.prompt, ctx, "prompt")
        if isinstance(prompt, list) and all(isinstance(m, BaseMessage) for m in prompt):
            messages += prompt  # a prompt node's chat messages
        else:
            messages.append(HumanMessage(content=str(prompt)))
    return messages


def _model(node: str, options: Any, target: Any) -> Any:
    if isinstance(target, LlmTarget) and target.model is not None:
        return target.model
    key = None
    if options.api_key_secret is not None:
        import runtime as rt

        key = rt.secret(options.api_key_secret)
    return resolve_model(node, options.model, options.model_options, key)


def _refs(options: Any) -> list[dict[str, Any]]:
    return [t.model_dump(exclude_defaults=True) for t in options.tools]


def _held(target: Any) -> list[Any]:
    return list(target.tools) if isinstance(target, LlmTarget) else []


TOKEN_FLUSH_SECONDS = 0.05
"""Streamed text is handed to live followers at most this often: one bus message per burst
of tokens, not per token."""


class _Tokens:
    """Hands streamed text to the node's live followers (``NodeContext.tokens``) in bursts:
    what arrives within ``TOKEN_FLUSH_SECONDS`` of a first token goes out together, also
    when the model pauses after it."""

    def __init__(self) -> None:
        from runtime.context import current
        from runtime.errors import PlaitError

        try:
            self.sink = current().tokens
        except PlaitError:  # called outside a node attempt
            self.sink = None
        self.pending: list[str] = []
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def add(self, text: str) -> None:
        if self.sink is None or not text:
            return
        with self.lock:
            self.pending.append(text)
            if self.timer is None:
                self.timer = threading.Timer(TOKEN_FLUSH_SECONDS, self.flush)
                self.timer.daemon = True
                self.timer.start()

    def flush(self) -> None:
        with self.lock:
            text, self.pending, self.timer = "".join(self.pending), [], None
        if text and self.sink is not None:
            self.sink(text)

    def close(self) -> None:
        with self.lock:
            timer = self.timer
        if timer is not None:
            timer.cancel()
        self.flush()


def _call(model: Any, messages: list[Any], stream: bool) -> tuple[Any, int]:
    """The model's final message (streamed chunks coalesced: only it is checkpointed), and
    how many chunks came."""
    if not stream:
        return model.invoke(messages), 0
    merged = None
    count = 0
    tokens = _Tokens()
    try:
        for chunk in model.stream(messages):
            merged = chunk if merged is None else merged + chunk
            count += 1
            if isinstance(chunk.content, str):
                tokens.add(chunk.content)
    finally:
        tokens.close()
    if merged is None:
        return model.invoke(messages), 0
    return merged, count


def execute_journaled(
    kind: str, node: str, options: dict, target: Any, ctx: dict, values: dict, journal: Any
) -> Any:
    """``library.execute`` for an ``llm`` node with tools, given its stored journal."""
    return LlmKind().answer(node, LlmOptions.model_validate(options), target, ctx, journal)


def _tool_loop(
    node: str,
    options: Any,
    model: Any,
    messages: list[Any],
    tools: list[Any],
    stream: bool,
    journal: Any,
) -> tuple[Any, list[dict]]:
    from runtime.context import current
    from runtime.errors import PlaitError

    try:
        ctx = current()
    except PlaitError:
        ctx = None

    def turn(bound: Any, history: list[Any]) -> tuple[Any, dict]:
        message, chunks = _call(bound, history, stream)
        return message, _usage_entry(options, model, message, chunks)

    def save(value: dict) -> None:
        if ctx is not None:
            ctx.save_document(JOURNAL_DOCUMENT, value, "json")

    message, entries = tool_loop(
        node, model, messages, tools, options.max_steps, journal, turn, save
    )
    replayed = len(journal.get("calls", [])) if isinstance(journal, dict) else 0
    if ctx is not None and replayed:
        ctx.log(f"replayed {replayed} model turn(s) and their tool results from the journal")
    return message, entries


def _usage_entry(options: Any, model: Any, message: Any, chunks: int) -> dict[str, Any]:
    usage = dict(getattr(message, "usage_metadata", None) or {})
    return {
        "model": options.model or type(model).__name__,
        "input_tokens": int(usage.get("input_tokens", 0)),
        "output_tokens": int(usage.get("output_tokens", 0)),
        "total_tokens": int(usage.get("total_tokens", 0)),
        "reported": bool(usage),
        "chunks": chunks,
    }


def _record_usage(entries: list[dict[str, Any]]) -> None:
    from runtime.context import current
    from runtime.errors import PlaitError

    try:
        ctx = current()
    except PlaitError:
        return
    usage = {"calls": entries, **_sums(entries), "attempt": ctx.attempt}
    ctx.save_document(USAGE_DOCUMENT, usage, "json")
    sums = _sums(entries)
    reported = all(e["reported"] for e in entries)
    turns = f" in {len(entries)} calls" if len(entries) > 1 else ""
    ctx.log(
        f"{entries[0]['model']}: {sums['input_tokens']} input + {sums['output_tokens']} output "
        f"tokens{turns}{'' if reported else ' (not reported by the model)'}"
    )


def _sums(calls: list[dict]) -> dict[str, int]:
    return {k: sum(c[k] for c in calls) for k in ("input_tokens", "output_tokens", "total_tokens")}


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _structured(node: str, text: str, model: Any, schema: dict | None) -> Any:
    """The answer as data: validated by the pydantic ``model``, or checked for the JSON
    schema's required keys. (Models without native structured output answer in JSON when
    asked; the prompt says what to answer.)"""
    fenced = _FENCE.search(text)
    try:
        value = json.loads(fenced[1] if fenced else text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"llm node {node!r}: the answer is no JSON: {exc}: {text!r:.300}"
        ) from None
    if model is not None:
        return model.model_validate(value).model_dump(mode="json")
    missing = [k for k in (schema or {}).get("required", []) if k not in value]
    if missing:
        raise ValueError(
            f"llm node {node!r}: the answer lacks {', '.join(missing)}: {value!r:.300}"
        )
    return value


def run_usage(run: Any) -> dict[str, Any]:
    """A run's token usage: per ``llm`` node and summed (``run.token_usage``)."""
    per_node = {d.node: d.value for d in run.documents if d.name == USAGE_DOCUMENT}
    calls = [c for v in per_node.values() for c in v.get("calls", [])]
    return {"nodes": per_node, **_sums(calls)}
