"""``approval``: a wait for a person's decision, configured by JSON options alone (so the
studio's builder and a stored spec make it as ``rt.nodes.approval(...)`` does).

Its payload is ``approved`` (bool), ``approver`` (one of ``approvers`` when given) and
``comment`` (required when ``require_comment``). With a ``deadline`` in seconds an unanswered
approval is rejected (``on_deadline="reject"``: approver ``None``, comment ``deadline
passed``) or fails the node (``"fail"``). Downstream nodes receive the payload as a dict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import pydantic

from runtime.nodes.kind import schema_text
from runtime.nodes.wait import WaitKind

if TYPE_CHECKING:
    from runtime.nodes.node import Node

DEADLINE_ANSWER = {"approved": False, "approver": None, "comment": "deadline passed"}
"""What an approval past its deadline takes with ``on_deadline="reject"``."""


class ApprovalOptions(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    approvers: list[str] | None = pydantic.Field(
        default=None,
        min_length=1,
        description="Who may answer (the payload's approver is one of them); anyone if unset.",
    )
    description: str = pydantic.Field(default="", description="What the approver is asked.")
    require_comment: bool = pydantic.Field(
        default=False, description="An answer must carry a non-empty comment."
    )
    deadline: float | None = pydantic.Field(
        default=None, gt=0, description="Seconds to wait for an answer."
    )
    on_deadline: Literal["reject", "fail"] = pydantic.Field(
        default="reject", description="Past the deadline: reject it, or fail the node."
    )

    @pydantic.field_validator("approvers")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (
            not all(a.strip() for a in value) or len(set(value)) < len(value)
        ):
            raise ValueError("approvers are distinct non-empty names")
        return value


class ApprovalKind(WaitKind):
    """A wait for a person's approval: approvers, a comment and an optional deadline."""

    name = "approval"
    options = ApprovalOptions

    def prepare(self, node: Node) -> None:
        opts: Any = self.configured(node)
        node.schema = payload_model(opts.approvers, opts.require_comment)
        node.payload_as_dict = True
        node.timeout = opts.deadline
        node.config = (
            {"default": DEADLINE_ANSWER} if opts.deadline and opts.on_deadline == "reject" else {}
        )
        node.doc = node.doc or opts.description

    def fingerprint(self, node: Node) -> str:
        return schema_text(node.schema) + repr(sorted((node.options or {}).items()))


def payload_model(approvers: list[str] | None, require_comment: bool) -> type[pydantic.BaseModel]:
    who: Any = Literal[tuple(approvers)] if approvers else str
    comment: Any = (str, pydantic.Field(min_length=1)) if require_comment else (str, "")
    return pydantic.create_model(
        "Approval", approved=(bool, ...), approver=(who | None, None), comment=comment
    )
