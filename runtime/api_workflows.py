"""The REST API's workflow building: create a workflow with a draft, read and save the draft
(with its revision: a stale one is a 409), validate, test-run and publish it, open a version
as the draft, diff two versions, make one current, archive, restore, duplicate, delete,
export and import. Reading takes the viewer role, changing the editor role (editors build,
viewers look); a key limited to some workflows reaches only those."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import fastapi
from fastapi import Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from runtime import drafts, export
from runtime.api import JsonObject, Name, Text, WorkflowName
from runtime.api_auth import note
from runtime.api_errors import responses
from runtime.auth.roles import Principal, require_workflow
from runtime.errors import InputError, RunStateError
from runtime.store.tables import WorkflowDraft, WorkflowVersion

if TYPE_CHECKING:
    from runtime.client import Client

Version = Annotated[Text, Path(description="A version hash or a unique prefix of one.")]
Revision = Field(
    None,
    ge=1,
    le=2**31 - 1,
    description="The draft revision this edit started from; null when there is no draft yet. "
    "Another one than the stored revision is a 409 and nothing is saved.",
)


class ProblemOut(BaseModel):
    node: str | None = Field(description="The node; null for the workflow itself.")
    field: str | None = Field(description="Where in the node, e.g. `options.url`, `after`.")
    message: str


class DraftOut(BaseModel):
    workflow: str
    revision: int
    spec: dict[str, Any] = Field(description="The draft (see `runtime.drafts`).")
    updated_at: dt.datetime
    updated_by: str | None
    problems: list[ProblemOut] = Field(description="Empty when it can be published.")


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int | None = Revision
    spec: JsonObject = Field(description="Nodes of the node library, run inputs, test inputs.")


class CreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    spec: JsonObject = Field(default_factory=dict, description="The first draft.")


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[Text, Field(min_length=1, max_length=2000)]
    revision: int | None = Field(
        None, ge=1, le=2**31 - 1, description="The draft revision reviewed (409 if it moved)."
    )


class PublishedOut(BaseModel):
    workflow: str
    version: str
    created_at: dt.datetime
    created_by: str | None
    message: str | None


class TestRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: JsonObject | None = Field(None, description="Default: the draft's `test_inputs`.")


class TestRunOut(BaseModel):
    run_id: str
    version: str = Field(description="The draft's version hash (stored unpublished).")
    trigger: str = "draft"


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int | None = Revision


class CurrentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[Text, Field(min_length=1, max_length=64)]


class DuplicateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: JsonObject = Field(description="What `GET .../export` answered.")
    name: Name | None = Field(None, description="Import as this workflow (default: the file's).")
    draft: bool = Field(False, description="Save it as the workflow's draft, not a version.")
    revision: int | None = Revision


class ImportedOut(BaseModel):
    workflow: str
    version: str | None = Field(description="The version published (null for a draft).")
    revision: int | None = Field(description="The draft's revision (null for a version).")


class ChangeOut(BaseModel):
    field: str
    old: Any
    new: Any


class DiffOut(BaseModel):
    old: str
    new: str
    added: list[str]
    removed: list[str]
    changed: dict[str, list[ChangeOut]] = Field(description="Node -> each field that changed.")
    unchanged: list[str]
    workflow: list[ChangeOut] = Field(description="Changes of its description and run inputs.")


class StateOut(BaseModel):
    workflow: str
    archived: bool
    current_version_id: int | None


def _draft_out(name: str, draft: WorkflowDraft, problems: list[drafts.Problem]) -> DraftOut:
    return DraftOut(
        workflow=name,
        revision=draft.revision,
        spec=draft.spec,
        updated_at=draft.updated_at,
        updated_by=draft.updated_by,
        problems=[ProblemOut(**p.to_json()) for p in problems],
    )


def _published(name: str, version: WorkflowVersion) -> PublishedOut:
    return PublishedOut(
        workflow=name,
        version=version.version,
        created_at=version.created_at,
        created_by=version.created_by,
        message=version.message,
    )


def workflows_router(
    prefix: str, client: Callable[[], Client], reader: Any, writer: Any
) -> fastapi.APIRouter:
    router = fastapi.APIRouter(
        prefix=prefix,
        responses=responses(400, 401, 403, 404, 409, 413, 422, 429),
        tags=["building"],
    )

    @router.post(
        "/workflows",
        response_model=DraftOut,
        status_code=status.HTTP_201_CREATED,
        responses=responses(409),
    )
    def create_workflow(*, body: CreateIn, who: Principal = writer, request: Request) -> DraftOut:
        """A new workflow with its first draft (nothing published yet)."""
        require_workflow(who, body.name)
        c = client()
        if body.name in {w.name for w in c.store.workflows()}:
            raise RunStateError(f"a workflow named {body.name!r} exists already")
        spec = {"nodes": [], "inputs": {}, **body.spec, "name": body.name}
        saved, problems = drafts.save_draft(c, body.name, spec, None, who.actor)
        note(request, "workflow.create", body.name)
        return _draft_out(body.name, saved, problems)

    @router.get("/workflows/{name}/draft", response_model=DraftOut, responses=responses(404))
    def get_draft(*, name: WorkflowName, who: Principal = reader) -> DraftOut:
        """The draft with its problems (each naming its node and field)."""
        require_workflow(who, name)
        found = drafts.current_draft(client(), name)
        return _draft_out(name, found, drafts.validate(found.spec))

    @router.put("/workflows/{name}/draft", response_model=DraftOut, responses=responses(409))
    def save_draft(
        *, name: WorkflowName, body: DraftIn, who: Principal = writer, request: Request
    ) -> DraftOut:
        """Save the draft from ``revision``: a draft with problems saves (they are in the
        answer); a revision someone else moved on from is a 409 and nothing is saved."""
        require_workflow(who, name)
        saved, problems = drafts.save_draft(client(), name, body.spec, body.revision, who.actor)
        note(request, "draft.save", name, revision=saved.revision)
        return _draft_out(name, saved, problems)

    @router.delete(
        "/workflows/{name}/draft", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404)
    )
    def discard_draft(*, name: WorkflowName, who: Principal = writer, request: Request) -> None:
        require_workflow(who, name)
        if not client().store.discard_draft(name):
            raise InputError(f"workflow {name!r} has no draft")
        note(request, "draft.discard", name)

    @router.post(
        "/workflows/{name}/draft/validate",
        response_model=list[ProblemOut],
        responses=responses(404),
    )
    def validate_draft(
        *, name: WorkflowName, body: DraftIn, who: Principal = reader
    ) -> list[ProblemOut]:
        """The problems of a draft of the workflow, without saving it (live validation while
        editing)."""
        require_workflow(who, name)
        client().store.workflow(name)  # 404 for a workflow nobody created
        return [ProblemOut(**p.to_json()) for p in drafts.validate({**body.spec, "name": name})]

    @router.post(
        "/workflows/{name}/draft/publish",
        response_model=PublishedOut,
        status_code=status.HTTP_201_CREATED,
        responses=responses(404, 409),
    )
    def publish_draft(
        *, name: WorkflowName, body: PublishIn, who: Principal = writer, request: Request
    ) -> PublishedOut:
        """Publish the draft as an immutable version by the caller, and make it current. A
        draft with problems is a 422 listing them (``errors``: node and field)."""
        require_workflow(who, name)
        version = drafts.publish_draft(
            client(), name, message=body.message, author=who.actor, revision=body.revision
        )
        note(request, "workflow.publish", f"{name} {version.version}")
        return _published(name, version)

    @router.post(
        "/workflows/{name}/draft/runs",
        response_model=TestRunOut,
        status_code=status.HTTP_201_CREATED,
        responses=responses(404),
    )
    def test_run(
        *, name: WorkflowName, body: TestRunIn, who: Principal = writer, request: Request
    ) -> TestRunOut:
        """Run the draft as it is (a draft run: trigger ``draft``); nothing is published."""
        require_workflow(who, name)
        c = client()
        run = drafts.test_run(c, name, body.inputs, owner=who.actor)
        note(request, "draft.run", f"{name} {run.id}")
        version = c.store.get_version(c.store.get_run(run.id).version_id)
        return TestRunOut(run_id=run.id, version=version.version)

    @router.post(
        "/workflows/{name}/versions/{version}/draft",
        response_model=DraftOut,
        responses=responses(404, 409),
    )
    def open_as_draft(
        *,
        name: WorkflowName,
        version: Version,
        body: OpenIn,
        who: Principal = writer,
        request: Request,
    ) -> DraftOut:
        """Make a version (of library nodes) the draft, to edit it further."""
        require_workflow(who, name)
        saved = drafts.open_as_draft(client(), name, version, body.revision, who.actor)
        note(request, "draft.open", f"{name} {version}")
        return _draft_out(name, saved, drafts.validate(saved.spec))

    @router.get("/workflows/{name}/diff", response_model=DiffOut, responses=responses(404))
    def diff(
        *,
        name: WorkflowName,
        old: Annotated[Text, Query(max_length=64, description="The version compared against.")],
        new: Annotated[Text, Query(max_length=64, description="The version compared.")],
        who: Principal = reader,
    ) -> DiffOut:
        """Nodes added, removed and changed between two versions, each changed option and
        policy with its old and new value, and ``code`` for a node whose code changed: its
        old and new source (null for a source the version did not record; both null: its
        code changed, its source was not recorded)."""
        require_workflow(who, name)
        store = client().store
        a, b = store.find_version(name, old), store.find_version(name, new)
        found = drafts.diff_versions(a, b).shown()
        return DiffOut(old=a.version, new=b.version, **found.to_json())

    @router.put("/workflows/{name}/current", response_model=PublishedOut, responses=responses(404))
    def make_current(
        *, name: WorkflowName, body: CurrentIn, who: Principal = writer, request: Request
    ) -> PublishedOut:
        """Make a published version current (roll back): runs by name and triggers not
        pinned to a version start it."""
        require_workflow(who, name)
        version = client().store.make_current(name, body.version)
        note(request, "workflow.current", f"{name} {version.version}")
        return _published(name, version)

    @router.post("/workflows/{name}/archive", response_model=StateOut, responses=responses(404))
    def archive(*, name: WorkflowName, who: Principal = writer, request: Request) -> StateOut:
        """Hide the workflow from the list (``?archived=true`` shows it); nothing is lost."""
        return _archived(name, True, who, request)

    @router.post("/workflows/{name}/restore", response_model=StateOut, responses=responses(404))
    def restore(*, name: WorkflowName, who: Principal = writer, request: Request) -> StateOut:
        return _archived(name, False, who, request)

    def _archived(name: str, archived: bool, who: Principal, request: Request) -> StateOut:
        require_workflow(who, name)
        found = client().store.set_archived(name, archived)
        note(request, "workflow.archive" if archived else "workflow.restore", name)
        return StateOut(
            workflow=name, archived=archived, current_version_id=found.current_version_id
        )

    @router.post(
        "/workflows/{name}/duplicate",
        response_model=DraftOut,
        status_code=status.HTTP_201_CREATED,
        responses=responses(404),
    )
    def duplicate(
        *, name: WorkflowName, body: DuplicateIn, who: Principal = writer, request: Request
    ) -> DraftOut:
        """A new workflow whose draft copies this one's draft (or current version)."""
        require_workflow(who, name)
        require_workflow(who, body.name)
        saved = drafts.duplicate(client(), name, body.name, by=who.actor)
        note(request, "workflow.duplicate", f"{name} -> {body.name}")
        return _draft_out(body.name, saved, drafts.validate(saved.spec))

    @router.delete(
        "/workflows/{name}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=responses(404, 409),
    )
    def delete(*, name: WorkflowName, who: Principal = writer, request: Request) -> None:
        """Delete the workflow, its versions and draft: a 409 while a run, schedule or
        webhook references it."""
        require_workflow(who, name)
        client().delete_workflow(name)
        note(request, "workflow.delete", name)

    @router.get("/workflows/{name}/export", responses=responses(404))
    def export_version(
        *,
        name: WorkflowName,
        version: Annotated[
            Text | None, Query(max_length=64, description="Default: the current version.")
        ] = None,
        who: Principal = reader,
    ) -> dict[str, Any]:
        """The version as one JSON document (spec, node options, secrets by name only), as
        `plait export` writes it."""
        require_workflow(who, name)
        return export.export_version(client(), name, version)

    @router.post(
        "/workflows/import",
        response_model=ImportedOut,
        status_code=status.HTTP_201_CREATED,
        responses=responses(409),
    )
    def import_workflow(
        *, body: ImportIn, who: Principal = writer, request: Request
    ) -> ImportedOut:
        """Publish an exported version (it keeps its hash) or save it as a draft; a file
        naming node kinds or secrets unknown here is a 422 naming them."""
        doc = export.read_file_object(body.file)
        target = body.name or doc["name"]
        require_workflow(who, target)
        found = export.import_workflow(
            client(),
            doc,
            name=body.name,
            as_draft=body.draft,
            revision=body.revision,
            author=who.actor,
        )
        note(request, "workflow.import", target, draft=body.draft)
        if isinstance(found, WorkflowDraft):
            return ImportedOut(workflow=target, version=None, revision=found.revision)
        return ImportedOut(workflow=target, version=found.version, revision=None)

    return router
