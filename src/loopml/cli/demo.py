"""`loopml demo`: run the README's demo and show what it tracked."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._common import JsonOption, TrackingUriOption
from loopml.cli._output import fmt_duration, print_json, print_table


def demo(
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run the demo: synthetic ride fares, a grid of models, every run tracked, the best
    registered, approved and loaded back as the champion."""
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
    typer.echo(
        f"next: loopml runs show {best.info.run_id}   |   loopml models show "
        f"{result.model_name}   |   loopml data show {result.dataset_uri.split(':/')[1]}"
    )
