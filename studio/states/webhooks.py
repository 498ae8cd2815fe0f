"""The webhooks section of a workflow page: each endpoint's URL and recent deliveries
(time, status, signature verdict, run), a new endpoint or secret (shown once), and "send
test event"."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from runtime.api_webhooks import webhooks_of
from runtime.errors import PlaitError
from runtime.triggers.webhooks import path_of
from studio.logic import fmt
from studio.states.base import blocking, client, permitted, record

DELIVERIES = 10
"""Recent deliveries shown per endpoint."""


@dataclass
class DeliveryItem:
    id: int
    at: str
    status: int
    verdict: str
    run_id: str
    run_href: str
    error: str


@dataclass
class HookItem:
    id: str
    path: str
    mode: str
    version: str
    deliveries: list[DeliveryItem]


def load_hooks(workflow: str) -> list[HookItem]:
    service = webhooks_of(client())
    return [
        HookItem(
            id=endpoint.id,
            path=path_of(endpoint.id),
            mode=endpoint.mode,
            version=fmt.short(endpoint.version) if endpoint.version else "latest",
            deliveries=[
                DeliveryItem(
                    id=d.id or 0,
                    at=fmt.timestamp(d.received_at),
                    status=d.status_code,
                    verdict=d.verdict,
                    run_id=d.run_id or "",
                    run_href=f"/runs/{d.run_id}" if d.run_id else "",
                    error=d.error or "",
                )
                for d in service.deliveries(endpoint.id, DELIVERIES)
            ],
        )
        for endpoint, _ in service.endpoints(workflow)
    ]


class WebhooksState(rx.State):
    hooks: list[HookItem] = []
    origin: str = ""
    """Where the studio is reached (``PLAIT_PUBLIC_URL``, else this page's host)."""
    secret: str = ""
    """A new endpoint's or rotation's secret: shown until the page is left, never again."""
    secret_for: str = ""
    message: str = ""

    def _origin(self) -> str:
        public = client().settings.public_url
        if public:
            return public.rstrip("/")
        host = self.router.headers.host
        return f"http://{host}" if host else ""

    async def _reload(self) -> None:
        self.hooks = await blocking(load_hooks, str(self.wf_name))  # type: ignore[attr-defined]

    async def load(self) -> None:
        self.secret, self.secret_for, self.message, self.hooks = "", "", "", []
        if (await permitted(self, "read", "read workflows"))[0] is None:
            return
        self.origin = self._origin()
        await self._reload()

    async def refresh(self) -> None:
        if (await permitted(self, "read", "read workflows"))[0] is None:
            return
        await self._reload()

    async def create(self) -> None:
        name = str(self.wf_name)  # type: ignore[attr-defined]
        allowed, why = await permitted(self, "write", "manage webhooks", target=name)
        if allowed is None:
            self.message = why
            return
        try:
            made = await blocking(webhooks_of(client()).create, name, by=allowed.actor)
        except PlaitError as exc:
            self.message = str(exc)
            return
        await record(self, allowed, "webhook.create", f"{name} {made.endpoint.id}")
        self.secret, self.secret_for, self.message = made.secret, made.endpoint.id, ""
        await self._reload()

    async def rotate(self, endpoint_id: str) -> None:
        allowed, why = await permitted(self, "write", "manage webhooks", target=endpoint_id)
        if allowed is None:
            self.message = why
            return
        try:
            made = await blocking(webhooks_of(client()).rotate, endpoint_id)
        except PlaitError as exc:
            self.message = str(exc)
            return
        await record(self, allowed, "webhook.rotate", endpoint_id)
        self.secret, self.secret_for = made.secret, endpoint_id
        self.message = "the old secret keeps verifying for 24 hours"

    async def send_test(self, endpoint_id: str) -> None:
        allowed, why = await permitted(self, "write", "send test events", target=endpoint_id)
        if allowed is None:
            self.message = why
            return
        try:
            answer = await blocking(webhooks_of(client()).send_test, endpoint_id)
        except PlaitError as exc:
            self.message = str(exc)
            return
        detail = answer.body.get("run_id") or answer.body.get("detail") or ""
        self.message = f"test event: {answer.status} {detail}"
        await self._reload()
