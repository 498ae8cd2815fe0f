"""The REST API's template gallery (``runtime.gallery``): list the templates (viewer role),
and use one, which creates a new workflow whose draft is the template (editor role)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import fastapi
from fastapi import Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from runtime import drafts, gallery
from runtime.api import Name, Text
from runtime.api_auth import note
from runtime.api_errors import responses
from runtime.api_workflows import DraftOut, _draft_out
from runtime.auth.roles import Principal, require_workflow

if TYPE_CHECKING:
    from runtime.client import Client

TemplateName = Annotated[Text, Path(max_length=100, description="A template's name.")]


class TemplateOut(BaseModel):
    name: str
    title: str
    category: str = Field(description="AI, Integrations, Reports or Data.")
    description: str
    kinds: list[str] = Field(description="The node kinds it is built of.")
    secrets: list[str] = Field(description="The stored secrets its nodes read, by name.")
    inputs: dict[str, Any] = Field(description="Its run inputs: type and description by name.")
    version: str = Field(description="The version hash publishing it unchanged gives.")


class UseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    as_: Name | None = Field(
        None, alias="as", description="The new workflow's name (default: the template's)."
    )


class UsedOut(BaseModel):
    draft: DraftOut
    missing_secrets: list[str] = Field(
        description="Secrets it reads that are not stored yet: its runs fail until they are."
    )


def templates_router(
    prefix: str, client: Callable[[], Client], reader: Any, writer: Any
) -> fastapi.APIRouter:
    router = fastapi.APIRouter(
        prefix=prefix,
        responses=responses(400, 401, 403, 404, 409, 413, 422, 429),
        tags=["building"],
    )

    @router.get("/templates", response_model=list[TemplateOut])
    def list_templates(*, who: Principal = reader) -> list[TemplateOut]:
        """The gallery, by category then name."""
        return [TemplateOut(**t.to_json()) for t in gallery.templates()]

    @router.post(
        "/templates/{name}/use",
        response_model=UsedOut,
        status_code=status.HTTP_201_CREATED,
        responses=responses(404, 409),
    )
    def use_template(
        *, name: TemplateName, body: UseIn, who: Principal = writer, request: Request
    ) -> UsedOut:
        """A new workflow (``as``, or the template's name) whose draft is the template, to
        edit, test-run and publish; a taken name is a 409."""
        target = body.as_ or gallery.template(name).name
        require_workflow(who, target)
        used = gallery.use_template(client(), name, target, author=who.actor)
        note(request, "workflow.create", target, template=name)
        return UsedOut(
            draft=_draft_out(target, used.draft, drafts.validate(used.draft.spec)),
            missing_secrets=used.missing_secrets,
        )

    return router
