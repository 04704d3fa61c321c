"""Column profiles: the statistics a later check compares new data against."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pytest

from loopml.data.profile import TableProfile, bin_counts, profile_table
from loopml.errors import InvalidInputError


@pytest.fixture
def numbers() -> np.ndarray:
    return np.random.default_rng(7).normal(50.0, 8.0, 2000)


@pytest.fixture
def table(numbers: np.ndarray) -> pa.Table:
    mask = np.zeros(2002, dtype=bool)
    mask[2000] = True  # one null, then one NaN
    with_gaps = pa.array(np.append(numbers, [np.nan, np.nan]), mask=mask)
    cities = ["paris"] * 6 + ["lyon"] * 3 + ["lille"] * 3 + ["nice"] + [None] * 1989
    return pa.table(
        {
            "x": with_gaps,
            "n": pa.array(np.arange(2002) % 7, pa.int32()),
            "city": pa.array(cities, pa.string()),
            "flag": pa.array([True, False, True, None] * 500 + [True, True]),
        }
    )


def test_counts_and_nulls(table: pa.Table) -> None:
    x = profile_table(table).column("x")
    assert (x.name, x.type, x.kind) == ("x", "double", "float")
    assert (x.count, x.nulls, x.nan) == (2002, 1, 1)
    assert x.distinct == 2001  # the NaN counts as a value to Arrow


def test_numeric_statistics_match_numpy(table: pa.Table, numbers: np.ndarray) -> None:
    x = profile_table(table).column("x")
    assert x.min == pytest.approx(numbers.min()) and x.max == pytest.approx(numbers.max())
    assert x.mean == pytest.approx(numbers.mean())
    assert x.std == pytest.approx(numbers.std())  # population standard deviation
    assert x.quantiles is not None and len(x.quantiles) == 101
    np.testing.assert_allclose(x.quantiles, np.percentile(numbers, np.arange(101)))


def test_histogram_covers_every_value_in_fixed_bins(table: pa.Table) -> None:
    x = profile_table(table).column("x")
    assert x.histogram is not None
    edges, counts = x.histogram["edges"], x.histogram["counts"]
    assert len(edges) == 21 and len(counts) == 20
    assert (edges[0], edges[-1]) == (x.min, x.max)
    assert sum(counts) == x.count - x.nulls - x.nan
    n = profile_table(table).column("n")
    assert n.kind == "integer" and n.histogram is not None
    assert sum(n.histogram["counts"]) == 2002


def test_bin_counts_puts_later_values_in_the_reference_bins() -> None:
    edges = [0.0, 1.0, 2.0, 3.0]
    later = pa.array([-5.0, 0.0, 0.5, 1.0, 2.5, 3.0, 3.5, None, float("nan")])
    counts, below, above = bin_counts(later, edges)
    assert counts.tolist() == [2, 1, 2]  # the last bin holds its right edge
    assert (below, above) == (1, 1)


def test_top_values_by_count_then_value_and_other(table: pa.Table) -> None:
    city = profile_table(table).column("city")
    assert city.top == (("paris", 6), ("lille", 3), ("lyon", 3), ("nice", 1))
    assert (city.other, city.distinct, city.nulls) == (0, 4, 1989)
    many = pa.table({"id": [f"v{i:02d}" for i in range(60)] + ["v59"]})
    ids = profile_table(many).column("id")
    assert ids.top is not None and ids.top[0] == ("v59", 2) and len(ids.top) == 50
    assert ids.other == 61 - 2 - 49


def test_booleans_and_categories_are_counted_as_text(table: pa.Table) -> None:
    flag = profile_table(table).column("flag")
    assert (flag.kind, flag.top, flag.nulls) == ("boolean", (("true", 1002), ("false", 500)), 500)
    chunks = pa.chunked_array(
        [pa.array(["a", "b", "a"]).dictionary_encode(), pa.array(["c", "a"]).dictionary_encode()]
    )
    cat = profile_table(pa.table({"c": chunks})).column("c")
    assert cat.kind == "categorical" and cat.type.startswith("dictionary<")
    assert (cat.top, cat.distinct) == ((("a", 3), ("b", 1), ("c", 1)), 3)


def test_datetimes_have_iso_bounds() -> None:
    stamps = [dt.datetime(2024, 3, 1, 8, 30), None, dt.datetime(2023, 12, 31, 23, 0)]
    profile = profile_table(
        pa.table(
            {
                "at": pa.array(stamps, pa.timestamp("us")),
                "day": pa.array([dt.date(2024, 1, 2), dt.date(2024, 1, 1), None]),
                "took": pa.array([1, 2, None], pa.duration("s")),
            }
        )
    )
    at = profile.column("at")
    assert (at.kind, at.type) == ("datetime", "timestamp[us]")
    assert (at.min, at.max) == ("2023-12-31T23:00:00", "2024-03-01T08:30:00")
    assert (profile.column("day").min, profile.column("day").max) == ("2024-01-01", "2024-01-02")
    assert profile.column("took").kind == "other"


def test_all_null_and_empty_columns_have_counts_only() -> None:
    profile = profile_table(
        pa.table(
            {"x": pa.array([None, None], pa.float64()), "s": pa.array([None, None], pa.string())}
        )
    )
    x, s = profile.column("x"), profile.column("s")
    assert (x.nulls, x.distinct, x.mean, x.quantiles, x.histogram) == (2, 0, None, None, None)
    assert (s.top, s.other) == ((), 0)
    empty = profile_table(pa.table({"x": pa.array([], pa.int64())}))
    assert empty.rows == 0 and empty.column("x").count == 0 and empty.column("x").min is None


def test_a_constant_column_gets_a_single_bin() -> None:
    c = profile_table(pa.table({"c": [3.0] * 10})).column("c")
    assert c.histogram == {"edges": [3.0, 3.0], "counts": [10]}
    assert (c.std, c.quantiles) == (0.0, (3.0,) * 101)
    counts, below, above = bin_counts(np.array([2.0, 3.0, 4.0]), c.histogram["edges"])
    assert (counts.tolist(), below, above) == ([1], 1, 1)


def test_integers_beyond_float_precision_are_profiled() -> None:
    big = profile_table(pa.table({"id": pa.array([2**60 + 1, 2**62], pa.int64())})).column("id")
    assert big.max == pytest.approx(2.0**62)


def test_profiles_round_trip_through_json(table: pa.Table) -> None:
    profile = profile_table(table.append_column("l", pa.array([[1]] * table.num_rows)))
    assert profile.column("l").distinct is None  # Arrow cannot count nested values
    back = TableProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert back == profile


def test_asking_for_a_missing_column_names_the_columns(table: pa.Table) -> None:
    with pytest.raises(InvalidInputError, match="no column 'nope'; its columns: x, n, city"):
        profile_table(table).column("nope")


def test_bad_input_is_refused_with_a_reason() -> None:
    twice = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(InvalidInputError, match=r"named more than once \(a\)"):
        profile_table(twice)
    with pytest.raises(InvalidInputError, match="not a column profile"):
        TableProfile.from_dict({"rows": 1, "columns": [{"name": "x", "colour": "red"}]})
