"""The outcome of a drift check: one :class:`ColumnDrift` per column, gathered in a
:class:`DriftReport` with the dataset-level share and decision, as a DataFrame, JSON or a
self-contained HTML page."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError

__all__ = ["FRAME_COLUMNS", "ColumnDrift", "DriftReport"]

FRAME_COLUMNS = [
    "column",
    "role",
    "kind",
    "test",
    "statistic",
    "p_value",
    "threshold",
    "distance",
    "distance_threshold",
    "drifted",
    "ref_count",
    "cur_count",
    "ref_null_fraction",
    "cur_null_fraction",
    "note",
]


@dataclass(frozen=True)
class ColumnDrift:
    """The drift check of one column.

    Attributes:
        column: its name.
        role: ``feature``, or ``prediction`` for the model output column named by
            ``prediction=`` (not counted in the dataset's drift share).
        kind: ``numeric`` or ``categorical``; for a column that was not tested, the kind
            that kept it out (``datetime``, ``other``, ``mismatch``, ``missing``).
        test: what ran: ``ks+wasserstein`` or ``chi2+jensenshannon`` for ``auto``, else
            the test's name; None when nothing could run.
        statistic: the test's statistic (KS D, chi-square, or the distance).
        p_value: the p-value of a p-value test, else None.
        threshold: the significance level of a p-value test, or a distance test's threshold.
        distance: for ``auto``, the distance that must also reach ``distance_threshold``.
        drifted: True or False; None when the column could not be tested (see ``note``).
        ref_count, cur_count: rows on each side.
        ref_nulls, cur_nulls: missing values on each side (nulls; for numbers also NaN and
            infinities), which the tests leave out.
        basis: ``data`` when the reference rows were read; ``profile (values)``,
            ``profile (sketch)`` or ``profile (percentiles)`` when the reference was a
            stored profile, naming what the reference distribution was rebuilt from.
        note: why a column was not tested, or what to keep in mind about the result.
        stats: every statistic computed for the column, by name.
        histogram: what the report plots: ``{"edges", "reference", "current"}`` shares per
            bin for numbers, ``{"labels", "reference", "current"}`` for categories.
    """

    column: str
    role: str
    kind: str
    test: str | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    distance: float | None
    distance_threshold: float | None
    drifted: bool | None
    ref_count: int
    cur_count: int
    ref_nulls: int
    cur_nulls: int
    basis: str = "data"
    note: str = ""
    stats: Mapping[str, float] = field(default_factory=dict)
    histogram: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def ref_null_fraction(self) -> float:
        """Missing values over reference rows (0 for no rows)."""
        return self.ref_nulls / self.ref_count if self.ref_count else 0.0

    @property
    def cur_null_fraction(self) -> float:
        """Missing values over current rows (0 for no rows)."""
        return self.cur_nulls / self.cur_count if self.cur_count else 0.0

    @property
    def tested(self) -> bool:
        """True when the column has a drift decision."""
        return self.drifted is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (infinite distances as the string ``"inf"``)."""
        return {
            "column": self.column,
            "role": self.role,
            "kind": self.kind,
            "test": self.test,
            "statistic": _clean(self.statistic),
            "p_value": _clean(self.p_value),
            "threshold": self.threshold,
            "distance": _clean(self.distance),
            "distance_threshold": self.distance_threshold,
            "drifted": self.drifted,
            "ref_count": self.ref_count,
            "cur_count": self.cur_count,
            "ref_nulls": self.ref_nulls,
            "cur_nulls": self.cur_nulls,
            "ref_null_fraction": self.ref_null_fraction,
            "cur_null_fraction": self.cur_null_fraction,
            "basis": self.basis,
            "note": self.note,
            "stats": {k: _clean(v) for k, v in self.stats.items()},
            "histogram": None if self.histogram is None else dict(self.histogram),
        }


def _clean(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "inf" if value > 0 else "-inf"


@dataclass(frozen=True)
class DriftReport:
    """Drift of every checked column between a reference and current data.

    Attributes:
        columns: one result per column, in the reference's column order (the prediction
            column last).
        drift_share: the share of drifted features at which the dataset counts as drifted.
        reference, current: labels of the two sides (a path, a dataset URI, ``dataframe``).
        reference_rows, current_rows: their row counts.
    """

    columns: tuple[ColumnDrift, ...]
    drift_share: float
    reference: str
    current: str
    reference_rows: int
    current_rows: int

    @property
    def features(self) -> list[ColumnDrift]:
        """The feature columns' results (every column but the prediction)."""
        return [c for c in self.columns if c.role == "feature"]

    @property
    def tested(self) -> list[ColumnDrift]:
        """Feature columns with a drift decision."""
        return [c for c in self.features if c.tested]

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the drifted feature columns."""
        return [c.column for c in self.features if c.drifted]

    @property
    def share(self) -> float:
        """Drifted features over tested features (0 when none was tested)."""
        tested = self.tested
        return len(self.drifted_columns) / len(tested) if tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        """True when at least ``drift_share`` of the tested features drifted."""
        return bool(self.tested) and self.share >= self.drift_share

    @property
    def prediction(self) -> ColumnDrift | None:
        """The prediction column's result, when ``prediction=`` named one."""
        return next((c for c in self.columns if c.role == "prediction"), None)

    def column(self, name: str) -> ColumnDrift:
        """One column's result.

        Raises:
            InvalidInputError: the column was not checked (the message lists those that were).
        """
        for result in self.columns:
            if result.column == name:
                return result
        checked = ", ".join(c.column for c in self.columns) or "none"
        raise InvalidInputError(f"no drift result for {name!r}; checked: {checked}")

    def summary(self) -> str:
        """One line: how many features drifted, and the dataset's verdict."""
        verdict = "dataset drift" if self.dataset_drift else "no dataset drift"
        text = (
            f"{len(self.drifted_columns)} of {len(self.tested)} tested features drifted "
            f"({self.share:.0%}; threshold {self.drift_share:.0%}): {verdict}"
        )
        if self.prediction is not None and self.prediction.drifted is not None:
            text += "; prediction " + ("drifted" if self.prediction.drifted else "stable")
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the verdict, then every column's result."""
        prediction = self.prediction
        return {
            "reference": self.reference,
            "current": self.current,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "dataset_drift": self.dataset_drift,
            "share": self.share,
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "tested": len(self.tested),
            "prediction_drift": None if prediction is None else prediction.drifted,
            "columns": [c.to_dict() for c in self.columns],
        }

    def to_json(self) -> str:
        """The report as a JSON document."""
        return json.dumps(self.to_dict(), indent=2)

    def to_frame(self) -> Any:
        """One row per column (see :data:`FRAME_COLUMNS`), as a pandas DataFrame."""
        import pandas as pd

        rows = [
            {name: getattr(c, name) for name in FRAME_COLUMNS}
            for c in self.columns  # properties included: the null fractions
        ]
        return pd.DataFrame(rows, columns=FRAME_COLUMNS)

    def to_html(self, title: str = "Data drift") -> str:
        """A self-contained HTML page: the verdict, the table of columns, and each column's
        distributions (reference against current) as embedded plots."""
        from loopml.monitoring.html import render_html

        return render_html(self, title)

    def save_html(self, path: str | Path, title: str = "Data drift") -> Path:
        """Write :meth:`to_html` to a file (through a temporary name, so a failure leaves
        no partial page); returns the path."""
        from loopml.storage.artifacts import write_text_atomic

        return write_text_atomic(path, self.to_html(title))
