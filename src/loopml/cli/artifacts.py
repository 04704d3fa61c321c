"""`loopml artifacts …`: list and download run artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, client_for
from loopml.cli._output import print_json, print_table

app = typer.Typer(help="List and download run artifacts.", no_args_is_help=True)

UriArg = Annotated[str, typer.Argument(help="runs:/<run_id>/<path> (the path may be empty).")]


@app.command("list")
def list_artifacts(
    uri: UriArg, json_out: JsonOption = False, tracking_uri: TrackingUriOption = None
) -> None:
    """List the files of a run under a path."""
    from loopml.uris import parse_runs_uri

    parsed = parse_runs_uri(uri)
    records = client_for(tracking_uri).list_artifacts(parsed.run_id, parsed.path)
    if json_out:
        print_json(records)
        return
    print_table(
        ["path", "size", "digest"], [[r.path, r.size, r.digest] for r in records], title=str(parsed)
    )


@app.command("get")
def get(
    uri: UriArg,
    to: Annotated[
        Path, typer.Option("--to", help="Folder to copy into (created if missing).")
    ] = Path("."),
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Download a run's file or folder; every file is verified against its digest."""
    from loopml.uris import parse_runs_uri

    parsed = parse_runs_uri(uri)
    written = client_for(tracking_uri).download_artifacts(parsed.run_id, parsed.path, to)
    print_json({"path": str(written)}) if json_out else typer.echo(str(written))
