"""The drift statistics agree with SciPy's reference implementations."""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats
from scipy.spatial.distance import jensenshannon

from loopml.monitoring.stats import (
    PSI_EPSILON,
    chi2_pooled,
    compare_counts,
    compare_sorted,
    js_distance,
    psi,
    quantile_edges,
)

# Values on a coarse grid, so samples have ties (the hard case for ECDF code) as well as
# distinct values.
_values = hnp.arrays(
    np.float64,
    st.integers(1, 300),
    elements=st.integers(-50, 50).map(lambda v: v / 4),
)


@settings(max_examples=100, deadline=None)
@given(_values, _values)
def test_ks_and_wasserstein_match_scipy(a: np.ndarray, b: np.ndarray) -> None:
    ref, cur = np.sort(a), np.sort(b)
    result = compare_sorted(ref, cur)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exact sum failed: asymptotic
        expected = stats.ks_2samp(a, b)
    assert result.ks == pytest.approx(expected.statistic, abs=1e-12)
    assert result.ks_p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)
    raw = stats.wasserstein_distance(a, b)
    assert result.wasserstein_raw == pytest.approx(raw, rel=1e-9, abs=1e-12)
    if a.std() > 0:
        assert result.wasserstein == pytest.approx(raw / a.std(), rel=1e-9, abs=1e-12)
    else:
        assert result.wasserstein == (0.0 if raw == 0 else math.inf)


def test_large_samples_use_the_asymptotic_p_value_as_scipy_does() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=30_000), rng.normal(0.01, 1, 20_000)
    result = compare_sorted(np.sort(a), np.sort(b))
    expected = stats.ks_2samp(a, b)
    assert result.ks == pytest.approx(expected.statistic, abs=1e-12)
    assert result.ks_p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.wasserstein_raw == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_columns_compared_in_threads_never_raise_scipys_fallback_warning() -> None:
    """Where SciPy's exact KS sum fails it warns and uses the asymptotic value; columns are
    compared in threads, and one thread must not undo another's silencing of that warning
    (under ``-W error`` the warning would otherwise abort a drift check)."""
    ref = np.sort(np.random.default_rng(4).integers(1, 4, 3000).astype(float))
    cur = np.sort(np.random.default_rng(104).integers(1, 4, 3000).astype(float))
    expected = stats.ks_2samp(ref, cur, method="asymp")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(RuntimeWarning, match="Exact calculation unsuccessful"):
            stats.ks_2samp(ref, cur)  # the case this test is about
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: compare_sorted(ref, cur), range(64)))
    assert all(r.ks == pytest.approx(expected.statistic, abs=1e-12) for r in results)
    assert all(r.ks_p_value == pytest.approx(expected.pvalue, rel=1e-9) for r in results)


_counts = hnp.arrays(np.int64, st.integers(2, 12), elements=st.integers(0, 400))


@settings(max_examples=150, deadline=None)
@given(_counts, st.data())
def test_chi2_is_scipys_contingency_test_on_the_pooled_table(
    ref: np.ndarray, data: st.DataObject
) -> None:
    cur = data.draw(hnp.arrays(np.int64, ref.size, elements=st.integers(0, 400)))
    result = compare_counts(ref, cur)
    table = chi2_pooled(ref, cur)
    if table.shape[1] < 2 or table.sum(axis=1).min() == 0:
        assert (result.chi2, result.chi2_p_value) == (0.0, 1.0)
    else:
        expected = stats.chi2_contingency(table)
        assert result.chi2 == pytest.approx(expected.statistic, rel=1e-9, abs=1e-12)
        assert result.chi2_p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)
        assert result.chi2_dof == expected.dof
    if ref.sum() and cur.sum():
        expected_js = jensenshannon(ref / ref.sum(), cur / cur.sum(), base=2)
        assert result.jensenshannon == pytest.approx(expected_js, abs=1e-9)


def test_chi2_without_rare_levels_is_the_plain_contingency_test() -> None:
    ref = np.array([120, 80, 200, 100])
    cur = np.array([100, 90, 210, 60])
    assert chi2_pooled(ref, cur).shape == (2, 4)  # nothing pooled
    expected = stats.chi2_contingency(np.vstack([ref, cur]))
    result = compare_counts(ref, cur)
    assert result.chi2 == pytest.approx(expected.statistic)
    assert result.chi2_p_value == pytest.approx(expected.pvalue)


def test_rare_levels_are_pooled_and_unseen_levels_count() -> None:
    # 'd' and 'e' are too rare on their own (expected < 5 in the smaller row): pooled
    table = chi2_pooled(np.array([500, 300, 200, 2, 1]), np.array([50, 30, 20, 1, 2]))
    assert table.shape == (2, 4)
    assert table[:, -1].tolist() == [3.0, 3.0]
    # a level the reference never saw, with weight, is a change the test sees
    result = compare_counts(np.array([500, 500, 0]), np.array([400, 400, 200]))
    assert result.chi2_p_value < 1e-20


@settings(max_examples=100, deadline=None)
@given(_counts, st.data())
def test_js_distance_matches_scipy(p: np.ndarray, data: st.DataObject) -> None:
    q = data.draw(hnp.arrays(np.int64, p.size, elements=st.integers(0, 400)))
    if p.sum() == 0 or q.sum() == 0:
        assert js_distance(p, q) == 0.0
        return
    assert js_distance(p, q) == pytest.approx(
        jensenshannon(p / p.sum(), q / q.sum(), base=2), abs=1e-9
    )


def test_psi_formula_with_the_documented_epsilon() -> None:
    ref = np.array([50, 30, 20, 0])
    cur = np.array([40, 30, 20, 10])
    r = np.maximum(ref / ref.sum(), PSI_EPSILON)
    c = np.maximum(cur / cur.sum(), PSI_EPSILON)
    assert psi(ref, cur) == pytest.approx(float(np.sum((c - r) * np.log(c / r))))
    assert psi(ref, ref) == 0.0
    assert PSI_EPSILON == 1e-4


def test_psi_bins_are_reference_deciles() -> None:
    ref = np.sort(np.random.default_rng(0).normal(size=10_000))
    edges = quantile_edges(ref, 10)
    np.testing.assert_allclose(edges, np.quantile(ref, np.arange(1, 10) / 10))
    same = compare_sorted(ref, ref)
    assert (same.ks, same.wasserstein, same.psi, same.jensenshannon) == (0.0, 0.0, 0.0, 0.0)
    # ties collapse repeated edges instead of making empty bins
    edges = quantile_edges(np.sort(np.array([0.0] * 90 + [1.0] * 10)), 10)
    assert edges.tolist() == pytest.approx([0.0, 0.1])  # eight deciles at 0 make one edge


def test_constant_columns() -> None:
    same = compare_sorted(np.full(50, 3.0), np.full(40, 3.0))
    assert (same.ks, same.wasserstein, same.ks_p_value) == (0.0, 0.0, 1.0)
    moved = compare_sorted(np.full(50, 3.0), np.full(40, 4.0))
    assert moved.ks == 1.0 and moved.wasserstein == math.inf
    assert moved.wasserstein_raw == pytest.approx(1.0)


def test_one_value_each() -> None:
    result = compare_sorted(np.array([1.0]), np.array([2.0]))
    expected = stats.ks_2samp([1.0], [2.0])
    assert (result.ks, result.ks_p_value) == (expected.statistic, expected.pvalue)
