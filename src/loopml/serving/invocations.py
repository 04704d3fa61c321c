"""MLflow's scoring protocol: ``POST /invocations``.

Accepted bodies (``Content-Type: application/json``), one format key each::

    {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}
    {"dataframe_records": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]}
    {"instances": [{"a": 1, "b": 2}]}      or rows / arrays: {"instances": [[1, 2]]}
    {"inputs": {"a": [1, 3], "b": [2, 4]}}  or an array:     {"inputs": [[1, 2]]}

and CSV with a header row (``Content-Type: text/csv``). The answer is
``{"predictions": [...]}``: one value per row, or one object per row for a model with
several named outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.errors import InvalidInputError, SignatureError
from loopml.serving.validation import Inputs

__all__ = ["FORMATS", "encode_predictions", "parse_csv", "parse_json"]

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def _bad(message: str) -> InvalidInputError:
    return InvalidInputError(message)


def parse_json(payload: Any) -> Inputs:
    """A decoded ``/invocations`` JSON body as :class:`Inputs`.

    Raises:
        InvalidInputError: no (or more than one) format key, or a malformed value; the
            message names the field.
    """
    if not isinstance(payload, dict):
        raise _bad(f"the body must be a JSON object with one of {', '.join(FORMATS)}")
    keys = [k for k in FORMATS if k in payload]
    if len(keys) != 1:
        found = f"found {', '.join(keys)}" if keys else "found none"
        raise _bad(f"the body must have exactly one of {', '.join(FORMATS)}; {found}")
    unknown = sorted(set(payload) - {keys[0], "params"})
    if unknown:
        raise _bad(f"unknown field(s) {', '.join(map(repr, unknown))} next to {keys[0]!r}")
    if payload.get("params"):
        raise _bad("this server passes no 'params' to models; remove the field")
    key = keys[0]
    value = payload[key]
    if key == "dataframe_split":
        return _split(value)
    if key == "dataframe_records":
        return _records(value, key)
    if key == "instances":
        if not isinstance(value, list):
            raise _bad("'instances' must be a list of records or of rows")
        if value and isinstance(value[0], dict):
            return _records(value, key)
        return Inputs(len(value), matrix=value)
    if isinstance(value, dict):
        return _columns(value, key)
    if isinstance(value, list):
        return Inputs(len(value), matrix=value)
    raise _bad("'inputs' must be an object of columns or a list of rows")


def _split(value: Any) -> Inputs:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise _bad("'dataframe_split' must be an object with 'data' (a list of rows)")
    unknown = sorted(set(value) - {"columns", "data", "index"})
    if unknown:
        raise _bad(f"unknown field(s) in 'dataframe_split': {', '.join(map(repr, unknown))}")
    data = value["data"]
    columns = value.get("columns")
    if columns is None:
        return Inputs(len(data), matrix=data)
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _bad("'dataframe_split.columns' must be a list of column names")
    if len(set(columns)) != len(columns):
        raise _bad("'dataframe_split.columns' names a column twice")
    width = len(columns)
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            got = f"{len(row)} values" if isinstance(row, list) else f"a {type(row).__name__}"
            raise SignatureError(
                f"dataframe_split.data[{i}] has {got}; 'columns' names {width}: {columns}"
            )
    if not data:
        return Inputs(0, columns={c: [] for c in columns})
    return Inputs(len(data), columns=dict(zip(columns, zip(*data, strict=True), strict=True)))


def _records(value: Any, key: str) -> Inputs:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise _bad(f"'{key}' must be a list of objects, one per row")
    if not value:
        return Inputs(0, columns={})
    names = value[0].keys()
    for i, record in enumerate(value):
        if record.keys() != names:
            differ = sorted(set(record) ^ set(names))
            raise SignatureError(
                f"{key}[{i}] has other columns than {key}[0] ({', '.join(map(repr, differ))}); "
                "every record needs the same columns"
            )
    return Inputs(len(value), columns={n: [r[n] for r in value] for n in names})


def _columns(value: Mapping[str, Any], key: str) -> Inputs:
    columns = {n: v if isinstance(v, list) else [v] for n, v in value.items()}
    lengths = {n: len(v) for n, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise SignatureError(
            f"the columns of '{key}' have different lengths ({lengths}); send one value per "
            "row in every column"
        )
    rows = next(iter(lengths.values()), 0)
    return Inputs(rows, columns=columns)


def parse_csv(body: bytes) -> Inputs:
    """A CSV body (header row first) as :class:`Inputs`; empty cells are nulls.

    Raises:
        InvalidInputError: not UTF-8, no header, or rows that do not parse.
    """
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body), encoding="utf-8")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise _bad(f"the CSV body does not parse: {exc}") from exc
    columns = {}
    for name in frame.columns:
        col = frame[name]
        columns[str(name)] = col.astype(object).where(col.notna(), None).tolist()
    return Inputs(len(frame), columns=columns)


def encode_predictions(outputs: Mapping[str, Any], start: int, stop: int) -> dict[str, Any]:
    """The ``/invocations`` answer for rows ``start:stop`` of a batch's outputs."""
    if len(outputs) == 1:
        values = next(iter(outputs.values()))[start:stop]
        return {"predictions": jsonable(values)}
    names = list(outputs)
    columns = [outputs[n][start:stop].tolist() for n in names]
    return {
        "predictions": [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    }


def jsonable(values: Any) -> Any:
    """An array orjson writes as it is (numbers, booleans), else as a list."""
    if values.dtype.kind in "biuf" and values.flags.c_contiguous:
        return values
    if values.dtype.kind == "M":
        return [None if v is None else str(v) for v in values.astype(object).tolist()]
    if values.dtype.kind == "S" or (
        values.dtype == object and values.size and isinstance(values.flat[0], bytes)
    ):
        return [
            v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values.tolist()
        ]
    return values.tolist()
