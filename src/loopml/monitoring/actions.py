"""What a window's fired policies do: log lines, webhook alerts, retraining.

Every action is claimed in the metadata store before it runs, once per window and action,
so a check run again (or by a second checker) never repeats one; an action interrupted by a
crash stays ``claimed`` and is not retried. Rate limits are checked in the same claim:

- **alerts**: one POST per webhook per window, naming every policy that fired; the same
  policy alerts a target at most once per ``alert_every`` seconds (0 by default: every
  window). A POST is retried on connection errors, 429 and 5xx answers, 3 attempts with
  0.5 s and 1 s pauses, 5 s timeout each; a failure is logged and recorded, never raised;
- **retraining**: at most once per window, and at most once per ``retrain_every`` seconds
  per monitor (24 h by default) — a retraining that started, finished or failed within it
  counts. The window's rows (features, and the label where one arrived) are versioned as a
  dataset (``<monitor>-window`` unless ``retrain_dataset`` names another), the pipeline
  runs with that version's URI in its data parameter, and the links are recorded: the check
  run made the dataset version, the pipeline run read it (lineage edges), the pipeline run
  carries the monitor's tags, and the model versions its runs registered are listed in the
  action's detail.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import LoopmlError
from loopml.monitoring.spec import ActionSpec, MonitorSpec

if TYPE_CHECKING:
    from loopml.entities import Monitor, MonitorAction
    from loopml.monitoring.window import Window
    from loopml.tracking.client import TrackingClient

__all__ = ["ActionContext", "send_webhook", "take_actions"]

log = logging.getLogger("loopml.monitoring")

_ATTEMPTS = 3
_BACKOFF = 0.5
_TIMEOUT = 5.0
TAG = "loopml.monitor."


@dataclass
class ActionContext:
    """What the actions of one window need."""

    client: TrackingClient
    monitor: Monitor
    spec: MonitorSpec
    window: Window
    run_id: str | None
    summary: Mapping[str, Any]


def send_webhook(url: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST ``body`` as JSON, retried (see the module); returns ``ok``, ``status_code``,
    ``attempts`` and ``error``. Never raises."""
    import httpx

    error, status = "", None
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            response = httpx.post(url, json=dict(body), timeout=_TIMEOUT)
            status = response.status_code
            if status < 300:
                return {"ok": True, "url": url, "status_code": status, "attempts": attempt}
            error = f"HTTP {status}: {response.text[:200]}"
            if status < 500 and status != 429:
                break  # the receiver refuses this body: sending it again will not help
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if attempt < _ATTEMPTS:
            time.sleep(_BACKOFF * 2 ** (attempt - 1))
    return {"ok": False, "url": url, "status_code": status, "attempts": attempt, "error": error}


def _alert_body(ctx: ActionContext, fired: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    summary = ctx.summary
    drift = summary.get("drift", {})
    return {
        "monitor": ctx.monitor.name,
        "deployment": ctx.monitor.deployment,
        "reference": ctx.monitor.reference,
        "window": ctx.window.to_dict(),
        "status": summary.get("status"),
        "fired": [dict(f) for f in fired],
        "rows": summary.get("rows", 0),
        "drift": {
            "share": drift.get("share"),
            "drift_share": drift.get("drift_share"),
            "dataset_drift": drift.get("dataset_drift"),
            "drifted_columns": drift.get("drifted_columns", []),
            "prediction_drift": drift.get("prediction_drift"),
        },
        "quality": {k: summary.get("quality", {}).get(k) for k in ("errors", "warnings", "kinds")},
        "performance": summary.get("performance", {}),
        "business": summary.get("business", {}),
        "run_id": ctx.run_id,
    }


def _claim(
    ctx: ActionContext, key: str, kind: str, rate_key: str, every: int, detail: Mapping[str, Any]
) -> tuple[bool, MonitorAction]:
    store = ctx.client.stores.metadata
    return store.claim_monitor_action(
        ctx.monitor.name, ctx.window.start, key, kind, rate_key, every * 1000, detail
    )


def _record(ctx: ActionContext, key: str, ok: bool, detail: Mapping[str, Any]) -> MonitorAction:
    store = ctx.client.stores.metadata
    status = "done" if ok else "failed"
    return store.record_monitor_action(ctx.monitor.name, ctx.window.start, key, status, detail)


def _line(ctx: ActionContext, fired: Mapping[str, Any]) -> str:
    value = fired.get("value")
    shown = "" if value is None else f" ({fired['figure']} = {value:.4g})"
    return f"monitor {ctx.monitor.name} window {ctx.window.label}: {fired['policy']} fired{shown}"


def take_actions(ctx: ActionContext, fired: Sequence[Mapping[str, Any]]) -> list[MonitorAction]:
    """Claim and run the actions of the fired policies and the alerts; returns the action
    records this call touched (claimed now, or found claimed before)."""
    spec = ctx.spec
    policies = {p.name: p for p in spec.policies}
    touched: list[MonitorAction] = []
    webhooks: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    retrains: dict[str, list[str]] = {}
    for item in fired:
        found = policies.get(str(item["policy"]))
        actions: list[ActionSpec] = [*(found.actions if found else ()), *spec.alerts]
        logged = False
        for action in actions:
            if action.kind == "log" and not logged:
                logged = True
                key = f"log:{item['policy']}"
                claimed, record = _claim(ctx, key, "log", key, 0, {"policy": item["policy"]})
                if claimed:
                    line = _line(ctx, item)
                    log.warning("%s", line)
                    record = _record(ctx, key, True, {"policy": item["policy"], "message": line})
                touched.append(record)
            elif action.kind == "webhook":
                webhooks.setdefault(action.target, [])
                if all(p != item["policy"] for p, _ in webhooks[action.target]):
                    webhooks[action.target].append((str(item["policy"]), item))
            elif action.kind == "retrain":
                retrains.setdefault(action.target, []).append(str(item["policy"]))
    for url, items in webhooks.items():
        claimed_keys, sent = [], []
        for name, item in items:
            key = f"alert:{name}:webhook:{url}"
            claimed, record = _claim(
                ctx, key, "alert", key, spec.alert_every, {"policy": name, "url": url},
            )  # fmt: skip
            if claimed:
                claimed_keys.append(key)
                sent.append(item)
            else:
                touched.append(record)
        if not claimed_keys:
            continue
        outcome = send_webhook(url, _alert_body(ctx, sent))
        if not outcome["ok"]:
            log.error("monitor %s: alert to %s failed: %s", ctx.monitor.name, url, outcome["error"])
        for key, item in zip(claimed_keys, sent, strict=True):
            touched.append(_record(ctx, key, outcome["ok"], {**outcome, "policy": item["policy"]}))
    for target, names in retrains.items():
        key = f"retrain:{target}"
        claimed, record = _claim(
            ctx, key, "retrain", "retrain", spec.retrain_every,
            {"pipeline": target, "policies": names},
        )  # fmt: skip
        if not claimed:
            if record.status == "rate_limited":
                log.info("monitor %s: retraining with %s skipped (rate limit)",
                         ctx.monitor.name, target)  # fmt: skip
            touched.append(record)
            continue
        ok, detail = _retrain(ctx, target, names)
        touched.append(_record(ctx, key, ok, detail))
    return touched


# -- retraining ---------------------------------------------------------------------------
def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _window_dataset(ctx: ActionContext, folder: Path) -> Any:
    """The window's rows as a table: the features, and the label column (null where no
    label arrived)."""
    from loopml.monitoring.outcomes import labeled_rows, late_keys
    from loopml.monitoring.window import read_window

    stores = ctx.client.stores
    data = read_window(stores, ctx.monitor.deployment, ctx.window, ctx.spec.routes, folder)
    if data.path is None:
        return None
    labels, _ = late_keys(stores, ctx.monitor.deployment, ctx.window)
    select = ", ".join(f"w.{_quote(f)}" for f in data.features) or "1 AS no_features"
    table = labeled_rows(stores, data.path, labels, select)
    target = ctx.spec.target if ctx.spec.target not in data.features else "label"
    return table.rename_columns([*table.column_names[:-1], target])


def _model_versions(client: TrackingClient, run_id: str) -> list[str]:
    runs = [run_id]
    run = client.get_run(run_id)
    children = client.search_runs(
        [run.info.experiment_id], f"tags.`loopml.pipeline.run` = '{run_id}'", max_results=10_000
    )
    runs += [c.info.run_id for c in children]
    found = []
    for rid in runs:
        for version in client.stores.metadata.search_model_versions(run_id=rid):
            found.append(f"{version.name}/{version.version}")
    return sorted(set(found))


def _retrain(ctx: ActionContext, target: str, policies: list[str]) -> tuple[bool, dict[str, Any]]:
    from loopml.data import DataClient
    from loopml.entities import LineageDirection, LineageEdge
    from loopml.pipelines.runner import load_target

    client, spec = ctx.client, ctx.spec
    detail: dict[str, Any] = {"pipeline": target, "policies": policies}
    name = ctx.monitor.name
    try:
        with tempfile.TemporaryDirectory(prefix="loopml-retrain-") as folder:
            table = _window_dataset(ctx, Path(folder))
        if table is None:
            return False, {**detail, "error": "the window has no rows to retrain on"}
        labeled = table.num_rows - table.column(table.column_names[-1]).null_count
        data = DataClient(client)
        try:
            version = data.log_dataset(
                spec.retrain_dataset or f"{name}-window",
                table,
                description=f"monitor {name}: the window {ctx.window.label} of deployment "
                f"{ctx.monitor.deployment}'s prediction log, with labels where they arrived",
            )
        finally:
            data.close()
        detail.update(dataset=version.uri, rows=table.num_rows, labeled=labeled)
        store = client.stores.metadata
        if ctx.run_id is not None:
            edge = LineageEdge(
                ctx.run_id, version.uri, LineageDirection.OUTPUT, "monitoring window"
            )
            store.log_lineage(ctx.run_id, [edge])
        params = {**spec.retrain_params, spec.retrain_data_param: version.uri}
        detail["params"] = json.loads(json.dumps(params, default=str))
        log.info("monitor %s: retraining with %s on %s", name, target, version.uri)
        run = load_target(target).run(**params)
        detail.update(pipeline_run=run.run_id, status=run.status)
        client.set_tags(
            run.run_id,
            {f"{TAG}name": name, f"{TAG}window_start": str(ctx.window.start),
             f"{TAG}window": ctx.window.label, f"{TAG}check_run": ctx.run_id or ""},
        )  # fmt: skip
        store.log_lineage(
            run.run_id, [LineageEdge(run.run_id, version.uri, LineageDirection.INPUT, "retraining")]
        )
        if ctx.run_id is not None:
            client.set_tag(ctx.run_id, f"{TAG}retrain_run", run.run_id)
        detail["model_versions"] = _model_versions(client, run.run_id)
        return True, detail
    except LoopmlError as exc:
        import re

        found = re.search(r"resume ([0-9a-f]{32})", exc.message)
        if found:
            detail["pipeline_run"] = found.group(1)
        log.error("monitor %s: retraining with %s failed: %s", name, target, exc.message)
        return False, {**detail, "error": exc.message}
    except Exception as exc:  # the pipeline's own bug: recorded, the check goes on
        log.exception("monitor %s: retraining with %s failed", name, target)
        return False, {**detail, "error": f"{type(exc).__name__}: {exc}"}
