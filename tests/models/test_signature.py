"""Signatures: inferred from examples, enforced at predict with errors naming the column."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from loopml.errors import InvalidInputError, SignatureError
from loopml.models import ColumnSpec, ColumnsSpec, Signature, TensorSpec, enforce, infer_signature


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "distance": [1.5, 2.0, 3.25],
            "hour": np.array([1, 2, 3], dtype="int64"),
            "city": ["oslo", "rome", "oslo"],
            "airport": [True, False, True],
            "tip": [1.0, None, 2.0],
        }
    )


def test_infers_columns_types_and_nullability() -> None:
    sig = infer_signature(_frame(), np.array([1.0, 2.0, 3.0]))
    assert isinstance(sig.inputs, ColumnsSpec)
    assert [(c.name, c.type, c.nullable) for c in sig.inputs.columns] == [
        ("distance", "float64", False),
        ("hour", "int64", False),
        ("city", "string", False),
        ("airport", "bool", False),
        ("tip", "float64", True),
    ]
    assert sig.outputs == TensorSpec("float64", (-1,))


def test_infers_from_dicts_records_and_arrays() -> None:
    by_columns = infer_signature({"a": [1, 2], "b": ["x", "y"]})
    by_records = infer_signature([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert by_columns.inputs == by_records.inputs
    tensor = infer_signature(np.zeros((4, 28, 28), dtype="float32"))
    assert tensor.inputs == TensorSpec("float32", (-1, 28, 28))
    with pytest.raises(InvalidInputError):
        infer_signature(np.array([object(), object()]))


def test_round_trips_through_json() -> None:
    sig = infer_signature(_frame(), np.zeros((3, 2)))
    again = Signature.from_dict(json.loads(json.dumps(sig.to_dict())))
    assert again == sig
    with pytest.raises(InvalidInputError):
        Signature.from_dict({"inputs": {"kind": "graph"}})
    with pytest.raises(InvalidInputError, match="unknown type"):
        ColumnSpec("x", "decimal")


def test_enforce_orders_and_casts_safely() -> None:
    schema = infer_signature(_frame()).inputs
    given = _frame()[["tip", "airport", "city", "hour", "distance"]]
    given["hour"] = given["hour"].astype("int32")  # narrower int: widened
    out = enforce(schema, given)
    assert list(out.columns) == ["distance", "hour", "city", "airport", "tip"]
    assert out["hour"].dtype == np.dtype("int64")
    # whole floats into an int column, ints into a float column, 0/1 into bool
    mixed = _frame().assign(hour=[1.0, 2.0, 3.0], distance=[1, 2, 3], airport=[1, 0, 1])
    out = enforce(schema, mixed)
    assert out["hour"].tolist() == [1, 2, 3] and out["distance"].dtype == np.dtype("float64")
    assert out["airport"].tolist() == [True, False, True]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["hour"]), "missing column 'hour'"),
        (lambda f: f.assign(extra=1), "unexpected column 'extra'"),
        (lambda f: f.assign(distance=["a", "b", "c"]), "column 'distance' is string"),
        (lambda f: f.assign(hour=[1.5, 2.0, 3.0]), "column 'hour'.*not whole numbers"),
        (lambda f: f.assign(city=[1, 2, 3]), "column 'city' is int64"),
        (lambda f: f.assign(distance=[1.0, None, 2.0]), "column 'distance' has 1 null"),
        (lambda f: f.assign(airport=[2, 0, 1]), "column 'airport'"),
    ],
)
def test_enforce_refuses_naming_the_column(change, message) -> None:  # type: ignore[no-untyped-def]
    schema = infer_signature(_frame()).inputs
    with pytest.raises(SignatureError, match=message):
        enforce(schema, change(_frame()))


def test_extra_columns_can_be_dropped() -> None:
    schema = infer_signature(_frame()).inputs
    out = enforce(schema, _frame().assign(request_id=[7, 8, 9]), extra_columns="drop")
    assert "request_id" not in out.columns
    with pytest.raises(InvalidInputError):
        enforce(schema, _frame(), extra_columns="ignore")  # type: ignore[arg-type]


def test_tensor_shape_and_dtype_are_checked() -> None:
    spec = TensorSpec("float32", (-1, 3))
    assert enforce(spec, np.ones((5, 3), dtype="int64")).dtype == np.float32
    with pytest.raises(SignatureError, match="dimension 1 should be 3"):
        enforce(spec, np.ones((5, 4)))
    with pytest.raises(SignatureError, match="shape"):
        enforce(spec, np.ones(5))
    with pytest.raises(SignatureError, match="cannot be converted"):
        enforce(TensorSpec("int32", (-1,)), np.array([1.5, 2.5]))


def test_text_arrays_get_a_string_tensor_spec() -> None:
    import numpy as np

    from loopml.errors import SignatureError
    from loopml.models.signature import TensorSpec, enforce, infer_schema

    labels = np.array(["bus", "car", "bike"], dtype=object)  # what classifiers return
    assert infer_schema(labels) == TensorSpec("str", (-1,))
    assert enforce(TensorSpec("str", (-1,)), ["a", "bb"]).tolist() == ["a", "bb"]
    with pytest.raises(SignatureError, match="str array"):
        enforce(TensorSpec("str", (-1,)), [1, 2])


# -- decoded JSON (a model server's requests) -------------------------------------------
def test_json_columns_follow_the_casting_rules() -> None:
    from loopml.models.signature import column_from_values

    def cast(kind: str, values: list[object], nullable: bool = False) -> np.ndarray:
        return column_from_values(ColumnSpec("c", kind, nullable), values)

    assert cast("float64", [1, 2.5, True]).tolist() == [1.0, 2.5, 1.0]
    assert cast("float32", [1, 2]).dtype == np.float32
    assert cast("int64", [1, 2.0]).tolist() == [1, 2] and cast("int64", [1, 2]).dtype == np.int64
    assert cast("int8", [-5, 7]).dtype == np.int8
    assert cast("bool", [True, 0, 1]).tolist() == [True, False, True]
    assert cast("string", ["a", "b"]).tolist() == ["a", "b"]
    assert cast("bytes", ["ab"]).tolist() == [b"ab"]
    assert str(cast("datetime", ["2026-11-01T08:30:00"]).dtype).startswith("datetime64")
    nullable = cast("int64", [1, None], nullable=True)
    assert nullable.dtype == np.float64 and np.isnan(nullable[1])  # as enforce() does
    for kind, values, fragment in [
        ("float64", ["1.5"], "holds string values, the model takes float64"),
        ("int64", [1.5], "not whole numbers"),
        ("int8", [300], "values outside -128..127"),
        ("int64", [2**70], "too large"),
        ("bool", [2], "the model takes bool"),
        ("string", [3], "send it as text"),
        ("datetime", ["not a date"], "ISO-8601"),
        ("float64", [[1.0]], "holds a list values"),
        ("float64", [1.0, None], "1 null value"),
    ]:
        with pytest.raises(SignatureError, match=fragment):
            cast(kind, values)
