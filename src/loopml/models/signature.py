"""Model signatures: what a model takes and returns, inferred from an example, enforced at
``predict``.

A signature is either **columns** (a table: name, type, nullability per column) or a
**tensor** (an array: dtype and shape, ``-1`` for the batch dimension)::

    sig = infer_signature(X.head(5), model.predict(X.head(5)))
    sig.to_dict()   # {"inputs": {"kind": "columns", "columns": [...]}, "outputs": {...}}
    enforce(sig.inputs, df)   # the frame cast and ordered as the model expects, or SignatureError

Casting rules (``enforce``): a value is only converted when nothing is lost — an integer
column into a float column, a narrower integer into a wider one (or a wider one whose values
fit), a float column whose values are all whole numbers into an integer column, 0/1 integers
into booleans. A string into a number, a fractional float into an integer, a number into a
string, or a null in a column the signature says is never null, is an error naming the
column.

Decoded JSON (a model server's requests) goes through the same rules without a DataFrame:
:func:`column_from_values` turns one column of JSON values into a typed NumPy array, and
additionally reads ISO-8601 text into a ``datetime`` column and UTF-8 text into ``bytes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from loopml.errors import InvalidInputError, SignatureError

__all__ = [
    "ColumnSpec",
    "ColumnsSpec",
    "ExtraColumns",
    "Signature",
    "TensorSpec",
    "as_frame",
    "column_from_values",
    "enforce",
    "infer_schema",
    "infer_signature",
]

ExtraColumns = Literal["error", "drop"]

_INT_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_FLOAT_TYPES = ("float16", "float32", "float64")
_TYPES = frozenset((*_INT_TYPES, *_FLOAT_TYPES, "bool", "string", "datetime", "bytes"))


@dataclass(frozen=True)
class ColumnSpec:
    """One input or output column: its name, loopml type and whether it may hold nulls.

    Types: ``bool``, ``int8``…``int64``, ``uint8``…``uint64``, ``float16``/``32``/``64``,
    ``string``, ``datetime``, ``bytes``.
    """

    name: str
    type: str
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise InvalidInputError(
                f"column {self.name!r}: unknown type {self.type!r}; use one of "
                f"{', '.join(sorted(_TYPES))}"
            )

    def to_dict(self) -> dict[str, Any]:
        """As JSON-able data."""
        return {"name": self.name, "type": self.type, "nullable": self.nullable}


@dataclass(frozen=True)
class ColumnsSpec:
    """A table: the columns in the order the model takes them."""

    columns: tuple[ColumnSpec, ...]

    @property
    def names(self) -> list[str]:
        """Column names, in order."""
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        """As JSON-able data."""
        return {"kind": "columns", "columns": [c.to_dict() for c in self.columns]}


@dataclass(frozen=True)
class TensorSpec:
    """An array: its NumPy dtype and shape (``-1`` marks a dimension of any size)."""

    dtype: str
    shape: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """As JSON-able data."""
        return {"kind": "tensor", "dtype": self.dtype, "shape": list(self.shape)}


Schema = ColumnsSpec | TensorSpec


@dataclass(frozen=True)
class Signature:
    """What a model takes (``inputs``) and returns (``outputs``; may be None)."""

    inputs: Schema
    outputs: Schema | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """As JSON-able data (the manifest stores this)."""
        return {
            "inputs": self.inputs.to_dict(),
            "outputs": None if self.outputs is None else self.outputs.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """The inverse of :meth:`to_dict`.

        Raises:
            InvalidInputError: the data is not a signature.
        """
        if not isinstance(data, Mapping) or "inputs" not in data:
            raise InvalidInputError(f"a signature is a mapping with 'inputs', got {data!r}")
        outputs = data.get("outputs")
        return cls(
            _schema_from_dict(data["inputs"]), _schema_from_dict(outputs) if outputs else None
        )


def _schema_from_dict(data: Any) -> Schema:
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"a signature schema is a mapping, got {data!r}")
    kind = data.get("kind")
    try:
        if kind == "columns":
            return ColumnsSpec(
                tuple(
                    ColumnSpec(str(c["name"]), str(c["type"]), bool(c.get("nullable", False)))
                    for c in data["columns"]
                )
            )
        if kind == "tensor":
            return TensorSpec(str(data["dtype"]), tuple(int(d) for d in data["shape"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"malformed signature schema {data!r}: {exc}") from exc
    raise InvalidInputError(f"signature schema kind must be 'columns' or 'tensor', got {kind!r}")


# -- inference ------------------------------------------------------------------------
def _loopml_type(dtype: Any, values: Any = None) -> str:
    import numpy as np
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return _loopml_type(dtype.categories.dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        name = np.dtype(getattr(dtype, "numpy_dtype", dtype)).name
        return name if name in _TYPES else "float64"
    if pd.api.types.is_string_dtype(dtype) or _is_object(dtype):
        if values is not None:
            present = [v for v in values if v is not None and v == v]
            if present and all(isinstance(v, bytes) for v in present):
                return "bytes"
            if present and all(isinstance(v, bool) for v in present):
                return "bool"
            if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
                return "int64"
            if present and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in present
            ):
                return "float64"
        return "string"
    raise InvalidInputError(f"loopml has no signature type for dtype {dtype}")


def _is_object(dtype: Any) -> bool:
    return getattr(dtype, "kind", None) == "O"


def as_frame(data: Any) -> Any:
    """A pandas DataFrame from a DataFrame, dict of columns, or list of dicts (else None)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame({k: list(v) if not _is_scalar(v) else [v] for k, v in data.items()})
        except ValueError as exc:
            raise SignatureError(f"the columns given have different lengths: {exc}") from exc
    if isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data):
        return pd.DataFrame.from_records(data)
    return None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, bytes, int, float, bool)) or value is None


def infer_schema(data: Any) -> Schema:
    """The schema of an example: columns for tables, a tensor spec for arrays."""
    import numpy as np

    frame = as_frame(data)
    if frame is not None:
        columns = []
        for name in frame.columns:
            col = frame[name]
            columns.append(
                ColumnSpec(
                    str(name), _loopml_type(col.dtype, col.to_numpy()), bool(col.isna().any())
                )
            )
        return ColumnsSpec(tuple(columns))
    if hasattr(data, "detach") and hasattr(data, "numpy"):  # a torch tensor
        data = data.detach().cpu().numpy()
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"cannot infer a signature from {type(data).__name__}; pass a DataFrame, a dict "
            "of columns, a list of dicts or an array"
        ) from exc
    if array.dtype == object and array.size and all(isinstance(v, str) for v in array.flat):
        array = array.astype(str)  # class labels and other text: a string tensor
    if array.dtype.kind == "U":
        shape = (-1, *array.shape[1:]) if array.ndim else ()
        return TensorSpec("str", tuple(int(d) for d in shape))
    if array.dtype == object:
        raise InvalidInputError(
            "cannot infer a signature from an array of Python objects; pass a DataFrame or a "
            "typed array"
        )
    shape = (-1, *array.shape[1:]) if array.ndim else ()
    return TensorSpec(array.dtype.name, tuple(int(d) for d in shape))


def infer_signature(input_example: Any, output: Any = None) -> Signature:
    """A signature from an input example and, optionally, the model's output on it."""
    return Signature(infer_schema(input_example), None if output is None else infer_schema(output))


# -- enforcement ----------------------------------------------------------------------
def enforce(schema: Schema, data: Any, extra_columns: ExtraColumns = "error") -> Any:
    """``data`` as the model expects it: columns cast and ordered, or an array checked.

    Raises:
        SignatureError: a missing or (with ``extra_columns="error"``) extra column, a type
            that cannot be cast without loss, a null in a non-nullable column, or an array
            of the wrong shape or dtype.
    """
    if extra_columns not in ("error", "drop"):
        raise InvalidInputError(f"extra_columns must be 'error' or 'drop', got {extra_columns!r}")
    if isinstance(schema, TensorSpec):
        return _enforce_tensor(schema, data)
    return _enforce_columns(schema, data, extra_columns)


def _enforce_columns(schema: ColumnsSpec, data: Any, extra_columns: ExtraColumns) -> Any:
    import numpy as np
    import pandas as pd

    frame = as_frame(data)
    if frame is None:
        array = np.asarray(data) if not isinstance(data, (str, bytes)) else None
        if array is not None and array.ndim == 2 and array.shape[1] == len(schema.columns):
            frame = pd.DataFrame(array, columns=schema.names)  # positional, as the signature
        else:
            raise SignatureError(
                f"the model takes a table with columns {schema.names}; got "
                f"{type(data).__name__}. Pass a DataFrame, a dict of columns or a list of records"
            )
    names = [str(c) for c in frame.columns]
    missing = [c for c in schema.names if c not in names]
    if missing:
        raise SignatureError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; "
            f"the model takes {schema.names}"
        )
    extra = [c for c in names if c not in schema.names]
    if extra and extra_columns == "error":
        raise SignatureError(
            f"unexpected column{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}; "
            f"the model takes {schema.names}. Drop them, or load with extra_columns='drop'"
        )
    frame = frame.rename(columns=str)
    out = {}
    for spec in schema.columns:
        out[spec.name] = _cast_column(spec, frame[spec.name])
    return pd.DataFrame(out, index=frame.index)


def _cast_column(spec: ColumnSpec, col: Any) -> Any:
    import numpy as np
    import pandas as pd

    nulls = col.isna()
    if bool(nulls.any()) and not spec.nullable:
        raise SignatureError(
            f"column {spec.name!r} has {int(nulls.sum())} null value(s), but the signature says "
            "it never holds nulls; fill them, or give a signature with nullable=True"
        )
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(col.dtype.categories.dtype)
    if _is_object(col.dtype):
        col = col.infer_objects()
    have = _loopml_type(col.dtype, col.to_numpy()) if len(col) else spec.type
    want = spec.type

    def refuse(why: str = "") -> SignatureError:
        return SignatureError(
            f"column {spec.name!r} is {have}, the model takes {want}"
            + (f": {why}" if why else "; convert it before predicting")
        )

    present = col[~nulls]
    if want == have:
        return col
    if want in _FLOAT_TYPES:
        if have in _INT_TYPES or have in _FLOAT_TYPES or have == "bool":
            return col.astype(want)
        raise refuse()
    if want in _INT_TYPES:
        info = np.iinfo(want)
        if have in _INT_TYPES or have == "bool" or have in _FLOAT_TYPES:
            values = present.to_numpy()
            if have in _FLOAT_TYPES and not np.all(np.isfinite(values) & (np.mod(values, 1) == 0)):
                raise refuse("it has values that are not whole numbers")
            if len(values) and (values.min() < info.min or values.max() > info.max):
                raise refuse(f"values outside {info.min}..{info.max}")
            if bool(nulls.any()):
                return col.astype("float64")  # a nullable integer column travels as float
            return col.astype(want)
        raise refuse()
    if want == "bool":
        if have in _INT_TYPES and set(np.unique(present.to_numpy())) <= {0, 1}:
            return col.astype(bool)
        raise refuse()
    if want == "datetime":
        raise refuse("parse it with pandas.to_datetime first")
    raise refuse()


def _enforce_tensor(schema: TensorSpec, data: Any) -> Any:
    import numpy as np

    frame = as_frame(data)
    if frame is not None:
        data = frame.to_numpy()
    if hasattr(data, "detach") and hasattr(data, "numpy"):
        data = data.detach().cpu().numpy()
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise SignatureError(
            f"the model takes a {schema.dtype} array; got {type(data).__name__}"
        ) from exc
    if array.ndim != len(schema.shape):
        raise SignatureError(
            f"the model takes an array of shape {list(schema.shape)} (-1: any size); got shape "
            f"{list(array.shape)}"
        )
    for axis, (want, have) in enumerate(zip(schema.shape, array.shape, strict=True)):
        if want != -1 and want != have:
            raise SignatureError(
                f"dimension {axis} should be {want}, got {have} (shape {list(array.shape)}, "
                f"expected {list(schema.shape)})"
            )
    target = np.dtype(schema.dtype)
    if target.kind == "U":  # text of any length
        if array.dtype.kind == "U":
            return array
        if array.dtype == object and all(isinstance(v, str) for v in array.flat):
            return array.astype(str)
    if array.dtype == target:
        return array
    if array.dtype.kind in "iub" and target.kind == "f":
        return array.astype(target)
    if array.dtype.kind in "iu" and target.kind in "iu":
        info = np.iinfo(target)
        if array.size == 0 or (array.min() >= info.min and array.max() <= info.max):
            return array.astype(target)
    if array.dtype.kind == "f" and target.kind == "f":
        return array.astype(target)
    raise SignatureError(
        f"the model takes a {schema.dtype} array; got {array.dtype.name}, which cannot be "
        "converted without loss"
    )


# -- decoded JSON -----------------------------------------------------------------------
_JSON_KIND = {
    bool: "bool",
    int: "int64",
    float: "float64",
    str: "string",
    type(None): "null",
    list: "a list",
    dict: "an object",
}


def _json_kind(kinds: set[type]) -> str:
    named = sorted({_JSON_KIND.get(k, k.__name__) for k in kinds} - {"null"})
    return " and ".join(named) or "null"


def column_from_values(spec: ColumnSpec, values: Any) -> Any:
    """One column of decoded JSON values (a list) as the NumPy array the model takes, by the
    casting rules of :func:`enforce`: ints into floats, whole floats into ints that hold them,
    0/1 into booleans; text into a number, a fraction into an integer or a number into text
    is refused. A ``datetime`` column reads ISO-8601 text; a ``bytes`` column UTF-8 text.

    Raises:
        SignatureError: a value the column cannot take, or a null where the signature says
            the column never holds one; the message names the column.
    """
    import numpy as np

    if isinstance(values, np.ndarray):
        values = values.tolist()
    kinds = set(map(type, values))
    nulls = type(None) in kinds
    if nulls:
        kinds.discard(type(None))
        if not spec.nullable:
            count = sum(v is None for v in values)
            raise SignatureError(
                f"column {spec.name!r} has {count} null value(s), but the signature says it "
                "never holds nulls; send a value, or give the model a signature with "
                "nullable=True"
            )
    want = spec.type

    def refuse(why: str = "") -> SignatureError:
        return SignatureError(
            f"column {spec.name!r} holds {_json_kind(kinds)} values, the model takes {want}"
            + (f": {why}" if why else "")
        )

    try:
        if want in _FLOAT_TYPES:
            if kinds <= {int, float, bool}:
                return np.array(values, dtype=want)
            raise refuse()
        if want in _INT_TYPES:
            if not kinds <= {int, float, bool}:
                raise refuse()
            if float in kinds:
                floats = np.array(values, dtype="float64")
                present = floats[~np.isnan(floats)] if nulls else floats
                if not np.all(np.isfinite(present) & (np.mod(present, 1) == 0)):
                    raise refuse("some values are not whole numbers")
            else:
                present = np.array([v for v in values if v is not None], dtype="int64")
            info = np.iinfo(want)
            if len(present) and (present.min() < info.min or present.max() > info.max):
                raise refuse(f"values outside {info.min}..{info.max}")
            if nulls:
                return np.array(values, dtype="float64")  # a nullable integer travels as float
            return np.array(values, dtype=want)
        if want == "bool":
            if kinds <= {bool} or (kinds <= {bool, int} and set(values) - {None} <= {0, 1}):
                if nulls:
                    return np.array([None if v is None else bool(v) for v in values], dtype=object)
                return np.array(values, dtype=bool)
            raise refuse()
        if want == "string":
            if kinds <= {str}:
                return np.array(values, dtype=object)
            raise refuse("send it as text")
        if want == "bytes":
            if kinds <= {str}:
                return np.array([None if v is None else v.encode() for v in values], dtype=object)
            raise refuse("send it as text")
        if want == "datetime":
            if kinds <= {str}:
                import pandas as pd

                try:
                    parsed = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")
                except (ValueError, TypeError) as exc:
                    raise refuse(f"not ISO-8601 date-times ({exc})") from exc
                return parsed.to_numpy()
            raise refuse("send ISO-8601 text such as 2026-11-01T08:30:00")
    except OverflowError as exc:
        raise refuse("a value is too large") from exc
    raise refuse()  # pragma: no cover - every type is handled above
