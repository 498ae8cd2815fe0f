"""Two values side by side, as a person reads the difference: text and JSON as a diff,
numbers with their delta, DataFrames and numpy arrays by shape, columns and changed cells,
pictures next to each other. Large values are summarised: every list below is capped."""

from __future__ import annotations

import base64
import contextlib
import difflib
import hashlib
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from runtime import codecs

ValueKind = Literal[
    "same", "number", "text", "json", "frame", "array", "picture", "bytes", "type", "other"
]
"""What a ``ValueDiff`` compared: ``same`` when the two stored values are one (nothing was
loaded), ``type`` when they are of different types."""

MAX_LINES = 200
"""Lines of a text or JSON diff kept (the rest is counted)."""
MAX_CHANGES = 50
"""Paths of a JSON diff, or differing rows of a frame or an array, kept."""
MAX_SHOWN = 200
"""Characters of one value shown inline."""
MAX_DIFFED = 2_000_000
"""Characters of two texts past which they are compared as one hunk, without difflib."""


@dataclass
class ValueDiff:
    """The difference between a value of run A and the same value of run B."""

    kind: ValueKind
    equal: bool
    summary: str
    """One line: ``1.5 → 2.0 (+0.5, +33.3%)``, ``3 of 2,000,000 cells changed``."""
    lines: list[str] = field(default_factory=list)
    """A unified diff (text, JSON) or one line per changed path, cell or element."""
    detail: dict[str, Any] = field(default_factory=dict)
    """JSON-ready facts of the kind: a frame's shapes, columns added and removed, dtype
    changes, changed cell count, first differing rows, per-column max abs delta; a picture's
    two ``data:`` URIs (``a``, ``b``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValueDiff:
        return cls(**data)


SAME = ValueDiff("same", True, "same stored value")


def diff_values(a: Any, b: Any) -> ValueDiff:
    """How ``b`` differs from ``a``."""
    pd = _module("pandas")
    np = _module("numpy")
    frames = pd is not None and isinstance(a, pd.Series | pd.DataFrame)
    if frames and isinstance(b, pd.Series | pd.DataFrame):
        return diff_frames(_as_frame(pd, a), _as_frame(pd, b))
    if np is not None and isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return diff_arrays(a, b)
    if isinstance(a, codecs.Picture) and isinstance(b, codecs.Picture):
        return _pictures(a, b)
    if _number(a) and _number(b):
        return _numbers(a, b)
    if isinstance(a, str) and isinstance(b, str):
        return diff_text(a, b)
    if isinstance(a, bytes | bytearray) and isinstance(b, bytes | bytearray):
        return _bytes(bytes(a), bytes(b))
    ja, jb = _json_form(a), _json_form(b)
    if ja is not None and jb is not None and type(a) is type(b):
        return diff_json(ja, jb)
    if type(a) is not type(b):
        return ValueDiff(
            "type",
            False,
            f"{codecs.type_name(a)} → {codecs.type_name(b)}",
            [f"- {_short(a)}", f"+ {_short(b)}"],
        )
    if _equal(a, b):
        return ValueDiff("other", True, f"equal {codecs.type_name(a)}")
    return ValueDiff(
        "other", False, f"{codecs.type_name(a)} differs", _unified(repr(a), repr(b))[0]
    )


# -- plain values ----------------------------------------------------------------------------


def _number(value: Any) -> bool:
    np = _module("numpy")
    if isinstance(value, bool) or (np is not None and isinstance(value, np.bool_)):
        return False
    if isinstance(value, int | float):
        return True
    return np is not None and isinstance(value, np.integer | np.floating)


def _numbers(a: Any, b: Any) -> ValueDiff:
    fa, fb = float(a), float(b)
    if a == b or (math.isnan(fa) and math.isnan(fb)):
        return ValueDiff("number", True, f"{a!r}")
    delta = fb - fa
    detail: dict[str, Any] = {"a": _finite(fa), "b": _finite(fb), "delta": _finite(delta)}
    text = f"{a!r} → {b!r} ({delta:+.6g}"
    if fa != 0 and math.isfinite(delta):
        detail["relative"] = delta / abs(fa)
        text += f", {delta / abs(fa):+.1%}"
    return ValueDiff("number", False, text + ")", detail=detail)


def _finite(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def diff_text(a: str, b: str) -> ValueDiff:
    if a == b:
        return ValueDiff("text", True, f"same text ({len(a):,} characters)")
    if "\n" not in a and "\n" not in b and max(len(a), len(b)) <= 80:
        return ValueDiff("text", False, f"{a!r} → {b!r}", [f"- {a}", f"+ {b}"])
    lines, added, removed = _unified(a, b)
    return ValueDiff("text", False, f"text: +{added} -{removed} lines", lines)


def _unified(a: str, b: str) -> tuple[list[str], int, int]:
    la, lb = a.splitlines(), b.splitlines()
    if len(a) + len(b) > MAX_DIFFED:
        return _one_hunk(la, lb)
    diff = list(difflib.unified_diff(la, lb, "a", "b", n=2, lineterm=""))
    added = sum(1 for x in diff if x.startswith("+") and not x.startswith("+++"))
    removed = sum(1 for x in diff if x.startswith("-") and not x.startswith("---"))
    return _capped(diff, MAX_LINES, "lines"), added, removed


def _one_hunk(la: list[str], lb: list[str]) -> tuple[list[str], int, int]:
    """Texts too large for difflib (quadratic at worst): the lines between their common
    start and end, as one hunk."""
    start = 0
    while start < min(len(la), len(lb)) and la[start] == lb[start]:
        start += 1
    end = 0
    while end < min(len(la), len(lb)) - start and la[-1 - end] == lb[-1 - end]:
        end += 1
    ma, mb = la[start : len(la) - end], lb[start : len(lb) - end]
    hunk = [f"@@ -{start + 1},{len(ma)} +{start + 1},{len(mb)} @@"]
    hunk += [f"-{x}" for x in ma[:MAX_LINES]] + [f"+{x}" for x in mb[:MAX_LINES]]
    return _capped(["--- a", "+++ b", *hunk], MAX_LINES, "lines"), len(mb), len(ma)


def _capped(lines: list[str], limit: int, what: str) -> list[str]:
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"… {len(lines) - limit:,} more {what}"]


def _json_form(value: Any) -> Any:
    """The plain JSON data a value is (models dumped), or ``None``."""
    if hasattr(value, "model_dump") and not isinstance(value, type):
        try:
            return value.model_dump(mode="json")
        except Exception:
            return None
    if isinstance(value, dict | list | tuple):
        try:
            return json.loads(json.dumps(value, allow_nan=False, default=_refuse))
        except (TypeError, ValueError):
            return None
    return None


def _refuse(value: Any) -> Any:
    raise TypeError


def diff_json(a: Any, b: Any) -> ValueDiff:
    """A structural diff (one line per changed path) of two JSON values."""
    if a == b:
        return ValueDiff("json", True, "same data")
    changes: list[str] = []
    _walk(a, b, "$", changes)
    count = len(changes)
    added = sum(c.startswith("+") for c in changes)
    removed = sum(c.startswith("-") for c in changes)
    parts = [f"{count - added - removed} changed"] if count - added - removed else []
    parts += [f"{added} added"] if added else []
    parts += [f"{removed} removed"] if removed else []
    unified = _unified(_pretty(a), _pretty(b))[0]
    return ValueDiff(
        "json",
        False,
        "data: " + ", ".join(parts),
        _capped(changes, MAX_CHANGES, "changes"),
        {"unified": unified},
    )


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _walk(a: Any, b: Any, path: str, out: list[str]) -> None:
    if len(out) > MAX_CHANGES * 4:  # enough to summarise; a huge diff stops here
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key not in b:
                out.append(f"- {path}.{key}: {_short(a[key])}")
            elif a[key] != b[key]:
                _walk(a[key], b[key], f"{path}.{key}", out)
        out.extend(f"+ {path}.{k}: {_short(b[k])}" for k in b if k not in a)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(min(len(a), len(b))):
            if a[i] != b[i]:
                _walk(a[i], b[i], f"{path}[{i}]", out)
        out.extend(f"- {path}[{i}]: {_short(a[i])}" for i in range(len(b), len(a)))
        out.extend(f"+ {path}[{i}]: {_short(b[i])}" for i in range(len(a), len(b)))
        return
    out.append(f"~ {path}: {_short(a)} → {_short(b)}")


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _bytes(a: bytes, b: bytes) -> ValueDiff:
    if a == b:
        return ValueDiff("bytes", True, f"same {len(a):,} bytes")
    return ValueDiff(
        "bytes",
        False,
        f"{len(a):,} → {len(b):,} bytes",
        detail={
            "size": [len(a), len(b)],
            "sha256": [hashlib.sha256(a).hexdigest(), hashlib.sha256(b).hexdigest()],
        },
    )


def _pictures(a: codecs.Picture, b: codecs.Picture) -> ValueDiff:
    equal = a == b
    detail = {
        "a": a.data_uri(),
        "b": b.data_uri(),
        "mime": [a.mime, b.mime],
        "size": [len(a.data), len(b.data)],
    }
    summary = "same picture" if equal else f"picture: {len(a.data):,} → {len(b.data):,} bytes"
    return ValueDiff("picture", equal, summary, detail=detail)


def picture_of(uri: str) -> codecs.Picture:
    """The picture a ``data:`` URI of ``ValueDiff.detail`` holds."""
    head, _, body = uri.partition(",")
    return codecs.Picture(head[len("data:") : -len(";base64")], base64.b64decode(body))


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # an == that returns an array or raises: they are not known equal
        return False


def _module(name: str) -> Any:
    """The module if something imported it (a value of its types cannot exist otherwise)."""
    module = sys.modules.get(name)
    return module if module is not None and hasattr(module, "__version__") else None


# -- frames and arrays -----------------------------------------------------------------------


def _as_frame(pd: Any, value: Any) -> Any:
    return value.to_frame() if isinstance(value, pd.Series) else value


def diff_frames(a: Any, b: Any) -> ValueDiff:
    """Shape, columns added and removed, dtype changes, and the changed cells of the common
    columns (rows matched by index label when the indexes differ, else by position):
    their count, the first differing rows, and each numeric column's max abs delta."""
    import numpy as np

    cols_a, cols_b = [str(c) for c in a.columns], [str(c) for c in b.columns]
    added = [c for c in cols_b if c not in cols_a]
    removed = [c for c in cols_a if c not in cols_b]
    common = [c for c in a.columns if str(c) in cols_b]
    by_name_b = {str(c): c for c in b.columns}
    dtypes = {
        str(c): [str(a[c].dtype), str(b[by_name_b[str(c)]].dtype)]
        for c in common
        if a[c].dtype != b[by_name_b[str(c)]].dtype
    }
    rows_added = rows_removed = 0
    if a.index.equals(b.index):
        left, right = a, b
    else:
        shared = a.index.intersection(b.index)
        if a.index.is_unique and b.index.is_unique and len(shared):
            rows_added, rows_removed = len(b.index) - len(shared), len(a.index) - len(shared)
            left, right = a.loc[shared], b.loc[shared]
        else:  # nothing to match rows by: compare the rows both have, by position
            n = min(len(a), len(b))
            rows_added, rows_removed = max(0, len(b) - n), max(0, len(a) - n)
            left, right = a.iloc[:n], b.iloc[:n]
    changed_mask = np.zeros(len(left), dtype=bool)
    cells = 0
    per_column: dict[str, int] = {}
    max_delta: dict[str, float] = {}
    masks: dict[str, Any] = {}
    for col in common:
        x, y = left[col].to_numpy(), right[by_name_b[str(col)]].to_numpy()
        mask = _changed(x, y)
        count = int(mask.sum())
        if not count:
            continue
        masks[str(col)] = mask
        per_column[str(col)] = count
        cells += count
        changed_mask |= mask
        if x.dtype.kind in "iuf" and y.dtype.kind in "iuf":
            delta = np.abs(x[mask].astype("float64") - y[mask].astype("float64"))
            finite = delta[np.isfinite(delta)]
            if finite.size:
                max_delta[str(col)] = float(finite.max())
    rows = []
    for pos in np.flatnonzero(changed_mask)[:MAX_CHANGES]:
        label = left.index[pos]
        changes = {
            col: [_cell(left[c].iat[pos]), _cell(right[by_name_b[col]].iat[pos])]
            for c in common
            if (col := str(c)) in masks and masks[col][pos]
        }
        rows.append({"index": _cell(label), "changes": changes})
    equal = not (added or removed or dtypes or cells or rows_added or rows_removed)
    detail = {
        "shape": [list(a.shape), list(b.shape)],
        "columns_added": added,
        "columns_removed": removed,
        "dtypes": dtypes,
        "rows_added": rows_added,
        "rows_removed": rows_removed,
        "changed_cells": cells,
        "changed_rows": int(changed_mask.sum()),
        "changed_by_column": per_column,
        "max_abs_delta": max_delta,
        "rows": rows,
    }
    return ValueDiff("frame", equal, _frame_summary(detail, equal), _frame_lines(detail), detail)


def _changed(x: Any, y: Any) -> Any:
    """Where two columns differ, NaN (and None, NaT) equal to themselves."""
    import numpy as np
    import pandas as pd

    try:
        different = np.asarray(x != y, dtype=bool)
    except Exception:  # values that refuse elementwise ==: compare one by one
        different = np.fromiter((not _equal(p, q) for p, q in zip(x, y, strict=True)), bool)
    if different.any():
        both_missing = np.asarray(pd.isna(x) & pd.isna(y), dtype=bool)
        different &= ~both_missing
    return different


def _cell(value: Any) -> Any:
    """A cell as JSON shows it."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        with contextlib.suppress(Exception):  # a numpy scalar as the Python value
            value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value if not isinstance(value, str) or len(value) <= MAX_SHOWN else _short(value)
    return _short(str(value))


def _frame_summary(d: dict[str, Any], equal: bool) -> str:
    (ra, ca), (rb, cb) = d["shape"]
    if equal:
        return f"same DataFrame ({ra:,} x {ca})"
    parts = [f"{ra:,}x{ca} → {rb:,}x{cb}" if d["shape"][0] != d["shape"][1] else f"{ra:,}x{ca}"]
    if d["columns_added"]:
        parts.append(f"+{len(d['columns_added'])} columns")
    if d["columns_removed"]:
        parts.append(f"-{len(d['columns_removed'])} columns")
    if d["dtypes"]:
        parts.append(f"{len(d['dtypes'])} dtype changes")
    if d["rows_added"] or d["rows_removed"]:
        parts.append(f"+{d['rows_added']:,} -{d['rows_removed']:,} rows")
    if d["changed_cells"]:
        cells, rows = _count(d["changed_cells"], "cell"), _count(d["changed_rows"], "row")
        parts.append(f"{cells} changed in {rows}")
    return "DataFrame: " + ", ".join(parts)


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")


def _frame_lines(d: dict[str, Any]) -> list[str]:
    lines = [f"+ column {c}" for c in d["columns_added"]]
    lines += [f"- column {c}" for c in d["columns_removed"]]
    lines += [f"~ dtype {c}: {x} → {y}" for c, (x, y) in d["dtypes"].items()]
    for col, count in d["changed_by_column"].items():
        delta = d["max_abs_delta"].get(col)
        lines.append(
            f"~ {col}: {count:,} cells" + (f", max abs delta {delta:.6g}" if delta else "")
        )
    for row in d["rows"][:10]:
        cells = ", ".join(f"{c}: {_short(x)} → {_short(y)}" for c, (x, y) in row["changes"].items())
        lines.append(f"  row {_short(row['index'])}: {cells}")
    return lines


def diff_arrays(a: Any, b: Any) -> ValueDiff:
    """Shape and dtype; for equal shapes the changed elements, the first of them and the
    max abs delta."""
    import numpy as np

    detail: dict[str, Any] = {
        "shape": [list(a.shape), list(b.shape)],
        "dtype": [str(a.dtype), str(b.dtype)],
    }
    if a.shape != b.shape:
        return ValueDiff("array", False, f"array shape {a.shape} → {b.shape}", detail=detail)
    mask = _changed(a.ravel(), b.ravel())
    count = int(mask.sum())
    detail["changed"] = count
    first = np.flatnonzero(mask)[:MAX_CHANGES]
    detail["elements"] = [
        {
            "index": list(np.unravel_index(int(i), a.shape)) if a.ndim else [],
            "a": _cell(a.ravel()[i]),
            "b": _cell(b.ravel()[i]),
        }
        for i in first
    ]
    if count and a.dtype.kind in "iuf" and b.dtype.kind in "iuf":
        delta = np.abs(a.ravel()[mask].astype("float64") - b.ravel()[mask].astype("float64"))
        finite = delta[np.isfinite(delta)]
        if finite.size:
            detail["max_abs_delta"] = float(finite.max())
    dtype_changed = a.dtype != b.dtype
    equal = not count and not dtype_changed
    if equal:
        return ValueDiff("array", True, f"same array {a.shape}", detail=detail)
    parts = [f"{count:,} of {a.size:,} elements changed"] if count else []
    if dtype_changed:
        parts.append(f"dtype {a.dtype} → {b.dtype}")
    if "max_abs_delta" in detail:
        parts.append(f"max abs delta {detail['max_abs_delta']:.6g}")
    lines = [f"  {tuple(e['index'])}: {e['a']} → {e['b']}" for e in detail["elements"][:10]]
    return ValueDiff("array", False, "array: " + ", ".join(parts), lines, detail)
