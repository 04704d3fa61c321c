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
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.monitoring.columns import Job, run_column
from loopml.monitoring.methods import TESTS, DriftTest, parse_test
from loopml.monitoring.report import ColumnDrift, DriftReport
from loopml.monitoring.sources import (
    ProfileSource,
    Source,
    TableSource,
    open_current,
    open_reference,
)

if TYPE_CHECKING:
    from loopml.data import DataClient

__all__ = ["drift"]

_NUMERIC = ("integer", "float")
_TEXT = ("string", "categorical", "boolean")


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
) -> tuple[list[Job], list[ColumnDrift]]:
    jobs: list[Job] = []
    skipped: list[ColumnDrift] = []
    everything = [(n, "feature") for n in names]
    if prediction is not None:
        everything.append((prediction, "prediction"))
    for name, role in everything:
        forced = name in categorical
        ref_kind, cur_kind = ref.kind_of(name), cur.kind_of(name)
        # a column of nulls only (pandas makes one of all-None objects) has no type of its
        # own: it takes the other side's, so it reads as "every value missing"
        ref_kind = cur_kind if ref_kind == "null" else ref_kind
        cur_kind = ref_kind if cur_kind == "null" else cur_kind
        if ref_kind == cur_kind == "null":
            ref_kind = cur_kind = "string"
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
        jobs.append(Job(name, role, kind, test))
    return jobs, skipped


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
        futures = [pool.submit(run_column, job, ref, cur, threshold, bins) for job in jobs]
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
