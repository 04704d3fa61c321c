"""`loopml monitor create|update|list|show|delete|run|serve|report`, `loopml monitor metric add`:
monitors over a deployment's prediction log (registered on the `monitor` app)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, parse_assignments, use_tracking_uri
from loopml.cli._output import fmt_time, print_json, print_table

if TYPE_CHECKING:
    from loopml.entities import Monitor
    from loopml.monitoring import CheckResult, MonitorUpdate

Name = Annotated[str, typer.Argument(help="Monitor name.")]
metric_app = typer.Typer(help="Business metrics logged against a deployment.", no_args_is_help=True)


def _many(items: list[str] | None) -> list[str]:
    return [i for i in items or [] if i.strip()]


def create(
    name: Name,
    reference: Annotated[
        str, typer.Option("--reference", help="The reference: a table dataset version (rides@3).")
    ],
    deployment: Annotated[
        str | None, typer.Option("--deployment", help="The deployment to watch (default: NAME).")
    ] = None,
    window: Annotated[str, typer.Option("--window", help="Window length: 15m, 1h, 1d…")] = "1h",
    delay: Annotated[
        str, typer.Option("--delay", help="How long after its end a window is complete.")
    ] = "1m",
    drift_threshold: Annotated[
        str,
        typer.Option(
            "--drift-threshold",
            help="Significance level of the p-value tests: default (0.05) or a number.",
        ),
    ] = "default",
    drift_share: Annotated[
        float,
        typer.Option("--drift-share", help="Share of drifted features that is dataset drift."),
    ] = 0.5,
    test: Annotated[
        list[str] | None, typer.Option("--test", "-t", help="COLUMN=TEST[:THRESHOLD] (repeatable).")
    ] = None,
    categorical: Annotated[
        list[str] | None, typer.Option("--categorical", help="Compare COLUMN as categories.")
    ] = None,
    on_drift: Annotated[
        list[str] | None,
        typer.Option(
            "--on-drift", help="ACTION on dataset drift: retrain:MODULE:PIPELINE, webhook:URL, log."
        ),
    ] = None,
    on_quality: Annotated[
        list[str] | None, typer.Option("--on-quality", help="ACTION on data quality errors.")
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy", help="'CONDITION -> ACTION, …', e.g. 'performance.rmse > 5 -> log'."
        ),
    ] = None,
    alert: Annotated[
        list[str] | None,
        typer.Option("--alert", help="Notify of every fired policy: webhook:URL or log."),
    ] = None,
    retrain_param: Annotated[
        list[str] | None, typer.Option("--retrain-param", help="NAME=VALUE for the pipeline.")
    ] = None,
    retrain_data_param: Annotated[
        str, typer.Option("--retrain-data-param", help="Pipeline parameter taking the data's URI.")
    ] = "dataset",
    retrain_every: Annotated[
        str, typer.Option("--retrain-every", help="At most one retraining per this long.")
    ] = "24h",
    alert_every: Annotated[
        str,
        typer.Option(
            "--alert-every", help="At most one alert per policy and target per this long."
        ),
    ] = "0",
    model: Annotated[
        str | None, typer.Option("--model", help="Model whose reference outputs are profiled.")
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", help="classification or regression (performance).")
    ] = None,
    target: Annotated[
        str, typer.Option("--target", help="The label's column name in retraining data.")
    ] = "label",
    prediction: Annotated[
        str, typer.Option("--prediction", help="The output compared with labels.")
    ] = "output.prediction",
    route: Annotated[
        list[str] | None,
        typer.Option("--route", help="Routes whose rows are checked (default primary, canary)."),
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Create a monitor of a deployment's prediction log against a reference version."""
    from loopml.monitoring import create_monitor

    use_tracking_uri(tracking_uri)
    made = create_monitor(
        name,
        reference=reference,
        deployment=deployment,
        window=window,
        delay=delay,
        threshold=drift_threshold,
        drift_share=drift_share,
        tests=parse_assignments(test, "--test"),
        categorical=_many(categorical),
        policies=_many(policy),
        on_drift=_many(on_drift),
        on_quality=_many(on_quality),
        alerts=_many(alert),
        retrain_params=parse_assignments(retrain_param, "--retrain-param", typed=True),
        retrain_data_param=retrain_data_param,
        retrain_every=retrain_every,
        alert_every=alert_every,
        model=model,
        task=task,
        target=target,
        prediction=prediction,
        routes=_many(route) or ("primary", "canary"),
    )
    if json_out:
        print_json(_monitor_json(made))
        return
    spec = made.spec
    typer.echo(
        f"monitor {made.name}: deployment {made.deployment} against {made.reference}, windows "
        f"of {made.window} s"
    )
    if spec.get("output_note"):
        typer.echo(f"note: {spec['output_note']}; prediction drift is not tested")
    else:
        typer.echo(f"prediction reference: outputs of {spec.get('model')} on the reference rows")


# what `monitor update --clear` empties, and the value that clears it
_CLEARABLE: dict[str, Any] = {
    "tests": {}, "categorical": [], "policies": [], "on-drift": [], "on-quality": [],
    "alerts": [], "retrain-params": {}, "retrain-dataset": "", "model": "", "task": "auto",
}  # fmt: skip


def update(
    name: Name,
    reference: Annotated[
        str | None, typer.Option("--reference", help="A new reference version (rides@4).")
    ] = None,
    window: Annotated[
        str | None, typer.Option("--window", help="Refused unless unchanged (a new monitor).")
    ] = None,
    delay: Annotated[
        str | None, typer.Option("--delay", help="How long after its end a window is complete.")
    ] = None,
    drift_threshold: Annotated[
        str | None,
        typer.Option("--drift-threshold", help="Significance level: default (0.05) or a number."),
    ] = None,
    drift_share: Annotated[
        float | None,
        typer.Option("--drift-share", help="Share of drifted features that is dataset drift."),
    ] = None,
    test: Annotated[
        list[str] | None,
        typer.Option("--test", "-t", help="COLUMN=TEST[:THRESHOLD]; replaces the tests."),
    ] = None,
    categorical: Annotated[
        list[str] | None, typer.Option("--categorical", help="Compare COLUMN as categories.")
    ] = None,
    on_drift: Annotated[
        list[str] | None, typer.Option("--on-drift", help="ACTION on dataset drift (replaces).")
    ] = None,
    on_quality: Annotated[
        list[str] | None, typer.Option("--on-quality", help="ACTION on quality errors (replaces).")
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help="'CONDITION -> ACTION, …'; replaces the other policies."),
    ] = None,
    alert: Annotated[
        list[str] | None, typer.Option("--alert", help="webhook:URL or log (replaces).")
    ] = None,
    retrain_param: Annotated[
        list[str] | None, typer.Option("--retrain-param", help="NAME=VALUE (replaces).")
    ] = None,
    retrain_data_param: Annotated[
        str | None, typer.Option("--retrain-data-param", help="Parameter taking the data's URI.")
    ] = None,
    retrain_every: Annotated[
        str | None, typer.Option("--retrain-every", help="At most one retraining per this long.")
    ] = None,
    alert_every: Annotated[
        str | None, typer.Option("--alert-every", help="At most one alert per this long.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Profile this model's outputs, and pin it.")
    ] = None,
    refresh_outputs: Annotated[
        bool,
        typer.Option(
            "--refresh-outputs",
            help="Profile the outputs again (pinned model, else the deployment's primary).",
        ),
    ] = False,
    task: Annotated[
        str | None, typer.Option("--task", help="classification, regression or auto.")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="The label's column in retraining data.")
    ] = None,
    prediction: Annotated[
        str | None, typer.Option("--prediction", help="The output compared with labels.")
    ] = None,
    route: Annotated[
        list[str] | None, typer.Option("--route", help="Routes whose rows are checked.")
    ] = None,
    clear: Annotated[
        list[str] | None,
        typer.Option("--clear", help=f"Empty a setting: {', '.join(_CLEARABLE)}."),
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Change a monitor's settings, keeping its history; shows what changed."""
    from loopml.errors import InvalidInputError
    from loopml.monitoring import update_monitor

    use_tracking_uri(tracking_uri)
    given: dict[str, Any] = {
        "tests": parse_assignments(test, "--test") if test else None,
        "categorical": _many(categorical) or None,
        "policies": _many(policy) or None,
        "on_drift": _many(on_drift) or None,
        "on_quality": _many(on_quality) or None,
        "alerts": _many(alert) or None,
        "retrain_params": (
            parse_assignments(retrain_param, "--retrain-param", typed=True)
            if retrain_param
            else None
        ),
        "retrain_dataset": None,
        "model": model,
        "task": task,
    }
    for item in _many(clear):
        key = item.strip().lower()
        if key not in _CLEARABLE:
            raise InvalidInputError(
                f"--clear {item!r}: a setting to clear is one of {', '.join(_CLEARABLE)}"
            )
        if given[key.replace("-", "_")] not in (None, [], {}):
            raise InvalidInputError(f"--clear {key} contradicts the value given for {key}")
        given[key.replace("-", "_")] = _CLEARABLE[key]
    changed = update_monitor(
        name,
        reference=reference,
        window=window,
        delay=delay,
        threshold=drift_threshold,
        drift_share=drift_share,
        retrain_data_param=retrain_data_param,
        retrain_every=retrain_every,
        alert_every=alert_every,
        refresh_outputs=refresh_outputs,
        target=target,
        prediction=prediction,
        routes=_many(route) or None,
        **given,
    )
    if json_out:
        print_json(changed.to_dict())
        return
    _render_update(changed)


def _render_update(changed: MonitorUpdate) -> None:
    m = changed.monitor
    if not changed.changed:
        typer.echo(f"monitor {m.name}: nothing changed (revision {m.revision})")
        return
    print_table(
        ["setting", "before", "after"],
        [[c.setting, _value(c.before), _value(c.after)] for c in changed.changes],
        title=f"monitor {m.name}: revision {changed.previous.revision} → {m.revision}",
    )
    typer.echo(
        f"changed by {m.updated_by or 'unknown'} at {fmt_time(m.update_time)}; windows "
        "checked before keep their results"
    )
    spec = m.spec
    if spec.get("output_note"):
        typer.echo(f"note: {spec['output_note']}; prediction drift is not tested")


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value) or "(none)"
    return str(value)


def _monitor_json(monitor: Monitor) -> dict[str, Any]:
    from loopml.schemas.monitoring import monitor_to_json

    data = monitor_to_json(monitor)
    data["spec"].pop("output_profile", None)
    return data


def list_(json_out: JsonOption = False, tracking_uri: TrackingUriOption = None) -> None:
    """Monitors with their deployment, reference, window and last result."""
    from loopml.monitoring import list_monitors
    from loopml.tracking.fluent import get_client

    use_tracking_uri(tracking_uri)
    found = list_monitors()
    store = get_client().stores.metadata
    last = {m.name: store.list_monitor_results(m.name, limit=1) for m in found}
    if json_out:
        print_json(
            [
                {
                    **_monitor_json(m),
                    "last_window": next((r.window_start for r in last[m.name]), None),
                    "last_status": next((r.status for r in last[m.name]), None),
                }
                for m in found
            ]
        )
        return
    rows = []
    for m in found:
        when = [fmt_time(r.window_start) for r in last[m.name]] or [""]
        status = [r.status for r in last[m.name]] or [""]
        rows.append([m.name, m.deployment, m.reference, f"{m.window} s", when[0], status[0]])
    print_table(["name", "deployment", "reference", "window", "last window (UTC)", "status"], rows)


def _policies(spec: dict[str, Any]) -> str:
    return "; ".join(
        p["name"] + (f" -> {', '.join(p['actions'])}" if p["actions"] else "")
        for p in spec.get("policies", [])
    )


def show(
    name: Name,
    last: Annotated[int, typer.Option("--last", min=1, help="Windows to list.")] = 10,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """A monitor's settings, its last windows and the actions they took."""
    from loopml.monitoring import monitor_report

    use_tracking_uri(tracking_uri)
    report = monitor_report(name, last=last)
    if json_out:
        print_json(report.to_dict())
        return
    m, spec = report.monitor, dict(report.monitor.spec)
    typer.echo(f"monitor {m.name}: deployment {m.deployment}, reference {m.reference}")
    changed = (
        f"; last changed by {m.updated_by or 'unknown'} at {fmt_time(m.update_time)}"
        if m.revision > 1
        else ""
    )
    typer.echo(
        f"revision {m.revision}: created by {m.created_by or 'unknown'} at "
        f"{fmt_time(m.creation_time)}{changed}"
    )
    if spec.get("output_profile"):
        typer.echo(f"prediction reference: outputs of {spec.get('model')} on the reference rows")
    elif spec.get("output_note"):
        typer.echo(f"prediction reference: none ({spec['output_note']})")
    typer.echo(
        f"windows of {m.window} s (complete {spec['delay']} s after their end); drift threshold "
        f"{spec['threshold']}, dataset drift at {spec['drift_share']:.0%} of features"
    )
    typer.echo(f"policies: {_policies(spec)}")
    if spec.get("alerts"):
        typer.echo(f"alerts: {', '.join(spec['alerts'])}")
    typer.echo(
        f"rate limits: one retraining per {spec['retrain_every']} s, alerts every "
        f"{spec['alert_every']} s"
    )
    rows = [
        [w["window_start"], w["status"], w["rows"], w["drift_share"],
         ", ".join(w["drifted_columns"]), w["quality_errors"],
         ", ".join(f"{k} {v:.4g}" for k, v in report.headline(w["performance"])),
         ", ".join(w["fired"]), w["run_id"] or "", w["monitor_revision"] or ""]
        for w in reversed(report.window_rows())
    ]  # fmt: skip
    print_table(
        ["window (UTC)", "status", "rows", "drift share", "drifted", "quality errors",
         "performance", "fired", "run", "monitor rev."],
        rows, title=f"last {len(rows)} window(s)",
    )  # fmt: skip
    if report.actions:
        print_table(
            ["window (UTC)", "action", "status", "detail"],
            [[fmt_time(a.window_start), a.action, a.status, _detail(a.detail)]
             for a in report.actions],
            title="actions",
        )  # fmt: skip


def _detail(detail: Any) -> str:
    parts = []
    for key in ("pipeline_run", "dataset", "status_code", "attempts", "error"):
        if detail.get(key) not in (None, ""):
            parts.append(f"{key} {detail[key]}")
    if detail.get("model_versions"):
        parts.append("model versions " + ", ".join(detail["model_versions"]))
    if detail.get("next_allowed"):
        parts.append(f"rate limit: next after {fmt_time(detail['next_allowed'])}")
    return "; ".join(parts)


def delete(name: Name, tracking_uri: TrackingUriOption = None) -> None:
    """Delete a monitor with its stored results and actions (its check runs stay)."""
    from loopml.monitoring import delete_monitor

    use_tracking_uri(tracking_uri)
    delete_monitor(name)
    typer.echo(f"deleted monitor {name}")


def _render(result: CheckResult) -> None:
    typer.echo(result.line())
    if result.columns:
        print_table(
            ["column", "role", "test", "statistic", "p-value", "distance", "drift", "note"],
            [[c.column, c.role, c.test or "", c.statistic, c.p_value, c.distance,
              "not tested" if c.drifted is None else "DRIFT" if c.drifted else "ok", c.note]
             for c in result.columns],
        )  # fmt: skip
    for a in result.actions:
        typer.echo(
            f"action {a.action}: {a.status}"
            + (f" ({_detail(a.detail)})" if _detail(a.detail) else "")
        )
    if result.reused:
        typer.echo("(the stored result; --recompute to compute the window again)")


def run(
    name: Name,
    window_start: Annotated[
        str | None,
        typer.Option("--window-start", help="A time in the window to check (ISO-8601, UTC)."),
    ] = None,
    recompute: Annotated[
        bool,
        typer.Option(
            "--recompute", help="Compute a stored window again (actions are not repeated)."
        ),
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option("--retry-failed", help="Check every failed window again (oldest first)."),
    ] = False,
    retry_no_data: Annotated[
        bool,
        typer.Option("--retry-no-data", help="Check every window that had no data again."),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", help="With --retry-*: only windows from this time (ISO-8601)."),
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Check one window now (default: the last complete one), or retry failed windows;
    exit 1 when a policy fired, 2 when a retried window failed again."""
    from loopml.monitoring import run_check

    use_tracking_uri(tracking_uri)
    if retry_failed or retry_no_data:
        if window_start is not None:
            from loopml.errors import InvalidInputError

            raise InvalidInputError(
                "--window-start checks one window; --retry-failed and --retry-no-data check "
                "every such window (narrow them with --since)"
            )
        _retry(name, since, retry_failed, retry_no_data, recompute, json_out)
        return
    result = run_check(name, window_start=window_start, recompute=recompute)
    if json_out:
        print_json(result.to_dict())
    else:
        _render(result)
    if result.status == "alert":
        raise typer.Exit(1)


def _retry(
    name: str,
    since: str | None,
    failed: bool,
    no_data: bool,
    recompute: bool,
    json_out: bool,
) -> None:
    from loopml.errors import InvalidInputError
    from loopml.monitoring import retry_failed

    if recompute:
        raise InvalidInputError("--recompute checks one window; it does not go with --retry-*")
    tried = retry_failed(name, failed=failed, no_data=no_data, since=since)
    if json_out:
        print_json([r.to_dict() for r in tried])
    else:
        for r in tried:
            if r.check is not None:
                typer.echo(r.check.line())
            elif r.error:
                typer.echo(f"monitor {name} window at {fmt_time(r.before.window_start)}: "
                           f"FAILED again: {r.error}")  # fmt: skip
            else:
                typer.echo(f"monitor {name} window at {fmt_time(r.before.window_start)}: "
                           "checked by another checker meanwhile")  # fmt: skip
        kinds = " and ".join(k for k, on in (("failed", failed), ("empty", no_data)) if on)
        typer.echo(f"{len(tried)} {kinds} window(s) checked again")
    if any(r.error for r in tried):
        raise typer.Exit(2)
    if any(r.check is not None and r.check.status == "alert" for r in tried):
        raise typer.Exit(1)


def serve(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron).")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=1.0, help="Seconds between passes.")
    ] = 30.0,
    catch_up: Annotated[
        int, typer.Option("--catch-up", min=1, help="Newest windows checked per monitor per pass.")
    ] = 24,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Run every monitor's checks as their windows complete (restarts never repeat a window)."""
    import logging

    from loopml.monitoring import run_due, serve_monitors

    use_tracking_uri(tracking_uri)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("loopml.monitoring").setLevel(logging.INFO)
    if once:
        done = run_due(catch_up=catch_up)
        typer.echo(f"{len(done)} window(s) checked")
        return
    typer.echo(f"monitor serve: a pass every {interval:g} s; Ctrl-C to stop")
    try:
        serve_monitors(interval, catch_up=catch_up)
    except KeyboardInterrupt:
        typer.echo("monitor serve stopped")


def report(
    name: Name,
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    last: Annotated[int, typer.Option("--last", min=1, help="Windows in the report.")] = 24,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Drift over time, distributions, quality, performance and business metrics."""
    from loopml.monitoring import monitor_report

    use_tracking_uri(tracking_uri)
    found = monitor_report(name, last=last)
    if html is not None:
        found.save_html(html)
    if json_out:
        print_json(found.to_dict())
        return
    typer.echo(f"monitor {name}: {len(found.results)} window(s)")
    if html is not None:
        typer.echo(f"report → {html}")


@metric_app.command("add")
def metric_add(
    deployment: Annotated[str, typer.Argument(help="The deployment.")],
    name: Annotated[str, typer.Argument(help="Metric name, e.g. revenue_per_ride.")],
    value: Annotated[float, typer.Argument(help="The value.")],
    timestamp: Annotated[
        str | None,
        typer.Option("--timestamp", help="When it was measured (ISO-8601; default now)."),
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Log a business metric against a deployment; checks show it per window."""
    from loopml.monitoring import log_business_metric

    use_tracking_uri(tracking_uri)
    stored = log_business_metric(deployment, name, value, timestamp)
    if json_out:
        print_json(stored)
        return
    typer.echo(f"{deployment}: {name} = {value:g} at {stored['timestamp']}")


def register(app: typer.Typer) -> None:
    """Add these commands to the `monitor` app."""
    app.command("create")(create)
    app.command("update")(update)
    app.command("list")(list_)
    app.command("show")(show)
    app.command("delete")(delete)
    app.command("run")(run)
    app.command("serve")(serve)
    app.command("report")(report)
    app.add_typer(metric_app, name="metric")
