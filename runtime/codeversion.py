"""What a version covers: a digest of every piece of code and configuration a node will run,
and the shipped (signed) pickle that carries exactly that code.

The digest walks the same object graph cloudpickle ships: a node's function or runnable, and
from there closures, defaults, the globals its code reads, ``functools.partial`` arguments,
bound methods' instances, the inner functions of LangChain runnables (lambdas, branch
conditions, nested sequences and parallels) and the state of library objects. User code (a
function or class from ``__main__``, a notebook, or any module outside the Python installation
and site-packages) is taken by value; library code by name, as cloudpickle does.

It is canonical, so the same code gives the same version in any process: module names of user
code are left out (a file run as ``__main__`` and imported as a module is one version), as are
file names and line numbers; sets are ordered by content; attributes a library caches lazily
(``functools.cached_property`` values, a runnable's cached repr) are skipped.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import sys
import sysconfig
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import cloudpickle

_LIBRARY_ROOTS = tuple(
    {
        str(Path(p).resolve())
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    }
)
_OWN_PACKAGE = __name__.split(".")[0]
_LAZY_CACHES = frozenset({"_repr"})
"""Attributes LangChain runnables fill in when first shown: not part of what runs."""
_SHIP_LOCK = threading.Lock()
log = logging.getLogger("plait")


@functools.lru_cache(maxsize=1024)
def _is_user_file(file: str) -> bool:
    resolved = str(Path(file).resolve())
    return not any(resolved.startswith(root + "/") for root in _LIBRARY_ROOTS)


def is_user_module(name: str | None) -> bool:
    """Code the user brings (shipped by value), as opposed to Python's and libraries'."""
    if not name:
        return False
    if name == "__main__":
        return True
    top = name.split(".")[0]
    if top == _OWN_PACKAGE or top in sys.stdlib_module_names:
        return False
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    return isinstance(file, str) and _is_user_file(file)


class _Canon:
    """One canonical walk; ``modules`` collects the user modules whose code it took."""

    def __init__(self, modules: set[str]) -> None:
        self.hash = hashlib.sha256()
        self.memo: dict[int, int] = {}
        self.alive: list[Any] = []  # ids stay unique while the walk runs
        self.modules = modules

    def emit(self, *parts: Any) -> None:
        for part in parts:
            if isinstance(part, bytes | bytearray):  # array data can be large: no repr
                self.hash.update(b"b%d:" % len(part))
                self.hash.update(part)
            else:
                self.hash.update(repr(part).encode())
            self.hash.update(b"\0")

    def sub(self, obj: Any) -> str:
        canon = _Canon(self.modules)
        canon.walk(obj)
        return canon.hash.hexdigest()

    def walk(self, obj: Any) -> None:
        kind = type(obj)
        if obj is None or kind in (bool, int, float, complex, str, bytes):
            self.emit(kind.__name__, obj)
            return
        seen = self.memo.get(id(obj))
        if seen is not None:
            self.emit("ref", seen)
            return
        self.memo[id(obj)] = len(self.memo)
        self.alive.append(obj)
        try:
            self._walk(obj, kind)
        except RecursionError:
            self.emit("deep", kind.__qualname__)

    def _walk(self, obj: Any, kind: type) -> None:
        if kind in (list, tuple):
            self.emit(kind.__name__, len(obj))
            for item in obj:
                self.walk(item)
        elif kind is dict:
            self.emit("dict", len(obj))
            for key, value in obj.items():
                self.walk(key)
                self.walk(value)
        elif kind in (set, frozenset):
            self.emit(kind.__name__, sorted(self.sub(item) for item in obj))
        elif kind is types.CodeType:
            self._code(obj)
        elif kind is types.FunctionType:
            self._function(obj)
        elif kind is types.MethodType:
            self.emit("method")
            self.walk(obj.__func__)
            self.walk(obj.__self__)
        elif kind is types.ModuleType:
            self._module(obj)
        elif isinstance(obj, type):
            self._class(obj)
        elif kind is types.CellType:
            try:
                self.walk(obj.cell_contents)
            except ValueError:
                self.emit("empty cell")
        elif isinstance(obj, types.BuiltinFunctionType | types.WrapperDescriptorType):
            self.emit("builtin", getattr(obj, "__module__", None), obj.__qualname__)
        else:
            self._object(obj, kind)

    def _code(self, code: types.CodeType) -> None:
        # no file name, first line or line table: moving code is not changing it
        self.emit(
            "code",
            code.co_name,
            getattr(code, "co_qualname", code.co_name),
            code.co_argcount,
            code.co_posonlyargcount,
            code.co_kwonlyargcount,
            code.co_flags,
            code.co_code,
            code.co_names,
            code.co_varnames,
            code.co_freevars,
            code.co_cellvars,
        )
        self.walk(code.co_consts)

    def _function(self, fn: types.FunctionType) -> None:
        module = fn.__module__
        if not is_user_module(module):
            self.emit("function", module, fn.__qualname__)
            return
        self.modules.add(module)
        self.emit("function", fn.__qualname__)
        self.walk(fn.__code__)
        self.walk(fn.__defaults__)
        self.walk(fn.__kwdefaults__)
        self.walk(fn.__closure__)
        names = _global_names(fn.__code__)
        self.walk({n: fn.__globals__[n] for n in names if n in fn.__globals__})
        self.walk({k: v for k, v in vars(fn).items() if k != "__wrapped__"})

    def _module(self, module: types.ModuleType) -> None:
        self.emit("module", module.__name__)
        file = getattr(module, "__file__", None)
        if is_user_module(module.__name__) and isinstance(file, str):
            # read through an attribute at run time: the whole file is what may run
            with suppress(OSError):
                self.emit(hashlib.sha256(Path(file).read_bytes()).hexdigest())

    def _class(self, cls: type) -> None:
        module = cls.__module__
        if not is_user_module(module):
            self.emit("class", module, cls.__qualname__)
            return
        self.modules.add(module)
        self.emit("class", cls.__qualname__)
        try:
            self.emit(inspect.getsource(cls))
            return
        except (OSError, TypeError):
            pass  # defined in a notebook cell or at run time: its methods and data instead
        for name in sorted(vars(cls)):
            if name in ("__dict__", "__weakref__", "__module__", "__doc__"):
                continue
            value = vars(cls)[name]
            if isinstance(value, staticmethod | classmethod):
                value = value.__func__
            if isinstance(value, types.FunctionType | property | str | int | float | bool):
                self.emit(name)
                self.walk(value.fget if isinstance(value, property) else value)
        self.walk(tuple(cls.__bases__))

    def _object(self, obj: Any, kind: type) -> None:
        try:
            reduced = obj.__reduce_ex__(4)
        except Exception:
            self.emit("opaque", kind.__module__, kind.__qualname__)
            return
        if isinstance(reduced, str):  # a module-level singleton, named
            self.emit("global", kind.__module__, reduced)
            return
        self.emit("object")
        self.walk(kind)
        parts = list(reduced) + [None] * (6 - len(reduced))
        constructor, args, state, items, pairs = parts[:5]
        self.walk(constructor)
        self.walk(args)
        self.walk(_without_caches(kind, state))
        self.walk(list(items) if items is not None else None)
        self.walk(list(pairs) if pairs is not None else None)


def _without_caches(kind: type, state: Any) -> Any:
    def clean(d: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v
            for k, v in d.items()
            if k not in _LAZY_CACHES
            and not isinstance(inspect.getattr_static(kind, k, None), functools.cached_property)
        }

    if isinstance(state, dict):
        return clean(state)
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict | None):
        return (clean(state[0]) if state[0] else state[0], state[1])
    return state


def _global_names(code: types.CodeType) -> list[str]:
    names = dict.fromkeys(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(dict.fromkeys(_global_names(const)))
    return list(names)


def digest(*objects: Any) -> tuple[str, frozenset[str]]:
    """The canonical digest of what these objects run, and the user modules it took code
    from (shipped by value)."""
    modules: set[str] = set()
    canon = _Canon(modules)
    for obj in objects:
        canon.walk(obj)
    return canon.hash.hexdigest(), frozenset(modules)


_MISSING = object()


def guard(*objects: Any) -> tuple[Any, ...] | None:
    """A cheap stand-in for ``digest``, to tell that nothing it covers changed since: equal
    guards mean equal digests. It holds the identity of each function, class and module
    reached and the value of each constant, reading the globals, closure cells and defaults
    of user functions again each time (a global rebound under the same graph changes it).
    ``None`` when the objects reach anything whose content may change under the same
    identity (mutable data, user classes and modules, library objects' state): only a
    digest can tell then."""
    parts: list[Any] = []
    seen: set[int] = set()

    def visit(obj: Any) -> bool:
        kind = type(obj)
        if obj is None or obj is _MISSING or kind in (bool, int, str, bytes):
            parts.append((kind, obj))
            return True
        if kind in (float, complex):  # by repr: -0.0 == 0.0, yet their digests differ
            parts.append((kind, repr(obj)))
            return True
        if kind is tuple:
            parts.append(("tuple", len(obj)))
            return all(visit(item) for item in obj)
        if kind in (types.BuiltinFunctionType, types.ModuleType) or isinstance(obj, type):
            name = obj.__name__ if kind is types.ModuleType else getattr(obj, "__module__", None)
            parts.append(("named", obj))
            return not is_user_module(name)  # user modules and classes may change in place
        if kind is not types.FunctionType:
            return False
        if not is_user_module(obj.__module__):
            parts.append(("named", obj))
            return True
        if id(obj) in seen:
            parts.append(("ref", obj))
            return True
        seen.add(id(obj))
        if any(k != "__wrapped__" for k in vars(obj)):
            return False
        parts.append(("function", obj, obj.__code__))
        cells = []
        for cell in obj.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:
                cells.append(_MISSING)
        kwdefaults = tuple(sorted((obj.__kwdefaults__ or {}).items()))
        names = _global_names(obj.__code__)
        found = tuple(obj.__globals__.get(n, _MISSING) for n in names)
        return all(visit(part) for part in (obj.__defaults__, kwdefaults, *cells, *found))

    try:
        guarded = all(visit(obj) for obj in objects)
    except RecursionError:  # code nested too deep to guard: the digest tells
        return None
    return tuple(parts) if guarded else None


@contextmanager
def _by_value(modules: frozenset[str]) -> Iterator[None]:
    registered = []
    with _SHIP_LOCK:
        try:
            for name in sorted(modules):
                module = sys.modules.get(name)
                if name == "__main__" or module is None:
                    continue  # __main__ is always pickled by value
                if name in cloudpickle.list_registry_pickle_by_value():
                    continue  # registered already (the CLI does for a file it loads)
                cloudpickle.register_pickle_by_value(module)
                registered.append(module)
            yield
        finally:
            for module in registered:
                cloudpickle.unregister_pickle_by_value(module)


def ship(graph: Any, modules: frozenset[str]) -> bytes:
    """The graph as stored code: user modules' code by value, so a worker or ``plait recover``
    runs the code this version's digest covers, not whatever its own import finds.

    Code whose module-level state cannot be copied (a lock, an open connection) is shipped by
    name instead, as cloudpickle does for importable modules: the loading process imports it.
    """
    try:
        with _by_value(modules):
            return cloudpickle.dumps(graph)
    except Exception as exc:
        log.info("shipping %s by name: %s", ", ".join(sorted(modules)) or "nothing", exc)
        return cloudpickle.dumps(graph)
