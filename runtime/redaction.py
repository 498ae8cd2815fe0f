"""The one redaction policy: what every surface (REST, CLI, notebook, report, share page,
studio) and the stored node logs replace before a person can read it.

Three rules, applied by a ``Redactor``:

- **Secret keys**: the value under a key that looks secret (password, passwd, passphrase,
  secret, token, api key, credential, private key, access key, authorization, auth, cookie,
  session id, ...) is replaced, at any depth of dicts and lists, and so are secret-named
  DataFrame columns.
- **Known values**: the secrets of a run (the values of its inputs and wait answers under
  secret-looking names, and the defaults of secret-named inputs) are replaced wherever they
  appear inside any text: log lines, error messages, tracebacks, outputs.
- **Text patterns**: ``password=hunter2``, ``"api_key": "sk-..."``, ``Authorization: Bearer
  xyz``, ``Bearer xyz`` and the password of ``scheme://user:password@host``.
- **Stored secrets** (``runtime.secrets``): the values of the secrets a run's nodes declare
  read ``[secret:NAME]`` wherever they appear (the engine applies this before anything is
  stored).

Stored values are never changed (downstream nodes need the real ones); only what is shown or
served goes through a redactor. Node log lines are the exception: they are redacted before
they are stored.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.client import Run

REDACTED = "•••• redacted"
MIN_KNOWN = 4
"""Known values shorter than this are not searched for inside text (a 2-character password
would blank out every word containing it); under a secret key they are still replaced."""

EXCERPT_MARGIN = 1024
"""Characters searched past each edge of an excerpt (longer than any secret assignment)."""

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SECRET_WORDS = frozenset(
    {
        "auth",
        "authorization",
        "bearer",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "pass",
        "passphrase",
        "passwd",
        "password",
        "pwd",
        "secret",
        "secrets",
        "token",
    }
)
"""Words of a key that make it secret on their own (``tokens`` is not one: LLM usage
counts are no secret)."""
_SECRET_PARTS = (
    "accesskey",
    "apikey",
    "authorization",
    "credential",
    "encryptionkey",
    "passphrase",
    "passwd",
    "password",
    "privatekey",
    "secret",
    "sessionid",
    "signingkey",
)
"""Runs of letters that make a key secret wherever they appear (``dbPassword``,
``X-API-Key``, ``aws_secret_access_key``)."""

_HINT = re.compile(r"pass|pwd|secret|token|key|credential|auth|bearer|cookie|session", re.I)
"""What every secret key and the bearer pattern contain: text without any needs no more."""
_URL_CREDENTIALS = re.compile(r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^\s:/@'\"]*:)[^\s@/'\"]+@", re.I)
_BEARER = re.compile(r"\b(?P<head>bearer\s+)[A-Za-z0-9\-._~+/]+=*", re.I)
_ASSIGNMENT = re.compile(
    r"""(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z_][A-Za-z0-9_.\-]{0,80})(?P<sep>["']?[ \t]*[:=][ \t]*)"""
    r"""(?P<value>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
    r"""|(?:(?:bearer|basic|digest|token|negotiate)\s+)?[^\s,;&'"<>(){}\[\]]+)""",
    re.I,
)
"""``key=value`` and ``key: value``, the key bare or quoted, the value bare or quoted, an
``Authorization`` value with its scheme."""


def secret_key(name: str) -> bool:
    """Whether a key (a dict key, an input name, a column, a header) looks like it holds a
    secret."""
    words = [w.lower() for w in _WORDS.findall(name)]
    if any(w in _SECRET_WORDS for w in words):
        return True
    joined = "".join(words)
    return any(part in joined for part in _SECRET_PARTS)


def known_secrets(value: Any, *, secret: bool = False) -> set[str]:
    """The texts to hide found in a value: every string and number under a secret-looking
    key, at any depth (``secret`` says the value itself sits under one)."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for k, v in value.items():
            found |= known_secrets(v, secret=secret or (isinstance(k, str) and secret_key(k)))
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            found |= known_secrets(v, secret=secret)
    elif secret and isinstance(value, str):
        found.add(value)
    elif secret and isinstance(value, int | float) and not isinstance(value, bool):
        found.add(str(value))
    elif secret and _is_secret_type(value) and isinstance(value.get_secret_value(), str):
        found.add(value.get_secret_value())
    return {s for s in found if s}


class Redactor:
    """Applies the policy; ``value`` for structures, ``text`` for strings. Build one with the
    secrets known for a run (``for_run``, ``from_inputs``), or with none for the key and
    pattern rules alone."""

    def __init__(
        self, known_values: Iterable[str] = (), secrets: Mapping[str, str] | None = None
    ) -> None:
        self.secrets: dict[str, str] = {
            name: value for name, value in (secrets or {}).items() if isinstance(value, str)
        }
        """Stored secrets by name: replaced by ``[secret:NAME]``, whatever their length."""
        named: dict[str, str] = {}
        for name, value in self.secrets.items():
            for form in (
                value,
                json.dumps(value)[1:-1],
                json.dumps(value, ensure_ascii=False)[1:-1],
                repr(value)[1:-1],
            ):
                if form:
                    named.setdefault(form, name)
        self._named_of = named
        self._named = (
            re.compile("|".join(map(re.escape, sorted(named, key=len, reverse=True))))
            if named
            else None
        )
        self.known = frozenset(
            v for v in known_values if isinstance(v, str) and len(v) >= MIN_KNOWN
        )
        forms = set(self.known)
        for v in self.known:
            # as it appears inside JSON text and inside a repr
            forms.add(json.dumps(v, ensure_ascii=False)[1:-1])
            forms.add(repr(v)[1:-1])
        longest_first = sorted(forms, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, longest_first))) if forms else None
        self.forms: tuple[str, ...] = tuple(sorted(set(named) | forms, key=len, reverse=True))
        """Every literal text replaced (secrets and known values as written, in JSON and in a
        repr), longest first."""

    @classmethod
    def from_inputs(
        cls, inputs: Mapping[str, Any], spec: Mapping[str, Any] | None = None
    ) -> Redactor:
        """The redactor of a run with these inputs: their secrets, and the defaults of the
        secret-named inputs of ``spec`` (a graph's ``spec()``), are known values."""
        known = known_secrets(inputs)
        for name, declared in (spec or {}).get("inputs", {}).items():
            if secret_key(name) and isinstance(declared, Mapping):
                known |= known_secrets(declared.get("default"), secret=True)
        return cls(known)

    def __repr__(self) -> str:
        named = f", secrets {', '.join(sorted(self.secrets))}" if self.secrets else ""
        return f"<Redactor {len(self.known)} known value(s){named}>"

    # -- applying -------------------------------------------------------------------------

    def text(self, text: str) -> str:
        """The text with known values and secret-looking assignments, bearer tokens and URL
        passwords replaced."""
        if not text:
            return text
        if self._named is not None:
            text = self._named.sub(lambda m: f"[secret:{self._named_of[m[0]]}]", text)
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        if "://" in text:
            text = _URL_CREDENTIALS.sub(rf"\g<head>{REDACTED}@", text)
        if _HINT.search(text) is None:  # most text: no word a secret key could contain
            return text
        text = _BEARER.sub(rf"\g<head>{REDACTED}", text)
        return _ASSIGNMENT.sub(_assignment, text)

    def excerpt(self, text: str, limit: int) -> str:
        """The text redacted, or for a long one its start and end redacted (about ``limit``
        characters in all, saying how many were left out between them). Only the kept parts
        are searched, with a margin, so a secret cut at the edge does not show in part."""
        if len(text) <= limit:
            return self.text(text)
        head_n, tail_n = limit // 4, limit - limit // 4
        margin = max(EXCERPT_MARGIN, *(len(v) for v in self.known), *map(len, self._named_of), 0)
        # a secret cut at the inner edge of a part is not redacted: it lies in the margin,
        # whose redacted form is dropped (redaction leaves unmatched text as it was)
        head = self.text(text[: head_n + margin])[:-margin][:head_n]
        tail = self.text(text[-(tail_n + margin) :])[margin:][-tail_n:]
        left = len(text) - head_n - tail_n
        return f"{head}\n… ({left:,} characters left out) …\n{tail}"

    def value(self, value: Any) -> Any:
        """A copy of a structure with the values of secret keys replaced and every string in
        it passed through ``text``; what needs no change comes back as it was."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: REDACTED
                if isinstance(k, str) and secret_key(k) and value_to_hide(v)
                else self.value(v)
                for k, v in value.items()
            }
        if type(value) is list or type(value) is tuple:
            return type(value)(self.value(v) for v in value)
        if _is_secret_type(value):
            return REDACTED
        if hasattr(value, "model_dump") and not isinstance(value, type):
            try:
                dumped = value.model_dump(mode="json")
            except Exception:  # a model that cannot dump itself is shown as it is
                return value
            shown = self.value(dumped)
            return value if shown == dumped else shown
        return self._frame(value)

    def _frame(self, value: Any) -> Any:
        pd = sys.modules.get("pandas")
        if pd is None:
            return value
        if isinstance(value, pd.DataFrame):
            hidden = [c for c in value.columns if isinstance(c, str) and secret_key(c)]
            if not hidden:
                return value
            value = value.copy()
            for column in hidden:
                value[column] = REDACTED
            return value
        if isinstance(value, pd.Series) and isinstance(value.name, str) and secret_key(value.name):
            return pd.Series(REDACTED, index=value.index, name=value.name)
        return value

    def spec(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """A graph spec as it may be shown: the defaults of secret-named run inputs and of
        secret-named wait payload fields replaced (the shape stays, so forms still work)."""
        shown = dict(spec)
        shown["inputs"] = {
            name: _hide_default(declared) if secret_key(name) else declared
            for name, declared in spec.get("inputs", {}).items()
        }
        shown["nodes"] = [
            {**node, "schema": self.schema(node["schema"])} if "schema" in node else node
            for node in spec.get("nodes", [])
        ]
        return shown

    def schema(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON schema with the defaults and examples of secret-named properties
        replaced."""
        shown = dict(schema)
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            shown["properties"] = {
                name: _hide_default(prop) if secret_key(name) else prop
                for name, prop in properties.items()
            }
        defs = schema.get("$defs")
        if isinstance(defs, Mapping):
            shown["$defs"] = {k: self.schema(v) for k, v in defs.items()}
        return shown


def value_to_hide(value: Any) -> bool:
    """Whether a value under a secret key hides anything (``None`` and ``""`` do not)."""
    return value is not None and value != ""


def for_run(run: Run) -> Redactor:
    """The redactor of a stored run: its inputs' secrets, the secret-named inputs' defaults
    and the secrets in its answered waits are known values. Values that cannot be loaded
    here are skipped (they cannot be shown here either)."""
    from runtime.errors import PlaitError

    store = getattr(run.client, "store", None)
    if store is None:
        # a remote run: the server redacted everything it sent
        return DEFAULT
    record = store.get_run(run.id)
    spec = store.get_version(record.version_id).spec
    inputs: dict[str, Any] = {}
    for name, ref in record.inputs.items():
        try:
            inputs[name] = store.load_input(ref)
        except PlaitError:
            continue
    answers: dict[str, Any] = {}
    waits = {n["name"] for n in spec["nodes"] if "schema" in n}
    for row in store.attempts(run.id):
        if row.node in waits and row.status == "succeeded":
            try:
                answers[row.node] = store.load_output(row)
            except PlaitError:
                continue
    known = Redactor.from_inputs(inputs, spec).known | known_secrets(answers)
    return Redactor(known)


def _assignment(match: re.Match[str]) -> str:
    if not secret_key(match["key"]):
        return match[0]
    if match.start() and match.string[match.start() - 1] == "[" and match["key"] == "secret":
        return match[0]  # a stored secret's marker, [secret:NAME]
    value = match["value"]
    scheme = _SCHEME.match(value)
    head = scheme[0] if scheme else ""
    rest = value[len(head) :]
    if rest.startswith(REDACTED[0]) or rest in _NOTHING:
        return match[0]  # already redacted, or nothing to hide
    if rest[:1] in ("'", '"'):
        return f"{match['key']}{match['sep']}{rest[0]}{REDACTED}{rest[0]}"
    return f"{match['key']}{match['sep']}{head}{REDACTED}"


_SCHEME = re.compile(r"(?:bearer|basic|digest|token|negotiate)\s+", re.I)
_NOTHING = frozenset({"None", "null", "''", '""'})


def _hide_default(declared: Any) -> Any:
    if not isinstance(declared, Mapping):
        return declared
    shown = dict(declared)
    for key in ("default", "examples", "example", "const"):
        if key in shown and value_to_hide(shown[key]):
            shown[key] = REDACTED
    return shown


def _is_secret_type(value: Any) -> bool:
    return type(value).__name__ in ("SecretStr", "SecretBytes") and hasattr(
        value, "get_secret_value"
    )


DEFAULT = Redactor()
"""The key and pattern rules alone, for places that know no run."""


class StreamRedactor:
    """Redacts text that arrives in pieces (an LLM's tokens), per stream: a known value split
    across pieces is caught, because a piece goes out only once no such value can still be
    completing over it. What is held back (at most the longest value, less one character)
    is never sent as tokens: the node's checkpointed output, redacted whole, shows it."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._hold = max((len(f) for f in redactor.forms), default=1) - 1
        self._pending: dict[object, str] = {}

    def feed(self, stream: object, text: str) -> str:
        """The redacted text of ``stream`` that may go out now (may be empty)."""
        pending = self._pending.get(stream, "") + text
        cut = len(pending) - self._hold
        moved = True
        while moved and cut > 0:
            # never cut through a value: one that started before the cut goes out whole later
            moved = False
            for form in self._redactor.forms:
                start = pending.find(form, max(0, cut - len(form) + 1))
                if 0 <= start < cut < start + len(form):
                    cut, moved = start, True
        cut = max(cut, 0)
        self._pending[stream] = pending[cut:]
        return self._redactor.text(pending[:cut]) if cut else ""
