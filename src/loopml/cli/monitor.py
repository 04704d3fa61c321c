"""`loopml monitor …`: check production data against a reference (``drift``), and monitors
over a deployment's prediction log (the commands of :mod:`loopml.cli.monitors`).

REFERENCE and CURRENT are each a Parquet or CSV file or a dataset version (``rides@3``,
``rides/3``, ``datasets:/rides@3``); a reference version is compared through its stored
profile unless ``--exact``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, client_for, parse_assignments
from loopml.cli._output import print_json, print_table, stderr_progress

if TYPE_CHECKING:
    from loopml.monitoring import DriftReport

app = typer.Typer(
    help="Monitor data and models: drift, monitors over the prediction log, reports.",
    no_args_is_help=True,
)


def _split(items: list[str] | None) -> list[str] | None:
    """``--columns a,b --columns c`` as ``[a, b, c]``."""
    if not items:
        return None
    return [name.strip() for item in items for name in item.split(",") if name.strip()]


def _render(report: DriftReport) -> None:
    rows = [
        [
            c.column + (" (prediction)" if c.role == "prediction" else ""),
            c.kind,
            c.test or "",
            c.statistic,
            c.p_value,
            c.distance,
            "not tested" if c.drifted is None else ("DRIFT" if c.drifted else "ok"),
            f"{c.ref_null_fraction:.1%} / {c.cur_null_fraction:.1%}",
            c.note,
        ]
        for c in report.columns
    ]
    print_table(
        [
            "column",
            "kind",
            "test",
            "statistic",
            "p-value",
            "distance",
            "drift",
            "nulls ref/cur",
            "note",
        ],
        rows,
        title=f"{report.reference} → {report.current}",
    )
    typer.echo(report.summary())


@app.command("drift")
def drift(
    reference: Annotated[str, typer.Argument(help="Reference: a file or a dataset version.")],
    current: Annotated[str, typer.Argument(help="Current data: a file or a dataset version.")],
    columns: Annotated[
        list[str] | None,
        typer.Option("--columns", "-c", help="Columns to test (repeat, or comma-separated)."),
    ] = None,
    test: Annotated[
        list[str] | None,
        typer.Option(
            "--test", "-t", help="COLUMN=TEST[:THRESHOLD], e.g. fare=psi or city=chi2:0.01."
        ),
    ] = None,
    threshold: Annotated[
        float, typer.Option("--threshold", help="Significance level of the p-value tests.")
    ] = 0.05,
    categorical: Annotated[
        list[str] | None,
        typer.Option("--categorical", help="Columns to compare as categories (repeatable)."),
    ] = None,
    prediction: Annotated[
        str | None, typer.Option("--prediction", help="The model output column.")
    ] = None,
    drift_share: Annotated[
        float,
        typer.Option("--drift-share", help="Share of drifted features that is dataset drift."),
    ] = 0.5,
    exact: Annotated[
        bool, typer.Option("--exact", help="Read a reference version's rows, not its profile.")
    ] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write an HTML report.")] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Test CURRENT for drift from REFERENCE, column by column; exits 1 on dataset drift."""
    from loopml.data import DataClient
    from loopml.monitoring import drift as run_drift

    tests = parse_assignments(test, "--test")
    data = DataClient(client_for(tracking_uri))
    try:
        with _progress() as advance:
            report = run_drift(
                reference,
                current,
                columns=_split(columns),
                tests=tests,
                threshold=threshold,
                categorical=_split(categorical),
                prediction=prediction,
                drift_share=drift_share,
                exact=exact,
                data=data,
                on_column=lambda _: advance(),
            )
    finally:
        data.close()
    if html is not None:
        report.save_html(html)
    if json_out:
        print_json(report.to_dict())
    else:
        _render(report)
        if html is not None:
            typer.echo(f"report → {html}")
    if report.dataset_drift:
        raise typer.Exit(1)


@contextmanager
def _progress() -> Iterator[Callable[[], None]]:
    """A rich spinner counting finished columns, on stderr, gone when done."""
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("drift: {task.completed} columns tested"),
        TimeElapsedColumn(),
    )
    with stderr_progress(*columns) as bar:
        task = bar.add_task("drift", total=None)
        yield lambda: bar.advance(task)


def _register() -> None:
    from loopml.cli import monitors

    monitors.register(app)


_register()
