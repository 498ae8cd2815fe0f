"""Which sync node calls may run on the event loop itself, skipping the hand-off to a node
thread and back (about a quarter of a millisecond a node on a busy machine, as much as the
node's checkpoint commit).

Only a call that cannot block the loop: a plain Python function whose code reads nothing but
its arguments, simple constants and a few pure builtins (no globals, no attributes, no
callables among its defaults or closure cells, not a generator), with no timeout, and whose
earlier calls here, in a node thread, all returned within ``FAST_SECONDS``. Such code cannot
wait on the run it is part of (a nested ``Run.wait``, a document save, an ``asyncio.run``),
which on the loop would never return. An inline call that turns out slow sends its code back
to the threads for good.
"""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable
from typing import Any, TypeVar

FAST_SECONDS = 0.0002
"""A call that took less CPU time (its encoding included) in a node thread may run inline
next time. CPU time, not wall time: a busy machine's preemptions say nothing about the code
(and code that may only compute cannot block)."""
SLOW_SECONDS = 0.002
"""An inline call that took more CPU time: its code runs in the threads from then on."""
PURE_BUILTINS = frozenset(
    {
        "abs",
        "all",
        "any",
        "bool",
        "dict",
        "divmod",
        "enumerate",
        "float",
        "frozenset",
        "int",
        "isinstance",
        "len",
        "list",
        "max",
        "min",
        "pow",
        "range",
        "reversed",
        "round",
        "set",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
    }
)
"""Builtins that compute and return: no I/O, no imports, no code run from text."""
_SIMPLE = (int, float, complex, str, bytes, bool, type(None))
_NOT_PLAIN = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable/async generator

T = TypeVar("T")


def _simple(value: Any) -> bool:
    if isinstance(value, tuple | frozenset):
        return all(_simple(v) for v in value)
    return type(value) in _SIMPLE


def _pure_code(code: types.CodeType) -> bool:
    if code.co_flags & _NOT_PLAIN or not all(n in PURE_BUILTINS for n in code.co_names):
        return False
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if not _pure_code(const):  # a comprehension or lambda inside it
                return False
        elif not _simple(const):
            return False
    return True


def pure(fn: Any) -> bool:
    """Whether ``fn`` is a plain function that can only compute on its arguments."""
    if type(fn) is not types.FunctionType:
        return False
    code = fn.__code__
    if any(name in fn.__globals__ for name in code.co_names):
        return False  # a builtin's name rebound by the module: anything may run
    cells = fn.__closure__ or ()
    try:
        closed = all(_simple(cell.cell_contents) for cell in cells)
    except ValueError:  # an empty cell
        return False
    return (
        closed
        and _simple(fn.__defaults__ or ())
        and _simple(tuple((fn.__kwdefaults__ or {}).values()))
        and not vars(fn)
        and _pure_code(code)
    )


class Inline:
    """What this process has seen of each piece of node code: fast in a thread, or slow."""

    def __init__(self) -> None:
        self._fast: set[types.CodeType] = set()
        self._slow: set[types.CodeType] = set()
        self._pure: dict[types.CodeType, bool] = {}
        self._lock = threading.Lock()

    def may_run(self, fn: Any) -> bool:
        """Whether this call of ``fn`` may run on the loop (see the module's docstring)."""
        code = getattr(fn, "__code__", None)
        if code is None or code not in self._fast or code in self._slow:
            return False
        known = self._pure.get(code)
        if known is False:
            return False
        return pure(fn)  # closure cells and defaults are the function's, not its code's

    def timed(self, fn: Any, call: Callable[[], T]) -> Callable[[], T]:
        """``call`` (of ``fn``, in a node thread), noting whether it was fast."""

        def run() -> T:
            start = time.thread_time()
            result = call()
            took = time.thread_time() - start
            code = getattr(fn, "__code__", None)
            if took < FAST_SECONDS and code is not None and code not in self._fast:
                with self._lock:
                    if code not in self._pure:
                        self._pure[code] = pure(fn)
                    if self._pure[code]:
                        self._fast.add(code)
            return result

        return run

    def run(self, fn: Any, call: Callable[[], T]) -> T:
        """``call`` (of ``fn``) here and now; a slow one is not run here again."""
        start = time.thread_time()
        try:
            return call()
        finally:
            if time.thread_time() - start > SLOW_SECONDS:
                with self._lock:
                    self._slow.add(fn.__code__)
