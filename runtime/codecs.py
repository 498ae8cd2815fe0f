"""How values are stored: a registry of codecs, tried in order, each owning one kind of value.

JSON for plain data, Parquet for pandas objects, raw bytes, LangChain's own serialization for
its messages and documents, pydantic models as JSON, charts (matplotlib as a picture, plotly as
its JSON figure); pickle only when the graph or node opts in.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import sys
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
    name = "json"

    def accepts(self, value: Any) -> bool:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            return False
        return True

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()

    def decode(self, data: bytes) -> Any:
        return json.loads(data)


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


class DataFrameCodec:
    """Parquet through pyarrow: dtypes, index and column names round-trip."""

    name = "parquet.frame"

    def accepts(self, value: Any) -> bool:
        pd = _loaded("pandas")
        return pd is not None and isinstance(value, pd.DataFrame)

    def encode(self, value: Any) -> bytes:
        buffer = io.BytesIO()
        try:
            value.to_parquet(buffer, engine="pyarrow", index=True)
        except Exception as exc:
            raise CodecError(f"DataFrame cannot be written as Parquet: {exc}") from exc
        return buffer.getvalue()

    def decode(self, data: bytes) -> Any:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


class SeriesCodec:
    name = "parquet.series"
    _unnamed = "__plait_unnamed_series__"

    def accepts(self, value: Any) -> bool:
        pd = _loaded("pandas")
        return pd is not None and isinstance(value, pd.Series)

    def encode(self, value: Any) -> bytes:
        column = self._unnamed if value.name is None else value.name
        return DataFrameCodec().encode(value.to_frame(name=column))

    def decode(self, data: bytes) -> Any:
        series = DataFrameCodec().decode(data).iloc[:, 0]
        return series.rename(None) if series.name == self._unnamed else series


class LangChainCodec:
    """Chat messages via LangChain's own ``dumpd``/``load``, which rebuilds only message
    classes from stored data (other LangChain objects are pydantic models: see below)."""

    name = "langchain"

    def accepts(self, value: Any) -> bool:
        if _loaded("langchain_core.messages") is None:
            return False
        from langchain_core.messages import BaseMessage

        return isinstance(value, BaseMessage)

    def encode(self, value: Any) -> bytes:
        from langchain_core.load import dumpd

        return json.dumps(dumpd(value)).encode()

    def decode(self, data: bytes) -> Any:
        from langchain_core.load import load

        return load(json.loads(data), allowed_objects="messages")


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


PICKLE = "pickle"
"""Opt-in codec: signed with the store's key, so a pickle written by someone without the key
never loads."""


SAFE_CODECS: tuple[Codec, ...] = (
    JsonCodec(),
    DataFrameCodec(),
    SeriesCodec(),
    BytesCodec(),
    PictureCodec(),
    PlotlyCodec(),
    LangChainCodec(),
    PydanticCodec(),
)
_BY_NAME: dict[str, Codec] = {c.name: c for c in SAFE_CODECS}
SAFE_CODEC_NAMES = frozenset(_BY_NAME)


def encode(
    value: Any, *, allow_pickle: bool = False, what: str = "value", key: bytes | None = None
) -> Encoded:
    """Encode with the first codec that accepts the value; pickle only when allowed."""
    for codec in SAFE_CODECS:
        if codec.accepts(value):
            try:
                return Encoded(codec.name, codec.encode(value))
            except CodecError:
                if not allow_pickle:
                    raise
                break
    if allow_pickle:
        from runtime import signing  # the configuration (keys): only where pickles are made

        return Encoded(PICKLE, signing.dumps_signed(value, key))
    raise CodecError(
        f"{what}: cannot store a value of type {type(value).__module__}.{type(value).__qualname__}"
        " (storable: JSON data, pandas DataFrame/Series, bytes, matplotlib and plotly figures, "
        "LangChain messages, pydantic models); return one of those, or opt in to pickle with "
        "pickle=True on the node or graph"
    )


def as_stored(value: Any, encoded: Encoded) -> Any:
    """The value as any reader gets it back. Only pictures differ from what the node returned
    (a matplotlib figure is drawn when stored), and a downstream node in the same process must
    see what it would see in another."""
    return decode(encoded.codec, encoded.data) if encoded.codec == PictureCodec.name else value


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
