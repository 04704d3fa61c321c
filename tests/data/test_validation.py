"""Validation: the anomalies new data shows against a schema and a reference profile."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon

from loopml.data.profile import TableProfile, profile_table
from loopml.data.schema import DataSchema, infer_schema
from loopml.data.validation import Anomaly, ValidationReport, js_distance, validate
from loopml.errors import InvalidInputError


def _rides(n: int = 1000, seed: int = 0, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "fare": rng.gamma(2.0, 6.0, n) + 2.5 + shift,
            "passengers": rng.integers(1, 5, n),
            "city": rng.choice(["paris", "lyon", "lille"], n, p=[0.6, 0.3, 0.1]),
        }
    )


@pytest.fixture
def reference() -> TableProfile:
    return profile_table(_rides())


@pytest.fixture
def schema(reference: TableProfile) -> DataSchema:
    return infer_schema(reference)


def _edit(schema: DataSchema, column: str, **changes: object) -> DataSchema:
    spec = schema.column(column)
    assert spec is not None
    edited = type(spec)(**{**spec.__dict__, **changes})
    return DataSchema(tuple(edited if c.name == column else c for c in schema.columns))


def _kinds(report: ValidationReport) -> set[tuple[str | None, str, str]]:
    return {(a.column, a.kind, a.severity) for a in report.anomalies}


def _only(report: ValidationReport, kind: str) -> Anomaly:
    found = [a for a in report.anomalies if a.kind == kind]
    assert len(found) == 1, report.anomalies
    return found[0]


def test_a_clean_copy_validates_ok(schema: DataSchema, reference: TableProfile) -> None:
    report = validate(_rides(), schema, reference)
    assert report.ok and report.anomalies == () and report.rows == 1000
    assert validate(_rides(seed=1), schema, reference).ok  # same source, other rows


def test_missing_and_unexpected_columns(schema: DataSchema) -> None:
    table = _rides().drop_columns(["city"]).append_column("tip", pa.array([1.0] * 1000))
    report = validate(table, schema)
    assert _kinds(report) == {
        ("city", "missing_column", "error"),
        ("tip", "unexpected_column", "warning"),
    }
    assert not report.ok and len(report.errors) == 1 and len(report.warnings) == 1
    relaxed = DataSchema(schema.columns, allow_extra_columns=True)
    assert _kinds(validate(table, relaxed)) == {("city", "missing_column", "error")}


def test_type_mismatch_but_numbers_of_other_widths_are_fine(schema: DataSchema) -> None:
    rides = _rides(100)
    widened = rides.set_column(0, "fare", pa.array(np.arange(100) % 50 + 3, pa.int16()))
    narrowed = widened.set_column(1, "passengers", pa.array([2] * 100, pa.int8()))
    as_float32 = rides.set_column(0, "fare", rides["fare"].cast(pa.float32()))
    as_category = rides.set_column(2, "city", rides["city"].dictionary_encode())
    for table in (narrowed, as_float32, as_category):
        assert validate(table, schema).ok, table.schema
    text = rides.set_column(0, "fare", pa.array(["12.5"] * 100))
    floats = rides.set_column(1, "passengers", pa.array([1.0] * 100))
    for table, column in ((text, "fare"), (floats, "passengers")):
        anomaly = _only(validate(table, schema), "type_mismatch")
        assert anomaly.column == column and anomaly.severity == "error"
    assert (
        "expected float values (double), got string"
        in _only(validate(text, schema), "type_mismatch").message
    )


def test_nulls_in_a_non_nullable_column(schema: DataSchema) -> None:
    rides = _rides(100)
    table = rides.set_column(1, "passengers", pa.array([None] * 3 + [2] * 97, pa.int64()))
    anomaly = _only(validate(table, schema), "null_in_non_nullable")
    assert (anomaly.column, anomaly.severity, anomaly.value) == ("passengers", "error", 0.03)
    assert anomaly.message.startswith("3 null value(s)")


def test_null_fraction_above_the_bound(schema: DataSchema) -> None:
    bounded = _edit(schema, "passengers", nullable=True, max_null_fraction=0.05)
    few = _rides(100).set_column(1, "passengers", pa.array([None] * 5 + [2] * 95, pa.int64()))
    assert validate(few, bounded).ok
    many = _rides(100).set_column(1, "passengers", pa.array([None] * 6 + [2] * 94, pa.int64()))
    anomaly = _only(validate(many, bounded), "null_fraction")
    assert (anomaly.value, anomaly.bound, anomaly.severity) == (0.06, 0.05, "error")
    assert "6.0% of values are null (allowed: 5.0%)" in anomaly.message


def test_values_out_of_range_give_count_share_and_examples(schema: DataSchema) -> None:
    strict = _edit(schema, "fare", min=0.0, max=100.0, max_out_of_range_share=None)
    fares = np.full(200, 20.0)
    fares[:3] = [150.0, 250.0, 101.0]
    fares[3] = -1.0
    report = validate(_rides(200).set_column(0, "fare", pa.array(fares)), strict)
    assert {a.kind for a in report.anomalies} == {"out_of_range"}
    above, below = (next(a for a in report.errors if a.bound == b) for b in (100.0, 0.0))
    assert above.examples == ("250", "150", "101") and above.bound == 100.0
    assert above.message == "3 of 200 value(s) (1.5%) are above the schema's max 100"
    assert below.examples == ("-1",) and below.value == pytest.approx(0.005)


def test_the_inferred_range_tolerates_a_few_values_outside(schema: DataSchema) -> None:
    fares = np.full(1000, 20.0)
    fares[:10] = 1e6  # 1 %: within the tolerance of an inferred range
    assert validate(_rides().set_column(0, "fare", pa.array(fares)), schema).ok
    fares[:11] = 1e6
    assert not validate(_rides().set_column(0, "fare", pa.array(fares)), schema).ok


def test_unseen_categories_above_the_share_are_errors(schema: DataSchema) -> None:
    cities = ["paris"] * 195 + ["<script>alert(1)</script>"] * 3 + ["nice"] * 2
    table = _rides(200).set_column(2, "city", pa.array(cities))
    anomaly = _only(validate(table, schema), "unseen_categories")
    assert (anomaly.severity, anomaly.value, anomaly.bound) == ("error", 0.025, 0.01)
    assert anomaly.examples == ("<script>alert(1)</script>", "nice")
    one = _rides(200).set_column(2, "city", pa.array(["paris"] * 198 + ["nice"] * 2))
    assert validate(one, schema).ok  # 1 % unseen is within the bound


def test_a_shifted_distribution_is_a_warning_with_a_reference(
    schema: DataSchema, reference: TableProfile
) -> None:
    shifted = _rides(seed=2, shift=8.0)
    loose = _edit(schema, "fare", min=None, max=None)
    assert validate(shifted, loose).ok  # without a reference no distance is checked
    report = validate(shifted, loose, reference)
    anomaly = _only(report, "distribution_distance")
    assert (anomaly.column, anomaly.severity, anomaly.bound) == ("fare", "warning", 0.2)
    assert anomaly.value is not None and anomaly.value > 0.2 and report.ok
    cities = np.random.default_rng(3).choice(["paris", "lyon", "lille"], 1000, p=[0.1, 0.3, 0.6])
    moved = _rides(seed=3).set_column(2, "city", pa.array(cities))
    assert _only(validate(moved, schema, reference), "distribution_distance").column == "city"


def test_js_distance_is_scipys_base_2_distance() -> None:
    p, q = np.array([10, 0, 5, 1]), np.array([1, 4, 5, 0])
    assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2))
    assert js_distance(p, p) == 0.0 and js_distance(p, np.zeros(4)) == 0.0
    assert js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)


class _FakePolars:
    """Stands for a polars DataFrame: anything with ``to_arrow()``."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def to_arrow(self) -> pa.Table:
        return self.table


def test_pandas_and_polars_frames_are_accepted(schema: DataSchema) -> None:
    frame = _rides(100).to_pandas()
    assert isinstance(frame, pd.DataFrame) and validate(frame, schema).ok
    assert validate(_FakePolars(_rides(100)), schema).ok
    with pytest.raises(InvalidInputError, match="cannot store a list as a table"):
        validate([1, 2], schema)
    twice = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(InvalidInputError, match="named more than once"):
        validate(twice, schema)


def test_the_report_as_json_frame_and_html(schema: DataSchema, tmp_path: Path) -> None:
    cities = ["<script>alert(1)</script>"] * 10 + ["paris"] * 90
    table = _rides(100).set_column(2, "city", pa.array(cities)).drop_columns(["passengers"])
    report = validate(table, schema)
    data = json.loads(report.to_json())
    assert (data["ok"], data["errors"], data["warnings"], data["rows"]) == (False, 2, 0, 100)
    assert {a["kind"] for a in data["anomalies"]} == {"missing_column", "unseen_categories"}
    frame = report.to_frame()
    assert list(frame["kind"]) == [a.kind for a in report.anomalies]
    report.save_html(tmp_path / "report.html", title="Rides <March>")
    page = (tmp_path / "report.html").read_text()
    assert "unseen_categories" in page and "FAILED" in page and "100 rows" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "<title>Rides &lt;March&gt;</title>" in page and 'class="error"' in page
    clean = validate(_rides(100), schema).to_html()
    assert "No anomalies" in clean and "OK" in clean and "FAILED" not in clean
