"""Slices and fairness.

Slices: every value of a named column, or, for a numeric column with more than 20 values,
its quartile buckets (``[a, b)``). Each slice reports its sample count; slices below the
minimum count are reported but not gated.

Fairness for a sensitive column, with Fairlearn's definitions (binary classification):

- demographic parity difference: the largest minus the smallest selection rate (share of
  positive predictions) over the groups; ratio: smallest over largest;
- equalized odds difference: the larger of the spreads of true-positive and
  false-positive rates over the groups.

For every task, the metrics of each group are reported too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FAIRNESS_METRICS", "FairnessResult", "SliceResult", "fairness", "iter_slices"]

FAIRNESS_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
)
_MAX_VALUES = 20


@dataclass
class SliceResult:
    """The metrics of one slice: rows where ``column`` has ``value``."""

    column: str
    value: str
    count: int
    metrics: dict[str, float]
    gated: bool  # False below the minimum count: reported, not gated


@dataclass
class FairnessResult:
    """Fairness of the predictions across the groups of one sensitive column."""

    column: str
    metrics: dict[str, float] = field(default_factory=dict)
    by_group: dict[str, dict[str, float]] = field(default_factory=dict)


def iter_slices(frame: Any, column: str) -> Iterator[tuple[str, np.ndarray]]:
    """(label, boolean mask) for each value or bucket of a column; nulls form ``null``."""
    series = frame[column]
    values = series.dropna()
    numeric = values.dtype.kind in "iuf" and values.nunique() > _MAX_VALUES
    if numeric:
        edges = np.unique(np.quantile(values.to_numpy(dtype=float), [0, 0.25, 0.5, 0.75, 1]))
        data = series.to_numpy(dtype=float)
        for i in range(len(edges) - 1):
            low, high = edges[i], edges[i + 1]
            last = i == len(edges) - 2
            mask = (data >= low) & ((data <= high) if last else (data < high))
            yield f"[{low:g}, {high:g}{']' if last else ')'}", mask
    else:
        for value in sorted(values.unique().tolist(), key=str):
            yield str(value), (series == value).to_numpy()
    nulls = series.isna().to_numpy()
    if nulls.any():
        yield "null", nulls


def _rates(y: np.ndarray, pred: np.ndarray, positive: Any) -> tuple[float, float, float]:
    selected = pred == positive
    actual = y == positive
    tpr = float(selected[actual].mean()) if actual.any() else float("nan")
    fpr = float(selected[~actual].mean()) if (~actual).any() else float("nan")
    return float(selected.mean()), tpr, fpr


def _spread(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(max(finite) - min(finite)) if finite else float("nan")


def fairness(
    frame: Any,
    column: str,
    y: np.ndarray,
    pred: np.ndarray,
    metrics_of: Callable[[np.ndarray], dict[str, float]],
    positive: Any | None,
) -> FairnessResult:
    """Per-group metrics of a sensitive column, and with a positive label (binary
    classification) demographic parity and equalized odds."""
    result = FairnessResult(column)
    selection, tprs, fprs = [], [], []
    for label, mask in iter_slices(frame, column):
        if not mask.any():
            continue
        group = dict(metrics_of(mask))
        if positive is not None:
            rate, tpr, fpr = _rates(y[mask], pred[mask], positive)
            group["selection_rate"] = rate
            selection.append(rate)
            tprs.append(tpr)
            fprs.append(fpr)
        result.by_group[label] = group
    if positive is not None and selection:
        high, low = max(selection), min(selection)
        result.metrics = {
            "demographic_parity_difference": float(high - low),
            "demographic_parity_ratio": float(low / high) if high > 0 else float("nan"),
            "equalized_odds_difference": float(np.nanmax([_spread(tprs), _spread(fprs)])),
        }
    return result
