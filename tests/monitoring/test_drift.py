"""lm.monitoring.drift as a user calls it: defaults that are calibrated, detection of real
shifts, every form of reference, bad and unusual input, and the report's outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import loopml as lm
from loopml.data.profile import profile_table
from loopml.errors import DatasetVersionNotFoundError, InvalidInputError
from loopml.monitoring import FRAME_COLUMNS, DriftTest, drift


def _frame(n: int, seed: int, shift: float = 0.0, cities: tuple[str, ...] = ()) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    levels = ["paris", "lyon", "lille", *cities]
    weights = np.array([0.6, 0.3, 0.1, *([0.1] * len(cities))])
    return pd.DataFrame(
        {
            "fare": rng.gamma(2.0, 6.0, n) + shift,
            "distance": rng.normal(8, 3, n),
            "city": rng.choice(levels, n, p=weights / weights.sum()),
            "passengers": rng.integers(1, 5, n),
        }
    )


def _levels_table(trials: int, n: int, seed: int) -> pa.Table:
    """``trials`` independent columns of ``n`` draws from one 10-level distribution."""
    rng = np.random.default_rng(seed)
    p = np.array([0.25, 0.18, 0.14, 0.11, 0.09, 0.07, 0.06, 0.05, 0.03, 0.02])
    codes = rng.choice(10, size=(trials, n), p=p).astype(np.int32)
    levels = pa.array([f"level-{i}" for i in range(10)])
    return pa.table(
        {f"c{t}": pa.DictionaryArray.from_arrays(codes[t], levels) for t in range(trials)}
    )


def test_calibration_no_shift_ten_levels_false_alarms_at_most_six_percent() -> None:
    # 1,000 trials, one per column: each column of the reference and the current is an
    # independent sample of the same 10-level distribution (unequal sizes, as a
    # reference and a day of production are)
    reference, current = _levels_table(1000, 600, seed=1), _levels_table(1000, 400, seed=2)
    report = drift(reference, current)
    assert len(report.tested) == 1000
    assert report.share <= 0.06
    # the chi-square alone is calibrated, not just conservative: close to its 5 %
    chi2_only = drift(reference, current, tests=dict.fromkeys(reference.column_names, "chi2"))
    assert 0.03 <= chi2_only.share <= 0.07
    p_values = np.array([c.p_value for c in chi2_only.columns])
    # and its p-values are spread evenly under no shift (a median near 0.5)
    assert 0.4 <= float(np.median(p_values)) <= 0.6


def test_real_shifts_are_found_and_stable_columns_are_not() -> None:
    reference = _frame(5000, seed=1)
    current = _frame(5000, seed=2, shift=4.0, cities=("nice",))
    report = drift(reference, current)
    assert report.drifted_columns == ["fare", "city"]
    assert report.share == 0.5 and report.dataset_drift
    assert report.column("fare").test == "ks+wasserstein"
    assert report.column("city").test == "chi2+jensenshannon"
    assert report.column("distance").drifted is False
    steady = drift(reference, _frame(5000, seed=3))
    assert steady.drifted_columns == [] and not steady.dataset_drift


def test_large_samples_need_a_change_that_matters() -> None:
    rng = np.random.default_rng(4)
    n = 200_000
    reference = pa.table({"x": rng.normal(size=n)})
    tiny = pa.table({"x": rng.normal(0.03, 1, n)})  # 0.03 sd: KS sees it, it hardly matters
    report = drift(reference, tiny)
    x = report.column("x")
    assert x.p_value is not None and x.p_value < 1e-6  # significant ...
    assert x.distance is not None and x.distance < 0.1  # ... but small
    assert x.drifted is False
    assert drift(reference, tiny, tests={"x": "ks"}).column("x").drifted is True
    big = pa.table({"x": rng.normal(0.3, 1, n)})
    assert drift(reference, big).column("x").drifted is True


def test_overrides_per_column() -> None:
    reference, current = _frame(3000, seed=1), _frame(3000, seed=2, shift=1.0)
    report = drift(
        reference,
        current,
        tests={
            "fare": "psi",
            "distance": ("ks", 0.01),
            "city": "jensenshannon:0.2",
            "passengers": DriftTest("auto", threshold=0.01, distance_threshold=0.05),
        },
    )
    fare = report.column("fare")
    assert (fare.test, fare.threshold, fare.p_value) == ("psi", 0.1, None)
    assert fare.statistic == pytest.approx(fare.stats["psi"])
    assert report.column("distance").threshold == 0.01
    assert report.column("city").threshold == 0.2
    passengers = report.column("passengers")
    assert (passengers.threshold, passengers.distance_threshold) == (0.01, 0.05)
    as_text = drift(reference, current, categorical=["passengers"]).column("passengers")
    assert as_text.kind == "categorical" and as_text.test == "chi2+jensenshannon"
    assert drift(reference, current, threshold=0.01).column("fare").threshold == 0.01


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tests": {"fare": "chi2"}}, "does not apply to the numeric column 'fare'"),
        ({"tests": {"city": "ks"}}, "does not apply to the categorical column"),
        ({"tests": {"fare": "t-test"}}, "unknown drift test 't-test'"),
        ({"tests": {"fare": "psi:big"}}, "must be a number"),
        ({"tests": {"fare": ("ks", 1.5)}}, "between 0 and 1"),
        ({"tests": {"nope": "psi"}}, "not checked"),
        ({"tests": "psi"}, "must map column names"),
        ({"threshold": 0}, "between 0 and 1"),
        ({"drift_share": 1.5}, r"\(0, 1\]"),
        ({"bins": 1}, "bins"),
        ({"columns": ["fare", "tip"]}, "'tip' are not in the reference"),
        ({"columns": "fare"}, "list of column names"),
        ({"prediction": "score"}, "prediction column 'score'"),
        ({"tests": {"fare": DriftTest}}, "is not a drift test"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        drift(_frame(100, 1), _frame(100, 2), **kwargs)  # type: ignore[arg-type]


def test_nulls_are_counted_and_left_out_of_the_tests() -> None:
    reference = pa.table(
        {
            "x": pa.array([1.0, 2.0, None, math.nan, 3.0] * 200),
            "c": ["a", None, "b", "a", "b"] * 200,
        }
    )
    current = pa.table(
        {"x": [1.0, 2.0, 3.0, 4.0, None] * 200, "c": ["a", "b", "a", "b", "a"] * 200}
    )
    report = drift(reference, current)
    x, c = report.column("x"), report.column("c")
    assert (x.ref_count, x.ref_nulls, x.cur_nulls) == (1000, 400, 200)  # NaN counts as missing
    assert x.ref_null_fraction == pytest.approx(0.4) and x.cur_null_fraction == pytest.approx(0.2)
    assert (c.ref_nulls, c.cur_nulls) == (200, 0)
    assert x.drifted is True and c.drifted is False  # 4.0 is new; a/b shares are alike


def test_unusual_columns_get_a_clear_outcome() -> None:
    n = 300
    reference = pa.table(
        {
            "all_null_cur": np.arange(n, dtype=float),
            "all_null_ref": pa.nulls(n, pa.float64()),
            "all_null_both": pa.nulls(n, pa.string()),
            "constant": np.full(n, 5.0),
            "moved_constant": np.full(n, 5.0),
            "mixed": np.arange(n),
            "when": pa.array(np.arange(n).astype("datetime64[s]")),
            "only_ref": np.arange(n),
        }
    )
    current = pa.table(
        {
            "all_null_cur": pa.nulls(n, pa.float64()),
            "all_null_ref": np.arange(n, dtype=float),
            "all_null_both": pa.nulls(n, pa.string()),
            "constant": np.full(n, 5.0),
            "moved_constant": np.full(n, 6.0),
            "mixed": [str(i) for i in range(n)],
            "when": pa.array(np.arange(n).astype("datetime64[s]")),
            "only_cur": np.arange(n),
        }
    )
    report = drift(reference, current)
    outcome = {c.column: (c.kind, c.drifted) for c in report.columns}
    assert outcome == {
        "all_null_cur": ("numeric", True),
        "all_null_ref": ("numeric", None),
        "all_null_both": ("categorical", None),
        "constant": ("numeric", False),
        "moved_constant": ("numeric", True),
        "mixed": ("mismatch", None),
        "when": ("datetime", None),
        "only_ref": ("missing", None),
        "only_cur": ("missing", None),
    }
    assert "every current value is missing" in report.column("all_null_cur").note
    assert "nothing to compare against" in report.column("all_null_ref").note
    assert "categorical=['mixed']" in report.column("mixed").note
    assert report.column("only_ref").note == "not in the current data"
    assert report.column("moved_constant").distance == math.inf
    assert report.share == pytest.approx(2 / 3)  # of the three tested columns
    assert drift(reference, current, categorical=["mixed"]).column("mixed").kind == "categorical"
    with pytest.raises(InvalidInputError, match="datetime values"):
        drift(reference, current, columns=["when"])


def test_a_column_of_nones_from_pandas_reads_as_all_missing() -> None:
    reference = _frame(500, seed=1)
    current = _frame(500, seed=2).assign(fare=None, city=None)  # Arrow's null type
    report = drift(reference, current)
    for name in ("fare", "city"):
        result = report.column(name)
        assert result.drifted is True and result.cur_null_fraction == 1.0
        assert "every current value is missing" in result.note
    assert drift(current, current).column("fare").drifted is None


def test_single_row_and_empty_current() -> None:
    reference = _frame(500, seed=1)
    one = drift(reference, reference.head(1))
    assert {c.cur_count for c in one.columns} == {1}
    assert all(c.drifted is False for c in one.columns)
    assert "few values" in one.column("fare").note
    with pytest.raises(InvalidInputError, match=r"current data .* has no rows"):
        drift(reference, reference.head(0))
    with pytest.raises(InvalidInputError, match=r"reference data .* has no rows"):
        drift(reference.head(0), reference)


def test_prediction_drift_on_a_model_output_column() -> None:
    rng = np.random.default_rng(5)
    n = 2000

    def log(shift: float) -> pa.Table:
        outputs = pa.StructArray.from_arrays(
            [pa.array(rng.normal(10 + shift, 2, n)), pa.array(rng.random(n))],
            names=["prediction", "latency_ms"],
        )
        return pa.table({"fare": rng.gamma(2, 6, n), "output": outputs})

    report = drift(log(0.0), log(3.0), columns=["fare"], prediction="output.prediction")
    assert report.prediction is not None
    assert (report.prediction.column, report.prediction.role) == ("output.prediction", "prediction")
    assert report.prediction.drifted is True
    assert report.drifted_columns == [] and report.share == 0.0  # features did not move
    assert [c.column for c in report.columns] == ["fare", "output.prediction"]
    assert report.to_dict()["prediction_drift"] is True
    assert "prediction drifted" in report.summary()


def test_every_form_of_reference(tmp_path: Path) -> None:
    reference, current = _frame(3000, seed=1), _frame(3000, seed=2, shift=3.0)
    arrow = pa.Table.from_pandas(reference)
    pq.write_table(arrow, tmp_path / "ref.parquet")
    reference.to_csv(tmp_path / "ref.csv", index=False)
    profile = profile_table(arrow)

    class PolarsLike:  # stands for a polars DataFrame: anything with to_arrow()
        def to_arrow(self) -> pa.Table:
            return arrow

    forms = {
        "pandas": reference,
        "arrow": arrow,
        "dict": {c: reference[c].to_numpy() for c in reference.columns},
        "polars": PolarsLike(),
        "parquet": tmp_path / "ref.parquet",
        "parquet-str": str(tmp_path / "ref.parquet"),
        "csv": tmp_path / "ref.csv",
        "profile": profile,
        "profile-dict": profile.to_dict(),
    }
    for name, form in forms.items():
        report = drift(form, current)
        assert report.drifted_columns == ["fare"], name
    assert drift(profile, current).column("fare").basis == "profile (sketch)"
    assert drift(profile, current).column("city").basis == "profile (top values)"
    with pytest.raises(InvalidInputError, match="must be rows, not a profile"):
        drift(current, profile)
    with pytest.raises(InvalidInputError, match="not a file"):
        drift(tmp_path / "missing.parquet", current)
    with pytest.raises(InvalidInputError, match="the reference data"):
        drift({1, 2}, current)


def test_a_dataset_version_is_compared_through_its_profile_without_its_rows() -> None:
    reference, current = _frame(4000, seed=1), _frame(4000, seed=2, shift=3.0)
    dv = lm.data.log_dataset("rides", reference)
    exact = drift("rides@1", current, exact=True)
    assert exact.reference == "datasets:/rides/1"
    assert {c.basis for c in exact.columns} == {"data"}
    # delete the version's Parquet blob: the profile check still works, the exact one cannot
    data = lm.data.DataClient()
    digest = data.manifest(dv).files[0].digest
    data.close()
    blob = next(p for p in Path(".loopml").rglob("*") if p.is_file() and p.name == digest[2:])
    blob.unlink()
    for ref in ("rides@1", "rides/1", "datasets:/rides/1", "rides", dv):
        report = drift(ref, current)
        assert report.reference == "datasets:/rides/1 (profile)"
        assert report.drifted_columns == exact.drifted_columns == ["fare"]
    with pytest.raises(DatasetVersionNotFoundError):
        drift("rides@1", current, exact=True)
    profiled = drift("rides@1", current).column("distance")
    assert profiled.statistic == pytest.approx(exact.column("distance").statistic, abs=1e-3)


def test_profiles_stored_before_sketches_still_work() -> None:
    reference, current = _frame(4000, seed=1), _frame(4000, seed=2)
    old = profile_table(pa.Table.from_pandas(reference)).to_dict()
    for column in old["columns"]:
        column.pop("sketch", None)
    report = drift(old, current)
    fare = report.column("fare")
    assert fare.basis == "profile (percentiles)" and "predates sketches" in fare.note
    assert fare.drifted is False


def test_parquet_row_groups_are_counted_piece_by_piece(tmp_path: Path) -> None:
    reference, current = _frame(5000, seed=1), _frame(5000, seed=2, cities=("nice",))
    path = tmp_path / "cur.parquet"
    pq.write_table(pa.Table.from_pandas(current), path, row_group_size=700)
    assert pq.ParquetFile(path).num_row_groups > 5
    streamed, in_memory = drift(reference, path), drift(reference, current)
    for name in ("fare", "city"):
        a, b = streamed.column(name), in_memory.column(name)
        assert (a.statistic, a.p_value, a.drifted) == (b.statistic, b.p_value, b.drifted)


def test_outputs_frame_json_and_html(tmp_path: Path) -> None:
    reference = _frame(2000, seed=1).assign(flat=1.0)
    current = _frame(2000, seed=2, shift=2.0).assign(flat=2.0)
    report = drift(reference, current, drift_share=0.4)  # fare and flat: 2 of 5
    frame = report.to_frame()
    assert list(frame.columns) == FRAME_COLUMNS
    assert frame.set_index("column").loc["fare", "drifted"]
    document = json.loads(json.dumps(report.to_dict(), allow_nan=False))  # strict JSON
    assert document["dataset_drift"] is True
    flat = next(c for c in document["columns"] if c["column"] == "flat")
    assert flat["distance"] == "inf"
    assert json.loads(report.to_json())["drifted_columns"] == report.drifted_columns
    page = report.save_html(tmp_path / "drift.html").read_text()
    assert page.count("<svg") == 5  # one plot per column
    assert "DATASET DRIFT" in page and "fare" in page
    assert "<script" not in page and "<link" not in page and "src=" not in page
    with pytest.raises(InvalidInputError, match="missing does not exist"):
        report.save_html(tmp_path / "missing" / "drift.html")
    assert list(tmp_path.glob("**/.*.tmp")) == []


def test_counting_tests_stream_the_current_column(tmp_path: Path) -> None:
    reference, current = _frame(5000, seed=1), _frame(5000, seed=2, shift=2.0)
    current.loc[::10, "fare"] = np.nan
    path = tmp_path / "cur.parquet"
    pq.write_table(pa.Table.from_pandas(current), path, row_group_size=600)
    tests = {"fare": "psi", "distance": "jensenshannon"}
    streamed = drift(reference, path, tests=tests)
    full = drift(reference, current, tests={"fare": "ks", "distance": "ks"})
    fare = streamed.column("fare")
    assert set(fare.stats) == {"psi", "jensenshannon"}  # counted, never sorted
    assert fare.statistic == pytest.approx(full.column("fare").stats["psi"])
    assert fare.drifted is True and fare.cur_nulls == 500
    distance = streamed.column("distance")
    assert distance.statistic == pytest.approx(full.column("distance").stats["jensenshannon"])
    assert distance.drifted is False
    profiled = drift(profile_table(pa.Table.from_pandas(reference)), path, tests=tests)
    assert profiled.column("fare").statistic == pytest.approx(fare.statistic, abs=1e-3)
    assert sum(fare.histogram["current"]) == pytest.approx(1.0)  # type: ignore[index]
