"""The Open Inference Protocol v2 (KServe V2) over REST: request decoding, answers, metadata.

An infer request for a tabular model sends one tensor per column, named as in the signature
(as MLServer's pandas codec does)::

    {"id": "42", "inputs": [
        {"name": "distance", "shape": [2], "datatype": "FP64", "data": [1.5, 3.0]},
        {"name": "city", "shape": [2], "datatype": "BYTES", "data": ["oslo", "rome"]}]}

or a single 2-D tensor whose columns are the signature's in order (shape ``[rows, k]``).
A model with an array signature takes one tensor of that shape. The answer::

    {"model_name": "pricing", "model_version": "3", "id": "42",
     "outputs": [{"name": "prediction", "shape": [2], "datatype": "FP64", "data": [...]}]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.errors import InvalidInputError, SignatureError
from loopml.models.signature import ColumnsSpec, TensorSpec
from loopml.serving.validation import TENSOR_FEATURE, Inputs

__all__ = ["DATATYPES", "encode_outputs", "parse_infer", "tensor_metadata"]

# OIP datatype -> NumPy dtype (None: text, kept as Python strings)
DATATYPES: dict[str, str | None] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": None,
}
_KINDS: dict[str, frozenset[type]] = {
    "BOOL": frozenset({bool}),
    "INT": frozenset({int}),
    "FP": frozenset({int, float}),
    "BYTES": frozenset({str}),
}
_TYPE_OF = {
    "bool": "BOOL",
    "string": "BYTES",
    "bytes": "BYTES",
    "datetime": "BYTES",
    "str": "BYTES",
}


def _family(datatype: str) -> str:
    if datatype.startswith(("INT", "UINT")):
        return "INT"
    return "FP" if datatype.startswith("FP") else datatype


def _bad(where: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"{where}: {message}")


def _flatten(data: list[Any]) -> list[Any]:
    if not data or not isinstance(data[0], list):
        return data
    out: list[Any] = []

    def walk(items: list[Any]) -> None:  # row-major, any depth
        for value in items:
            if isinstance(value, list):
                walk(value)
            else:
                out.append(value)

    walk(data)
    return out


def _tensor(index: int, tensor: Any) -> tuple[str, list[int], str, list[Any]]:
    where = f"inputs[{index}]"
    if not isinstance(tensor, dict):
        raise _bad(where, "each input is an object with name, shape, datatype and data")
    name = tensor.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(where, "'name' must be a non-empty string")
    where = f"inputs[{index}] ({name!r})"
    unknown = sorted(set(tensor) - {"name", "shape", "datatype", "data", "parameters"})
    if unknown:
        raise _bad(where, f"unknown field(s) {', '.join(map(repr, unknown))}")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise _bad(where, f"'shape' must be a list of sizes (whole numbers >= 0), got {shape!r}")
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise _bad(where, f"'datatype' {datatype!r} is not one of {', '.join(DATATYPES)}")
    data = tensor.get("data")
    if not isinstance(data, list):
        data = [data] if data is not None and not shape else None
        if data is None:
            raise _bad(where, "'data' must be a list of values (flat or nested)")
    flat = _flatten(data)
    count = math.prod(shape)
    if len(flat) != count:
        raise _bad(where, f"'shape' {shape} holds {count} values, 'data' has {len(flat)}")
    kinds = set(map(type, flat)) - {type(None)}
    allowed = _KINDS[_family(str(datatype))]
    if not kinds <= allowed:
        found = ", ".join(sorted(k.__name__ for k in kinds - allowed))
        raise _bad(where, f"datatype {datatype} but 'data' holds {found} values")
    return name, shape, str(datatype), flat


def parse_infer(payload: Any, schema: Any) -> tuple[str | None, Inputs, list[str] | None]:
    """An infer request as (its ``id``, the inputs, the output names asked for).

    Raises:
        InvalidInputError: a malformed request; the message names the field.
        SignatureError: tensors that do not fit the model's signature.
    """
    import numpy as np

    if not isinstance(payload, dict):
        raise InvalidInputError("an infer request is a JSON object with 'inputs'")
    unknown = sorted(set(payload) - {"id", "parameters", "inputs", "outputs"})
    if unknown:
        raise InvalidInputError(f"unknown field(s) in the infer request: {', '.join(unknown)}")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInputError("'id' must be a string")
    raw = payload.get("inputs")
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError("'inputs' must be a non-empty list of tensors")
    tensors = [_tensor(i, t) for i, t in enumerate(raw)]
    names = [t[0] for t in tensors]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"two inputs share a name: {names}")
    wanted = _requested(payload.get("outputs"))

    def array(name: str, shape: list[int], datatype: str, flat: list[Any]) -> Any:
        dtype = DATATYPES[datatype]
        try:
            return np.array(flat, dtype=dtype or object).reshape(shape)
        except (ValueError, OverflowError) as exc:
            raise InvalidInputError(f"input {name!r}: {exc}") from exc

    columnar = isinstance(schema, ColumnsSpec) or schema is None
    if len(tensors) == 1 and len(tensors[0][1]) >= 2:
        name, shape = tensors[0][0], tensors[0][1]
        by_column = isinstance(schema, ColumnsSpec) and name in schema.names
        if not by_column and not (schema is None and len(shape) == 2 and shape[1] == 1):
            return request_id, Inputs(shape[0], matrix=array(*tensors[0])), wanted
    if not columnar:
        if len(tensors) != 1:
            raise SignatureError(f"the model takes one tensor; got {len(tensors)}: {names}")
        shape = tensors[0][1]
        return request_id, Inputs(shape[0] if shape else 1, matrix=array(*tensors[0])), wanted
    columns: dict[str, list[Any]] = {}
    rows: int | None = None
    for name, shape, _, flat in tensors:
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1) or not shape:
            raise SignatureError(
                f"input {name!r} has shape {shape}; a column is a tensor of shape [rows] or "
                "[rows, 1] (or send one tensor of shape [rows, columns])"
            )
        if rows is not None and shape[0] != rows:
            raise SignatureError(
                f"input {name!r} has {shape[0]} rows, the inputs before it {rows}; send one "
                "value per row in every column"
            )
        rows = shape[0]
        columns[name] = flat
    return request_id, Inputs(rows or 0, columns=columns), wanted


def _requested(outputs: Any) -> list[str] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise InvalidInputError("'outputs' must be a list of objects with a 'name'")
    return [o["name"] for o in outputs]


def datatype_of(dtype: Any) -> str:
    """The OIP datatype of a NumPy dtype (text, dates and objects are BYTES)."""
    kind = dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'U' if kind == 'u' else ''}INT{dtype.itemsize * 8}"
    if kind == "f":
        return f"FP{dtype.itemsize * 8}"
    return "BYTES"


def encode_outputs(
    outputs: Mapping[str, Any], start: int, stop: int, wanted: Sequence[str] | None
) -> list[dict[str, Any]]:
    """Output tensors for rows ``start:stop`` of a batch's outputs (only ``wanted`` ones).

    Raises:
        InvalidInputError: an output asked for that the model does not give.
    """
    from loopml.serving.invocations import jsonable

    names = list(outputs)
    if wanted is not None:
        missing = [n for n in wanted if n not in outputs]
        if missing:
            raise InvalidInputError(
                f"the model has no output {', '.join(map(repr, missing))}; it gives {names}"
            )
        names = list(wanted)
    out = []
    for name in names:
        values = outputs[name][start:stop]
        out.append(
            {
                "name": name,
                "datatype": datatype_of(values.dtype),
                "shape": list(values.shape),
                "data": jsonable(values.reshape(-1)) if values.ndim > 1 else jsonable(values),
            }
        )
    return out


def _loopml_datatype(kind: str) -> str:
    if kind in _TYPE_OF:
        return _TYPE_OF[kind]
    if kind.startswith(("int", "uint")):
        return kind.upper()
    return "FP" + kind.removeprefix("float")


def tensor_metadata(schema: Any, single: str = TENSOR_FEATURE) -> list[dict[str, Any]]:
    """A signature's inputs or outputs as OIP ``metadata_tensor`` objects (``single``: the
    name of an array's only tensor)."""
    if isinstance(schema, ColumnsSpec):
        return [
            {"name": c.name, "datatype": _loopml_datatype(c.type), "shape": [-1]}
            for c in schema.columns
        ]
    if isinstance(schema, TensorSpec):
        import numpy as np

        kind = np.dtype(schema.dtype) if schema.dtype != "str" else np.dtype(object)
        return [{"name": single, "datatype": datatype_of(kind), "shape": list(schema.shape)}]
    return []
