"""Options that name a stored secret, marked in their kind's options model so that an editor
can offer the stored names and a draft can declare them as the node's ``secrets``.

A kind (a plug-in's too) marks such a field with the JSON-schema format ``secret-name``::

    api_key_secret: str | None = pydantic.Field(default=None, json_schema_extra=SECRET_NAME_SCHEMA)

The mark is in the kind's published JSON schema (``GET /node-kinds``), so a form built from
the schema alone knows the field; ``named_secrets`` reads the names a node's options give.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SECRET_NAME = "secret-name"
"""The JSON-schema ``format`` of a string option holding the name of a stored secret."""
SECRET_NAME_SCHEMA: dict[str, Any] = {"format": SECRET_NAME}
"""What ``json_schema_extra`` of such a field holds."""


def resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The schemas ``prop`` may be: a ``$ref`` followed, each non-null ``anyOf`` branch
    (the outer keys, such as a ``format``, kept on each)."""
    outer = {k: v for k, v in prop.items() if k not in ("$ref", "anyOf")}
    if "$ref" in prop:
        target = defs.get(str(prop["$ref"]).split("/")[-1], {})
        return [{**b, **outer} for b in resolve(target, defs)]
    if "anyOf" in prop:
        out = []
        for branch in prop["anyOf"]:
            if branch.get("type") != "null":
                out += [{**b, **outer} for b in resolve(branch, defs)]
        return out
    return [dict(prop)]


def is_secret_name(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> bool:
    """Whether the option schema ``prop`` is marked as naming a stored secret."""
    return any(b.get("format") == SECRET_NAME for b in resolve(prop, defs))


def named_secrets(schema: Mapping[str, Any], options: Any) -> list[str]:
    """The secret names ``options`` give in the fields ``schema`` (an options model's JSON
    schema) marks, nested models and lists included, in order, each once."""
    defs = schema.get("$defs", {})
    found: list[str] = []

    def walk(prop: Mapping[str, Any], value: Any) -> None:
        for branch in resolve(prop, defs):
            if branch.get("format") == SECRET_NAME:
                if isinstance(value, str) and value and value not in found:
                    found.append(value)
            elif isinstance(value, Mapping):
                for key, sub in branch.get("properties", {}).items():
                    if key in value:
                        walk(sub, value[key])
            elif isinstance(value, list) and isinstance(branch.get("items"), Mapping):
                for item in value:
                    walk(branch["items"], item)

    walk(schema, options)
    return found
