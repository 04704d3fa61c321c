"""Scoring one chunk: features in (an Arrow table), prediction columns out (an Arrow table).

The same function runs in this process and inside a Ray actor, so both executors name and
type their output columns alike:

- one value per row: ``prediction``;
- a DataFrame or a dict of columns: one column per name it gives;
- a 2-D array: ``prediction_0`` … ``prediction_{k-1}`` (or the names of the signature's
  output columns when it has k of them);
- a deeper array: ``prediction``, one fixed-size list per row (flattened);
- with ``proba``: ``proba_<class>`` for every class of the classifier, after the predictions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    from loopml.models import LoadedModel, Signature

__all__ = ["ChunkFailure", "empty_prediction_fields", "score_table"]


class ChunkFailure(Exception):
    """A chunk the model could not score: the error's class name and message, kept as
    plain values so they travel back from a Ray worker unchanged."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _arrow(values: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    if hasattr(values, "to_numpy") and type(values).__module__.startswith("pandas"):
        return pa.Array.from_pandas(values)
    array = np.asarray(values)
    if array.ndim > 1:  # a tensor per row: one fixed-size list of its flattened values
        width = int(np.prod(array.shape[1:]))
        flat = pa.array(np.ascontiguousarray(array).reshape(-1))
        return pa.FixedSizeListArray.from_arrays(flat, width)
    return pa.array(array)


def _output_names(signature: Signature | None, width: int) -> list[str]:
    from loopml.models import ColumnsSpec

    outputs = None if signature is None else signature.outputs
    if isinstance(outputs, ColumnsSpec) and len(outputs.columns) == width:
        return outputs.names
    return [f"prediction_{j}" for j in range(width)]


def prediction_columns(raw: Any, rows: int, signature: Signature | None) -> dict[str, Any]:
    """The model's output for ``rows`` rows as named Arrow arrays.

    Raises:
        ChunkFailure: the output has another number of rows, or a shape that is no table.
    """
    import numpy as np

    module = type(raw).__module__.split(".", 1)[0]
    columns: dict[str, Any]
    if module == "pandas" and hasattr(raw, "columns"):
        columns = {str(c): raw[c] for c in raw.columns}
    elif module == "pandas":
        columns = {"prediction": raw}
    elif isinstance(raw, Mapping):
        columns = {str(k): np.asarray(v) for k, v in raw.items()}
    else:
        if hasattr(raw, "detach") and hasattr(raw, "numpy"):  # a torch tensor
            raw = raw.detach().cpu().numpy()
        array = np.asarray(raw)
        if array.ndim == 0:
            raise ChunkFailure("ScoringError", "the model returned a single value, not one per row")
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim == 2:
            names = _output_names(signature, array.shape[1])
            columns = {name: array[:, j] for j, name in enumerate(names)}
        else:
            columns = {"prediction": array}
    for name, values in columns.items():
        if len(values) != rows:
            raise ChunkFailure(
                "ScoringError",
                f"the model returned {len(values):,} values for {rows:,} rows (output {name!r})",
            )
    return {name: _arrow(values) for name, values in columns.items()}


def proba_columns(model: LoadedModel, frame: Any) -> dict[str, Any]:
    """``proba_<class>`` columns of a classifier's class probabilities."""
    import numpy as np
    import pyarrow as pa

    probs = np.asarray(model.predict_proba(frame))
    classes = model.classes or list(range(probs.shape[1]))
    return {f"proba_{c}": pa.array(probs[:, j]) for j, c in enumerate(classes)}


def score_table(model: LoadedModel, table: Any, proba: bool) -> Any:
    """Predictions (and with ``proba`` class probabilities) for a table of features.

    Raises:
        ChunkFailure: the data does not fit the signature, or the model raised.
    """
    import pyarrow as pa

    from loopml.errors import LoopmlError

    frame = table.to_pandas()
    try:
        columns = prediction_columns(model.predict(frame), table.num_rows, model.signature)
        if proba:
            columns.update(proba_columns(model, frame))
    except ChunkFailure:
        raise
    except LoopmlError as exc:
        raise ChunkFailure(type(exc).__name__, exc.message) from exc
    except Exception as exc:  # the model's own error, reported with the chunk it failed on
        raise ChunkFailure("ScoringError", f"the model raised {type(exc).__name__}: {exc}") from exc
    return pa.table(columns)


def _arrow_type(loopml_type: str) -> Any:
    import numpy as np
    import pyarrow as pa

    special = {
        "string": pa.string(),
        "str": pa.string(),
        "bytes": pa.binary(),
        "datetime": pa.timestamp("ns"),
    }
    if loopml_type in special:
        return special[loopml_type]
    return pa.from_numpy_dtype(np.dtype(loopml_type))


def empty_prediction_fields(model: LoadedModel, proba: bool) -> list[Any]:
    """The prediction columns' Arrow fields, from the signature alone (for an input with no
    rows, where the model cannot be asked).

    Raises:
        InvalidInputError: the signature records no outputs to derive them from.
    """
    import pyarrow as pa

    from loopml.models import ColumnsSpec, TensorSpec

    outputs = None if model.signature is None else model.signature.outputs
    fields: list[Any] = []
    if isinstance(outputs, ColumnsSpec):
        fields = [pa.field(c.name, _arrow_type(c.type)) for c in outputs.columns]
    elif isinstance(outputs, TensorSpec) and len(outputs.shape) <= 2:
        kind = _arrow_type(outputs.dtype)
        width = outputs.shape[1] if len(outputs.shape) == 2 else 1
        if width == 1:
            fields = [pa.field("prediction", kind)]
        else:
            fields = [pa.field(n, kind) for n in _output_names(model.signature, width)]
    else:
        raise InvalidInputError(
            "the input has no rows, and the model's signature records no outputs to give the "
            "output file its columns; nothing to score"
        )
    if proba:
        fields += [pa.field(f"proba_{c}", pa.float64()) for c in model.classes or []]
    return fields
