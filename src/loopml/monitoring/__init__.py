"""Monitoring: is the data a model sees now still like the data it learned from?

    import loopml as lm
    report = lm.monitoring.drift(reference="rides@3", current="today.parquet")
    report.drifted_columns, report.share, report.dataset_drift
    report.to_frame()                  # one row per column: test, statistic, p-value, …
    report.save_html("drift.html")     # self-contained page with the distributions

Per column, numbers get Kolmogorov-Smirnov, Wasserstein, PSI and Jensen-Shannon;
categories chi-square, Jensen-Shannon and PSI (:mod:`loopml.monitoring.stats`). The
default test (``auto``) needs a change that is both significant and large enough to matter
(:mod:`loopml.monitoring.methods`). A stored dataset version is compared through its
profile, without reading its rows (:mod:`loopml.monitoring.sketch`).
"""

from loopml.monitoring.checks import drift
from loopml.monitoring.methods import (
    DEFAULT_DISTANCE_THRESHOLD,
    DEFAULT_THRESHOLDS,
    TESTS,
    DriftTest,
)
from loopml.monitoring.report import FRAME_COLUMNS, ColumnDrift, DriftReport
from loopml.monitoring.stats import PSI_EPSILON

__all__ = [
    "DEFAULT_DISTANCE_THRESHOLD",
    "DEFAULT_THRESHOLDS",
    "FRAME_COLUMNS",
    "PSI_EPSILON",
    "TESTS",
    "ColumnDrift",
    "DriftReport",
    "DriftTest",
    "drift",
]
