"""Monitoring: is the data a model sees now still like the data it learned from, and is the
model still right?

    import loopml as lm
    report = lm.monitoring.drift(reference="rides@3", current="today.parquet")   # offline
    report.drifted_columns, report.share, report.dataset_drift, report.save_html("d.html")

    lm.monitoring.create_monitor("pricing", reference="rides@3", window="1h",
                                 on_drift=["retrain:pipelines.train:training"],
                                 alerts=["webhook:http://127.0.0.1:9000/hook"])
    lm.monitoring.update_monitor("pricing", threshold=0.01)   # keeps the history
    lm.monitoring.run_check("pricing")           # the last complete window of the log
    lm.monitoring.log_labels("pricing", labels)  # ground truth, joined by request id
    lm.monitoring.log_business_metric("pricing", "revenue_per_ride", 12.4)
    lm.monitoring.monitor_report("pricing").save_html("report.html")

Per column, numbers get Kolmogorov-Smirnov, Wasserstein, PSI and Jensen-Shannon;
categories chi-square, Jensen-Shannon and PSI (:mod:`loopml.monitoring.stats`). The
default test (``auto``) needs a change that is both significant and large enough to matter
(:mod:`loopml.monitoring.methods`). A stored dataset version is compared through its
profile, without reading its rows (:mod:`loopml.monitoring.sketch`). Monitors check the
prediction log window by window (:mod:`loopml.monitoring.check`), with policies and actions
(:mod:`loopml.monitoring.spec`, :mod:`loopml.monitoring.actions`).
"""

from loopml.monitoring.check import EXPERIMENT, CheckResult, run_check
from loopml.monitoring.checks import drift
from loopml.monitoring.history import MonitorReport, monitor_report
from loopml.monitoring.labels import (
    LabelsReport,
    log_business_metric,
    log_labels,
    read_business_metrics,
    read_labels,
)
from loopml.monitoring.methods import (
    DEFAULT_DISTANCE_THRESHOLD,
    DEFAULT_THRESHOLDS,
    TESTS,
    DriftTest,
)
from loopml.monitoring.monitors import create_monitor, delete_monitor, get_monitor, list_monitors
from loopml.monitoring.report import FRAME_COLUMNS, ColumnDrift, DriftReport
from loopml.monitoring.retry import Retried, retry_failed
from loopml.monitoring.serve import run_due, serve_monitors
from loopml.monitoring.spec import MonitorSpec, Policy, parse_action, parse_policy
from loopml.monitoring.stats import PSI_EPSILON
from loopml.monitoring.update import Change, MonitorUpdate, update_monitor
from loopml.serving.predictions import read_predictions as predictions

__all__ = [
    "DEFAULT_DISTANCE_THRESHOLD",
    "DEFAULT_THRESHOLDS",
    "EXPERIMENT",
    "FRAME_COLUMNS",
    "PSI_EPSILON",
    "TESTS",
    "Change",
    "CheckResult",
    "ColumnDrift",
    "DriftReport",
    "DriftTest",
    "LabelsReport",
    "MonitorReport",
    "MonitorSpec",
    "MonitorUpdate",
    "Policy",
    "Retried",
    "create_monitor",
    "delete_monitor",
    "drift",
    "get_monitor",
    "list_monitors",
    "log_business_metric",
    "log_labels",
    "monitor_report",
    "parse_action",
    "parse_policy",
    "predictions",
    "read_business_metrics",
    "read_labels",
    "retry_failed",
    "run_check",
    "run_due",
    "serve_monitors",
    "update_monitor",
]
