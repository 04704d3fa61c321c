"""A numeric reference distribution rebuilt from a stored column profile, and the drift
statistics of current data against it (no reference rows needed).

A profile (:mod:`loopml.data.profile`) holds one of three descriptions of a numeric column,
best first:

1. ``sketch = {"values", "counts"}``: every distinct value with its count (columns with at
   most 1,000 distinct values). The reference distribution is known **exactly**, and every
   statistic equals the one computed on the reference rows (up to rounding).
2. ``sketch = {"p", "q"}``: quantiles at 0.1 % steps plus tail points. The reference CDF is
   the piecewise-linear curve through the points ``(q, p)``, with a jump wherever
   quantiles repeat (a value carrying more than 0.1 % of the rows). Its error at any value
   is at most one grid step (0.1 % of rank), typically 0.01-0.03 %.
3. ``quantiles``: the 101 percentiles of profiles stored before the sketch existed; the
   same construction with 1 % steps, so up to 1 % of rank error (about 0.6-1 % in the
   tails of smooth distributions, measured).

From that CDF and the current sample:

- KS: ``sup |F_ref - F_cur|``, read at both sides of every jump of either curve (between
  them the difference is monotone, so the supremum sits there); its p-value from
  Smirnov's distribution for the effective size, the reference's size being its value
  count (with exact counts and at most 10,000 values a side, the exact distribution, as
  on the rows). The statistic is off by at most the CDF's error, which matters once that error
  nears the test's critical value (about ``1.36 / sqrt(n*m/(n+m))``).
- Wasserstein: ``∫ |F_ref - F_cur| dx`` integrated exactly between breakpoints (linear
  against constant pieces), normalised by the profile's standard deviation.
- PSI and Jensen-Shannon: the bin edges are the reference quantiles at 10 %, 20 %, …
  (grid points of every form, so exact), the reference shares in them read off the CDF.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.data.profile import ColumnProfile
from loopml.monitoring.stats import EXACT_KS_MAX, NumericStats, js_distance, ks_pvalue, psi

__all__ = ["ProfileDistribution", "compare_to_profile"]


@dataclass(frozen=True)
class ProfileDistribution:
    """A reference CDF from a profile: step (exact counts) or piecewise linear (quantiles).

    Attributes:
        n: the number of finite reference values.
        std: their population standard deviation.
        exact: True when built from every distinct value's count.
        knots: sorted x positions (distinct values, or quantiles that may repeat).
        levels: the CDF at each knot (right limit), for exact counts; the quantile
            probabilities otherwise.
    """

    n: int
    std: float
    exact: bool
    knots: np.ndarray
    levels: np.ndarray
    basis: str  # "values", "sketch" or "percentiles"
    cumulative: np.ndarray | None = None  # exact counts only: values at or below each knot

    @classmethod
    def from_profile(cls, column: Mapping[str, Any] | ColumnProfile) -> ProfileDistribution | None:
        """The distribution a column profile (``ColumnProfile.to_dict()`` form, or the
        profile object) describes; None when it has no finite values."""
        get = column.get if isinstance(column, Mapping) else lambda k: getattr(column, k, None)
        values = int(get("count") or 0) - int(get("nulls") or 0) - int(get("nan") or 0)
        std = float(get("std") or 0.0)
        sketch = get("sketch")
        if values <= 0:
            return None
        if sketch is not None and "values" in sketch:
            knots = np.asarray(sketch["values"], dtype=float)
            cumulative = np.cumsum(np.asarray(sketch["counts"], dtype=np.int64))
            total = int(cumulative[-1])
            return cls(total, std, True, knots, cumulative / total, "values", cumulative)
        if sketch is not None and "q" in sketch:
            return cls(
                values,
                std,
                False,
                np.asarray(sketch["q"], dtype=float),
                np.asarray(sketch["p"], dtype=float),
                "sketch",
            )
        quantiles = get("quantiles")
        if not quantiles:
            return None
        q = np.asarray(quantiles, dtype=float)
        levels = np.arange(q.size) / (q.size - 1)  # k/100 exactly, as the grid of probs
        return cls(values, std, False, q, levels, "percentiles")

    def _interpolate(self, x: np.ndarray, j: np.ndarray) -> np.ndarray:
        last = self.knots.size - 1
        jj = np.clip(j, 0, last - 1) if last > 0 else np.zeros_like(j)
        if last == 0:
            out = np.where(j >= 0, 1.0, 0.0)
            return np.asarray(out, dtype=float)
        x0, x1 = self.knots[jj], self.knots[jj + 1]
        p0, p1 = self.levels[jj], self.levels[jj + 1]
        width = x1 - x0
        safe = np.where(width > 0, width, 1.0)
        weight = np.where(width > 0, np.clip((x - x0) / safe, 0.0, 1.0), 0.0)
        out = p0 + weight * (p1 - p0)
        out = np.where(j < 0, 0.0, out)
        return np.asarray(np.where(j >= last, 1.0, out), dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """``F(x)``: the share of reference values at or below x."""
        x = np.asarray(x, dtype=float)
        j = np.searchsorted(self.knots, x, side="right") - 1
        if self.exact:
            return np.where(j < 0, 0.0, self.levels[np.clip(j, 0, None)])
        return self._interpolate(x, j)

    def cdf_left(self, x: np.ndarray) -> np.ndarray:
        """``F(x-)``: the share of reference values strictly below x."""
        x = np.asarray(x, dtype=float)
        j = np.searchsorted(self.knots, x, side="left") - 1
        if self.exact:
            return np.where(j < 0, 0.0, self.levels[np.clip(j, 0, None)])
        return self._interpolate(x, j)

    def quantile(self, probs: np.ndarray) -> np.ndarray:
        """The reference quantiles at ``probs`` as :func:`numpy.quantile` (linear) would
        give them on the reference rows: exact for counts and for grid probabilities."""
        probs = np.asarray(probs, dtype=float)
        if self.exact and self.cumulative is not None:
            # order statistic h = (n-1)p, interpolated between its neighbours
            h = (self.n - 1) * probs
            lo = np.floor(h)
            counts_below = np.concatenate([[0], self.cumulative])
            idx_lo = np.searchsorted(counts_below, lo, side="right") - 1
            idx_hi = np.searchsorted(counts_below, np.minimum(lo + 1, self.n - 1), side="right") - 1
            v_lo = self.knots[np.clip(idx_lo, 0, self.knots.size - 1)]
            v_hi = self.knots[np.clip(idx_hi, 0, self.knots.size - 1)]
            return np.asarray(v_lo + (h - lo) * (v_hi - v_lo), dtype=float)
        return np.asarray(np.interp(probs, self.levels, self.knots), dtype=float)

    def bin_shares(self, edges: np.ndarray) -> np.ndarray:
        """Shares in (-inf, e1], (e1, e2], …, (e_last, inf)."""
        at = self.cdf(edges) if edges.size else np.empty(0)
        return np.diff(np.concatenate([[0.0], at, [1.0]]))


def _area(a: np.ndarray, b: np.ndarray, width: np.ndarray) -> float:
    """∫ |g| over intervals where g runs linearly from a to b."""
    same = a * b >= 0
    total = np.abs(a) + np.abs(b)
    safe = np.where(total > 0, total, 1.0)
    crossing = (a * a + b * b) / (2 * safe)
    return float(np.sum(width * np.where(same, total / 2, crossing)))


def compare_to_profile(
    reference: ProfileDistribution, current: np.ndarray, bins: int = 10
) -> NumericStats:
    """Every numeric statistic of a sorted, finite, non-empty current sample against a
    profile's reference distribution (see the module docstring for what is exact)."""
    m = current.size
    points = np.unique(np.concatenate([current, reference.knots]))
    ref_right, ref_left = reference.cdf(points), reference.cdf_left(points)
    cur_right = np.searchsorted(current, points, side="right") / m
    cur_left = np.searchsorted(current, points, side="left") / m
    d = float(max(np.abs(ref_right - cur_right).max(), np.abs(ref_left - cur_left).max()))
    if points.size > 1:
        # on [x_i, x_i+1): F_cur is constant, F_ref linear from F(x_i) to F(x_i+1 -)
        a = ref_right[:-1] - cur_right[:-1]
        b = ref_left[1:] - cur_right[:-1]
        raw = _area(a, b, np.diff(points))
    else:
        raw = 0.0
    probs = np.arange(1, bins) / bins
    edges = np.unique(reference.quantile(probs))
    ref_shares = reference.bin_shares(edges)
    below = np.searchsorted(current, edges, side="right")
    cur_bins = np.diff(np.concatenate([[0], below, [m]]))
    sample = None
    if reference.cumulative is not None and max(reference.n, m) <= EXACT_KS_MAX:
        # small and known exactly: the reference sample itself, for the exact p-value
        counts = np.diff(np.concatenate([[0], reference.cumulative]))
        sample = (np.repeat(reference.knots, counts), current)
    std = reference.std
    normalised = raw / std if std > 0 else (0.0 if raw == 0 else float("inf"))
    return NumericStats(
        ks=d,
        ks_p_value=ks_pvalue(d, reference.n, m, sample),
        wasserstein=normalised,
        wasserstein_raw=raw,
        psi=psi(ref_shares, cur_bins),
        jensenshannon=js_distance(ref_shares, cur_bins),
    )
