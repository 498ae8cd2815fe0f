"""The REST API's one error model: every error answer is an ``ErrorOut`` (a sentence saying
what is wrong and, for invalid input, each problem with where it is), FastAPI's own
validation errors and unknown routes included, and every operation documents its errors
with it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request

from runtime.auth.roles import Forbidden, Unauthenticated
from runtime.cron import CronError
from runtime.drafts import DraftInvalid
from runtime.errors import (
    CodecError,
    GraphError,
    InputError,
    NotFound,
    PayloadError,
    PlaitError,
    RunStateError,
    SignatureError,
)
from runtime.schedules import ScheduleError
from runtime.store.contract import DraftConflict

log = logging.getLogger("plait.api")


class ErrorItem(BaseModel):
    """One problem with a request."""

    loc: list[str | int] = Field(
        description='Where: e.g. ["query", "after"], ["body", "inputs"] or, for a wait '
        'payload, the field ["amount"].'
    )
    msg: str = Field(description="What is wrong there.")
    type: str = Field(description="A stable name for the kind of problem.")


class ErrorOut(BaseModel):
    """The body of every error answer."""

    detail: str = Field(description="What is wrong, in one sentence (or a few lines).")
    errors: list[ErrorItem] | None = Field(
        None, description="Each problem of an invalid request, with where it is."
    )


DESCRIPTIONS = {
    400: "The request cannot be read (e.g. its body is not what its content type says).",
    401: "No valid credentials: a missing, malformed, unknown, expired or revoked API key or "
    "session (the answer never says which).",
    403: "The credentials are valid but their role (or a key's workflows) does not allow this.",
    404: "No such workflow, version, run or node.",
    409: "The run is not in a state that allows this (e.g. the node is not waiting), or a "
    "draft was saved by someone else since the revision given.",
    413: "The request body is larger than the server accepts (PLAIT_MAX_REQUEST_BYTES).",
    422: "The request is invalid: each problem is in ``errors`` with where it is.",
    429: "Too many requests with this API key (PLAIT_API_KEY_RATE_LIMIT): retry after "
    "``Retry-After`` seconds.",
}

STATUS_OF: dict[type[PlaitError], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    InputError: 422,
    PayloadError: 422,
    CodecError: 422,
    RunStateError: 409,
    GraphError: 409,  # the version's code cannot be loaded here
    SignatureError: 409,  # its code or a stored value does not verify
    CronError: 422,
    ScheduleError: 422,
    DraftConflict: 409,  # someone saved the draft in between
    DraftInvalid: 422,
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error codes, all with the ``ErrorOut`` body."""
    out: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorOut, "description": DESCRIPTIONS[code]} for code in codes
    }
    if 429 in out:
        out[429]["headers"] = {
            "Retry-After": {
                "description": "Whole seconds until a request is allowed again.",
                "schema": {"type": "integer"},
            }
        }
    return out


def items(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic errors as ``ErrorItem`` fields (no echo of the input: it may be a secret)."""
    return [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "invalid")),
            "type": str(e.get("type", "invalid")),
        }
        for e in errors
    ]


def answer(status: int, detail: str, errors: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
    return JSONResponse(ErrorOut(detail=detail, errors=errors).model_dump(), status, **kw)  # type: ignore[arg-type]


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    found = items(exc.errors())
    where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in found[:5])
    return answer(422, f"the request is invalid: {where}", found)


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return answer(exc.status_code, str(exc.detail), headers=exc.headers)


async def _plait(_request: Request, exc: Exception) -> JSONResponse:
    code = next((c for t, c in STATUS_OF.items() if isinstance(exc, t)), 400)
    errors = items(exc.errors) if isinstance(exc, PayloadError | DraftInvalid) else None
    if code == 401:
        return answer(code, str(exc), headers={"WWW-Authenticate": "Bearer"})
    return answer(code, str(exc), errors)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # the traceback goes to the server's log (Starlette re-raises); the answer says nothing
    # of the internals
    return answer(500, "internal error: the server's log has the details")


def error_handlers() -> dict[Any, Callable[..., Any]]:
    """FastAPI ``exception_handlers`` answering every error with an ``ErrorOut``."""
    return {
        RequestValidationError: _invalid_request,
        HTTPException: _http,
        PlaitError: _plait,
        Exception: _unexpected,
    }
