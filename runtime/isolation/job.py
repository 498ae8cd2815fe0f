"""What the pool is asked to run and what comes back: jobs, their outcomes, and the ways an
attempt ends without one."""

from __future__ import annotations

import dataclasses
import math
import signal as signals
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from runtime import codecs
from runtime.context import NodeContext
from runtime.errors import PlaitError

PICKLE_UNSIGNED = "pickle.unsigned"
"""The codec of an output only pickle could encode: raw cloudpickle bytes from the child, which
the parent signs before storing them and never loads itself."""

_CONTEXT_FIELDS = frozenset(
    f.name
    for f in dataclasses.fields(NodeContext)
    if f.init and f.name not in ("logs", "documents", "saver", "redactor")
)
_REQUIRED_CONTEXT = {
    "run_id": (str, "a string"),
    "node": (str, "a string"),
    "attempt": (int, "an integer"),
}


@dataclass(frozen=True)
class Stored:
    """An input value as stored, for the child to decode: the parent passes it on without
    loading it (a pickle that a child wrote is never loaded by the parent)."""

    codec: str
    """A safe codec's name (``runtime.codecs``) or ``pickle.unsigned``."""
    data: bytes

    def __post_init__(self) -> None:
        if self.codec == codecs.PICKLE:
            raise ValueError(
                "Stored: a signed pickle is checked by the parent first; "
                "use Stored.of(encoded, key)"
            )
        if self.codec != PICKLE_UNSIGNED and self.codec not in codecs.SAFE_CODEC_NAMES:
            raise ValueError(f"Stored: unknown codec {self.codec!r}")

    @classmethod
    def of(cls, encoded: codecs.Encoded, key: bytes) -> Stored:
        """A stored value as the child gets it; a signed pickle has its signature checked here
        (``SignatureError`` when it does not match) and travels as its payload."""
        if encoded.codec != codecs.PICKLE:
            return cls(encoded.codec, encoded.data)
        from runtime import signing

        return cls(PICKLE_UNSIGNED, signing.verify(encoded.data, key, what="pickled value"))


@dataclass(frozen=True)
class Job:
    """One node attempt to execute in a child process."""

    key: str
    """Trust/code domain (the workflow version): a child is reused only for jobs of one key."""
    call: bytes
    """cloudpickle of ``(target, kwargs)`` made by the parent: the child calls
    ``target(**kwargs)`` and awaits a result that is awaitable (async functions). Values of
    ``kwargs`` that are ``Stored`` are decoded in the child first."""
    context: Mapping[str, Any] = field(repr=False)  # it may carry a node's secrets
    """What ``rt.current()`` gives in the child: ``run_id``, ``node``, ``attempt`` (and any
    other field of ``NodeContext``); ``idempotency_key`` is derived from them."""
    allow_pickle: bool = False
    """Whether an output no safe codec takes may come back pickled (``pickle.unsigned``)."""
    timeout: float | None = None
    """Seconds the attempt may run, from when the child receives it; then the child is killed."""

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"Job.key must be a non-empty string, not {self.key!r}")
        if not isinstance(self.call, bytes):
            raise ValueError(
                f"Job.call must be bytes (cloudpickle), not {type(self.call).__name__}"
            )
        unknown = sorted(set(self.context) - _CONTEXT_FIELDS)
        if unknown:
            raise ValueError(
                f"Job.context has unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_CONTEXT_FIELDS))}"
            )
        for name, (kind, described) in _REQUIRED_CONTEXT.items():
            value = self.context.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"Job.context[{name!r}] must be {described}, not {value!r}")
        for name, value in self.context.items():
            if name == "secrets" and isinstance(value, Mapping):
                if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                    raise ValueError("Job.context['secrets'] must map names to text")
                continue
            if not isinstance(value, str | int | float | bool | None):
                raise ValueError(f"Job.context[{name!r}] must be plain data, not {value!r}")
        if self.timeout is not None and not (
            isinstance(self.timeout, int | float)
            and math.isfinite(self.timeout)
            and self.timeout > 0
        ):
            raise ValueError(
                f"Job.timeout must be a positive number of seconds, not {self.timeout!r}"
            )

    @classmethod
    def of(
        cls,
        key: str,
        target: Any,
        kwargs: Mapping[str, Any],
        *,
        context: Mapping[str, Any],
        allow_pickle: bool = False,
        timeout: float | None = None,
    ) -> Job:
        """A job calling ``target(**kwargs)``; functions that import travel by reference, others
        (notebook cells, lambdas) by value."""
        return cls(key, cloudpickle.dumps((target, dict(kwargs))), context, allow_pickle, timeout)


@dataclass(frozen=True)
class Outcome:
    """How the attempt ended, as the child reported it."""

    ok: bool
    codec: str | None = None
    """The output's codec (``runtime.codecs`` names, or ``pickle.unsigned``: raw cloudpickle
    bytes that the parent signs and never loads)."""
    data: bytes | None = None
    error_type: str | None = None
    """The exception's class name, e.g. ``ValueError``."""
    error_message: str | None = None
    traceback: str | None = None
    """From the user's own code on."""
    retryable: bool = True
    """False when retrying cannot help: the output cannot be stored, or the node's code or
    inputs do not load in the child."""
    logs: list[str] = field(default_factory=list)
    """``rt.current().log(...)`` lines and ``logging`` records, as in thread mode."""
    pid: int = 0
    """The child process that ran the attempt."""


class ChildDied(Exception):
    """The child exited before answering: a crash (``os._exit``, a segfault, SIGKILL, the OOM
    killer). ``str()`` is ``process exited with code 3`` or ``process was killed by signal 9
    (SIGKILL)``."""

    def __init__(
        self,
        exitcode: int | None,
        signal: int | None,
        *,
        logs: list[str] | None = None,
        starting: bool = False,
    ) -> None:
        self.exitcode = exitcode
        self.signal = signal
        self.logs = logs or []
        """Lines logged before it died."""
        self.starting = starting
        """It died before it was ready for a job (a broken environment, not the node)."""
        super().__init__(self._describe())

    @classmethod
    def from_returncode(cls, returncode: int, **kwargs: Any) -> ChildDied:
        if returncode < 0:
            return cls(None, -returncode, **kwargs)
        return cls(returncode, None, **kwargs)

    def _describe(self) -> str:
        if self.signal is not None:
            try:
                name = f" ({signals.Signals(self.signal).name})"
            except ValueError:
                name = ""
            text = f"process was killed by signal {self.signal}{name}"
        else:
            text = f"process exited with code {self.exitcode}"
        return f"{text} while starting" if self.starting else text


class ProtocolError(ChildDied):
    """The child sent something that is not a message of the protocol; it was killed."""

    def __init__(self, problem: str, *, logs: list[str] | None = None) -> None:
        self.problem = problem
        super().__init__(None, signals.SIGKILL, logs=logs)

    def _describe(self) -> str:
        return f"process sent {self.problem} and was killed"


class AttemptTimeout(TimeoutError):
    """The attempt ran past ``Job.timeout``; its process (group) was killed."""

    def __init__(self, timeout: float, *, logs: list[str] | None = None) -> None:
        self.timeout = timeout
        self.logs = logs or []
        """Lines logged before the timeout."""
        super().__init__(f"exceeded its {timeout:g}s timeout; its process was killed")


class PoolClosed(PlaitError):
    """The pool was closed (before or while the attempt ran)."""
