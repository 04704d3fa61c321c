"""The drift tests a column can be checked with, their default thresholds, and the default
choice by column kind.

=================  ===========  ============  ==================================================
test               kinds        drifts when   default threshold
=================  ===========  ============  ==================================================
``auto``           both         p < alpha and     alpha = 0.05 (``threshold``), and the distance
                                distance ≥ t  t = 0.1: Wasserstein (numbers), Jensen-Shannon
                                              (categories)
``ks``             numeric      p < alpha         alpha = 0.05
``chi2``           categorical  p < alpha         alpha = 0.05
``wasserstein``    numeric      W/sd ≥ t       0.1 (a tenth of the reference's std)
``jensenshannon``  both         JS ≥ t        0.1 (base 2, 0 to 1)
``psi``            both         PSI ≥ t       0.1 (the usual "look at it" level)
=================  ===========  ============  ==================================================

``auto`` is every column's default: KS + Wasserstein for numbers, chi-square +
Jensen-Shannon for categories. A column drifts when the difference is both
**significant** (the p-value test rejects "same distribution" at level alpha) and **large
enough to matter** (the distance reaches its threshold). On small samples the p-value
decides: chance alone makes distances large there (two samples of 100 from one normal
distribution are about 0.14 sd apart in Wasserstein distance), while a p-value keeps false
alarms at alpha. On large samples the distance decides: a p-value test then flags differences
far too small to matter (at a million rows KS rejects a shift of 0.005 sd), while the
distance measures the size of the change. Measured figures: docs/monitoring.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loopml.errors import InvalidInputError

__all__ = [
    "DEFAULT_DISTANCE_THRESHOLD",
    "DEFAULT_THRESHOLDS",
    "PVALUE_TESTS",
    "TESTS",
    "DriftTest",
    "parse_test",
]

# test -> the kinds it applies to
TESTS: dict[str, tuple[str, ...]] = {
    "auto": ("numeric", "categorical"),
    "ks": ("numeric",),
    "chi2": ("categorical",),
    "wasserstein": ("numeric",),
    "jensenshannon": ("numeric", "categorical"),
    "psi": ("numeric", "categorical"),
}
PVALUE_TESTS = frozenset({"auto", "ks", "chi2"})
DEFAULT_THRESHOLDS: dict[str, float] = {"wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1}
DEFAULT_DISTANCE_THRESHOLD = 0.1
_ALIASES = {"js": "jensenshannon", "chisquare": "chi2", "chi-square": "chi2", "kstest": "ks"}


@dataclass(frozen=True)
class DriftTest:
    """The test one column is checked with.

    Args:
        name: ``auto``, ``ks``, ``chi2``, ``wasserstein``, ``jensenshannon`` (or ``js``)
            or ``psi``.
        threshold: the significance level of a p-value test (``auto``, ``ks``, ``chi2``;
            default: the check's ``threshold``), or the distance a distance test drifts at
            (defaults in the module's table).
        distance_threshold: for ``auto`` only, the distance the change must also reach
            (default 0.1).

    Raises:
        InvalidInputError: an unknown test, or a threshold out of range.
    """

    name: str = "auto"
    threshold: float | None = None
    distance_threshold: float | None = None

    def __post_init__(self) -> None:
        name = _ALIASES.get(self.name.strip().lower(), self.name.strip().lower())
        if name not in TESTS:
            raise InvalidInputError(
                f"unknown drift test {self.name!r}; use one of {', '.join(TESTS)}"
            )
        object.__setattr__(self, "name", name)
        if self.threshold is not None:
            _check_threshold(name, self.threshold)
        if self.distance_threshold is not None:
            if name != "auto":
                raise InvalidInputError(
                    f"distance_threshold belongs to the auto test, not {name!r}; set "
                    "threshold instead"
                )
            _check_threshold("jensenshannon", self.distance_threshold)

    @property
    def uses_p_value(self) -> bool:
        """True for the tests that decide on a p-value."""
        return self.name in PVALUE_TESTS

    def resolved(self, alpha: float) -> tuple[float, float | None]:
        """(threshold, distance threshold or None) with the defaults filled in."""
        if self.uses_p_value:
            threshold = alpha if self.threshold is None else self.threshold
            if self.name == "auto":
                distance = self.distance_threshold
                return threshold, DEFAULT_DISTANCE_THRESHOLD if distance is None else distance
            return threshold, None
        return (
            DEFAULT_THRESHOLDS[self.name] if self.threshold is None else self.threshold,
            None,
        )


def _check_threshold(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"the threshold of {name!r} must be a number, got {value!r}")
    if name in PVALUE_TESTS and not 0 < value < 1:
        raise InvalidInputError(
            f"the threshold of {name!r} is a significance level and must lie between 0 and "
            f"1 (e.g. 0.05), got {value}"
        )
    if name not in PVALUE_TESTS and not value > 0:
        raise InvalidInputError(f"the threshold of {name!r} must be above 0, got {value}")


def parse_test(value: Any) -> DriftTest:
    """A :class:`DriftTest` from a test name, ``"name:threshold"``, a ``(name, threshold)``
    pair, a mapping of DriftTest's fields, or a DriftTest.

    Raises:
        InvalidInputError: none of these, an unknown test or a bad threshold.
    """
    if isinstance(value, DriftTest):
        return value
    if isinstance(value, str):
        name, sep, raw = value.partition(":")
        if not sep:
            return DriftTest(name)
        try:
            return DriftTest(name, float(raw))
        except ValueError as exc:
            raise InvalidInputError(
                f"{value!r}: the threshold after ':' must be a number, e.g. psi:0.2"
            ) from exc
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return DriftTest(value[0], value[1])
    if isinstance(value, Mapping):
        try:
            return DriftTest(**value)
        except TypeError as exc:
            raise InvalidInputError(f"{value!r} is not a drift test: {exc}") from exc
    raise InvalidInputError(
        f"{value!r} is not a drift test; give a name (psi), 'name:threshold' (psi:0.2), a "
        "(name, threshold) pair or a DriftTest"
    )
