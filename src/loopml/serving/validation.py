"""Requests checked against a model's signature, without a DataFrame per request.

A protocol parser (``invocations``, ``protocol_v2``) turns a payload into :class:`Inputs`:
values per named column, or rows of values by position. :func:`prepare` casts them into
typed NumPy columns by the signature's rules (``loopml.models.signature``), naming the
column that does not fit. :class:`Features` of several requests concatenate into one batch,
which becomes one DataFrame for one ``predict`` call.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.errors import SignatureError
from loopml.models.signature import ColumnsSpec, TensorSpec, column_from_values, enforce

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Features", "Inputs", "prepare"]

TENSOR_FEATURE = "tensor"  # the log's name for an array input (``input.tensor``)


@dataclass
class Inputs:
    """A decoded request: values per column (``columns``), or a list of rows / an array
    whose columns are the signature's in order (``matrix``)."""

    rows: int
    columns: Mapping[str, Sequence[Any]] | None = None
    matrix: Any = None


@dataclass
class Features:
    """Model input for ``rows`` rows: typed columns in the signature's order, or an array."""

    rows: int
    columns: dict[str, Any] | None = None
    tensor: Any = None

    def model_input(self) -> Any:
        """What ``predict`` is called with: a DataFrame of the columns, or the array."""
        if self.columns is None:
            return self.tensor
        import numpy as np
        import pandas as pd

        index = _column_index(tuple(self.columns))
        arrays = list(self.columns.values())
        kind = arrays[0].dtype if arrays else None
        if kind is not None and kind.kind in "biuf" and all(a.dtype == kind for a in arrays):
            # One block from one 2-D array: far cheaper than a frame from a dict of columns.
            return pd.DataFrame(np.column_stack(arrays), columns=index, copy=False)
        frame = pd.DataFrame(self.columns, copy=False)
        frame.columns = index
        return frame

    def log_columns(self) -> dict[str, Any]:
        """Feature name -> array of ``rows`` values, as the prediction log stores them."""
        if self.columns is not None:
            return self.columns
        return {TENSOR_FEATURE: self.tensor}

    @staticmethod
    def concat(parts: Sequence[Features]) -> Features:
        """Several requests' features as one batch (rows in the order given)."""
        import numpy as np

        if len(parts) == 1:
            return parts[0]
        rows = sum(p.rows for p in parts)
        first = parts[0]
        if first.columns is not None:
            names = list(first.columns)
            return Features(
                rows,
                {n: np.concatenate([p.columns[n] for p in parts if p.columns]) for n in names},
            )
        return Features(rows, tensor=np.concatenate([p.tensor for p in parts]))

    def layout(self) -> tuple[Any, ...]:
        """What must match for two requests to share a batch (columns and their dtypes)."""
        if self.columns is not None:
            return tuple((n, a.dtype.str) for n, a in self.columns.items())
        return ("tensor", self.tensor.dtype.str, self.tensor.shape[1:])


@functools.lru_cache(maxsize=256)
def _column_index(names: tuple[str, ...]) -> Any:
    """The columns of a model's frames, built once: an object-dtype Index (pandas' text
    index is slower to build and to read back, which estimators do on every predict)."""
    import pandas as pd

    return pd.Index(list(names), dtype=object)


def prepare(schema: Any, extra_columns: str, inputs: Inputs) -> Features:
    """Cast a decoded request to what the model takes.

    Args:
        schema: the signature's inputs (columns or tensor), or None for a model without one.
        extra_columns: ``"error"`` refuses columns the signature does not name, ``"drop"``
            ignores them.

    Raises:
        SignatureError: a missing, extra or mistyped column, rows of the wrong width, an
            array of the wrong shape; the message names the column or row.
    """
    if isinstance(schema, ColumnsSpec):
        return _columns(schema, extra_columns, inputs)
    if isinstance(schema, TensorSpec):
        return _tensor(schema, inputs)
    return _untyped(inputs)


def _plural(items: Sequence[str]) -> str:
    return "s" if len(items) > 1 else ""


def _columns(schema: ColumnsSpec, extra_columns: str, inputs: Inputs) -> Features:
    names = schema.names
    given = inputs.columns
    if given is None:
        given = _transpose(inputs.matrix, names)
    missing = [n for n in names if n not in given]
    if missing:
        raise SignatureError(
            f"missing column{_plural(missing)} {', '.join(map(repr, missing))}; the model "
            f"takes {names}"
        )
    if extra_columns == "error" and len(given) > len(names):
        extra = [n for n in given if n not in schema.names]
        raise SignatureError(
            f"unexpected column{_plural(extra)} {', '.join(map(repr, extra))}; the model "
            f"takes {names}"
        )
    out = {}
    for spec in schema.columns:
        values = given[spec.name]
        if len(values) != inputs.rows:
            raise SignatureError(
                f"column {spec.name!r} has {len(values)} values, the other columns "
                f"{inputs.rows}; send the same number of rows in every column"
            )
        out[spec.name] = column_from_values(spec, values)
    return Features(inputs.rows, out)


def _transpose(matrix: Any, names: list[str]) -> dict[str, Any]:
    import numpy as np

    width = len(names)
    if isinstance(matrix, np.ndarray):
        if matrix.ndim != 2 or matrix.shape[1] != width:
            raise SignatureError(
                f"an input of shape {list(matrix.shape)} does not fit the model's {width} "
                f"columns {names}; send shape [rows, {width}] or one input per column"
            )
        return {n: matrix[:, i] for i, n in enumerate(names)}
    for i, row in enumerate(matrix):
        if not isinstance(row, list) or len(row) != width:
            got = f"{len(row)} values" if isinstance(row, list) else f"a {type(row).__name__}"
            raise SignatureError(
                f"row {i} has {got}; the model takes {width} columns {names} in that order"
            )
    return (
        dict(zip(names, zip(*matrix, strict=True), strict=True))
        if matrix
        else {n: [] for n in names}
    )


def _tensor(schema: TensorSpec, inputs: Inputs) -> Features:
    data = inputs.matrix
    if data is None:
        columns = inputs.columns or {}
        if len(columns) != 1:
            raise SignatureError(
                f"the model takes one array ({schema.dtype}, shape {list(schema.shape)}); got "
                f"{len(columns)} named inputs {list(columns)}"
            )
        data = next(iter(columns.values()))
    array = enforce(schema, data)
    rows = int(array.shape[0]) if array.ndim else 1
    return Features(rows, tensor=array)


def _untyped(inputs: Inputs) -> Features:
    import numpy as np

    if inputs.columns is not None:
        lengths = {len(v) for v in inputs.columns.values()}
        if len(lengths) > 1:
            raise SignatureError(
                "the columns have different numbers of values; send the same number of rows "
                "in every column"
            )
        return Features(inputs.rows, {str(n): _object_array(v) for n, v in inputs.columns.items()})
    try:
        array = np.asarray(inputs.matrix)
    except ValueError as exc:
        raise SignatureError(f"the rows do not form an array: {exc}") from exc
    if array.dtype == object:
        raise SignatureError(
            "the rows do not form an array of one type and shape; send rows of equal length"
        )
    rows = int(array.shape[0]) if array.ndim else 1
    return Features(rows, tensor=array)


def _object_array(values: Sequence[Any]) -> np.ndarray:
    import pandas as pd

    # Without a signature, pandas' own inference decides each column's type.
    array: np.ndarray = pd.Series(list(values)).infer_objects().to_numpy()
    return array
