"""``drift``: compare current data with a reference, column by column.

    report = lm.monitoring.drift(reference="rides@3", current="today.parquet")
    report.drifted_columns, report.dataset_drift, report.to_frame(), report.save_html("d.html")

Each column is read once, its values sorted once (numbers) or counted once (categories),
and every statistic is computed from that (:mod:`loopml.monitoring.stats`, or
:mod:`loopml.monitoring.sketch` against a stored profile). Columns run in a thread pool:
sorting, merging and counting run in NumPy and Arrow kernels that release the GIL.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data.profile import as_text
from loopml.errors import InvalidInputError
from loopml.monitoring.methods import TESTS, DriftTest, parse_test
from loopml.monitoring.report import ColumnDrift, DriftReport
from loopml.monitoring.sketch import ProfileDistribution, compare_to_profile
from loopml.monitoring.sources import (
    ProfileSource,
    Source,
    TableSource,
    open_current,
    open_reference,
)
from loopml.monitoring.stats import compare_counts, compare_sorted, sorted_quantile

if TYPE_CHECKING:
    from loopml.data import DataClient

__all__ = ["drift"]

_NUMERIC = ("integer", "float")
_TEXT = ("string", "categorical", "boolean")
_FEW = 20  # fewer values than this on a side: say the test has little to go on
_PLOT_BINS = 30
_PLOT_LEVELS = 20
_OTHER = "(other)"


@dataclass(frozen=True)
class _Job:
    name: str
    role: str
    kind: str
    test: DriftTest


def _kind(source_kind: str, forced: bool) -> str | None:
    if forced:
        return "categorical" if source_kind in (*_NUMERIC, *_TEXT, "datetime") else None
    if source_kind in _NUMERIC:
        return "numeric"
    if source_kind in _TEXT:
        return "categorical"
    return None


def _skip(name: str, role: str, kind: str, note: str, ref: Source, cur: TableSource) -> ColumnDrift:
    return ColumnDrift(
        name, role, kind, None, None, None, None, None, None, None,
        ref.num_rows, cur.num_rows, 0, 0, _basis_label(ref), note,
    )  # fmt: skip


def _basis_label(ref: Source) -> str:
    return "profile" if isinstance(ref, ProfileSource) else "data"


def _names(
    ref: Source, cur: TableSource, columns: Sequence[str] | None, prediction: str | None
) -> tuple[list[str], list[tuple[str, str]]]:
    """(columns to check, [(column, why not)] for columns=None)."""
    if columns is not None:
        wanted = list(dict.fromkeys(columns))
        for side, source in (("reference", ref), ("current", cur)):
            missing = [c for c in wanted if not source.has(c)]
            if missing:
                raise InvalidInputError(
                    f"column(s) {', '.join(map(repr, missing))} are not in the {side} data "
                    f"({source.label}); its columns: {', '.join(source.names) or 'none'}"
                )
        skipped: list[tuple[str, str]] = []
    else:
        ref_names = ref.names
        wanted = [c for c in ref_names if cur.has(c)]
        skipped = [(c, "not in the current data") for c in ref_names if not cur.has(c)]
        skipped += [(c, "not in the reference") for c in cur.names if not ref.has(c)]
    if prediction is not None:
        for side, source in (("reference", ref), ("current", cur)):
            if not source.has(prediction):
                raise InvalidInputError(
                    f"the prediction column {prediction!r} is not in the {side} data "
                    f"({source.label}); its columns: {', '.join(source.names) or 'none'}"
                )
        wanted = [c for c in wanted if c != prediction]
        skipped = [s for s in skipped if s[0] != prediction]
    return wanted, skipped


def _plan(
    ref: Source,
    cur: TableSource,
    names: list[str],
    prediction: str | None,
    tests: Mapping[str, DriftTest],
    categorical: set[str],
    explicit: bool,
) -> tuple[list[_Job], list[ColumnDrift]]:
    jobs: list[_Job] = []
    skipped: list[ColumnDrift] = []
    everything = [(n, "feature") for n in names]
    if prediction is not None:
        everything.append((prediction, "prediction"))
    for name, role in everything:
        forced = name in categorical
        ref_kind, cur_kind = ref.kind_of(name), cur.kind_of(name)
        kinds = (_kind(ref_kind, forced), _kind(cur_kind, forced))
        if None in kinds:
            odd = ref_kind if kinds[0] is None else cur_kind
            if explicit or role == "prediction":
                raise InvalidInputError(
                    f"column {name!r} holds {odd} values, which drift tests do not compare; "
                    "leave it out of columns= (or pass it in categorical= to compare its "
                    "values as categories)"
                )
            skipped.append(_skip(name, role, odd, f"{odd} columns are not tested", ref, cur))
            continue
        if kinds[0] != kinds[1]:
            note = (
                f"the reference holds {ref_kind} values and the current data {cur_kind} "
                f"values; cast one side, or pass categorical=[{name!r}] to compare both as "
                "categories"
            )
            skipped.append(_skip(name, role, "mismatch", note, ref, cur))
            continue
        kind = kinds[0]
        assert kind is not None
        if (
            isinstance(ref, ProfileSource)
            and kind == "categorical"
            and ref.column_profile(name).top is None
        ):
            note = (
                f"the reference profile holds {ref_kind} statistics, not category counts; "
                "compare against the reference rows (exact=True) to test it as categories"
            )
            skipped.append(_skip(name, role, "mismatch", note, ref, cur))
            continue
        test = tests.get(name, DriftTest())
        if kind not in TESTS[test.name]:
            raise InvalidInputError(
                f"the {test.name!r} test does not apply to the {kind} column {name!r}; tests "
                f"for {kind} columns: "
                + ", ".join(t for t, kinds_ in TESTS.items() if kind in kinds_)
            )
        jobs.append(_Job(name, role, kind, test))
    return jobs, skipped


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
    job: _Job, stats: Mapping[str, float], alpha: float
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


def _run_numeric(job: _Job, ref: Source, cur: TableSource, alpha: float, bins: int) -> ColumnDrift:
    cur_sorted, cur_missing = _sorted_values(cur.column(job.name))
    ref_sorted: np.ndarray | None = None
    ref_dist: ProfileDistribution | None = None
    if isinstance(ref, ProfileSource):
        profile = ref.column_profile(job.name)
        ref_rows, ref_missing = profile.count, profile.nulls + profile.nan
        ref_dist = ProfileDistribution.from_profile(profile.to_dict())
        ref_n = 0 if ref_dist is None else ref_dist.n
        basis = f"profile ({ref_dist.basis})" if ref_dist is not None else "profile"
    else:
        ref_sorted, ref_missing = _sorted_values(ref.column(job.name))
        ref_rows, ref_n, basis = ref_sorted.size + ref_missing, ref_sorted.size, "data"
    cur_n = cur_sorted.size
    base: dict[str, Any] = {
        "column": job.name, "role": job.role, "kind": job.kind,
        "ref_count": ref_rows, "cur_count": cur_n + cur_missing,
        "ref_nulls": ref_missing, "cur_nulls": cur_missing, "basis": basis,
    }  # fmt: skip
    if ref_n == 0 or cur_n == 0:
        drifted, note = _empty_outcome(ref_n, cur_n)
        return ColumnDrift(
            **base, test=job.test.name, statistic=None, p_value=None, threshold=None,
            distance=None, distance_threshold=None, drifted=drifted, note=note,
        )  # fmt: skip
    if ref_dist is not None:
        stats = compare_to_profile(ref_dist, cur_sorted, bins).as_dict()
    else:
        assert ref_sorted is not None
        stats = compare_sorted(ref_sorted, cur_sorted, bins).as_dict()
    test, statistic, p_value, threshold, distance, d_threshold, drifted = _decide(job, stats, alpha)
    return ColumnDrift(
        **base, test=test, statistic=statistic, p_value=p_value, threshold=threshold,
        distance=distance, distance_threshold=d_threshold, drifted=drifted,
        note=_notes(ref_n, cur_n, basis), stats=stats,
        histogram=_numeric_histogram(ref_sorted, ref_dist, cur_sorted),
    )  # fmt: skip


def _run_categorical(job: _Job, ref: Source, cur: TableSource, alpha: float) -> ColumnDrift:
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
        drifted, note = _empty_outcome(ref_n, cur_n)
        return ColumnDrift(
            **base, test=job.test.name, statistic=None, p_value=None, threshold=None,
            distance=None, distance_threshold=None, drifted=drifted, note=note,
        )  # fmt: skip
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


def _run(job: _Job, ref: Source, cur: TableSource, alpha: float, bins: int) -> ColumnDrift:
    if job.kind == "numeric":
        return _run_numeric(job, ref, cur, alpha, bins)
    return _run_categorical(job, ref, cur, alpha)


# -- the API ------------------------------------------------------------------------------
def _check_arguments(threshold: float, drift_share: float, bins: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise InvalidInputError(f"threshold must be a number between 0 and 1, got {threshold!r}")
    if not 0 < threshold < 1:
        raise InvalidInputError(
            f"threshold is the significance level of the p-value tests and must lie between "
            f"0 and 1 (e.g. 0.05), got {threshold}"
        )
    if isinstance(drift_share, bool) or not isinstance(drift_share, (int, float)):
        raise InvalidInputError(f"drift_share must be a number in (0, 1], got {drift_share!r}")
    if not 0 < drift_share <= 1:
        raise InvalidInputError(
            f"drift_share is the share of drifted features that makes the dataset drift "
            f"and must lie in (0, 1], got {drift_share}"
        )
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 100:
        raise InvalidInputError(f"bins must be a whole number from 2 to 100, got {bins!r}")


def _names_arg(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (Sequence, set, frozenset)):
        raise InvalidInputError(f"{what} must be a list of column names, got {value!r}")
    if not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"{what} must hold column names (strings), got {value!r}")
    return list(value)


def drift(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    tests: Mapping[str, Any] | None = None,
    threshold: float = 0.05,
    categorical: Sequence[str] | None = None,
    prediction: str | None = None,
    drift_share: float = 0.5,
    bins: int = 10,
    exact: bool = False,
    data: DataClient | None = None,
    max_workers: int | None = None,
    on_column: Callable[[ColumnDrift], None] | None = None,
) -> DriftReport:
    """Test every column of ``current`` for drift from ``reference``.

    Args:
        reference: a table (pandas, polars, Arrow, a dict of columns), a Parquet or CSV
            path, a dataset version (``DatasetVersion``, ``"datasets:/rides/3"``,
            ``"rides@3"``) or a ``TableProfile``. A dataset version is compared through
            its stored profile (its rows are never read) unless ``exact``.
        current: the data to check: the same forms, but not a profile.
        columns: the columns to test (default: every column both sides have; the rest
            are listed as not tested).
        tests: per-column tests, ``{"fare": "psi", "city": ("chi2", 0.01)}``; a test is a
            name, ``"name:threshold"``, a ``(name, threshold)`` pair or a
            :class:`~loopml.monitoring.DriftTest`. Default: ``auto`` (see
            :mod:`loopml.monitoring.methods`).
        threshold: the significance level of the p-value tests (``auto``, ``ks``, ``chi2``)
            that have no threshold of their own.
        categorical: columns to compare as categories whatever their type (integer codes,
            say); by default numbers are numeric and strings, dictionaries and booleans
            categorical.
        prediction: a model output column (``output.prediction`` reaches into a struct
            column) to test like the others and report as :attr:`DriftReport.prediction`,
            outside the features' drift share.
        drift_share: the share of tested features that must drift for ``dataset_drift``.
        bins: bins of reference quantiles for PSI and Jensen-Shannon on numbers.
        exact: compare a dataset version's rows instead of its stored profile.
        data: the data client that resolves dataset versions (default: the default store).
        max_workers: threads over columns (default: one per CPU).
        on_column: called with each column's result as it finishes (a progress bar).

    Returns:
        The :class:`DriftReport`.

    Raises:
        InvalidInputError: empty data, a column missing from a side, a test that does not
            fit a column, a bad threshold, an input that is not a table.
        DatasetNotFoundError, DatasetVersionNotFoundError: an unknown dataset version.
    """
    _check_arguments(threshold, drift_share, bins)
    wanted = _names_arg(columns, "columns")
    forced = set(_names_arg(categorical, "categorical") or [])
    if tests is not None and not isinstance(tests, Mapping):
        raise InvalidInputError(
            f"tests must map column names to tests, e.g. {{'fare': 'psi'}}, got {tests!r}"
        )
    specs = {str(k): parse_test(v) for k, v in (tests or {}).items()}
    ref = open_reference(reference, data, exact)
    cur = open_current(current, data)
    for side, source in (("reference", ref), ("current", cur)):
        if source.num_rows == 0:
            raise InvalidInputError(
                f"the {side} data ({source.label}) has no rows; drift needs data on both sides"
            )
    names, absent = _names(ref, cur, wanted, prediction)
    checked = {*names, *([prediction] if prediction else [])}
    unknown = sorted(set(specs) - checked)
    if unknown:
        raise InvalidInputError(
            f"tests= names column(s) that are not checked: {', '.join(map(repr, unknown))}; "
            f"checked: {', '.join(sorted(checked)) or 'none'}"
        )
    jobs, skipped = _plan(ref, cur, names, prediction, specs, forced, wanted is not None)
    skipped += [_skip(n, "feature", "missing", why, ref, cur) for n, why in absent]
    workers = max(1, min(len(jobs), max_workers or os.cpu_count() or 1))
    results: dict[str, ColumnDrift] = {s.column: s for s in skipped}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loopml-drift") as pool:
        futures = [pool.submit(_run, job, ref, cur, threshold, bins) for job in jobs]
        for future in futures:
            result = future.result()
            results[result.column] = result
            if on_column is not None:
                on_column(result)
    ref_names = ref.names
    known = set(ref_names)
    order = [*ref_names, *(n for n in cur.names if n not in known)]
    ordered = [results.pop(n) for n in order if n in results and n != prediction]
    ordered += [r for r in results.values() if r.role == "feature"]  # dotted paths
    ordered += [r for r in results.values() if r.role == "prediction"]
    return DriftReport(
        tuple(ordered), float(drift_share), ref.label, cur.label, ref.num_rows, cur.num_rows
    )
