"""A graph whose nodes read a stored secret and leak it everywhere a person could read it:
logs (their own and ``logging``'s), an output, a document, an error and its traceback, in a
thread and in a child process. Importable by reference (workers, the studio, children)."""

from __future__ import annotations

import logging

import runtime as rt

NAME = "OPENAI_API_KEY"
VALUE = "sk-live-0123456789abcdef"
MARK = f"[secret:{NAME}]"

leaks = rt.Graph("stored_secret_leaks", description="Reads a stored secret and shows it off.")


@leaks.node(secrets=[NAME])
def call(prompt: str = "hi") -> dict:
    key = rt.secret(NAME)
    rt.current().log(f"calling with {key}")
    logging.getLogger("tests.stored").warning("auth header %s", key)
    rt.current().save_document("request", f"POST /v1 with key {key}")
    return {"prompt": prompt, "echo": f"used {key}", "usage": 3}


@leaks.node
def passed_on(call: dict) -> str:
    return call["echo"]


@leaks.node(secrets=[NAME], isolation="process")
def in_child(call: dict) -> str:
    rt.current().log("child has " + rt.secret(NAME))
    return rt.secret(NAME) + " from the child"


@leaks.node(secrets=[NAME])
def fails(call: dict) -> None:
    key = rt.secret(NAME)
    raise RuntimeError(f"the API refused {key}")


undeclared = rt.Graph("stored_secret_undeclared")


@undeclared.node
def sneaky() -> str:
    return rt.secret(NAME)


missing = rt.Graph("stored_secret_missing")


@missing.node(secrets=["NOT_SET_ANYWHERE"])
def needs() -> str:
    return rt.secret("NOT_SET_ANYWHERE")


pickled = rt.Graph("stored_secret_pickled", pickle=True)


class Holder:
    def __init__(self, key: str) -> None:
        self.key = key


@pickled.node(secrets=[NAME])
def hold() -> Holder:
    return Holder(rt.secret(NAME))
