"""`loopml demo`: run the README's demo and show what it tracked."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopml.cli._common import JsonOption, TrackingUriOption
from loopml.cli._output import fmt_duration, print_json, print_table
from loopml.demo.operations import CANARY_PERCENT, DEMO_DEPLOYMENT


def demo(
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run the demo loop: synthetic ride fares versioned, a grid of models tracked, the best
    registered and served, production monitored, drift detected, the model retrained."""
    import dataclasses

    from rich.progress import Progress

    import loopml as lm
    from loopml.demo import DEMO_EXPERIMENT, run_demo

    if quiet or json_out:
        result = run_demo(tracking_uri)
    else:
        with Progress(transient=True) as progress:
            task = progress.add_task("demo", total=1)

            def update(stage: str, done: int, total: int) -> None:
                progress.update(task, description=stage, completed=done, total=total)

            result = run_demo(tracking_uri, on_progress=update)
    runs = [lm.get_run(r) for r in result.run_ids]
    ops = result.operations
    if json_out:
        print_json(
            {
                "experiment_id": result.experiment_id,
                "best_run_id": result.best_run_id,
                "best_rmse": result.best_rmse,
                "model": result.model_name,
                "champion_version": result.champion_version,
                "challenger_version": result.challenger_version,
                "champion_rmse": result.champion_rmse,
                "dataset": result.dataset_uri,
                "new_day_errors": result.new_day_errors,
                "new_day_warnings": result.new_day_warnings,
                "evaluation_run_id": result.evaluation_run_id,
                "challenger_gate_passed": result.challenger_gate_passed,
                "operations": None if ops is None else dataclasses.asdict(ops),
                "runs": runs,
            }
        )
        return
    print_table(
        ["run id", "name", "status", "duration", "rmse", "mae", "r2", "lr", "depth", "trees"],
        [
            [
                r.info.run_id[:12],
                r.info.run_name,
                r.info.status.value,
                fmt_duration(r.info.duration_ms),
                r.data.metrics["rmse"],
                r.data.metrics["mae"],
                r.data.metrics["r2"],
                r.data.params["learning_rate"],
                r.data.params["max_depth"],
                r.data.params["n_estimators"],
            ]
            for r in runs
        ],
        title=f"Demo runs in experiment {DEMO_EXPERIMENT!r}",
    )
    best = next(r for r in runs if r.info.run_id == result.best_run_id)
    typer.echo(
        f"best run: {best.info.run_name} ({best.info.run_id}) "
        f"with validation RMSE {result.best_rmse:.3f}"
    )
    typer.echo(
        f"registered {result.model_name} version {result.champion_version}, approved, alias "
        f"champion; loaded back by models:/{result.model_name}@champion, validation RMSE "
        f"{result.champion_rmse:.3f}"
    )
    if result.challenger_gate_passed is not None:
        word = "passed" if result.challenger_gate_passed else "failed"
        typer.echo(
            f"evaluated the champion on held-out data by slice (run {result.evaluation_run_id}); "
            f"the challenger {word} its gate against the champion"
        )
    typer.echo(
        f"training data: {result.dataset_uri} (schema and profile kept with it); a later day "
        f"of data has {result.new_day_errors} errors and {result.new_day_warnings} warnings "
        "against it"
    )
    if ops is not None:
        _print_operations(ops, result.model_name)
    typer.echo(
        f"next: loopml runs show {best.info.run_id}   |   loopml models show "
        f"{result.model_name}   |   loopml data show {result.dataset_uri.split(':/')[1]}"
    )
    if ops is not None:
        typer.echo(
            f"      loopml deploy status {ops.deployment}   |   loopml monitor show "
            f"{ops.deployment}   |   loopml deploy serve {ops.deployment}"
        )


def _print_operations(ops: Any, model: str) -> None:
    def mae(value: float | None) -> str:
        return "no labels" if value is None else f"MAE {value:.2f}"

    typer.echo(
        f"served the champion as deployment {ops.deployment} ({ops.url}): {ops.requests} "
        f"requests, {ops.rows_logged} rows in the prediction log"
    )
    typer.echo(
        f"monitor, ordinary window: {ops.steady_status} ({mae(ops.steady_mae)}); window after "
        f"the change: {ops.shifted_status} ({mae(ops.shifted_mae)}), drifted: "
        f"{', '.join(ops.drifted_columns) or 'nothing'}"
        + ("; the predictions drifted too" if ops.prediction_drift else "")
    )
    if ops.retrained_version:
        word = "passed" if ops.retrained_gate_passed else "failed"
        tail = (
            f"; it is now the challenger with a {CANARY_PERCENT:.0f}% canary share"
            if ops.retrained_gate_passed
            else ""
        )
        typer.echo(
            f"the drift retrained the model (pipeline run {ops.retrain_run_id}): "
            f"{ops.retrained_version} {word} its gate against the champion{tail}"
        )
    else:
        typer.echo("no retraining ran")
    if ops.trace:
        t = ops.trace
        typer.echo(
            f"trace: request {t['request_id']} row {t['row']} was answered by {t['model']}, "
            f"made by run {t['run_id'][:12]} from {', '.join(t['data']) or 'no recorded data'}"
            f" at commit {t['git_commit'][:12] or '(not a git checkout)'}"
            f" (`loopml trace {DEMO_DEPLOYMENT} {t['request_id']}` shows the whole chain)"
        )
    typer.echo(f"monitoring report: {ops.report_path}")
