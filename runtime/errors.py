"""Exceptions users see. Each message names the graph, node or field that is wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class PlaitError(Exception):
    """Base class of every error Plait raises on purpose."""


class GraphError(PlaitError):
    """The graph is invalid: a cycle, a duplicate or unknown name, a bad schema."""


class InputError(PlaitError):
    """Run inputs do not match what the graph needs."""


class PayloadError(PlaitError):
    """A resume payload does not match the wait node's schema. The run keeps waiting."""

    def __init__(self, node: str, errors: Sequence[Mapping[str, Any]]) -> None:
        self.node = node
        self.errors = errors
        lines = [
            f"  {'.'.join(str(p) for p in e.get('loc', ())) or '(payload)'}: {e.get('msg')}"
            for e in errors
        ]
        super().__init__(f"payload for wait node {node!r} is invalid:\n" + "\n".join(lines))


class OptionError(PlaitError):
    """A setting given on a command line or a form is not one Plait understands."""


class CodecError(PlaitError):
    """A value cannot be stored."""


class CodeUnavailable(PlaitError):
    """A version's code cannot be loaded in this process (a module that does not import here,
    a signing key this process does not have). Runs of it are left for a process that can."""


class SignatureError(PlaitError):
    """Shipped code (or a pickled value) is unsigned or its signature does not match: it is
    not loaded. The subclasses below tell a key this process lacks from forged bytes."""


class UnknownSigningKey(SignatureError, CodeUnavailable):
    """Code signed with a key this process does not trust. A matter of configuration, not of
    the code: give the process the key (or re-sign with ``plait signing rotate``) and runs of
    it can continue. The code is not executed meanwhile."""

    def __init__(self, message: str, *, key_id: str, trusted: list[str]) -> None:
        super().__init__(message)
        self.key_id = key_id
        """The key the stored code says it was signed with."""
        self.trusted = trusted
        """Ids of the keys this process trusts."""


class LegacySignature(UnknownSigningKey):
    """Code signed under the retired HMAC scheme (``PLAIT_SECRET_KEY``): nothing verifies it
    any more; ``plait signing rotate`` re-signs it with the signing key."""


class TamperedCode(SignatureError):
    """Code that is unsigned, or whose signature does not match under a key this process
    trusts: it was changed after signing (or moved from another version). Never executed."""


class MissingSigningKey(SignatureError):
    """This process cannot sign code: it holds only public keys, or it has no key while the
    store already holds versions signed with one (it never mints a key that nothing trusts)."""

    def __init__(self, message: str, *, expected: list[str]) -> None:
        super().__init__(message)
        self.expected = expected
        """Ids of the keys the store's versions are signed with."""


class UnknownPickleKey(SignatureError, CodeUnavailable):
    """A pickled value signed with another pickle key (``PLAIT_SECRET_KEY``) than this
    process's: configuration, not forgery. Nothing is unpickled; a run that needs the value is
    left unfinished for a process with the right key."""

    def __init__(self, message: str, *, key_id: str, have: str) -> None:
        super().__init__(message)
        self.key_id = key_id
        """Id of the key the value was signed with."""
        self.have = have
        """Id of this process's key."""


class MissingSecretKey(SignatureError):
    """This process has no pickle key while the store holds values pickled with one: it does
    not mint a new key (values signed with the old one would never load again)."""

    def __init__(self, message: str, *, expected: list[str]) -> None:
        super().__init__(message)
        self.expected = expected
        """Ids of the keys the store's pickled values are signed with."""


class RunStateError(PlaitError):
    """The operation does not fit the run's current status (e.g. resuming a finished run)."""


class NotFound(PlaitError):
    """No run, node or workflow with that name or id."""


class StoreUnavailable(PlaitError):
    """The database cannot be reached just now (or refused for a transient reason); the
    operation did not happen and may be tried again."""
