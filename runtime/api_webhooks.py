"""Webhooks over HTTP: ``POST /hooks/<endpoint_id>`` (authenticated by its signature only),
and their management under ``/api/v1`` (reading needs any role, changing needs editor)."""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from collections.abc import Callable
from typing import Annotated, Any, Literal

import fastapi
from fastapi import Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from runtime.api_auth import note, role_dependency
from runtime.api_errors import ErrorOut, responses
from runtime.auth.roles import Principal, require_workflow
from runtime.client import Client
from runtime.store.tables import WebhookDelivery, WebhookEndpoint
from runtime.triggers.webhooks import Answer, Webhooks, path_of

MAX_INT = 2**31 - 1
_services: weakref.WeakKeyDictionary[Client, Webhooks] = weakref.WeakKeyDictionary()


def webhooks_of(client: Client) -> Webhooks:
    """The client's webhook service (one per client: it holds the rate-limit counts)."""
    found = _services.get(client)
    if found is None:
        found = _services[client] = Webhooks(client.store, client.settings, client.start_version)
    return found


class WebhookOut(BaseModel):
    id: str
    workflow: str
    path: str = Field(description="/hooks/<id>: POST signed requests here.")
    mode: Literal["standard", "github"]
    version: str | None = Field(description="The pinned version; null: the latest.")
    mapping: dict[str, str] | None = Field(description="Run input -> body field; null: payload.")
    max_body_bytes: int | None
    rate_limit: str | None
    created_at: dt.datetime
    created_by: str | None


class WebhookCreated(WebhookOut):
    secret: str = Field(description="whsec_...: shown here once, stored only encrypted.")


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field("latest", max_length=64, description="latest, or a version hash.")
    mode: Literal["standard", "github"] = "standard"
    mapping: (
        dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=200)]] | None
    ) = None
    max_body_bytes: int | None = Field(None, ge=1, le=MAX_INT)
    rate_limit: str | None = Field(None, max_length=64, description="e.g. 60 per minute")


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: float = Field(
        86_400, ge=0, le=90 * 86_400, description="How long the old secret keeps verifying."
    )


class DeliveryOut(BaseModel):
    id: int
    received_at: dt.datetime
    webhook_id: str | None
    status_code: int
    verdict: str = Field(description="valid, missing, invalid, stale or unchecked")
    run_id: str | None
    error: str | None


class TestOut(BaseModel):
    status_code: int
    body: dict[str, Any]


def webhook_out(endpoint: WebhookEndpoint, workflow: str) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "workflow": workflow,
        "path": path_of(endpoint.id),
        "mode": endpoint.mode,
        "version": endpoint.version,
        "mapping": endpoint.mapping,
        "max_body_bytes": endpoint.max_body_bytes,
        "rate_limit": endpoint.rate_limit,
        "created_at": endpoint.created_at,
        "created_by": endpoint.created_by,
    }


def delivery_out(d: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut.model_validate(d, from_attributes=True)


EndpointId = Annotated[str, Path(max_length=32, description="The endpoint's id (wh_...).")]


def webhooks_router(
    prefix: str, client: Callable[[], Client], principal: Callable[..., Any]
) -> fastapi.APIRouter:
    router = fastapi.APIRouter(
        prefix=prefix, responses=responses(401, 403, 422, 429), tags=["webhooks"]
    )
    reader = role_dependency(principal, "read", "read")
    writer = role_dependency(principal, "write", "manage webhooks")

    def reach(who: Principal, endpoint_id: str) -> tuple[WebhookEndpoint, str]:
        endpoint, workflow = webhooks_of(client()).get(endpoint_id)
        require_workflow(who, workflow)
        return endpoint, workflow

    @router.get(
        "/workflows/{name}/webhooks", response_model=list[WebhookOut], responses=responses(404)
    )
    def list_webhooks(
        *, name: Annotated[str, Path(max_length=200)], who: Principal = reader
    ) -> list[WebhookOut]:
        """The workflow's webhook endpoints (never their secrets)."""
        require_workflow(who, name)
        client().store.find_version(name)  # 404 for an unknown workflow
        return [WebhookOut(**webhook_out(e, w)) for e, w in webhooks_of(client()).endpoints(name)]

    @router.post(
        "/workflows/{name}/webhooks",
        response_model=WebhookCreated,
        status_code=status.HTTP_201_CREATED,
        responses=responses(400, 404, 413),
    )
    def create_webhook(
        *,
        name: Annotated[str, Path(max_length=200)],
        body: WebhookIn,
        who: Principal = writer,
        request: Request,
    ) -> WebhookCreated:
        """A new endpoint; its signing secret is in this answer only."""
        require_workflow(who, name)
        made = webhooks_of(client()).create(
            name,
            version=body.version,
            mode=body.mode,
            mapping=body.mapping,
            max_body_bytes=body.max_body_bytes,
            rate_limit=body.rate_limit,
            by=who.actor,
        )
        note(request, "webhook.create", f"{name} {made.endpoint.id}")
        return WebhookCreated(**webhook_out(made.endpoint, name), secret=made.secret)

    @router.post(
        "/webhooks/{endpoint_id}/rotate",
        response_model=WebhookCreated,
        responses=responses(400, 404, 413),
    )
    def rotate_webhook(
        *, endpoint_id: EndpointId, body: RotateIn, who: Principal = writer, request: Request
    ) -> WebhookCreated:
        """A new signing secret (in this answer only); the old ones keep verifying for
        ``overlap_seconds``, so senders can switch without a refused delivery."""
        reach(who, endpoint_id)
        made = webhooks_of(client()).rotate(
            endpoint_id, overlap=dt.timedelta(seconds=body.overlap_seconds)
        )
        note(request, "webhook.rotate", endpoint_id, overlap_seconds=body.overlap_seconds)
        return WebhookCreated(**webhook_out(made.endpoint, made.workflow), secret=made.secret)

    @router.delete("/webhooks/{endpoint_id}", response_model=WebhookOut, responses=responses(404))
    def delete_webhook(
        *, endpoint_id: EndpointId, who: Principal = writer, request: Request
    ) -> WebhookOut:
        """Delete the endpoint, its secrets and its deliveries (its runs stay)."""
        endpoint, workflow = reach(who, endpoint_id)
        webhooks_of(client()).delete(endpoint_id)
        note(request, "webhook.delete", endpoint_id)
        return WebhookOut(**webhook_out(endpoint, workflow))

    @router.get(
        "/webhooks/{endpoint_id}/deliveries",
        response_model=list[DeliveryOut],
        responses=responses(404),
    )
    def list_deliveries(
        *,
        endpoint_id: EndpointId,
        who: Principal = reader,
        limit: Annotated[int, Query(ge=1, le=500)] = 20,
    ) -> list[DeliveryOut]:
        """The endpoint's latest requests, newest first: status, signature verdict, run."""
        reach(who, endpoint_id)
        return [delivery_out(d) for d in webhooks_of(client()).deliveries(endpoint_id, limit)]

    @router.post(
        "/webhooks/{endpoint_id}/test", response_model=TestOut, responses=responses(400, 404)
    )
    def send_test(*, endpoint_id: EndpointId, who: Principal = writer) -> TestOut:
        """Deliver ``{"test": true}``, signed with the endpoint's secret, through every check a
        real request gets; the answer it got."""
        reach(who, endpoint_id)
        answer = webhooks_of(client()).send_test(endpoint_id)
        return TestOut(status_code=answer.status, body=answer.body)

    return router


class HookAccepted(BaseModel):
    run_id: str = Field(description="The run the request started (stored and enqueued).")


class HookReplayed(HookAccepted):
    replayed: bool = Field(description="true: this message id was accepted before.")


HOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": HookAccepted, "description": "Signed and valid: a run was started."},
    200: {
        "model": HookReplayed,
        "description": "A message id accepted before (a retry or a replay): its run, and "
        "nothing started.",
    },
    **responses(404, 413, 422),
    401: {"model": ErrorOut, "description": "Unsigned, wrongly signed or stale; nothing started."},
    409: {"model": ErrorOut, "description": "The message is being processed: retry shortly."},
    429: {
        "model": ErrorOut,
        "description": "The endpoint's rate limit: retry after Retry-After seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}


def hook_router(client: Callable[[], Client]) -> fastapi.APIRouter:
    """``POST /hooks/{endpoint_id}``: authenticated by its signature only. The body is read
    only after the endpoint is known and under its rate limit, and only up to its size
    limit."""
    router = fastapi.APIRouter(tags=["webhooks"])

    @router.post(
        "/hooks/{endpoint_id}",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=None,
        responses=HOOK_RESPONSES,
        openapi_extra={
            "requestBody": {
                "description": "JSON, a form or raw bytes; signed with the endpoint's secret "
                "(Standard Webhooks headers, or X-Hub-Signature-256 in GitHub mode).",
                "content": {"*/*": {"schema": {}}},
            }
        },
    )
    async def receive(endpoint_id: EndpointId, request: Request) -> JSONResponse:
        """Start a run of the endpoint's workflow with the request's body."""
        service = webhooks_of(client())
        refused, target = await asyncio.to_thread(service.admit, endpoint_id)
        if refused is not None or target is None:
            return _json(refused or Answer(404, {"detail": "no such webhook endpoint"}))
        limit = service.max_bytes(target)
        webhook_id = request.headers.get("webhook-id") or request.headers.get("x-github-delivery")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _json(await asyncio.to_thread(service.too_large, target, webhook_id), close=True)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return _json(
                    await asyncio.to_thread(service.too_large, target, webhook_id), close=True
                )
            chunks.append(chunk)
        headers = {k.lower(): v for k, v in request.headers.items()}
        answer = await asyncio.to_thread(service.accept, target, headers, b"".join(chunks))
        return _json(answer)

    return router


def _json(answer: Answer, *, close: bool = False) -> JSONResponse:
    body = answer.body
    if answer.status >= 400:
        body = {"detail": body.get("detail", ""), "errors": body.get("errors")}
    headers = dict(answer.headers)
    if close:
        headers["Connection"] = "close"  # the rest of the body is not read
    return JSONResponse(body, answer.status, headers=headers)
