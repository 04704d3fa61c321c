"""The drift statistics of one column, with NumPy and SciPy over whole arrays.

Numbers arrive sorted once (finite values only) and every statistic reuses them:

- **Kolmogorov-Smirnov**: ``D = sup |F_ref - F_cur|`` over the merged sample, and its
  two-sided p-value as :func:`scipy.stats.ks_2samp` gives it (exact distribution when both
  samples have at most 10,000 values, Smirnov's asymptotic one above);
- **Wasserstein** (earth mover's) distance ``∫ |F_ref - F_cur| dx``, divided by the
  reference's standard deviation so that 0.1 means "a tenth of a standard deviation";
- **PSI** (population stability index) over ``bins`` bins whose edges are the reference's
  quantiles (deciles by default), so every reference bin holds about the same share;
- **Jensen-Shannon distance** (base 2, 0 to 1) over the same bins.

Categories arrive as counts over the union of levels seen on either side:

- **chi-square** on the 2 x K contingency table (reference row, current row): both rows are
  samples, so the test asks whether they come from one distribution. Testing the current
  counts against the reference *proportions* as if they were exact (a goodness-of-fit test)
  ignores the reference's own sampling noise and, with equal sample sizes, raises false
  alarms in about half of all comparisons of ten levels. Levels too rare for the chi-square
  approximation (expected count below 5 in the smaller row) are pooled into one;
- **Jensen-Shannon distance** and **PSI** over the levels.

Empty bins and levels: PSI takes the logarithm of a ratio of shares, so a share of 0 is
replaced by :data:`PSI_EPSILON` (1e-4, i.e. 0.01 %) on either side before the sum.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "EXACT_KS_MAX",
    "PSI_EPSILON",
    "CategoricalStats",
    "NumericStats",
    "chi2_pooled",
    "compare_counts",
    "compare_sorted",
    "js_distance",
    "ks_pvalue",
    "psi",
    "quantile_edges",
    "sorted_quantile",
]

PSI_EPSILON = 1e-4
_WARNINGS_LOCK = threading.Lock()
EXACT_KS_MAX = 10_000  # scipy.stats.ks_2samp's "auto" method is exact up to this size
_MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class NumericStats:
    """Every statistic of one numeric column (a distance is ``inf`` when the reference is
    constant and the current data is not)."""

    ks: float
    ks_p_value: float
    wasserstein: float  # normalised by the reference's standard deviation
    wasserstein_raw: float
    psi: float
    jensenshannon: float

    def as_dict(self) -> dict[str, float]:
        """The statistics by name."""
        return {
            "ks": self.ks,
            "ks_p_value": self.ks_p_value,
            "wasserstein": self.wasserstein,
            "wasserstein_raw": self.wasserstein_raw,
            "psi": self.psi,
            "jensenshannon": self.jensenshannon,
        }


@dataclass(frozen=True)
class CategoricalStats:
    """Every statistic of one categorical column."""

    chi2: float
    chi2_p_value: float
    chi2_dof: int
    jensenshannon: float
    psi: float

    def as_dict(self) -> dict[str, float]:
        """The statistics by name."""
        return {
            "chi2": self.chi2,
            "chi2_p_value": self.chi2_p_value,
            "chi2_dof": float(self.chi2_dof),
            "jensenshannon": self.jensenshannon,
            "psi": self.psi,
        }


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2 (0 for identical shares, 1 for disjoint ones), of
    two count or share vectors; equal to ``scipy.spatial.distance.jensenshannon(p, q,
    base=2)``."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        right = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(np.sqrt(max(0.0, (left + right) / 2)))


def psi(reference: np.ndarray, current: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index ``Σ (c - r) ln(c / r)`` of two count or share vectors,
    with shares of 0 replaced by ``epsilon``."""
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    if r.sum() <= 0 or c.sum() <= 0:
        return 0.0
    r = np.maximum(r / r.sum(), epsilon)
    c = np.maximum(c / c.sum(), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_pvalue(d: float, n: int, m: int, exact_from: tuple[Any, Any] | None = None) -> float:
    """The two-sided p-value of a two-sample KS statistic ``d`` for sample sizes n and m.

    With ``exact_from`` (the two sorted samples) and both sizes at most
    :data:`EXACT_KS_MAX`, the exact distribution through :func:`scipy.stats.ks_2samp`;
    otherwise Smirnov's distribution for the effective size ``n*m/(n+m)``, which is what
    ks_2samp uses for larger samples.
    """
    from scipy import stats

    if exact_from is not None and max(n, m) <= EXACT_KS_MAX:
        # Where the exact sum fails, SciPy warns and falls back to the asymptotic value.
        # catch_warnings swaps process-wide state, and columns are compared in threads:
        # without the lock one thread's exit restores the filters another is relying on.
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(stats.ks_2samp(exact_from[0], exact_from[1]).pvalue)
    big, small = max(n, m), min(n, m)
    en = big * small / (big + small)
    return float(np.clip(stats.kstwo.sf(d, max(1.0, np.round(en))), 0.0, 1.0))


def sorted_quantile(sorted_values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """:func:`numpy.quantile` (linear method) of an already sorted array, by indexing
    instead of partitioning it again."""
    probs = np.asarray(probs, dtype=float)
    h = (sorted_values.size - 1) * probs
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, sorted_values.size - 1)
    t = h - lo
    below, above = sorted_values[lo], sorted_values[hi]
    step = above - below
    # numpy's interpolation: from whichever neighbour is nearer, for the same rounding
    return np.asarray(np.where(t >= 0.5, above - step * (1 - t), below + step * t), dtype=float)


def quantile_edges(sorted_values: np.ndarray, bins: int) -> np.ndarray:
    """The distinct inner edges of ``bins`` equal-share bins of a sorted sample (its
    quantiles at 1/bins, 2/bins, …; repeated quantiles of tied values collapse)."""
    probs = np.arange(1, bins) / bins
    return np.unique(sorted_quantile(sorted_values, probs))


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in (-inf, e1], (e1, e2], …, (e_last, inf) of a sorted sample."""
    below = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], below, [sorted_values.size]]))


def _normalise(raw: float, std: float) -> float:
    if std > 0:
        return raw / std
    return 0.0 if raw == 0 else math.inf


def compare_sorted(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> NumericStats:
    """Every numeric statistic of two sorted, finite, non-empty float arrays.

    The two arrays are merged once (a stable argsort of their concatenation, which merges
    two sorted runs in linear time); both empirical CDFs are read off at the end of every
    group of equal values, which gives the KS statistic and the Wasserstein integral
    exactly as :func:`scipy.stats.ks_2samp` and :func:`scipy.stats.wasserstein_distance`
    compute them.
    """
    n, m = reference.size, current.size
    merged = np.concatenate([reference, current])
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    from_ref = np.cumsum(order < n)
    ends = np.flatnonzero(np.diff(values)) if values.size > 1 else np.empty(0, dtype=np.int64)
    ends = np.append(ends, values.size - 1)
    cdf_ref = from_ref[ends] / n
    cdf_cur = (ends + 1 - from_ref[ends]) / m
    gaps = np.abs(cdf_ref - cdf_cur)
    d = float(gaps.max())
    raw = float(np.sum(gaps[:-1] * np.diff(values[ends]))) if ends.size > 1 else 0.0
    edges = quantile_edges(reference, bins)
    ref_bins, cur_bins = _bin_counts(reference, edges), _bin_counts(current, edges)
    return NumericStats(
        ks=d,
        ks_p_value=ks_pvalue(d, n, m, (reference, current)),
        wasserstein=_normalise(raw, float(reference.std())),
        wasserstein_raw=raw,
        psi=psi(ref_bins, cur_bins),
        jensenshannon=js_distance(ref_bins, cur_bins),
    )


def chi2_pooled(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The 2 x K contingency table the chi-square test runs on: levels whose expected count
    in the smaller row is below 5 are pooled into one column (Cochran's rule), levels seen
    on neither side dropped."""
    table = np.vstack([reference, current]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if rows.min() <= 0:
        return table
    expected_small = table.sum(axis=0) * rows.min() / rows.sum()
    rare = expected_small < _MIN_EXPECTED
    if rare.sum() <= 1:
        return table
    pooled = table[:, rare].sum(axis=1, keepdims=True)
    return np.hstack([table[:, ~rare], pooled])


def compare_counts(reference: np.ndarray, current: np.ndarray) -> CategoricalStats:
    """Every categorical statistic of two count vectors over the same levels.

    The chi-square statistic and p-value are :func:`scipy.stats.chi2_contingency`'s on
    :func:`chi2_pooled`'s table (with its default continuity correction when the table
    has one degree of freedom).
    """
    from scipy import stats

    reference = np.asarray(reference, dtype=np.int64)
    current = np.asarray(current, dtype=np.int64)
    table = chi2_pooled(reference, current)
    if table.shape[1] < 2 or table.sum(axis=1).min() <= 0:
        chi2, p_value, dof = 0.0, 1.0, 0
    else:
        result = stats.chi2_contingency(table)
        chi2, p_value, dof = float(result.statistic), float(result.pvalue), int(result.dof)
    return CategoricalStats(
        chi2=chi2,
        chi2_p_value=p_value,
        chi2_dof=dof,
        jensenshannon=js_distance(reference, current),
        psi=psi(reference, current),
    )
