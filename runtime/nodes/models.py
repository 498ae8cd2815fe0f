"""``"provider:model"`` strings for the ``llm`` node.

A string is resolved where the node runs: a provider registered here
(``rt.nodes.register_provider``) first, else LangChain's ``init_chat_model`` (the ``langchain``
package, ``pip install 'plait[llm]'``, and the provider's own, e.g. ``langchain-openai``),
with the same semantics: ``"openai:gpt-4o-mini"``, or a bare model name whose provider
``init_chat_model`` infers (``"gpt-4o"``, ``"claude-..."``). The API key comes from the stored
secret the node names; it is passed to the model as ``api_key`` and is never part of the
node's options, spec, logs or errors (a run's secrets are redacted from what it shows).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from runtime.errors import GraphError

ProviderFactory = Callable[..., Any]
"""``factory(model_name, **kwargs)`` -> a LangChain chat model; ``kwargs`` are the node's
``model_options``, plus ``api_key`` when the node names a secret."""

_providers: dict[str, ProviderFactory] = {}
_lock = threading.Lock()


def register_provider(name: str, factory: ProviderFactory) -> None:
    """Resolve ``"name:model"`` with ``factory`` in this process (before ``init_chat_model``:
    a registered name shadows LangChain's provider of the same name). Another factory under
    a taken name is refused; the same one again is a no-op."""
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise GraphError(f"rt.nodes.register_provider: name must be a word, got {name!r}")
    if not callable(factory):
        raise GraphError(f"rt.nodes.register_provider({name!r}): the factory is not callable")
    with _lock:
        known = _providers.get(name)
        if known is not None and known is not factory:
            raise GraphError(f"rt.nodes.register_provider: {name!r} is registered already")
        _providers[name] = factory


def check_model_string(where: str, model: str) -> None:
    """``GraphError`` for a string no provider could be read from (build time)."""
    provider, sep, name = model.partition(":")
    if not model.strip() or (sep and (not provider.strip() or not name.strip())):
        raise GraphError(
            f'{where}: model {model!r} is no "provider:model" string (e.g. "openai:gpt-4o-mini")'
        )


def resolve(node: str, model: str, options: Mapping[str, Any], api_key: str | None) -> Any:
    """The chat model ``model`` names, built with ``options`` (and ``api_key``)."""
    kwargs = dict(options)
    if api_key is not None:
        kwargs["api_key"] = api_key
    provider, sep, name = model.partition(":")
    with _lock:
        factory = _providers.get(provider) if sep else None
    where = f"llm node {node!r}: model {model!r}"
    if factory is not None:
        return factory(name, **kwargs)
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise GraphError(
            f"{where} is resolved with LangChain's init_chat_model: install the langchain "
            "package (pip install 'plait[llm]') and the provider's (e.g. langchain-openai), "
            "or give a chat model object"
        ) from None
    try:
        return init_chat_model(model, **kwargs)
    except ImportError as exc:
        # init_chat_model names the provider package to install
        raise GraphError(f"{where} needs the provider's package: {exc}") from None
    except ValueError as exc:
        known = ", ".join(sorted(_providers))
        also = f" (registered here: {known})" if known else ""
        raise GraphError(f"{where}: {exc}{also}") from None
