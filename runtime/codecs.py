"""How values are stored: a registry of codecs, tried in order, each owning one kind of value.

JSON for plain data, ``.npy`` for numpy arrays and scalars, Parquet for pandas objects, raw
bytes, LangChain's own serialization for its messages, pydantic models as JSON, charts
(matplotlib as a picture, plotly as its JSON figure), and a tree for lists, tuples and dicts
holding any of those (each member through the same codecs); pickle only when the graph or node
opts in. A value comes back as it went in: same types, dtypes, index frequency and attrs.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Protocol

import pydantic

from runtime.errors import CodecError


class Codec(Protocol):
    name: str

    def accepts(self, value: Any) -> bool: ...

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


@dataclass(frozen=True)
class Encoded:
    codec: str
    data: bytes


class JsonCodec:
    """Plain data only: what JSON gives back as it was (a tuple would come back a list, a
    numpy float a float, so those go to the tree and numpy codecs)."""

    name = "json"

    def accepts(self, value: Any) -> bool:
        return _plain(value)

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()

    def decode(self, data: bytes) -> Any:
        return json.loads(data)


_SCALARS = (str, int, bool, type(None))


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is float:
        return value == value and value not in (float("inf"), float("-inf"))
    if kind is list:
        return all(_plain(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    # str and int enums and the like were always stored by their value
    numpy = _loaded("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return False
    return isinstance(value, str | int) and not isinstance(value, bool)


class BytesCodec:
    name = "bytes"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bytes | bytearray | memoryview)

    def encode(self, value: Any) -> bytes:
        return bytes(value)

    def decode(self, data: bytes) -> Any:
        return data


def _loaded(module: str) -> Any:
    """The module if something already imported it: values of its types cannot exist
    otherwise, so heavy libraries are imported only when a value needs them."""
    return sys.modules.get(module)


class NumpyCodec:
    """numpy arrays and scalars in numpy's own ``.npy`` format (never pickled): dtype, shape
    and byte order round-trip, and a scalar comes back the numpy scalar it was."""

    name = "numpy"

    def accepts(self, value: Any) -> bool:
        np = _loaded("numpy")
        if np is None or not (type(value) is np.ndarray or isinstance(value, np.generic)):
            return False
        return not value.dtype.hasobject

    def encode(self, value: Any) -> bytes:
        import numpy as np

        buffer = io.BytesIO()
        buffer.write(b"s" if isinstance(value, np.generic) else b"a")
        np.save(buffer, np.asarray(value), allow_pickle=False)
        return buffer.getvalue()

    def decode(self, data: bytes) -> Any:
        import numpy as np

        array = np.load(io.BytesIO(data[1:]), allow_pickle=False)
        return array[()] if data[:1] == b"s" else array


_PLAIT_META = b"plait"
"""Parquet schema metadata Plait adds: what pandas' own metadata leaves out (index freq,
attrs, a Series' name)."""


def _frame_to_parquet(frame: Any, extra: dict[str, Any]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = frame.index
    meta = dict(extra)
    attrs = meta.pop("attrs", frame.attrs)
    # each entry JSON can hold is kept (pandas' own drop all of them for one that is not)
    kept = {k: v for k, v in attrs.items() if type(k) is str and _plain(v)}
    if kept:
        meta["attrs"] = kept
    if type(index).__name__ in ("DatetimeIndex", "TimedeltaIndex") and index.freq is not None:
        meta["freq"] = index.freqstr
    if frame.attrs:  # pyarrow would try them too, and warn users about what it cannot hold
        frame = frame.copy(deep=False)
        frame.attrs = {}
    try:
        # None: a RangeIndex is kept as one (start, stop, step in pandas' metadata); any
        # other index is stored as columns
        table = pa.Table.from_pandas(frame, preserve_index=None)
    except Exception as exc:
        raise CodecError(f"DataFrame cannot be written as Parquet: {exc}") from exc
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), _PLAIT_META: json.dumps(meta).encode()}
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _frame_from_parquet(data: bytes) -> tuple[Any, dict[str, Any]]:
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    meta = json.loads((table.schema.metadata or {}).get(_PLAIT_META, b"{}"))
    frame = table.to_pandas()
    if meta.get("freq"):
        frame.index = type(frame.index)(frame.index, freq=meta["freq"])
    if "attrs" in meta:
        frame.attrs = meta["attrs"]
    if not isinstance(frame, pd.DataFrame):  # pragma: no cover - pyarrow always gives one
        raise CodecError("stored Parquet did not decode to a DataFrame")
    return frame, meta


class DataFrameCodec:
    """Parquet through pyarrow: dtypes (categorical, tz-aware), index and column names,
    index ``freq`` and ``attrs`` round-trip."""

    name = "parquet.frame"

    def accepts(self, value: Any) -> bool:
        pd = _loaded("pandas")
        return pd is not None and isinstance(value, pd.DataFrame)

    def encode(self, value: Any) -> bytes:
        return _frame_to_parquet(value, {})

    def decode(self, data: bytes) -> Any:
        return _frame_from_parquet(data)[0]


class SeriesCodec:
    name = "parquet.series"
    _unnamed = "__plait_unnamed_series__"

    def accepts(self, value: Any) -> bool:
        pd = _loaded("pandas")
        return pd is not None and isinstance(value, pd.Series)

    def encode(self, value: Any) -> bytes:
        # the column gets a fixed name (Parquet wants a string); the name itself is metadata
        extra: dict[str, Any] = {"attrs": value.attrs}
        if _plain(value.name):
            extra["series_name"] = [value.name]
        column = self._unnamed if value.name is None or "series_name" in extra else value.name
        return _frame_to_parquet(value.to_frame(name=column), extra)

    def decode(self, data: bytes) -> Any:
        frame, meta = _frame_from_parquet(data)
        series = frame.iloc[:, 0]
        series.attrs = frame.attrs
        if "series_name" in meta:
            return series.rename(meta["series_name"][0])
        return series.rename(None) if series.name == self._unnamed else series


class LangChainCodec:
    """Chat messages as LangChain's ``message_to_dict``, rebuilt by ``messages_from_dict``,
    which makes only message classes from stored data (other LangChain objects are pydantic
    models: see below). Values stored by older versions in ``dumpd`` form still load."""

    name = "langchain"

    def accepts(self, value: Any) -> bool:
        if _loaded("langchain_core.messages") is None:
            return False
        from langchain_core.messages import BaseMessage

        return isinstance(value, BaseMessage)

    def encode(self, value: Any) -> bytes:
        from langchain_core.messages import message_to_dict

        return json.dumps(message_to_dict(value)).encode()

    def decode(self, data: bytes) -> Any:
        doc = json.loads(data)
        if "lc" not in doc:
            from langchain_core.messages import messages_from_dict

            return messages_from_dict([doc])[0]
        from langchain_core._api import LangChainBetaWarning
        from langchain_core.load import load

        # ``load`` is marked beta; the warning would reach the users reading their values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LangChainBetaWarning)
            return load(doc, allowed_objects="messages")


MAX_SVG = 1_000_000
"""A matplotlib figure whose SVG is larger (say, a scatter of many points) is stored as PNG."""
PICTURE_TYPES = ("image/svg+xml", "image/png")


@dataclass(frozen=True)
class Picture:
    """A chart as Plait stores it: what a node's matplotlib figure becomes. It displays in a
    notebook and in reports; ``data`` is the SVG or PNG file."""

    mime: str
    """``image/svg+xml`` or ``image/png``."""
    data: bytes

    def __post_init__(self) -> None:
        # the mime type ends up in pages' data: URIs; nothing else may get there
        if self.mime not in PICTURE_TYPES:
            raise CodecError(f"a Picture is {' or '.join(PICTURE_TYPES)}, not {self.mime!r}")

    @classmethod
    def of(cls, figure: Any) -> Picture:
        """Draw a matplotlib figure: SVG (sharp when printed), PNG when the SVG is large. A
        picture is already drawn."""
        if isinstance(figure, Picture):
            return figure
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight")
        if buffer.tell() <= MAX_SVG:
            return cls("image/svg+xml", buffer.getvalue())
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return cls("image/png", buffer.getvalue())

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        if self.mime == "image/svg+xml":
            return {self.mime: self.data.decode()}
        return {self.mime: base64.b64encode(self.data).decode()}


class PictureCodec:
    """matplotlib figures (drawn once, when stored) and the pictures they become."""

    name = "picture"

    def accepts(self, value: Any) -> bool:
        figure = _loaded("matplotlib.figure")
        return isinstance(value, Picture) or (
            figure is not None and isinstance(value, figure.Figure)
        )

    def encode(self, value: Any) -> bytes:
        picture = Picture.of(value)
        # readers get the picture; pyplot would otherwise keep every figure a worker draws
        if picture is not value and (pyplot := _loaded("matplotlib.pyplot")) is not None:
            pyplot.close(value)
        return picture.mime.encode() + b"\n" + picture.data

    def decode(self, data: bytes) -> Any:
        mime, _, body = data.partition(b"\n")
        return Picture(mime.decode(), body)


class PlotlyCodec:
    """plotly figures as plotly's own JSON; decoded to a figure again where plotly imports."""

    name = "plotly"

    def accepts(self, value: Any) -> bool:
        base = _loaded("plotly.basedatatypes")
        return base is not None and isinstance(value, base.BaseFigure)

    def encode(self, value: Any) -> bytes:
        return value.to_json().encode()

    @staticmethod
    def outline(figure: Any) -> dict[str, Any]:
        """The figure's traces and layout as plain JSON, without plotly's styling template
        (hundreds of default settings nobody reads)."""
        spec = json.loads(figure.to_json())
        spec.get("layout", {}).pop("template", None)
        return spec

    def decode(self, data: bytes) -> Any:
        try:
            plotly_io = importlib.import_module("plotly.io")
        except ImportError:
            return json.loads(data)
        return plotly_io.from_json(data.decode())


class PydanticCodec:
    """A model as JSON plus its class path; decoded to the model when the class imports."""

    name = "pydantic"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, pydantic.BaseModel)

    def encode(self, value: Any) -> bytes:
        cls = type(value)
        doc = {
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "data": value.model_dump(mode="json"),
        }
        return json.dumps(doc).encode()

    def decode(self, data: bytes) -> Any:
        doc = json.loads(data)
        cls = _import_model(doc["class"])
        return cls.model_validate(doc["data"]) if cls else doc["data"]


class TreeCodec:
    """Lists, tuples and dicts holding storable values that are not all plain JSON (a list of
    messages, a dict of DataFrames or arrays): each member through the same codecs as a
    top-level value. Stored as a 4-byte header length, a JSON header (kind, dict keys, each
    member's codec and length) and the members' bytes."""

    name = "tree"

    def accepts(self, value: Any) -> bool:
        return type(value) in (list, tuple, dict)

    def encode(self, value: Any) -> bytes:
        return _tree_encode(value, "")

    def decode(self, data: bytes) -> Any:
        header, parts = tree_parts(data)
        members = [decode(part.codec, part.data) for part in parts]
        if header["kind"] == "dict":
            return dict(zip(header["keys"], members, strict=True))
        return tuple(members) if header["kind"] == "tuple" else members


def tree_parts(data: bytes) -> tuple[dict[str, Any], list[Encoded]]:
    """A tree's header and its members, still encoded (to rewrite one without decoding)."""
    size = int.from_bytes(data[:4], "big")
    header = json.loads(data[4 : 4 + size])
    offset = 4 + size
    parts = []
    for codec, length in header["members"]:
        parts.append(Encoded(codec, data[offset : offset + length]))
        offset += length
    return header, parts


def tree_join(header: dict[str, Any], parts: list[Encoded]) -> bytes:
    """The tree of these members under ``header`` (its kind and dict keys)."""
    header = {**header, "members": [[m.codec, len(m.data)] for m in parts]}
    head = json.dumps(header, separators=(",", ":")).encode()
    return len(head).to_bytes(4, "big") + head + b"".join(m.data for m in parts)


_KEY_TYPES = (str, int, float, bool, type(None))


def _tree_encode(value: Any, path: str) -> bytes:
    keys: list[Any] = []
    if type(value) is dict:
        for key in value:
            if type(key) not in _KEY_TYPES:
                raise _Unstorable(f"{path}[{key!r}]", key, "a dict key of type")
            keys.append(key)
        items = [(f"{path}[{k!r}]", v) for k, v in value.items()]
    else:
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    members = [_encode_safe(member, at) for at, member in items]
    header: dict[str, Any] = {"kind": type(value).__name__}
    if keys:
        header["keys"] = keys
    return tree_join(header, members)


class _Unstorable(Exception):
    """No safe codec takes the value at ``path`` (``""``: the value itself)."""

    def __init__(self, path: str, value: Any, what: str = "a") -> None:
        super().__init__(path)
        self.path, self.value, self.what = path, value, what


def _encode_safe(value: Any, path: str) -> Encoded:
    for codec in SAFE_CODECS:
        if codec.accepts(value):
            if isinstance(codec, TreeCodec):
                return Encoded(codec.name, _tree_encode(value, path))
            return Encoded(codec.name, codec.encode(value))
    raise _Unstorable(path, value)


def type_name(value: Any) -> str:
    """``numpy.datetime64``, ``pandas.Timestamp``, ``set``, ``mymodule.Thing``: the type as a
    user would write it (numpy arrays with their dtype)."""
    kind = type(value)
    module = kind.__module__
    if module == "builtins":
        return kind.__qualname__
    top = module.split(".")[0]
    name = f"{top if top in ('numpy', 'pandas') else module}.{kind.__qualname__}"
    numpy = _loaded("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray):
        return f"{name} of dtype {value.dtype}"
    return name


PICKLE = "pickle"
"""Opt-in codec: signed with the store's key, so a pickle written by someone without the key
never loads."""

STORABLE = (
    "JSON data, numpy arrays and scalars, pandas DataFrame/Series, bytes, matplotlib and plotly "
    "figures, LangChain messages, pydantic models, and lists, tuples and dicts of those"
)

SAFE_CODECS: tuple[Codec, ...] = (
    JsonCodec(),
    NumpyCodec(),
    DataFrameCodec(),
    SeriesCodec(),
    BytesCodec(),
    PictureCodec(),
    PlotlyCodec(),
    LangChainCodec(),
    PydanticCodec(),
    TreeCodec(),
)
_BY_NAME: dict[str, Codec] = {c.name: c for c in SAFE_CODECS}
SAFE_CODEC_NAMES = frozenset(_BY_NAME)


def encode(
    value: Any, *, allow_pickle: bool = False, what: str = "value", key: bytes | None = None
) -> Encoded:
    """Encode with the first codec that accepts the value (members of lists, tuples and dicts
    likewise); pickle the whole value only when allowed and no safe codec can."""
    try:
        return _encode_safe(value, "")
    except (CodecError, _Unstorable) as exc:
        if allow_pickle:
            from runtime import signing  # the configuration (keys): only where pickles are made

            return Encoded(PICKLE, signing.dumps_signed(value, key))
        if isinstance(exc, CodecError):
            raise CodecError(f"{what}: {exc}") from None
        hint = (
            f"(storable: {STORABLE}); use one of those, or opt in to pickle with "
            "pickle=True on the node or graph"
        )
        if not exc.path:
            raise CodecError(
                f"{what}: cannot store a value of type {type_name(value)} {hint}"
            ) from None
        raise CodecError(
            f"{what}: {exc.path} is {exc.what} {type_name(exc.value)}, which cannot be "
            f"stored {hint}"
        ) from None


def as_stored(value: Any, encoded: Encoded) -> Any:
    """The value as any reader gets it back, which a downstream node in the same process must
    see too (what it would see after a resume or on another worker): decoded again, except a
    pickle (signed with a key the caller holds; it unpickles to what was pickled)."""
    return value if encoded.codec == PICKLE else decode(encoded.codec, encoded.data)


def decode(codec: str, data: bytes, key: bytes | None = None) -> Any:
    if codec == PICKLE:
        from runtime import signing

        return signing.loads_signed(data, key, what="pickled value")
    try:
        return _BY_NAME[codec].decode(data)
    except KeyError:
        raise CodecError(
            f"unknown codec {codec!r}; was this value written by a newer Plait?"
        ) from None


def _import_model(path: str) -> type[pydantic.BaseModel] | None:
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj if isinstance(obj, type) and issubclass(obj, pydantic.BaseModel) else None
