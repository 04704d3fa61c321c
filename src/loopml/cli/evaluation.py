"""`loopml evaluate` and `loopml gate`: measure a model on data, and fail a CI job when it is
not good enough. A model is ``models:/pricing/7``, ``pricing/7``, ``pricing@champion`` or
``runs:/…``; data a dataset version (``rides@4``) or a Parquet/CSV file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, use_tracking_uri
from loopml.cli._output import print_json, print_table

DataOption = Annotated[
    str | None, typer.Option("--data", help="Dataset version (rides@4) or Parquet/CSV file.")
]
TargetOption = Annotated[str | None, typer.Option("--target", help="Column of true values.")]
TaskOption = Annotated[
    str | None, typer.Option("--task", help="regression or classification (default: inferred).")
]
ListOption = Annotated[
    list[str] | None, typer.Option(help="Column name (repeat or comma-separate).")
]


def _names(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _model_uri(text: str) -> str:
    if text.startswith(("models:", "runs:")) or Path(text).exists():
        return text
    return f"models:/{text}"


def evaluate(
    model: Annotated[str, typer.Argument(help="Model to evaluate.")],
    data: DataOption = None,
    target: TargetOption = None,
    task: TaskOption = None,
    slices: Annotated[list[str] | None, typer.Option("--slices", help="Slice columns.")] = None,
    sensitive: Annotated[
        list[str] | None, typer.Option("--sensitive", help="Sensitive columns (fairness).")
    ] = None,
    min_slice_count: Annotated[int, typer.Option(min=1, help="Smaller slices are not gated.")] = 30,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the report here.")] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Evaluate a model on data: metrics, slices, fairness, latency; logged as a run."""
    from loopml.errors import InvalidInputError
    from loopml.evaluation import evaluate as run_evaluation

    if data is None or target is None:
        raise InvalidInputError("give --data and --target")
    use_tracking_uri(tracking_uri)
    result = run_evaluation(
        _model_uri(model),
        data,
        target,
        task,
        _names(slices),
        _names(sensitive),
        min_slice_count=min_slice_count,
    )
    if html is not None:
        result.save_html(html)
    if json_out:
        print_json(result.to_dict())
        return
    print_table(
        ["metric", "value"],
        [[k, v] for k, v in {**result.metrics, **result.latency}.items()],
        title=f"{result.model} on {result.data} ({result.rows:,} rows, {result.task})",
    )
    if result.by_slice:
        primary = "rmse" if result.task == "regression" else "accuracy"
        print_table(
            ["column", "value", "rows", "gated", primary],
            [
                [s.column, s.value, s.count, "yes" if s.gated else "no", s.metrics.get(primary)]
                for s in result.by_slice
            ],
            title="slices",
        )
    for column, f in result.fairness.items():
        if f.metrics:
            print_table(
                ["metric", "value"],
                [[k, v] for k, v in f.metrics.items()],
                title=f"fairness across {column}",
            )
    typer.echo(f"logged as run {result.run_id}")


def gate(
    model: Annotated[str, typer.Argument(help="Candidate model.")],
    against: Annotated[
        str | None, typer.Option("--against", help="Baseline model, e.g. pricing@champion.")
    ] = None,
    policy: Annotated[Path, typer.Option("--policy", help="Gate policy (YAML).")] = Path(
        "gates.yaml"
    ),
    data: DataOption = None,
    target: TargetOption = None,
    task: TaskOption = None,
    sensitive: Annotated[
        list[str] | None, typer.Option("--sensitive", help="Sensitive columns (fairness).")
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Check a candidate against a policy and a baseline; exit 0 on pass, 1 on fail."""
    from loopml.evaluation import gate as run_gate

    use_tracking_uri(tracking_uri)
    verdict = run_gate(
        _model_uri(model),
        _model_uri(against) if against else None,
        policy,
        data=data,
        target=target,
        task=task,
        sensitive=_names(sensitive),
    )
    if json_out:
        print_json(verdict.to_dict())
    else:
        rows: list[list[Any]] = [
            [
                c.name,
                c.value,
                c.baseline,
                f"{c.kind} {c.bound:g}",
                "pass" if c.passed else "FAIL",
                c.reason,
            ]
            for c in verdict.checks
        ]
        print_table(
            ["check", "candidate", "baseline", "bound", "result", "reason"],
            rows,
            title=f"gate {verdict.candidate}: {'PASS' if verdict.passed else 'FAIL'}",
        )
    if not verdict.passed:
        raise typer.Exit(1)
