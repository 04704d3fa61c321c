"""`loopml predict`: score a Parquet or CSV file (a folder of Parquet files, a dataset version)
with a model, in chunks, into a file of predictions. A model is ``pricing@champion``,
``pricing/7``, ``models:/…``, ``runs:/…`` or a model folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, use_tracking_uri
from loopml.cli._output import print_json, print_table, stderr_progress


def _model_uri(text: str) -> str:
    if text.startswith(("models:", "runs:")) or Path(text).exists():
        return text
    return f"models:/{text}"


def _names(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@contextmanager
def _rows_bar(show: bool) -> Iterator[Callable[[int, int | None], None] | None]:
    """A rich progress bar of rows on stderr (done/total, rate, time left)."""
    if not show:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with stderr_progress(*columns) as bar:
        task = bar.add_task("scoring", total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def predict(
    model: Annotated[str, typer.Argument(help="Model: pricing@champion, pricing/7, runs:/…")],
    input_: Annotated[
        str,
        typer.Option(
            "--input",
            "-i",
            help="Parquet or CSV file, folder of Parquet files, or dataset version (rides@3).",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Predictions file (.parquet or .csv).")
    ],
    executor: Annotated[
        str, typer.Option("--executor", help="inline (this process) or ray (Ray actors).")
    ] = "inline",
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Ray actors (default: its CPUs).")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster (default: a local one).")
    ] = None,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, help="Rows scored at a time.")
    ] = 10_000,
    id_column: Annotated[
        list[str] | None,
        typer.Option("--id-column", help="Input column that identifies a row (repeatable)."),
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option("--columns", help="Input columns to copy into the output (comma or repeat)."),
    ] = None,
    all_columns: Annotated[
        bool, typer.Option("--all-columns", help="Copy every input column into the output.")
    ] = False,
    proba: Annotated[
        bool, typer.Option("--proba", help="Add proba_<class> columns (classifiers).")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the output file if it exists.")
    ] = False,
    log_run: Annotated[
        bool | None,
        typer.Option(
            "--log-run/--no-log-run",
            help="Record the scoring as a run with lineage (default: for dataset inputs).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Score a file with a model in chunks; write predictions next to the id columns."""
    from loopml.serving import predict_file

    use_tracking_uri(tracking_uri)
    with _rows_bar(not (quiet or json_out)) as progress:
        result = predict_file(
            _model_uri(model),
            input_,
            output,
            chunk_size=chunk_size,
            id_columns=_names(id_column),
            columns=_names(columns),
            all_columns=all_columns,
            proba=proba,
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            overwrite=overwrite,
            log_run=log_run,
            progress=progress,
        )
    if json_out:
        print_json(result.to_dict())
        return
    version = f"{result.model_name}/{result.model_version}" if result.model_name else ""
    print_table(
        ["rows", "chunks", "seconds", "rows/s", "model", "version", "output", "run"],
        [
            [
                result.rows,
                result.chunks,
                round(result.seconds, 2),
                round(result.rows_per_second),
                result.model,
                version,
                result.output,
                result.run_id or "",
            ]
        ],
        title=f"{result.input} scored ({', '.join(result.columns)})",
    )
