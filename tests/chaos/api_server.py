"""The REST API as the fuzzer meets it: ``uvicorn --factory tests.chaos.api_server:app``, on
the store named by ``PLAIT_DATABASE_URL``."""

from __future__ import annotations

import fastapi

from runtime.api import create_api


def app() -> fastapi.FastAPI:
    import tests.chaos.api_flows  # noqa: F401  (the graphs' code loads by reference)

    return create_api()
