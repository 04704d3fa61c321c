"""Testing one column: read it once, sort (numbers) or count (categories) it once, compute
every statistic from that, and decide.

A column whose test only counts (``psi``, ``jensenshannon`` on numbers; every categorical
column) is read piece by piece — Parquet row groups one at a time — and never held whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data.profile import as_text
from loopml.monitoring.methods import DriftTest
from loopml.monitoring.report import ColumnDrift
from loopml.monitoring.sketch import ProfileDistribution, compare_to_profile
from loopml.monitoring.sources import ProfileSource, Source, TableSource
from loopml.monitoring.stats import (
    compare_counts,
    compare_sorted,
    js_distance,
    psi,
    quantile_edges,
    sorted_quantile,
)

__all__ = ["Job", "run_column"]

_FEW = 20  # fewer values than this on a side: say the test has little to go on
_PLOT_BINS = 30
_PLOT_LEVELS = 20
_OTHER = "(other)"
_BINNED = ("psi", "jensenshannon")  # tests that only count: the current side is streamed


@dataclass(frozen=True)
class Job:
    """One column to test: its name, role (feature or prediction), kind and test."""

    name: str
    role: str
    kind: str
    test: DriftTest


# -- reading a column ---------------------------------------------------------------------
def _sorted_values(column: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """(sorted finite values as float64, count of nulls, NaN and infinities)."""
    # unsafe: integers beyond 2**53 round instead of raising
    array = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    finite = array[np.isfinite(array)]
    finite.sort()
    return finite, int(array.size - finite.size)


def _value_counts(source: TableSource, name: str) -> tuple[pa.Array, np.ndarray, int]:
    """(distinct non-null values as strings, their counts, nulls), one piece at a time."""
    values: list[pa.Array] = []
    counts: list[pa.Array] = []
    rows = 0
    for piece in source.batches(name):
        rows += len(piece)
        # count first, then turn only the distinct values into text
        found = pc.value_counts(piece)
        valid = pc.is_valid(found.field("values"))
        values.append(as_text(found.field("values").filter(valid)))
        counts.append(found.field("counts").filter(valid))
    if not values:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int64), 0
    table = pa.table({"v": pa.concat_arrays(values), "c": pa.concat_arrays(counts)})
    if len(values) > 1:
        table = table.group_by("v").aggregate([("c", "sum")]).rename_columns(["v", "c"])
    totals = table.column("c").to_numpy().astype(np.int64)
    return table.column("v").combine_chunks(), totals, rows - int(totals.sum())


def _align(
    ref_values: pa.Array, ref_counts: np.ndarray, cur_values: pa.Array, cur_counts: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    levels = pc.unique(pa.concat_arrays([ref_values, cur_values]))
    ref_vec = np.zeros(len(levels), dtype=np.int64)
    cur_vec = np.zeros(len(levels), dtype=np.int64)
    if len(ref_values):
        ref_vec[pc.index_in(ref_values, value_set=levels).to_numpy()] = ref_counts
    if len(cur_values):
        cur_vec[pc.index_in(cur_values, value_set=levels).to_numpy()] = cur_counts
    return levels.to_pylist(), ref_vec, cur_vec


def _against_top(
    top: Sequence[tuple[str, int]], other: int, cur_values: pa.Array, cur_counts: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    labels = [v for v, _ in top]
    ref_vec = np.array([c for _, c in top] + [other], dtype=np.int64)
    slots = np.full(len(cur_values), len(labels), dtype=np.int64)
    if len(cur_values) and labels:
        index = pc.index_in(cur_values, value_set=pa.array(labels, pa.string()))
        found = index.to_numpy(zero_copy_only=False)
        slots = np.where(np.isnan(found), len(labels), found).astype(np.int64)
    cur_vec = np.bincount(slots, weights=cur_counts, minlength=len(labels) + 1).astype(np.int64)
    return [*labels, _OTHER], ref_vec, cur_vec


# -- plots' data --------------------------------------------------------------------------
def _numeric_histogram(
    ref_sorted: np.ndarray | None, ref_dist: ProfileDistribution | None, cur: np.ndarray
) -> dict[str, list[float]]:
    tails = np.array([0.005, 0.995])
    if ref_dist is not None:
        ref_q = ref_dist.quantile(tails)
    else:
        assert ref_sorted is not None
        ref_q = sorted_quantile(ref_sorted, tails)
    cur_q = sorted_quantile(cur, tails)
    low, high = float(min(ref_q[0], cur_q[0])), float(max(ref_q[1], cur_q[1]))
    if not high > low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, _PLOT_BINS + 1)
    inner = edges[1:-1]
    if ref_dist is not None:
        ref_shares = np.diff(np.concatenate([[0.0], ref_dist.cdf(inner), [1.0]]))
    else:
        assert ref_sorted is not None
        below = np.searchsorted(ref_sorted, inner, side="right")
        ref_shares = np.diff(np.concatenate([[0], below, [ref_sorted.size]])) / ref_sorted.size
    below = np.searchsorted(cur, inner, side="right")
    cur_shares = np.diff(np.concatenate([[0], below, [cur.size]])) / cur.size
    return {
        "edges": [float(e) for e in edges],
        "reference": [float(s) for s in ref_shares],
        "current": [float(s) for s in cur_shares],
    }


def _categorical_histogram(
    labels: list[str], ref: np.ndarray, cur: np.ndarray
) -> dict[str, list[Any]]:
    ref_share = ref / max(1, ref.sum())
    cur_share = cur / max(1, cur.sum())
    order = np.argsort(-(ref_share + cur_share), kind="stable")
    keep, rest = order[:_PLOT_LEVELS], order[_PLOT_LEVELS:]
    names = [labels[i] for i in keep]
    r, c = list(ref_share[keep]), list(cur_share[keep])
    if rest.size:
        names.append(_OTHER if _OTHER not in names else f"{_OTHER} ")
        r.append(float(ref_share[rest].sum()))
        c.append(float(cur_share[rest].sum()))
    return {
        "labels": [str(n) for n in names],
        "reference": [float(x) for x in r],
        "current": [float(x) for x in c],
    }


# -- one column ---------------------------------------------------------------------------
def _decide(
    job: Job, stats: Mapping[str, float], alpha: float
) -> tuple[str, float, float | None, float, float | None, float | None, bool]:
    """(test label, statistic, p-value, threshold, distance, distance threshold, drifted)."""
    threshold, distance_threshold = job.test.resolved(alpha)
    name = job.test.name
    if name == "auto":
        p_test, d_test = (
            ("ks", "wasserstein") if job.kind == "numeric" else ("chi2", "jensenshannon")
        )
        p_value, distance = stats[f"{p_test}_p_value"], stats[d_test]
        assert distance_threshold is not None
        drifted = p_value < threshold and distance >= distance_threshold
        return (
            f"{p_test}+{d_test}", stats[p_test], p_value, threshold, distance,
            distance_threshold, drifted,
        )  # fmt: skip
    if name in ("ks", "chi2"):
        p_value = stats[f"{name}_p_value"]
        return name, stats[name], p_value, threshold, None, None, p_value < threshold
    return name, stats[name], None, threshold, None, None, stats[name] >= threshold


def _empty_outcome(ref_n: int, cur_n: int) -> tuple[bool | None, str]:
    if ref_n == 0 and cur_n == 0:
        return None, "no values on either side: nothing to test"
    if ref_n == 0:
        return None, "the reference has no values in this column: nothing to compare against"
    return True, f"every current value is missing (the reference has {ref_n:,} values)"


def _notes(ref_n: int, cur_n: int, basis: str) -> str:
    notes = []
    if min(ref_n, cur_n) < _FEW:
        notes.append(
            f"few values ({min(ref_n, cur_n)} on the smaller side): only a large change can show"
        )
    if basis == "profile (percentiles)":
        notes.append(
            "the reference profile predates sketches: statistics rebuilt from 101 "
            "percentiles (up to 1% rank error); log the reference again for a finer one"
        )
    return "; ".join(notes)


def _stream_bins(
    source: TableSource, name: str, edges: np.ndarray, plot_inner: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(counts in the test's bins, counts in the plot's bins, values, missing), one piece
    of the column at a time: nothing but the counts is kept."""
    counts = np.zeros(edges.size + 1, dtype=np.int64)
    plot = np.zeros(plot_inner.size + 1, dtype=np.int64)
    values = missing = 0
    for piece in source.batches(name):
        array = pc.cast(piece, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        finite = array[np.isfinite(array)]
        # (-inf, e1], (e1, e2], …: a value's bin is the number of edges below it
        counts += np.bincount(np.searchsorted(edges, finite), minlength=edges.size + 1)
        plot += np.bincount(np.searchsorted(plot_inner, finite), minlength=plot_inner.size + 1)
        values += finite.size
        missing += array.size - finite.size
    return counts, plot, values, missing


def _binned_only(
    job: Job,
    ref_sorted: np.ndarray | None,
    ref_dist: ProfileDistribution | None,
    cur: TableSource,
    bins: int,
) -> tuple[dict[str, float], dict[str, list[float]], int, int]:
    """PSI and Jensen-Shannon with the current column streamed (they only count)."""
    probs = np.arange(1, bins) / bins
    tails = np.array([0.005, 0.995])
    if ref_dist is not None:
        edges, (low, high) = np.unique(ref_dist.quantile(probs)), ref_dist.quantile(tails)
        ref_bins = ref_dist.bin_shares(edges)
    else:
        assert ref_sorted is not None
        edges = quantile_edges(ref_sorted, bins)
        low, high = sorted_quantile(ref_sorted, tails)
        below = np.searchsorted(ref_sorted, edges, side="right")
        ref_bins = np.diff(np.concatenate([[0], below, [ref_sorted.size]]))
    if not high > low:
        low, high = low - 0.5, high + 0.5
    plot_edges = np.linspace(float(low), float(high), _PLOT_BINS + 1)
    cur_bins, cur_plot, cur_n, cur_missing = _stream_bins(cur, job.name, edges, plot_edges[1:-1])
    stats = {"psi": psi(ref_bins, cur_bins), "jensenshannon": js_distance(ref_bins, cur_bins)}
    if ref_dist is not None:
        inner = ref_dist.cdf(plot_edges[1:-1])
        ref_plot = np.diff(np.concatenate([[0.0], inner, [1.0]]))
    else:
        assert ref_sorted is not None
        below = np.searchsorted(ref_sorted, plot_edges[1:-1], side="right")
        ref_plot = np.diff(np.concatenate([[0], below, [ref_sorted.size]])) / ref_sorted.size
    histogram = {
        "edges": [float(e) for e in plot_edges],
        "reference": [float(x) for x in ref_plot],
        "current": [float(x) / max(1, cur_n) for x in cur_plot],
    }
    return stats, histogram, cur_n, cur_missing


def _run_numeric(job: Job, ref: Source, cur: TableSource, alpha: float, bins: int) -> ColumnDrift:
    ref_sorted: np.ndarray | None = None
    ref_dist: ProfileDistribution | None = None
    if isinstance(ref, ProfileSource):
        profile = ref.column_profile(job.name)
        ref_rows, ref_missing = profile.count, profile.nulls + profile.nan
        ref_dist = ProfileDistribution.from_profile(profile)
        ref_n = 0 if ref_dist is None else ref_dist.n
        basis = f"profile ({ref_dist.basis})" if ref_dist is not None else "profile"
    else:
        ref_sorted, ref_missing = _sorted_values(ref.column(job.name))
        ref_rows, ref_n, basis = ref_sorted.size + ref_missing, ref_sorted.size, "data"
    streamed = job.test.name in _BINNED and ref_n > 0
    histogram: dict[str, list[float]] | None = None
    if streamed:
        stats, histogram, cur_n, cur_missing = _binned_only(job, ref_sorted, ref_dist, cur, bins)
    else:
        cur_sorted, cur_missing = _sorted_values(cur.column(job.name))
        cur_n = cur_sorted.size
    base: dict[str, Any] = {
        "column": job.name, "role": job.role, "kind": job.kind,
        "ref_count": ref_rows, "cur_count": cur_n + cur_missing,
        "ref_nulls": ref_missing, "cur_nulls": cur_missing, "basis": basis,
    }  # fmt: skip
    if ref_n == 0 or cur_n == 0:
        return _without_values(job, base, ref_n, cur_n)
    if not streamed:
        if ref_dist is not None:
            stats = compare_to_profile(ref_dist, cur_sorted, bins).as_dict()
        else:
            assert ref_sorted is not None
            stats = compare_sorted(ref_sorted, cur_sorted, bins).as_dict()
        histogram = _numeric_histogram(ref_sorted, ref_dist, cur_sorted)
    test, statistic, p_value, threshold, distance, d_threshold, drifted = _decide(job, stats, alpha)
    return ColumnDrift(
        **base, test=test, statistic=statistic, p_value=p_value, threshold=threshold,
        distance=distance, distance_threshold=d_threshold, drifted=drifted,
        note=_notes(ref_n, cur_n, basis), stats=stats, histogram=histogram,
    )  # fmt: skip


def _without_values(job: Job, base: dict[str, Any], ref_n: int, cur_n: int) -> ColumnDrift:
    """The outcome of a column with no values on a side: nothing to test, a note says why."""
    drifted, note = _empty_outcome(ref_n, cur_n)
    return ColumnDrift(
        **base, test=job.test.name, statistic=None, p_value=None, threshold=None,
        distance=None, distance_threshold=None, drifted=drifted, note=note,
    )  # fmt: skip


def _run_categorical(job: Job, ref: Source, cur: TableSource, alpha: float) -> ColumnDrift:
    cur_values, cur_counts, cur_missing = _value_counts(cur, job.name)
    if isinstance(ref, ProfileSource):
        profile = ref.column_profile(job.name)
        assert profile.top is not None
        labels, ref_vec, cur_vec = _against_top(
            profile.top, profile.other or 0, cur_values, cur_counts
        )
        ref_rows, ref_missing, basis = profile.count, profile.nulls, "profile (top values)"
    else:
        ref_values, ref_counts, ref_missing = _value_counts(ref, job.name)
        labels, ref_vec, cur_vec = _align(ref_values, ref_counts, cur_values, cur_counts)
        ref_rows, basis = int(ref_counts.sum()) + ref_missing, "data"
    ref_n, cur_n = int(ref_vec.sum()), int(cur_vec.sum())
    base: dict[str, Any] = {
        "column": job.name, "role": job.role, "kind": job.kind,
        "ref_count": ref_rows, "cur_count": cur_n + cur_missing,
        "ref_nulls": ref_missing, "cur_nulls": cur_missing, "basis": basis,
    }  # fmt: skip
    if ref_n == 0 or cur_n == 0:
        return _without_values(job, base, ref_n, cur_n)
    stats = compare_counts(ref_vec, cur_vec).as_dict()
    test, statistic, p_value, threshold, distance, d_threshold, drifted = _decide(job, stats, alpha)
    note = _notes(ref_n, cur_n, basis)
    if isinstance(ref, ProfileSource) and (ref.column_profile(job.name).other or 0) > 0:
        extra = "levels beyond the profile's top 50 are compared as one '(other)' level"
        note = f"{note}; {extra}" if note else extra
    return ColumnDrift(
        **base, test=test, statistic=statistic, p_value=p_value, threshold=threshold,
        distance=distance, distance_threshold=d_threshold, drifted=drifted, note=note,
        stats=stats, histogram=_categorical_histogram(labels, ref_vec, cur_vec),
    )  # fmt: skip


def run_column(job: Job, ref: Source, cur: TableSource, alpha: float, bins: int) -> ColumnDrift:
    """The drift result of one column (``alpha``: the default significance level)."""
    if job.kind == "numeric":
        return _run_numeric(job, ref, cur, alpha, bins)
    return _run_categorical(job, ref, cur, alpha)
