"""`loopml runs …`: list, show, compare, history, delete, restore, reproduce."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, client_for
from loopml.cli._output import fmt_duration, fmt_time, fmt_value, print_json, print_table

app = typer.Typer(
    help="List, inspect, compare, delete, restore and reproduce runs.", no_args_is_help=True
)

RunIdArg = Annotated[str, typer.Argument(help="Run id (32 hex characters).")]
_MAX_KEY_COLUMNS = 6


def _keys(runs: list[Any], attr: str, limit: int) -> list[str]:
    keys: dict[str, None] = {}
    for run in runs:
        for key in getattr(run.data, attr):
            keys.setdefault(key, None)
    return sorted(keys)[:limit]


@app.command("list")
def list_runs(
    experiment: Annotated[str, typer.Argument(help="Experiment name or id.")] = "Default",
    filter_string: Annotated[
        str,
        typer.Option("--filter", "-f", help="e.g. \"metrics.rmse < 0.3 and params.depth = '6'\"."),
    ] = "",
    order_by: Annotated[
        list[str] | None,
        typer.Option("--order-by", "-o", help="e.g. 'metrics.rmse ASC'; repeatable."),
    ] = None,
    max_results: Annotated[int, typer.Option("--max", help="At most this many runs.")] = 100,
    view: Annotated[
        str, typer.Option("--view", help="active_only, deleted_only or all.")
    ] = "active_only",
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """List the runs of an experiment, newest first (or as --order-by says)."""
    client = client_for(tracking_uri)
    exp = client.resolve_experiment(experiment)
    runs = list(client.search_runs([exp.experiment_id], filter_string, view, max_results, order_by))
    if json_out:
        print_json(runs)
        return
    metric_keys = _keys(runs, "metrics", _MAX_KEY_COLUMNS)
    param_keys = _keys(runs, "params", _MAX_KEY_COLUMNS - min(len(metric_keys), 3))
    rows = [
        [
            r.info.run_id,
            r.info.run_name,
            r.info.status.value,
            fmt_time(r.info.start_time),
            fmt_duration(r.info.duration_ms),
        ]
        + [r.data.metrics.get(k) for k in metric_keys]
        + [r.data.params.get(k, "") for k in param_keys]
        for r in runs
    ]
    print_table(
        ["run id", "name", "status", "started (UTC)", "duration"]
        + metric_keys
        + [f"param {k}" for k in param_keys],
        rows,
        title=f"Runs of {exp.name} ({len(runs)})",
    )


@app.command("show")
def show(
    run_id: RunIdArg, json_out: JsonOption = False, tracking_uri: TrackingUriOption = None
) -> None:
    """Show a run: info, params, latest metrics, tags and artifacts."""
    client = client_for(tracking_uri)
    run = client.get_run(run_id)
    artifacts = client.list_artifacts(run_id)
    if json_out:
        print_json({"info": run.info, "data": run.data, "artifacts": artifacts})
        return
    info = run.info
    print_table(
        ["field", "value"],
        [
            ["run id", info.run_id],
            ["name", info.run_name],
            ["experiment", info.experiment_id],
            ["status", info.status.value],
            ["started (UTC)", fmt_time(info.start_time)],
            ["ended (UTC)", fmt_time(info.end_time)],
            ["duration", fmt_duration(info.duration_ms)],
            ["user", info.user_id],
            ["stage", info.lifecycle_stage.value],
        ],
        title=f"Run {info.run_name}",
    )
    if run.data.params:
        print_table(["param", "value"], sorted(run.data.params.items()), title="Params")
    if run.data.metrics:
        print_table(["metric", "latest"], sorted(run.data.metrics.items()), title="Metrics")
    if run.data.tags:
        print_table(["tag", "value"], sorted(run.data.tags.items()), title="Tags")
    if artifacts:
        print_table(
            ["path", "size", "digest"],
            [[a.path, a.size, a.digest[:16]] for a in artifacts],
            title="Artifacts",
        )


@app.command("compare")
def compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    all_rows: Annotated[
        bool, typer.Option("--all", help="Also show params and metrics that are equal.")
    ] = False,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Compare runs side by side: params and metrics, differences first."""
    if len(run_ids) < 2:
        from loopml.errors import InvalidInputError

        raise InvalidInputError("give at least two run ids to compare")
    client = client_for(tracking_uri)
    runs = [client.get_run(r) for r in run_ids]
    rows: list[list[Any]] = []
    for kind, attr in (("param", "params"), ("metric", "metrics")):
        keys = sorted({k for r in runs for k in getattr(r.data, attr)})
        for key in keys:
            values = [getattr(r.data, attr).get(key) for r in runs]
            differs = (
                len({("nan" if isinstance(v, float) and math.isnan(v) else v) for v in values}) > 1
            )
            if differs or all_rows:
                rows.append([f"{kind} {key}", *values, "≠" if differs else ""])
    if json_out:
        print_json({"runs": [r.info.run_id for r in runs], "rows": rows})
        return
    print_table(
        ["", *[f"{r.info.run_name}\n{r.info.run_id[:8]}" for r in runs], "diff"],
        rows,
        title="Compare runs",
    )
    if not rows:
        typer.echo("the runs have the same params and metrics (use --all to list them)")


def _sparkline(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    bars = "▁▂▃▄▅▆▇█"
    step = max(1, len(values) // 60)
    sample = values[::step]
    return "".join(
        " " if not math.isfinite(v) else bars[0 if hi == lo else int((v - lo) / (hi - lo) * 7)]
        for v in sample
    )


@app.command("history")
def history(
    run_id: RunIdArg,
    key: Annotated[str, typer.Argument(help="Metric name.")],
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Every point of a metric, with a sparkline of its course."""
    points = client_for(tracking_uri).get_metric_history(run_id, key)
    if json_out:
        print_json(points)
        return
    print_table(
        ["step", "time (UTC)", "value"],
        [[p.step, fmt_time(p.timestamp), p.value] for p in points],
        title=f"{key}: {len(points)} points",
    )
    if points:
        values = [p.value for p in points]
        typer.echo(f"{fmt_value(values[0])} {_sparkline(values)} {fmt_value(values[-1])}")


@app.command("delete")
def delete(run_id: RunIdArg, tracking_uri: TrackingUriOption = None) -> None:
    """Soft-delete a run (restore it with `loopml runs restore`)."""
    client_for(tracking_uri).delete_run(run_id)
    typer.echo(f"deleted run {run_id}")


@app.command("restore")
def restore(run_id: RunIdArg, tracking_uri: TrackingUriOption = None) -> None:
    """Restore a deleted run."""
    client_for(tracking_uri).restore_run(run_id)
    typer.echo(f"restored run {run_id}")


@app.command("reproduce")
def reproduce(
    run_id: RunIdArg,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="How far a metric may move (rel. or abs.).")
    ] = 1e-6,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds the script may take.")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the temporary worktree.")] = False,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Re-run a run's script at its commit, on its data; compare params and metrics.

    Exits 0 when they match, 1 when they do not (or the script failed).
    """
    from loopml.pipelines.reproduce import reproduce as run_again

    client = client_for(tracking_uri)
    try:
        import sys

        result = run_again(
            run_id,
            tolerance=tolerance,
            timeout=timeout,
            keep=keep,
            echo=None if json_out else sys.stderr,  # the script's output as it runs
            client=client,
        )
    finally:
        client.close()
    if json_out:
        print_json(result.to_dict())
    else:
        for warning in result.warnings:
            typer.echo(f"note: {warning}", err=True)
        if result.returncode != 0:
            typer.echo(f"the script exited with {result.returncode}", err=True)
        if result.new_run_id:
            rows = [["param", n, fmt_value(a), fmt_value(b)] for n, a, b in result.param_diffs]
            rows += [["metric", n, fmt_value(a), fmt_value(b)] for n, a, b in result.metric_diffs]
            if rows:
                print_table(
                    ["kind", "name", "original", "reproduction"],
                    rows,
                    title=f"{run_id} vs {result.new_run_id}: differences",
                )
            verdict = "reproduced" if result.ok else "did NOT reproduce"
            typer.echo(
                f"{verdict}: run {result.new_run_id} at commit {result.commit[:12]}; "
                f"{result.metrics_compared} metric(s) compared, tolerance {tolerance:g}"
            )
        elif result.returncode == 0:
            typer.echo("the script ran but started no run marked as this reproduction", err=True)
    if not result.ok:
        raise typer.Exit(1)
