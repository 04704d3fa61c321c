"""`loopml labels add`: ground truth that arrived after the predictions, by request id."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, use_tracking_uri
from loopml.cli._output import print_json

app = typer.Typer(help="Late labels, joined to the prediction log.", no_args_is_help=True)


@app.command("add")
def add(
    deployment: Annotated[str, typer.Argument(help="The deployment the labels belong to.")],
    file: Annotated[Path, typer.Argument(help="A Parquet or CSV file of labels.")],
    id_column: Annotated[
        str, typer.Option("--id-column", help="Column with the request id.")
    ] = "request_id",
    row_column: Annotated[
        str, typer.Option("--row-column", help="Column with the row in its request (default 0).")
    ] = "row",
    label_column: Annotated[
        str, typer.Option("--label-column", help="Column with the label.")
    ] = "label",
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Store labels keyed by request id (+ row); report matched and unknown ids."""
    from loopml.monitoring import log_labels

    use_tracking_uri(tracking_uri)
    report = log_labels(
        deployment, file, id_column=id_column, row_column=row_column, label_column=label_column
    )
    if json_out:
        print_json(report.to_dict())
        return
    typer.echo(
        f"{deployment}: stored {report.stored:,} label(s); {report.matched:,} match logged "
        f"predictions, {report.unknown:,} do not (yet)"
    )
    if report.unknown_examples:
        typer.echo(f"unknown request ids, e.g.: {', '.join(report.unknown_examples)}")
    for count, what in (
        (report.duplicates, "repeated in the file (the last kept)"),
        (report.replaced, "replace earlier labels (the latest wins)"),
        (report.missing, "had no label value (skipped)"),
    ):
        if count:
            typer.echo(f"{count:,} row(s) {what}")
