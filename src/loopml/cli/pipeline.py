"""`loopml pipeline …`: run a pipeline from a shell, list its runs, show a run's steps,
resume a failed run. A pipeline is named ``module:attribute`` or ``file.py:attribute``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, parse_assignments, use_tracking_uri
from loopml.cli._output import fmt_duration, fmt_time, print_json, print_table

app = typer.Typer(help="Run pipelines and inspect their runs.", no_args_is_help=True)

ExecutorOption = Annotated[str, typer.Option("--executor", "-e", help="inline, process or ray.")]
WorkersOption = Annotated[
    int | None, typer.Option("--max-workers", min=1, help="Parallel processes (process).")
]


def _print_run(run: Any) -> None:
    print_table(
        ["step", "item", "state", "duration", "attempts", "reused from", "run"],
        [
            [
                r.node,
                "" if r.item is None else r.item,
                r.state,
                fmt_duration(r.duration_ms),
                r.attempts or "",
                r.reused_from or "",
                r.run_id,
            ]
            for r in run.steps
        ],
        title=f"pipeline {run.name}: {run.status} (run {run.run_id})",
    )


@app.command("run")
def run(
    target: Annotated[str, typer.Argument(help="module:pipeline or file.py:pipeline.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE (repeatable).")
    ] = None,
    executor: ExecutorOption = "inline",
    max_workers: WorkersOption = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Re-run every step.")] = False,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster address.")] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Run a pipeline; cached steps are skipped."""
    from loopml.pipelines.runner import load_target

    use_tracking_uri(tracking_uri)
    pipeline = load_target(target)
    result = pipeline.run(
        executor,
        max_workers=max_workers,
        cache=not no_cache,
        address=address,
        **parse_assignments(param, "-p", typed=True),
    )
    if json_out:
        print_json({"run_id": result.run_id, "status": result.status, "steps": result.steps})
    else:
        _print_run(result)


@app.command("resume")
def resume(
    run_id: Annotated[str, typer.Argument(help="The pipeline run to resume.")],
    executor: Annotated[str | None, typer.Option("--executor", "-e")] = None,
    max_workers: WorkersOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Run a pipeline run again from its failure, reusing every finished step's output."""
    from loopml.pipelines.runner import resume as resume_run

    use_tracking_uri(tracking_uri)
    _print_run(resume_run(run_id, executor, max_workers))


@app.command("rerun")
def rerun(
    run_id: Annotated[str, typer.Argument(help="The pipeline run to execute again.")],
    executor: Annotated[str | None, typer.Option("--executor", "-e")] = None,
    max_workers: WorkersOption = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Execute a run again without the cache and report which outputs came out identical;
    exits 1 when one differs."""
    from loopml.pipelines.runner import rerun as rerun_run

    use_tracking_uri(tracking_uri)
    again, comparisons = rerun_run(run_id, executor, max_workers)
    if json_out:
        print_json({"run_id": again.run_id, "steps": comparisons})
    else:
        print_table(
            ["step", "item", "identical", "original output", "new output"],
            [
                [
                    c.node,
                    "" if c.item is None else c.item,
                    "yes" if c.identical else "NO",
                    (c.original or "")[:16],
                    (c.rerun or "")[:16],
                ]
                for c in comparisons
            ],
            title=f"rerun of {run_id} as {again.run_id}",
        )
    if not all(c.identical for c in comparisons):
        raise typer.Exit(1)


@app.command("runs")
def runs(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Runs of a pipeline, newest first."""
    import loopml as lm

    use_tracking_uri(tracking_uri)
    experiment = lm.get_experiment_by_name(name)
    found = (
        []
        if experiment is None
        else lm.search_runs(
            experiment.experiment_id,
            filter=f"tags.`loopml.pipeline.name` = '{name}' and tags.`loopml.step.name` IS NULL",
            order_by=["attributes.start_time DESC"],
        )
    )
    if json_out:
        print_json(found)
        return
    print_table(
        ["run", "status", "started (UTC)", "duration", "executor", "params"],
        [
            [
                r.info.run_id,
                r.info.status.value,
                fmt_time(r.info.start_time),
                fmt_duration(r.info.duration_ms),
                r.data.tags.get("loopml.pipeline.executor", ""),
                ", ".join(f"{k}={v}" for k, v in sorted(r.data.params.items())),
            ]
            for r in found
        ],
        title=f"runs of pipeline {name}",
    )


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="A pipeline run.")],
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """A pipeline run's graph: each step's state, duration and cache hit."""
    import loopml as lm
    from loopml.errors import InvalidInputError

    use_tracking_uri(tracking_uri)
    parent = lm.get_run(run_id)
    tags = parent.data.tags
    if "loopml.pipeline.graph" not in tags:
        raise InvalidInputError(f"run {run_id} is not a pipeline run")
    graph = json.loads(tags["loopml.pipeline.graph"])
    children = lm.search_runs(
        parent.info.experiment_id, filter=f"tags.`loopml.pipeline.run` = '{run_id}'"
    )
    by_node: dict[str, list[Any]] = {}
    for child in children:
        by_node.setdefault(child.data.tags.get("loopml.step.node", ""), []).append(child)
    rows = []
    for node, info in graph.items():
        executions = sorted(
            by_node.get(node, []), key=lambda r: int(r.data.tags.get("loopml.step.item", -1))
        )
        if not executions:
            rows.append([node, ", ".join(info["upstream"]), "", "not run", "", "", ""])
        for child in executions:
            item = child.data.tags.get("loopml.step.item")
            rows.append(
                [
                    node if item is None else f"{node}[{item}]",
                    ", ".join(info["upstream"]),
                    child.data.tags.get("loopml.step.cache", ""),
                    child.info.status.value.lower(),
                    fmt_duration(child.info.duration_ms),
                    child.data.tags.get("loopml.step.reused_from", ""),
                    child.info.run_id,
                ]
            )
    if json_out:
        print_json({"run": parent, "graph": graph, "steps": children})
        return
    print_table(
        ["step", "after", "cache", "state", "duration", "reused from", "run"],
        rows,
        title=(
            f"pipeline {tags.get('loopml.pipeline.name')} run {run_id}: {parent.info.status.value}"
        ),
    )
