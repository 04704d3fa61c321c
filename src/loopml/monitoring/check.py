"""A monitor's check of one window: drift, prediction drift, data quality, performance,
business metrics, policies and actions — as a run, with the result stored per window.

    result = lm.monitoring.run_check("pricing")                   # the last complete window
    result = lm.monitoring.run_check("pricing", window_start="2026-11-01T08:00Z")
    result.status, result.summary["drift"]["drifted_columns"], result.actions

A window is claimed in the metadata store before it is computed, so two checkers never
compute it both. Checking a window that has a stored result reuses it — recomputing only
the late part (performance and business metrics) when labels or metrics arrived since —
unless ``recompute=True``, which computes it again and stores it as the next revision of
the result. Actions are claimed per window, so neither repeats them.

The check is a run in the experiment ``loopml-monitoring`` with the reference dataset
version as its input (lineage), its figures as metrics, and tags naming the monitor and the
window. A window without predictions is a ``no_data`` result (and no run). Every result
records the monitor revision, reference and output model it was checked with
(``summary["checked_with"]``); a ``failed`` or ``no_data`` one counts the checks in a row
that found it so (``summary["attempts"]``, see :mod:`loopml.monitoring.retry`).

A monitor that follows its deployment (made without ``model=``) profiles the outputs of the
deployment's new primary model when that model served the window and the profiled one did
not; the outputs are never compared with another version's profile without saying so.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.entities import (
    LineageDirection,
    LineageEdge,
    MonitorColumn,
    MonitorResult,
)
from loopml.errors import InvalidInputError, InvalidStateError, LoopmlError
from loopml.monitoring.actions import ActionContext, take_actions
from loopml.monitoring.spec import MonitorSpec
from loopml.monitoring.window import Window, WindowData, iso, parse_time, read_window, window_of

if TYPE_CHECKING:
    from datetime import date, datetime

    from loopml.entities import Monitor, MonitorAction
    from loopml.monitoring.report import ColumnDrift
    from loopml.tracking.client import TrackingClient

__all__ = ["EXPERIMENT", "CheckResult", "last_complete_window", "run_check", "window_figures"]

log = logging.getLogger("loopml.monitoring")

EXPERIMENT = "loopml-monitoring"
TAG = "loopml.monitor."
_RETRIED = ("failed", "no_data")  # statuses a later check may change


@dataclass
class CheckResult:
    """One window's check.

    Attributes:
        result: the stored result (status, rows, summary, run id, revision).
        columns: its per-column drift results.
        actions: the actions of this window (done now or before).
        reused: True when the stored result was returned as it was.
        refreshed: True when only its late part (performance, business metrics) was
            recomputed because labels or metrics arrived since.
    """

    monitor: str
    window: Window
    result: MonitorResult
    columns: list[MonitorColumn] = field(default_factory=list)
    actions: list[MonitorAction] = field(default_factory=list)
    reused: bool = False
    refreshed: bool = False

    @property
    def status(self) -> str:
        """``ok``, ``alert``, ``no_data`` or ``failed``."""
        return self.result.status

    @property
    def summary(self) -> dict[str, Any]:
        """The stored summary (see ``docs/monitoring.md``)."""
        return dict(self.result.summary)

    @property
    def run_id(self) -> str | None:
        """The check's run."""
        return self.result.run_id

    @property
    def fired(self) -> list[str]:
        """Names of the policies that fired."""
        return [str(f["policy"]) for f in self.result.summary.get("fired", [])]

    def line(self) -> str:
        """One log line: the window, rows, drift, quality, performance and actions."""
        s = self.result.summary
        head = f"monitor {self.monitor} {self.window.label}"
        if self.status == "no_data":
            return f"{head}: no data (no predictions in the window)"
        if self.status == "failed":
            return f"{head}: FAILED: {s.get('error', '')}"
        drift = s.get("drift", {})
        parts = [
            f"{self.result.rows:,} rows",
            f"drift {len(drift.get('drifted_columns', []))}/{drift.get('tested', 0)} "
            f"features ({drift.get('share', 0):.0%})",
            f"quality {s.get('quality', {}).get('errors', 0)} errors",
        ]
        metrics = s.get("performance", {}).get("metrics", {})
        shown = [m for m in ("rmse", "mae", "accuracy", "f1_macro") if m in metrics]
        if shown:
            parts.append(", ".join(f"{m} {metrics[m]:.4g}" for m in shown[:2]))
        if self.fired:
            parts.append("fired: " + ", ".join(self.fired))
        if self.actions:
            parts.append(
                "actions: "
                + ", ".join(f"{a.action.split(':')[0]} {a.status}" for a in self.actions)
            )
        how = " (stored)" if self.reused else " (labels updated)" if self.refreshed else ""
        return f"{head}{how}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        from loopml.schemas.monitoring import action_to_json, column_to_json, result_to_json

        return {
            **result_to_json(self.result),
            "window": self.window.to_dict(),
            "reused": self.reused,
            "refreshed": self.refreshed,
            "columns": [column_to_json(c) for c in self.columns],
            "actions": [action_to_json(a) for a in self.actions],
        }


# -- figures and policies -----------------------------------------------------------------
def window_figures(summary: dict[str, Any], columns: list[MonitorColumn]) -> dict[str, float]:
    """The figures policies read (see :mod:`loopml.monitoring.spec`), from a summary."""
    counts = summary.get("counts", {})
    figures: dict[str, float] = {
        "rows": float(summary.get("rows", 0)),
        "requests": float(counts.get("requests", 0)),
        "rejected_rows": float(counts.get("rejected_rows", 0)),
        "error_rate": float(counts.get("error_rate", 0.0)),
    }
    drift = summary.get("drift")
    if drift:
        figures.update(
            dataset_drift=float(bool(drift.get("dataset_drift"))),
            drift_share=float(drift.get("share", 0.0)),
            drifted=float(len(drift.get("drifted_columns", []))),
        )
        if drift.get("prediction_drift") is not None:
            figures["prediction_drift"] = float(bool(drift["prediction_drift"]))
    for column in columns:
        if column.drifted is not None:
            figures[f"drift.{column.column}"] = float(column.drifted)
    quality = summary.get("quality")
    if quality:
        figures["quality.errors"] = float(quality.get("errors", 0))
        figures["quality.warnings"] = float(quality.get("warnings", 0))
        for kind, count in quality.get("kinds", {}).items():
            figures[f"quality.{kind}"] = float(count)
    performance = summary.get("performance", {})
    if performance.get("metrics"):
        figures["performance.labeled"] = float(performance.get("labeled", 0))
        figures["performance.coverage"] = float(performance.get("coverage", 0.0))
        for name, value in performance["metrics"].items():
            figures[f"performance.{name}"] = float(value)
    for name, values in summary.get("business", {}).items():
        figures[f"business.{name}"] = float(values["mean"])
        for agg, value in values.items():
            figures[f"business.{name}.{agg}"] = float(value)
    return figures


def _fire(spec: MonitorSpec, figures: dict[str, float]) -> tuple[list[dict[str, Any]], list[str]]:
    fired, unknown = [], []
    for policy in spec.policies:
        verdict = policy.check(figures)
        if verdict is None:
            unknown.append(policy.name)
        elif verdict:
            fired.append(
                {
                    "policy": policy.name,
                    "figure": policy.figure,
                    "op": policy.op,
                    "bound": policy.value,
                    "value": figures[policy.figure],
                    "actions": [a.key for a in policy.actions],
                }
            )
    return fired, unknown


# -- windows ------------------------------------------------------------------------------
def last_complete_window(spec: MonitorSpec, now_ms: int) -> Window:
    """The newest window whose end is ``spec.delay`` seconds or more in the past."""
    end = window_of(now_ms - spec.delay * 1000, spec.window).start
    return Window(end - spec.window * 1000, end)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _clean(value: Any) -> Any:
    """JSON-safe: infinite floats as ``"inf"``/``"-inf"``, NaN as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # a NumPy scalar
        return _clean(value.item())
    return value


def _to_column(monitor: str, start: int, c: ColumnDrift) -> MonitorColumn:
    detail = {"basis": c.basis, "stats": dict(c.stats), "histogram": c.histogram}
    return MonitorColumn(
        monitor, start, c.column, c.role, c.kind, c.test, c.statistic, c.p_value, c.threshold,
        c.distance, c.distance_threshold, c.drifted, c.ref_count, c.cur_count, c.ref_nulls,
        c.cur_nulls, c.note, _clean(detail),
    )  # fmt: skip


@dataclass
class _Check:
    client: TrackingClient
    monitor: Monitor
    spec: MonitorSpec
    window: Window
    owner: str
    attempts: int = 0  # checks before this one that found the window failed or empty


def _attempts(result: MonitorResult | None) -> int:
    """How many checks in a row found a window ``failed`` or ``no_data``."""
    if result is None or result.status not in _RETRIED:
        return 0
    return int(result.summary.get("attempts", 1))


def _reference(check: _Check) -> tuple[Any, Any]:
    """(the reference profile, the schema to validate against) of the monitor's reference."""
    from loopml.data import DataClient
    from loopml.data.profile import TableProfile

    data = DataClient(check.client)
    try:
        version = data.get_version(check.monitor.reference)
        if version.profile is None:
            raise InvalidInputError(
                f"{version.uri} has no stored profile to compare against; log the reference "
                "as a table (lm.data.log_dataset) and create the monitor again"
            )
        return TableProfile.from_dict(dict(version.profile)), data.schema_for(version)
    finally:
        data.close()


def _drift(check: _Check, data: WindowData, profile: Any) -> tuple[dict[str, Any], list[Any]]:
    from loopml.monitoring.checks import drift

    spec = check.spec
    assert data.path is not None
    logged = set(data.features)
    reference = set(profile.names)
    tests = {c: t for c, t in spec.tests.items() if c in logged and c in reference}
    report = drift(
        profile, str(data.path), tests=tests, threshold=spec.threshold,
        categorical=list(spec.categorical), drift_share=spec.drift_share,
    )  # fmt: skip
    results = [
        c for c in report.columns
        if c.column in logged and c.note != "not in the current data"
    ]  # fmt: skip
    predictions: list[Any] = []
    note = spec.output_note
    stale, skip = _stale_outputs(spec, data.counts.get("model_versions", []), check.monitor.name)
    if skip:
        note = stale
    elif spec.output_profile is not None:
        testable = ("integer", "float", "string", "categorical", "boolean")
        profiled = spec.output_profile.get("columns", [])
        known = {c["name"] for c in profiled if c.get("kind") in testable}
        outputs = [o for o in data.outputs if o in known]
        if outputs:
            out_tests = {c: t for c, t in spec.tests.items() if c in outputs}
            try:
                report_out = drift(
                    dict(spec.output_profile), str(data.path), columns=outputs,
                    tests=out_tests, threshold=spec.threshold,
                    categorical=list(spec.categorical),
                )  # fmt: skip
                predictions = [replace(c, role="prediction") for c in report_out.columns]
            except InvalidInputError as exc:  # outputs the tests cannot compare
                note = f"the outputs were not tested: {exc.message}"
        else:
            note = "the prediction log has none of the outputs profiled on the reference"
    elif not note:
        note = "no reference for the outputs"
    tested = [c for c in results if c.drifted is not None]
    drifted = [c.column for c in results if c.drifted]
    share = len(drifted) / len(tested) if tested else 0.0
    pred = [c for c in predictions if c.drifted is not None]
    summary = {
        "share": share,
        "drift_share": spec.drift_share,
        "dataset_drift": bool(tested) and share >= spec.drift_share,
        "drifted_columns": drifted,
        "tested": len(tested),
        "not_tested": [c.column for c in results if c.drifted is None],
        "prediction_drift": any(c.drifted for c in pred) if pred else None,
        "drifted_outputs": [c.column for c in pred if c.drifted],
        "prediction_note": stale if pred else note,
    }
    return summary, results + predictions


def _stale_outputs(spec: MonitorSpec, versions: list[str], name: str) -> tuple[str, bool]:
    """(what to say, whether to skip the outputs' test) when the outputs' reference profiles
    a registered version that made none of the window's predictions. A monitor that follows
    the deployment skips it (its reference is stale: another version's outputs); one pinned
    to a model compares with that model's outputs on purpose, and says so."""
    import re

    profiled = spec.model or ""
    if spec.output_profile is None or not re.fullmatch(r"[^:@]+/\d+", profiled):
        return "", False
    if not versions or profiled in versions:
        return "", False
    served = ", ".join(versions)
    if spec.pinned_model:
        return (
            f"the window's predictions come from {served}, compared with the outputs of the "
            f"pinned model {profiled} on the reference"
        ), False
    return (
        f"the outputs were not tested: their reference profiles {profiled}, but this window's "
        f"predictions come from {served}; profile the new model's outputs with "
        f"`loopml monitor update {name} --refresh-outputs`"
    ), True


def _start_run(check: _Check, revision: int) -> str:
    client = check.client
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    name, window = check.monitor.name, check.window
    run = client.create_run(
        experiment_id,
        f"{name} {iso(window.start)}",
        tags={
            f"{TAG}name": name,
            f"{TAG}deployment": check.monitor.deployment,
            f"{TAG}window_start": str(window.start),
            f"{TAG}window_end": str(window.end),
            f"{TAG}window": window.label,
            f"{TAG}revision": str(revision),
        },
    )
    run_id: str = run.info.run_id
    client.log_params(
        run_id,
        {
            "reference": check.monitor.reference,
            "deployment": check.monitor.deployment,
            "window_seconds": check.spec.window,
            "threshold": check.spec.threshold,
            "drift_share": check.spec.drift_share,
        },
    )
    edge = LineageEdge(
        run_id, check.monitor.reference, LineageDirection.INPUT, "monitoring reference"
    )
    client.stores.metadata.log_lineage(run_id, [edge])
    return run_id


def _run_metrics(summary: dict[str, Any], figures: dict[str, float]) -> dict[str, float]:
    keep = ("rows", "requests", "rejected_rows", "error_rate", "dataset_drift", "drift_share",
            "drifted", "prediction_drift", "quality.errors", "quality.warnings")  # fmt: skip
    out = {k: figures[k] for k in keep if k in figures}
    out.update({k: v for k, v in figures.items() if k.startswith("performance.")})
    for name, values in summary.get("business", {}).items():
        out[f"business.{name}.mean"] = float(values["mean"])
        out[f"business.{name}.sum"] = float(values["sum"])
    from loopml.entities.validation import check_key

    safe = {}
    for key, value in out.items():
        try:
            check_key("metric", key)
        except LoopmlError:
            continue
        if math.isfinite(value):
            safe[key] = value
    return safe


def _late(check: _Check, data: WindowData) -> dict[str, Any]:
    from loopml.monitoring.outcomes import (
        business_metrics,
        late_fingerprint,
        late_keys,
        performance,
    )

    stores = check.client.stores
    labels, business = late_keys(stores, check.monitor.deployment, check.window)
    return {
        "performance": performance(
            stores, data.path, data.rows, labels, check.spec.prediction, data.outputs,
            check.spec.task,
        ),
        "business": business_metrics(stores, check.window, business),
        "late_fingerprint": late_fingerprint(labels, business),
    }  # fmt: skip


def _follow_the_deployment(check: _Check, versions: list[str]) -> None:
    """A monitor that follows its deployment (no pinned model) profiles the outputs again
    when the window's predictions come from the deployment's primary model now and the
    profiled version made none of them (a promotion since): the monitor gets a new
    revision, and this window is checked with it. Two checkers doing it at once make one
    revision; when it cannot be done the window's outputs are not tested, and it says why."""
    from loopml.errors import RevisionConflictError

    if not _stale_outputs(check.spec, versions, check.monitor.name)[1]:
        return
    if "pinned_model" not in check.monitor.spec:
        return  # stored before pins were recorded: it may be pinned; the note says what to do
    from loopml.monitoring.monitors import _model_ref
    from loopml.monitoring.update import update_monitor
    from loopml.serving.runtime import resolve

    name, store = check.monitor.name, check.client.stores.metadata
    try:
        primary = _model_ref(check.client, check.monitor.deployment, None)
        if primary is None or resolve(primary, check.client).label not in versions:
            return  # an older window, or a canary's: the profiled primary is not stale
        changed = update_monitor(name, refresh_outputs=True, client=check.client)
        monitor = changed.monitor
        log.warning(
            "monitor %s: the deployment's model is now %s; its outputs on the reference "
            "were profiled again (monitor revision %s)",
            name, monitor.spec.get("model"), monitor.revision,
        )  # fmt: skip
    except RevisionConflictError:
        monitor = store.get_monitor(name)  # another checker profiled them first
    except LoopmlError as exc:
        log.warning("monitor %s: could not profile the new model's outputs: %s", name,
                    exc.message)  # fmt: skip
        return
    check.monitor, check.spec = monitor, MonitorSpec.from_dict(monitor.spec)


def _checked_with(check: _Check) -> dict[str, Any]:
    """What a result was computed against: the monitor's revision, reference and the model
    whose outputs are the prediction reference."""
    return {
        "monitor_revision": check.monitor.revision,
        "reference": check.monitor.reference,
        "output_model": check.spec.model if check.spec.output_profile is not None else None,
    }


def _compute(check: _Check, folder: Path, revision: int) -> CheckResult:
    spec, name, window = check.spec, check.monitor.name, check.window
    store = check.client.stores.metadata
    data = read_window(check.client.stores, check.monitor.deployment, window, spec.routes, folder)
    if data.path is not None:
        _follow_the_deployment(check, data.counts.get("model_versions", []))
        spec = check.spec
    base: dict[str, Any] = {
        "window": window.to_dict(),
        "rows": data.rows,
        "counts": data.counts,
        "checked_with": _checked_with(check),
    }
    if data.path is None:
        base["attempts"] = check.attempts + 1
        summary = {**base, "status": "no_data",
                   "note": "no predictions in this window (routes: "
                   f"{', '.join(spec.routes)})"}  # fmt: skip
        if data.counts.get("rejected_rows"):
            summary["note"] = (
                f"no predictions with features in this window: all "
                f"{data.counts['rejected_rows']} request(s) were refused as bad input"
            )
        result = MonitorResult(name, window.start, window.end, "no_data", 0, None,
                               _clean(summary), "", 0, 0)  # fmt: skip
        stored = store.record_monitor_result(result, [], check.owner)
        return CheckResult(name, window, stored)
    from loopml.monitoring.quality import check_quality

    profile, schema = _reference(check)
    drift_summary, drift_columns = _drift(check, data, profile)
    columns = [_to_column(name, window.start, c) for c in drift_columns]
    summary = {
        **base,
        "drift": drift_summary,
        "quality": check_quality(data.path, schema, data.features, data.counts["rejected_rows"]),
        **_late(check, data),
    }
    figures = window_figures(summary, columns)
    fired, unknown = _fire(spec, figures)
    status = "alert" if fired else "ok"
    summary.update(status=status, fired=fired, not_evaluated=unknown)
    run_id = _start_run(check, revision)
    try:
        check.client.log_metrics(run_id, _run_metrics(summary, figures), step=revision - 1,
                                 timestamp=window.end)  # fmt: skip
        summary = _clean(summary)
        result = MonitorResult(name, window.start, window.end, status, data.rows, run_id,
                               summary, "", 0, 0)  # fmt: skip
        stored = store.record_monitor_result(result, columns, check.owner)
        context = ActionContext(check.client, check.monitor, spec, window, run_id, summary)
        take_actions(context, fired)
    except BaseException:
        check.client.set_terminated(run_id, "FAILED")
        raise
    check.client.set_terminated(run_id, "FINISHED")
    return CheckResult(
        name,
        window,
        stored,
        columns,
        _all_actions(check),
    )


def _all_actions(check: _Check) -> list[MonitorAction]:
    store = check.client.stores.metadata
    return store.list_monitor_actions(check.monitor.name, check.window.start)


def _refresh(check: _Check, existing: MonitorResult, folder: Path) -> CheckResult:
    """Recompute the late part of a stored result (performance, business metrics)."""
    spec, name, window = check.spec, check.monitor.name, check.window
    store = check.client.stores.metadata
    wanted = [spec.prediction]
    data = read_window(check.client.stores, check.monitor.deployment, window, spec.routes,
                       folder, columns=wanted)  # fmt: skip
    data.rows = int(existing.rows)
    summary = {**dict(existing.summary), **_late(check, data)}
    columns = store.list_monitor_columns(name, [window.start])
    figures = window_figures(summary, columns)
    fired, unknown = _fire(spec, figures)
    status = "alert" if fired else "ok"
    summary.update(status=status, fired=fired, not_evaluated=unknown)
    summary = _clean(summary)
    if existing.run_id is not None:
        check.client.log_metrics(existing.run_id, _run_metrics(summary, figures),
                                 step=existing.revision, timestamp=window.end)  # fmt: skip
        check.client.flush(existing.run_id)
    result = replace(existing, status=status, summary=summary)
    stored = store.record_monitor_result(result, columns, check.owner)
    context = ActionContext(check.client, check.monitor, spec, window, existing.run_id, summary)
    take_actions(context, fired)
    return CheckResult(name, window, stored, columns, _all_actions(check), refreshed=True)


def _stale(check: _Check, existing: MonitorResult) -> bool:
    from loopml.monitoring.outcomes import late_fingerprint, late_keys

    if existing.status not in ("ok", "alert"):
        return False
    labels, business = late_keys(check.client.stores, check.monitor.deployment, check.window)
    return bool(existing.summary.get("late_fingerprint") != late_fingerprint(labels, business))


def open_monitor(
    name: str, client: TrackingClient | None
) -> tuple[TrackingClient, Monitor, MonitorSpec]:
    """The client (the process's own when None), the monitor and its spec.

    Raises:
        MonitorNotFoundError: no such monitor.
    """
    if client is None:
        from loopml.tracking.fluent import get_client

        client = get_client()
    monitor = client.stores.metadata.get_monitor(name)
    return client, monitor, MonitorSpec.from_dict(monitor.spec)


def run_check(
    name: str,
    *,
    window_start: datetime | date | str | int | None = None,
    now: datetime | str | int | None = None,
    recompute: bool = False,
    client: TrackingClient | None = None,
) -> CheckResult:
    """Check one window of a monitor (see the module).

    Args:
        name: the monitor.
        window_start: a time inside the window to check (it is aligned to the window's
            start); default: the last complete window.
        now: the current time (for tests and replays; default: now).
        recompute: compute a window again although it has a stored result; its actions
            are still not repeated.

    Returns:
        The :class:`CheckResult`.

    Raises:
        MonitorNotFoundError: no such monitor.
        InvalidInputError: a malformed time, or a window that is not complete yet.
        InvalidStateError: another checker is computing this window now.
    """
    client, monitor, spec = open_monitor(name, client)
    store = client.stores.metadata
    now_ms = int(time.time() * 1000) if now is None else parse_time(now)
    if window_start is None:
        window = last_complete_window(spec, now_ms)
    else:
        window = window_of(parse_time(window_start), spec.window)
    if window.end + spec.delay * 1000 > now_ms:
        raise InvalidInputError(
            f"the window {window.label} is not complete until {iso(window.end + spec.delay * 1000)}"
            f" (its end plus the monitor's delay of {spec.delay} s); check an earlier one"
        )
    check = _Check(client, monitor, spec, window, _owner())
    claimed = store.claim_monitor_window(name, window.start, window.end, check.owner, recompute)
    if not claimed:
        existing = store.get_monitor_result(name, window.start)
        if existing.claimed_by:
            raise InvalidStateError(
                f"the window {window.label} of monitor {name!r} is being checked by "
                f"{existing.claimed_by} now; try again when it is done"
            )
        if _stale(check, existing) and store.claim_monitor_window(
            name, window.start, window.end, check.owner, replace=True
        ):
            return _guarded(check, lambda folder: _refresh(check, existing, folder))
        columns = store.list_monitor_columns(name, [window.start])
        return CheckResult(name, window, existing, columns, _all_actions(check), reused=True)
    prior = _prior(store, name, window.start)
    check.attempts = _attempts(prior)
    revision = 1 if prior is None else prior.revision + 1
    return _guarded(check, lambda folder: _compute(check, folder, revision))


def _prior(store: Any, name: str, start: int) -> MonitorResult | None:
    try:
        found: MonitorResult = store.get_monitor_result(name, start)
    except LoopmlError:
        return None
    return found


def _guarded(check: _Check, work: Any) -> CheckResult:
    """Run ``work(folder)`` holding the claim; a failure is stored as a ``failed`` result
    (or the claim released) and raised."""
    store = check.client.stores.metadata
    name, window = check.monitor.name, check.window
    try:
        with tempfile.TemporaryDirectory(prefix="loopml-check-") as folder:
            result: CheckResult = work(Path(folder))
            return result
    except BaseException as exc:
        message = exc.message if isinstance(exc, LoopmlError) else f"{type(exc).__name__}: {exc}"
        try:
            current = store.get_monitor_result(name, window.start)
            if current.claimed_by == check.owner:
                # a window with a result keeps it; one never checked, failed or empty
                # records the failure (and counts the attempt: retries are bounded)
                if isinstance(exc, Exception) and (
                    current.revision == 0 or current.status in _RETRIED
                ):
                    summary = {"window": window.to_dict(), "status": "failed",
                               "error": message[:2000], "attempts": check.attempts + 1,
                               "checked_with": _checked_with(check)}  # fmt: skip
                    failed = MonitorResult(name, window.start, window.end, "failed", 0, None,
                                           summary, "", 0, 0)  # fmt: skip
                    store.record_monitor_result(failed, [], check.owner)
                else:
                    store.release_monitor_window(name, window.start, check.owner)
        except LoopmlError:
            log.exception("monitor %s: could not record the failed check", name)
        raise
