"""The ``llm`` node's tool-calling loop, journaled.

The model is called with its tools bound; each tool call it asks for is run and its result
sent back, until it answers without tool calls or ``max_steps`` model turns were made. Every
model turn and every tool result is saved, as it happens, in the node's ``tool_journal``
document. Documents are written at once (not with the node's checkpoint), so when the process
dies mid-loop the next attempt of the node finds the journal, replays the turns and results
it holds, and calls neither the model nor a tool again for them. Only a step that was under
way at the kill is repeated (a tool then sees a second call: give it
``rt.current().idempotency_key`` if it must not).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from runtime.errors import GraphError

JOURNAL_DOCUMENT = "tool_journal"
"""The document an ``llm`` node with tools journals its loop in."""


def as_tools(node: str, tools: Sequence[Any]) -> list[Any]:
    """LangChain tools from ``tools``: a ``BaseTool`` stays as it is, a plain function becomes
    one (its name, signature and docstring describe it to the model)."""
    out = [as_tool(node, i, t) for i, t in enumerate(tools)]
    names = [t.name for t in out]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise GraphError(f"{node}: two tools are named {', '.join(map(repr, dupes))}")
    return out


def as_tool(node: str, i: int, t: Any) -> Any:
    """``tools[i]`` as a LangChain tool (``GraphError`` naming it when it is none)."""
    from langchain_core.tools import BaseTool, StructuredTool

    if isinstance(t, BaseTool):
        return t
    if callable(t):
        name = getattr(t, "__name__", None)
        if not name or name == "<lambda>":
            raise GraphError(f"{node}: tools[{i}] is a lambda; give a named function")
        doc = (getattr(t, "__doc__", None) or "").strip() or f"The {name} tool."
        return StructuredTool.from_function(t, name=name, description=doc)
    raise GraphError(
        f"{node}: tools[{i}] is a {type(t).__name__}, not a LangChain tool or a function"
    )


def journal_key(messages: list[Any], tools: list[Any]) -> str:
    """What a journal was written for: the opening messages and the tools' names. A journal
    of other messages (a rerun with other inputs) is not replayed."""
    from langchain_core.messages import messages_to_dict

    text = json.dumps(
        {"messages": messages_to_dict(messages), "tools": [t.name for t in tools]},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def loop(
    node: str,
    model: Any,
    messages: list[Any],
    tools: list[Any],
    max_steps: int,
    journal: dict | None,
    turn: Callable[[Any, list[Any]], tuple[Any, dict]],
    save: Callable[[dict], None],
) -> tuple[Any, list[dict]]:
    """The model's final message and the usage entry of every model turn (replayed ones
    included: their tokens were spent). ``turn(bound_model, history)`` makes one model call
    and returns its message and usage entry; ``save(journal)`` stores the journal."""
    from langchain_core.messages import AIMessage, ToolMessage, messages_from_dict, messages_to_dict

    key = journal_key(messages, tools)
    replay = journal if isinstance(journal, dict) and journal.get("key") == key else None
    steps: list[Any] = messages_from_dict(replay["steps"]) if replay else []
    calls: list[dict] = list(replay["calls"]) if replay else []
    by_name = {t.name: t for t in tools}
    bound = model.bind_tools(tools)

    def record() -> None:
        save({"key": key, "steps": messages_to_dict(steps), "calls": calls})

    while True:
        last_ai = next((i for i in range(len(steps) - 1, -1, -1) if steps[i].type == "ai"), None)
        if last_ai is not None:
            ai = steps[last_ai]
            answered = {m.tool_call_id for m in steps[last_ai + 1 :] if isinstance(m, ToolMessage)}
            pending = [tc for tc in ai.tool_calls if tc["id"] not in answered]
            if not ai.tool_calls:
                return ai, calls
            if pending:
                for tc in pending:
                    steps.append(_run_tool(node, by_name, tc))
                    record()  # before the next one: a kill after it does not repeat it
                continue
        made = sum(1 for m in steps if m.type == "ai")
        if made >= max_steps:
            raise RuntimeError(
                f"llm node {node!r}: the tool loop made max_steps={max_steps} model turns "
                "without a final answer (raise max_steps, or check the tools' results)"
            )
        message, entry = turn(bound, [*messages, *steps])
        message = AIMessage(
            content=message.content,
            tool_calls=[
                {**tc, "id": tc.get("id") or f"call_{made + 1}_{i}"}
                for i, tc in enumerate(message.tool_calls or [])
            ],
            usage_metadata=getattr(message, "usage_metadata", None),
            response_metadata=getattr(message, "response_metadata", {}) or {},
        )
        steps.append(message)
        calls.append(entry)
        record()


def _run_tool(node: str, by_name: dict[str, Any], call: dict) -> Any:
    from langchain_core.messages import ToolMessage

    tool = by_name.get(call["name"])
    if tool is None:  # told to the model, which may correct itself
        known = ", ".join(sorted(by_name))
        return ToolMessage(
            content=f"error: there is no tool {call['name']!r} (tools: {known})",
            tool_call_id=call["id"],
            name=call["name"],
            status="error",
        )
    try:
        result = tool.invoke({**call, "type": "tool_call"})
    except Exception as exc:
        raise RuntimeError(
            f"llm node {node!r}: tool {call['name']!r} failed on {call.get('args')!r:.300}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(result, ToolMessage):
        return result
    return ToolMessage(content=str(result), tool_call_id=call["id"], name=call["name"])
