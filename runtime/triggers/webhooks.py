"""Webhook endpoints: ``POST /hooks/<endpoint_id>`` starts a run of a workflow.

Each endpoint has its own signing secret (``whsec_...``, shown once, stored Fernet-encrypted
with the secrets' keys), rotatable with an overlap during which old and new both verify. A
request is checked in this order, and each refusal starts nothing: unknown endpoint (404),
over the endpoint's rate limit (429 + ``Retry-After``), body over the size limit (413),
signature missing, wrong or stale (401), body not fitting the workflow's inputs (422). An
accepted message claims its id under a unique constraint (endpoint, message id): a retry or
a replay of it, from any studio process, gets the first run's id with 200 and starts nothing.
Every request is recorded as a delivery (time, status, verdict, run).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets as random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast, get_args
from urllib.parse import parse_qs

from cryptography.fernet import InvalidToken

from runtime.auth.ratelimit import RequestLimiter
from runtime.config import Settings
from runtime.errors import InputError, NotFound
from runtime.secrets import EncryptionKeyError, Keys
from runtime.store import Store
from runtime.store.contract import WebhookTarget
from runtime.store.sql import new_run_id
from runtime.store.tables import WebhookDelivery, WebhookEndpoint, WebhookMode, utcnow
from runtime.triggers import signatures

log = logging.getLogger("plait.webhooks")

MODES: tuple[str, ...] = get_args(WebhookMode)
DEFAULT_OVERLAP = dt.timedelta(hours=24)
"""How long a rotated-out secret keeps verifying, unless the rotation says otherwise."""
PAYLOAD = "payload"
"""The run input a body becomes when the endpoint has no mapping."""


@dataclass(frozen=True)
class Created:
    """A new endpoint (or a rotation): the secret is in this answer only."""

    endpoint: WebhookEndpoint
    workflow: str
    secret: str

    @property
    def path(self) -> str:
        return path_of(self.endpoint.id)


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to one request."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def path_of(endpoint_id: str) -> str:
    return f"/hooks/{endpoint_id}"


def _refusal(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> Answer:
    return Answer(status, {"detail": detail, "errors": errors})


class Webhooks:
    """The webhook endpoints of one client's store."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        start: Callable[..., Any] | None = None,
        limiter: RequestLimiter | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.start = start
        """Starts a run of a stored version (``Client.start_version``); managing endpoints
        needs none."""
        self.keys = Keys(self.settings)
        self.limiter = limiter or RequestLimiter(redis_url=self.settings.redis_url)
        self.clock = time.time
        """Unix seconds now (tests move it)."""

    # -- management -------------------------------------------------------------------------

    def create(
        self,
        workflow: str,
        *,
        version: str = "latest",
        mode: str = "standard",
        mapping: Mapping[str, str] | None = None,
        max_body_bytes: int | None = None,
        rate_limit: str | None = None,
        by: str | None = None,
    ) -> Created:
        """A new endpoint for ``workflow``'s runs (``version``: ``latest`` at each delivery,
        or a hash or unique prefix pinned now). ``mapping``: run input -> top-level body field;
        without it the body is the input ``payload``. Bad input names what is wrong and
        stores nothing."""
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        found = self.store.find_version(workflow, None if version == "latest" else version)
        spec_inputs = found.spec.get("inputs", {})
        mapping = dict(mapping) if mapping else None
        if mapping is None and PAYLOAD not in spec_inputs:
            raise InputError(
                f"workflow {workflow!r} has no run input {PAYLOAD!r} for the body: give a "
                f"mapping of its inputs ({', '.join(sorted(spec_inputs)) or 'none'}) to body "
                "fields"
            )
        for name, where in (mapping or {}).items():
            if name not in spec_inputs:
                raise InputError(
                    f"mapping: {name!r} is not a run input of {workflow!r} (inputs are: "
                    f"{', '.join(sorted(spec_inputs)) or 'none'})"
                )
            if not isinstance(where, str) or not where:
                raise InputError(f"mapping: input {name!r} needs the name of a body field")
        if max_body_bytes is not None and max_body_bytes < 1:
            raise InputError("max_body_bytes must be at least 1")
        if rate_limit is not None:
            _check_limit(rate_limit)
        secret = signatures.new_secret()
        endpoint = WebhookEndpoint(
            id="wh_" + random.token_hex(12),
            workflow_id=found.workflow_id,
            version=None if version == "latest" else found.version,
            mode=mode,
            mapping=mapping,
            max_body_bytes=max_body_bytes,
            rate_limit=rate_limit,
            created_at=utcnow(),
            created_by=by,
        )
        self.store.create_webhook(endpoint, self._encrypt(secret))
        return Created(endpoint, workflow, secret)

    def endpoints(self, workflow: str | None = None) -> list[tuple[WebhookEndpoint, str]]:
        return self.store.webhooks(workflow)

    def get(self, endpoint_id: str) -> tuple[WebhookEndpoint, str]:
        target = self.store.webhook_target(endpoint_id, utcnow())
        if target is None:
            raise NotFound(f"no webhook endpoint {endpoint_id!r}")
        return target.endpoint, target.workflow

    def rotate(self, endpoint_id: str, *, overlap: dt.timedelta = DEFAULT_OVERLAP) -> Created:
        """A new secret for the endpoint; the current ones keep verifying for ``overlap``."""
        if overlap < dt.timedelta(0):
            raise InputError("the overlap cannot be negative")
        endpoint, workflow = self.get(endpoint_id)
        secret = signatures.new_secret()
        self.store.rotate_webhook_secret(endpoint_id, self._encrypt(secret), utcnow() + overlap)
        return Created(endpoint, workflow, secret)

    def delete(self, endpoint_id: str) -> None:
        if not self.store.delete_webhook(endpoint_id):
            raise NotFound(f"no webhook endpoint {endpoint_id!r}")

    def deliveries(self, endpoint_id: str, limit: int = 20) -> list[WebhookDelivery]:
        return self.store.deliveries(endpoint_id, limit)

    def send_test(self, endpoint_id: str) -> Answer:
        """Deliver ``{"test": true}`` to the endpoint, signed with its newest secret, through
        the same checks as any request (the studio's "send test event")."""
        target = self.store.webhook_target(endpoint_id, utcnow())
        if target is None:
            raise NotFound(f"no webhook endpoint {endpoint_id!r}")
        endpoint = target.endpoint
        secret = self._decrypt(target.ciphertexts)[0]
        body = b'{"test": true}'
        message_id = "test_" + random.token_hex(8)
        now = int(self.clock())
        headers = {"content-type": "application/json"}
        if endpoint.mode == "github":
            headers |= {
                "x-github-delivery": message_id,
                "x-hub-signature-256": signatures.sign_github(secret, body),
            }
        else:
            headers |= {
                "webhook-id": message_id,
                "webhook-timestamp": str(now),
                "webhook-signature": signatures.sign(secret, message_id, now, body),
            }
        return self.receive(endpoint_id, headers, body)

    # -- requests ---------------------------------------------------------------------------

    def admit(self, endpoint_id: str) -> tuple[Answer | None, WebhookTarget | None]:
        """The checks before the body is read: the endpoint exists and is under its rate
        limit. Returns a refusal, or ``None`` and what ``accept`` needs."""
        target = self.store.webhook_target(endpoint_id, utcnow())
        if target is None:
            return _refusal(404, f"no webhook endpoint {endpoint_id!r}"), None
        endpoint = target.endpoint
        wait = self.limiter.hit(
            "webhook", endpoint_id, endpoint.rate_limit or self.settings.webhook_rate_limit
        )
        if wait is not None:
            self._record(endpoint_id, None, 429, "unchecked", "rate limit exceeded")
            answer = _refusal(429, f"too many requests to this endpoint: retry in {wait} s")
            answer.headers["Retry-After"] = str(wait)
            return answer, None
        return None, target

    def max_bytes(self, target: WebhookTarget) -> int:
        return target.endpoint.max_body_bytes or self.settings.webhook_max_bytes

    def too_large(self, target: WebhookTarget, webhook_id: str | None) -> Answer:
        limit = self.max_bytes(target)
        detail = f"the request body is larger than this endpoint's limit of {limit:,} bytes"
        self._record(target.endpoint.id, webhook_id, 413, "unchecked", detail)
        return _refusal(413, detail)

    def receive(self, endpoint_id: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """One request, whole (``headers`` with lower-case names)."""
        refused, target = self.admit(endpoint_id)
        if refused is not None or target is None:
            return refused or _refusal(404, f"no webhook endpoint {endpoint_id!r}")
        if len(body) > self.max_bytes(target):
            return self.too_large(target, headers.get("webhook-id"))
        return self.accept(target, headers, body)

    def accept(self, target: WebhookTarget, headers: Mapping[str, str], body: bytes) -> Answer:
        """Verify, map and start: the part after the body was read within its limit."""
        endpoint = target.endpoint
        try:
            secrets_ = self._decrypt(target.ciphertexts)
        except EncryptionKeyError as exc:
            # the server's configuration, not the sender's request: said in the log and the
            # delivery, not to the sender
            log.error("webhook %s: cannot decrypt its secrets: %s", endpoint.id, exc)
            self._record(endpoint.id, headers.get("webhook-id"), 500, "unchecked", str(exc))
            return _refusal(500, "this endpoint cannot verify requests now")
        check = signatures.verify(
            cast(WebhookMode, endpoint.mode),
            secrets_,
            headers,
            body,
            self.clock(),
            self.settings.webhook_tolerance_seconds,
        )
        shown_id = (check.message_id or "")[:200] or None
        if check.verdict != "valid":
            self._record(endpoint.id, shown_id, 401, check.verdict, check.reason)
            return _refusal(401, check.reason)
        assert check.message_id is not None  # a valid check had one
        if target.version_id is None:
            detail = f"workflow {target.workflow!r} has no version {endpoint.version!r} any more"
            self._record(endpoint.id, shown_id, 409, "valid", detail)
            return _refusal(409, detail)
        inputs, errors = _inputs(endpoint, target.spec, headers.get("content-type", ""), body)
        if errors:
            detail = "the body does not fit the workflow's run inputs: " + "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors
            )
            self._record(endpoint.id, shown_id, 422, "valid", detail[:1000])
            return _refusal(422, detail, errors)
        # the run's id is claimed with the message, so a replay can name it at once and the
        # run needs no second write to link its delivery
        delivery_id, run_id, claimed = self.store.claim_delivery(
            endpoint.id, check.message_id[:200], shown_id, "valid", new_run_id()
        )
        if not claimed:
            if run_id is None:  # its first delivery failed just now and freed the id
                return _refusal(409, "this message is being processed: retry it shortly")
            if self._stored(run_id):
                return Answer(200, {"run_id": run_id, "replayed": True})
            # claimed, but its run was never stored: the process that claimed it died in
            # between (or is about to store it): store it now, under the claimed id
        assert self.start is not None, "receiving requests needs a way to start runs"
        try:
            run = self.start(
                target.version_id,
                inputs,
                trigger="webhook",
                owner=f"webhook {endpoint.id}",
                trigger_ref=f"delivery:{delivery_id}",
                run_id=run_id,
            )
        except Exception as exc:
            # the claimed id is the run's primary key: of a claimer and a retry storing it at
            # once, one insert wins and the other finds the run stored
            if run_id and self._stored(run_id):
                if claimed:
                    return Answer(202, {"run_id": run_id})
                return Answer(200, {"run_id": run_id, "replayed": True})
            # the message id is freed: the sender may deliver it again once this is fixed
            status = 422 if isinstance(exc, InputError) else 500
            self.store.finish_delivery(
                delivery_id, run_id=None, status_code=status, error=str(exc)[:1000]
            )
            if status == 422:
                return _refusal(422, str(exc))
            raise
        if not claimed:  # the message's run, stored late under the id its claim gave it
            return Answer(200, {"run_id": run.id, "replayed": True})
        return Answer(202, {"run_id": run.id})

    def _stored(self, run_id: str) -> bool:
        try:
            self.store.get_run(run_id)
        except NotFound:
            return False
        return True

    # -- secrets ----------------------------------------------------------------------------

    def _encrypt(self, secret: str) -> bytes:
        return self.keys.box(create=True).encrypt(secret.encode())

    def _decrypt(self, ciphertexts: list[bytes]) -> list[str]:
        box = self.keys.box()
        out = []
        for token in ciphertexts:
            try:
                out.append(box.decrypt(token).decode())
            except InvalidToken:
                continue  # a key rotated out: that secret no longer verifies here
        return out

    def _record(
        self, endpoint_id: str, webhook_id: str | None, status: int, verdict: str, error: str
    ) -> None:
        self.store.record_delivery(
            WebhookDelivery(
                endpoint_id=endpoint_id,
                received_at=utcnow(),
                webhook_id=webhook_id,
                status_code=status,
                verdict=verdict,
                error=error[:1000] or None,
            )
        )


def _check_limit(limit: str) -> None:
    from limits import parse

    try:
        parse(limit)
    except ValueError:
        raise InputError(f"{limit!r} is no rate limit (e.g. '60 per minute')") from None


def _body_value(content_type: str, body: bytes) -> tuple[Any, list[dict[str, Any]]]:
    """The body as data: JSON, a form (one value per field, or a list), else the bytes."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return json.loads(body), []
        except (ValueError, UnicodeDecodeError) as exc:
            return None, [{"loc": ["body"], "msg": f"not valid JSON: {exc}", "type": "json"}]
    if kind == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
        except (ValueError, UnicodeDecodeError) as exc:
            return None, [{"loc": ["body"], "msg": f"not a valid form: {exc}", "type": "form"}]
        return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}, []
    return body, []


def _inputs(
    endpoint: WebhookEndpoint, spec: dict[str, Any], content_type: str, body: bytes
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run inputs a body gives, or the field errors that refuse it."""
    value, errors = _body_value(content_type, body)
    if errors:
        return {}, errors
    declared = spec.get("inputs", {})
    if endpoint.mapping is None:
        inputs = {PAYLOAD: value}
    else:
        if not isinstance(value, dict):
            return {}, [
                {
                    "loc": ["body"],
                    "msg": "must be a JSON object or a form: this endpoint maps its fields "
                    "to run inputs",
                    "type": "object",
                }
            ]
        inputs = {}
        for name, where in endpoint.mapping.items():
            if where in value:
                inputs[name] = value[where]
            elif declared.get(name, {}).get("required"):
                errors.append(
                    {
                        "loc": ["body", where],
                        "msg": f"field required (it is the run input {name!r})",
                        "type": "missing",
                    }
                )
    for name, info in declared.items():
        if info.get("required") and name not in inputs and name not in (endpoint.mapping or {}):
            errors.append(
                {
                    "loc": ["inputs", name],
                    "msg": "required run input that this endpoint does not fill",
                    "type": "missing",
                }
            )
    return inputs, errors
