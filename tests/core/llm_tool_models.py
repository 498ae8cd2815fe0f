"""A chat model that calls tools, for the tool-loop tests: it goes through LangChain's real
``bind_tools`` / ``stream`` path, answering by a script indexed by how many turns it made."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

OFFERED: list[list[str]] = []
"""The tool names each tool-calling turn was offered (as bound, in the provider's format)."""
USAGE = {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}


class ScriptedToolModel(BaseChatModel):
    """Turn ``i`` (the number of AI messages already in the history) answers ``script[i]``
    (the last entry repeats): ``{"calls": [(tool, args), ...]}`` asks for tool calls,
    ``{"say": text}`` answers, ``{tool_results}`` in it is filled with the tool results
    it was sent."""

    script: list[dict[str, Any]]

    @property
    def _llm_type(self) -> str:
        return "scripted-tools"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        offered = [t["function"]["name"] for t in kwargs.get("tools", [])]
        turn = sum(1 for m in messages if m.type == "ai")
        step = self.script[min(turn, len(self.script) - 1)]
        if "calls" in step:
            OFFERED.append(offered)
            message = AIMessage(
                content="",
                tool_calls=[
                    {"name": n, "args": a, "id": f"t{turn}_{i}"}
                    for i, (n, a) in enumerate(step["calls"])
                ],
                usage_metadata=USAGE,  # type: ignore[arg-type]
            )
        else:
            results = [str(m.content) for m in messages if m.type == "tool"]
            text = step["say"].replace("{tool_results}", ",".join(results))
            message = AIMessage(content=text, usage_metadata=USAGE)  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=message)])
