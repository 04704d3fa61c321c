"""`loopml schedule …` and `loopml scheduler`: pipelines on a cron (UTC)."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, parse_assignments, use_tracking_uri
from loopml.cli._output import fmt_time, print_json, print_table

app = typer.Typer(help="Schedule pipelines on a cron.", no_args_is_help=True)


@app.command("add")
def add(
    target: Annotated[str, typer.Argument(help="module:pipeline or file.py:pipeline.")],
    cron: Annotated[str, typer.Option("--cron", help="Five cron fields, UTC: '0 3 * * *'.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE (repeatable).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Schedule name (default: the pipeline's).")
    ] = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Schedule a pipeline; `loopml scheduler` runs it when due."""
    from loopml.pipelines.schedules import add_schedule

    use_tracking_uri(tracking_uri)
    made = add_schedule(target, cron, parse_assignments(param, "-p", typed=True), name)
    typer.echo(
        f"scheduled {made.name}: {made.target} at '{made.cron}', "
        f"next {fmt_time(made.next_run_time)} UTC"
    )


@app.command("list")
def list_(json_out: JsonOption = False, tracking_uri: TrackingUriOption = None) -> None:
    """Schedules with their next time and last run."""
    from loopml.pipelines.schedules import list_schedules

    use_tracking_uri(tracking_uri)
    found = list_schedules()
    if json_out:
        print_json(found)
        return
    print_table(
        ["name", "pipeline", "cron (UTC)", "next (UTC)", "last run", "last status", "params"],
        [
            [
                s.name,
                s.target,
                s.cron,
                fmt_time(s.next_run_time),
                s.last_run_id or "",
                s.last_status,
                ", ".join(f"{k}={v}" for k, v in sorted(s.params.items())),
            ]
            for s in found
        ],
    )


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Schedule name.")],
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Delete a schedule."""
    from loopml.pipelines.schedules import remove_schedule

    use_tracking_uri(tracking_uri)
    remove_schedule(name)
    typer.echo(f"removed {name}")


def scheduler(
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=1.0, help="Seconds between checks.")
    ] = 30.0,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Run due schedules (in a loop until stopped; several schedulers never run one slot twice)."""
    import logging

    from loopml.pipelines.schedules import run_due, serve

    use_tracking_uri(tracking_uri)
    if once:
        ran = run_due()
        print_table(
            ["schedule", "run", "status", "error"],
            [[r.schedule, r.run_id or "", r.status, r.error[:200]] for r in ran],
            title=f"{len(ran)} schedule(s) ran",
        )
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    typer.echo(f"scheduler: checking every {interval:g} s; Ctrl-C to stop")
    try:
        serve(interval)
    except KeyboardInterrupt:
        typer.echo("scheduler stopped")
