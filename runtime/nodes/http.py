"""``http``: one HTTP request with httpx. Its URL, headers, query and body may hold
expressions; credentials come from stored secrets by name (``auth``), declared for the node
automatically and never written to its logs, errors or output. Connect errors, timeouts,
5xx and 429 are retried with backoff, honouring ``Retry-After``. The output is a dict:
``status``, ``headers``, ``json`` (or ``text``, or ``content`` bytes, for a body that is not
JSON), and ``url``, ``elapsed_ms`` and ``size``. Each attempt of the node also saves its
``http_request`` document, succeeded or not: method, URL (secret query values and a password
hidden), status, time, size and every try (``runtime.details`` reads it for the views)."""

from __future__ import annotations

import contextlib
import email.utils
import functools
import time
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from runtime.backoff import backoff as backoff_delay
from runtime.nodes.expressions import render_fields
from runtime.nodes.library import LibraryKind, LibraryOptions
from runtime.nodes.secret_options import SECRET_NAME_SCHEMA

if TYPE_CHECKING:
    import httpx


Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
REQUEST_DOCUMENT = "http_request"
"""The document each attempt of an ``http`` node saves its request summary as."""
HIDDEN = "••••"
"""What a secret query value or password reads in the summary's URL."""


class HttpAuth(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    type: Literal["bearer", "basic", "header"] = "bearer"
    secret: str = pydantic.Field(
        description="The stored secret holding the token or password.",
        json_schema_extra=SECRET_NAME_SCHEMA,
    )
    username: str | None = pydantic.Field(default=None, description="For basic auth.")
    header: str = pydantic.Field(default="X-API-Key", description="For type header.")


class HttpOptions(LibraryOptions):
    method: Method = "GET"
    url: str
    headers: dict[str, str] = pydantic.Field(default_factory=dict)
    query: dict[str, str] = pydantic.Field(default_factory=dict)
    json_body: Any = pydantic.Field(default=None, alias="json")
    form: dict[str, str] | None = None
    body: str | None = pydantic.Field(default=None, description="A raw body (text).")
    auth: HttpAuth | None = None
    timeout: float = pydantic.Field(default=30.0, gt=0, description="Seconds per request.")
    retries: int = pydantic.Field(
        default=3, ge=0, le=20, description="Retries on connect errors, timeouts, 5xx and 429."
    )
    backoff: float = pydantic.Field(default=0.5, ge=0, description="Seconds before retry 1.")
    max_retry_after: float = pydantic.Field(
        default=60.0, ge=0, description="The longest Retry-After honoured (seconds)."
    )
    fail_on_status: bool = pydantic.Field(
        default=True, description="Fail the node on a 4xx or 5xx answer left after retries."
    )
    follow_redirects: bool = True

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)

    @pydantic.model_validator(mode="after")
    def _one_body(self) -> HttpOptions:
        given = [n for n in ("json_body", "form", "body") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError("give one body: json, form or body")
        return self


class HttpStatusError(RuntimeError):
    """An answer with a 4xx or 5xx status (after retries)."""


class HttpKind(LibraryKind):
    """Sends one HTTP request (httpx) with retries; its output is status, headers and
    body."""

    name = "http"
    options = HttpOptions
    expressions = {
        "url": "text",
        "headers": "text",
        "query": "text",
        "json_body": "text",
        "form": "text",
        "body": "text",
    }

    def run(self, node: str, options: Any, target: Any, ctx: dict, values: dict) -> dict:
        import httpx

        # only a JSON body keeps its values' types; the rest of a request is text
        fields = {
            n: render_fields(node, getattr(options, n), ctx, n, native=n == "json_body")
            for n in ("url", "headers", "query", "json_body", "form", "body")
        }
        headers = dict(fields["headers"])
        auth: Any = None
        if options.auth is not None:
            import runtime as rt

            secret = rt.secret(options.auth.secret)
            if options.auth.type == "bearer":
                headers["Authorization"] = f"Bearer {secret}"
            elif options.auth.type == "header":
                headers[options.auth.header] = secret
            else:
                auth = httpx.BasicAuth(options.auth.username or "", secret)
        request: dict[str, Any] = {
            "method": options.method,
            "url": fields["url"],
            "headers": headers,
            "params": fields["query"] or None,
            "auth": auth,
        }
        if options.json_body is not None:
            request["json"] = fields["json_body"]
        elif options.form is not None:
            request["data"] = fields["form"]
        elif options.body is not None:
            request["content"] = fields["body"]
        with httpx.Client(
            timeout=options.timeout,
            follow_redirects=options.follow_redirects,
            verify=_tls(),
        ) as client:
            exchange = Exchange(options.method, _summary_url(request["url"], request["params"]))
            try:
                out = _send(node, client, request, options, exchange)
            except BaseException as exc:
                exchange.error = f"{type(exc).__name__}: {exc}"
                # the request's own error is what the node fails with, not a failed save
                with contextlib.suppress(Exception):
                    exchange.keep()
                raise
            exchange.keep()
            return out


class Exchange:
    """What one attempt of an ``http`` node sent and got, try by try: its
    ``http_request`` document."""

    def __init__(self, method: str, url: str) -> None:
        self.method = method
        self.url = url
        self.tries: list[dict[str, Any]] = []
        self.error: str | None = None

    def answered(self, response: httpx.Response, elapsed_ms: float) -> None:
        self.url = _summary_url(str(response.url), None)  # where redirects led
        self.tries.append(
            {
                "status": response.status_code,
                "elapsed_ms": elapsed_ms,
                "size": len(response.content),
            }
        )

    def failed(self, exc: BaseException, elapsed_ms: float) -> None:
        self.tries.append({"error": type(exc).__name__, "elapsed_ms": elapsed_ms})

    def summary(self, attempt: int | None) -> dict[str, Any]:
        last = self.tries[-1] if self.tries else {}
        return {
            "attempt": attempt,
            "method": self.method,
            "url": self.url,
            "status": last.get("status"),
            "elapsed_ms": last.get("elapsed_ms"),
            "size": last.get("size"),
            "retries": max(len(self.tries) - 1, 0),
            "tries": self.tries,
            "error": self.error,
        }

    def keep(self) -> None:
        from runtime.context import current
        from runtime.errors import PlaitError

        with contextlib.suppress(PlaitError):  # outside a node attempt: nowhere to keep it
            ctx = current()
            ctx.save_document(REQUEST_DOCUMENT, self.summary(ctx.attempt), "json")


def _summary_url(url: str, params: dict[str, str] | None) -> str:
    """The URL with its query (merged with ``params``), values under secret-looking names
    and a password in it hidden: what the summary may keep (the run's known and stored
    secrets are hidden too, when it is stored and when it is shown)."""
    from urllib.parse import quote_plus, urlsplit, urlunsplit

    from runtime.redaction import secret_key

    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:{HIDDEN}@{host}"
    pairs = [p.partition("=") for p in parts.query.split("&") if p]
    query = [f"{k}={HIDDEN}" if secret_key(k) else f"{k}{eq}{v}" for k, eq, v in pairs]
    if params:
        query += [
            f"{quote_plus(k)}={HIDDEN if secret_key(k) else quote_plus(str(v))}"
            for k, v in params.items()
        ]
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(query), parts.fragment))


@functools.cache
def _tls() -> Any:
    """One TLS context for every request: loading the CA bundle takes ~100 ms, which a new
    context per attempt would add to each."""
    import ssl

    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _send(node: str, client: httpx.Client, request: dict, options: Any, exchange: Exchange) -> dict:
    import httpx

    attempt = 0
    while True:
        started = time.monotonic()
        try:
            response = client.request(**request)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            exchange.failed(exc, round((time.monotonic() - started) * 1000, 1))
            if attempt >= options.retries:
                raise type(exc)(
                    f"{request['method']} {_shown(request['url'])}: {type(exc).__name__}: "
                    f"{exc} (after {attempt + 1} attempt(s))"
                ) from None
            _log(f"{request['method']} {_shown(request['url'])}: {type(exc).__name__}, retrying")
            time.sleep(backoff_delay(options.backoff, attempt + 1))
            attempt += 1
            continue
        elapsed = round((time.monotonic() - started) * 1000, 1)
        exchange.answered(response, elapsed)
        _log(
            f"{request['method']} {_shown(str(response.url))} -> {response.status_code} in "
            f"{elapsed} ms, {len(response.content)} bytes"
        )
        retryable = response.status_code == 429 or response.status_code >= 500
        if retryable and attempt < options.retries:
            wait = _retry_after(response, options.max_retry_after)
            time.sleep(wait if wait is not None else backoff_delay(options.backoff, attempt + 1))
            attempt += 1
            continue
        if options.fail_on_status and response.status_code >= 400:
            raise HttpStatusError(
                f"node {node!r}: {request['method']} {_shown(str(response.url))} answered "
                f"{response.status_code} {response.reason_phrase} after {attempt + 1} "
                f"attempt(s): {response.text[:300]!r}"
            )
        return _output(response, elapsed)


def _output(response: httpx.Response, elapsed: float) -> dict:
    out: dict[str, Any] = {
        "status": response.status_code,
        "headers": dict(response.headers),
        "url": _shown(str(response.url)),
        "elapsed_ms": elapsed,
        "size": len(response.content),
    }
    kind = response.headers.get("content-type", "")
    if "json" in kind:
        try:
            out["json"] = response.json()
            return out
        except ValueError:
            pass  # a server that says JSON and sends something else: its text then
    if kind.startswith("text/") or "charset" in kind or "json" in kind or "xml" in kind:
        out["text"] = response.text
    else:
        out["content"] = response.content
    return out


def _retry_after(response: httpx.Response, longest: float) -> float | None:
    """Seconds the server asked to wait (a number or an HTTP date), at most ``longest``."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), longest)


def _shown(url: str) -> str:
    """The URL without its query: a query may carry a key the logs must not keep."""
    return url.split("?", 1)[0]


def _log(line: str) -> None:
    from runtime.context import current
    from runtime.errors import PlaitError

    with contextlib.suppress(PlaitError):  # outside a node attempt: nowhere to log
        current().log(line)
