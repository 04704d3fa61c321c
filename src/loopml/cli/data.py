"""`loopml data …`: version files and tables, see what changed, move versions between
stores, validate new data. A version reference is ``rides`` (latest), ``rides@2``,
``rides/2`` or ``datasets:/rides@2``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, client_for
from loopml.cli._output import fmt_time, print_json, print_table, stderr_progress

if TYPE_CHECKING:
    from loopml.data import DataClient

app = typer.Typer(
    help="Version datasets; status, diff, get, checkout, push/pull, validate.",
    no_args_is_help=True,
)

RefArg = Annotated[str, typer.Argument(help="rides, rides@2, rides/2 or datasets:/… .")]
RemoteOption = Annotated[
    str, typer.Option("--remote", "-r", help="Remote URL: a folder, s3://bucket/prefix, …")
]
LinkOption = Annotated[
    str,
    typer.Option(
        "--link", help="auto (reflink, else hard link, else copy), reflink, hardlink or copy."
    ),
]


@contextmanager
def _data(tracking_uri: str | None) -> Iterator[DataClient]:
    from loopml.data import DataClient

    data = DataClient(client_for(tracking_uri))
    try:
        yield data
    finally:
        data.close()


class _Bar:
    """A byte-progress bar's callbacks: ``advance(n)``, and ``total(n)`` once known."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def __call__(self, n: int) -> None:
        self._bar.advance(self._task, n)

    def total(self, n: int) -> None:
        self._bar.update(self._task, total=n)


@contextmanager
def _progress(description: str, total: int | None = None) -> Iterator[_Bar]:
    """A rich byte-progress bar on stderr; yields the callbacks that drive it."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with stderr_progress(*columns) as bar:
        yield _Bar(bar, bar.add_task(description, total=total))


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover


@app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="File or folder inside the project.")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="Dataset name.")] = None,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Version a file or folder; writes PATH.loopml to commit to git."""
    with _data(tracking_uri) as data, _progress(f"adding {path}") as step:
        result = data.add(path, name, description, progress=step, on_total=step.total)
    if json_out:
        print_json(
            {"version": result.version, "created": result.created, "pointer": str(result.pointer)}
        )
        return
    v = result.version
    what = "new version" if result.created else "unchanged; still version"
    typer.echo(
        f"{v.name}: {what} {v.version} ({v.file_count} files, {_size(v.size)}) → {result.pointer}"
    )


@app.command("status")
def status(json_out: JsonOption = False, tracking_uri: TrackingUriOption = None) -> None:
    """Which tracked paths changed since the version their pointer names."""
    with _data(tracking_uri) as data:
        entries = data.status()
    if json_out:
        print_json(
            [
                {
                    "path": e.path,
                    "name": e.name,
                    "version": e.version,
                    "state": e.state,
                    "added": [f.path for f in e.diff.added] if e.diff else [],
                    "removed": [f.path for f in e.diff.removed] if e.diff else [],
                    "changed": [n.path for _, n in e.diff.changed] if e.diff else [],
                }
                for e in entries
            ]
        )
        return
    if not entries:
        typer.echo("no tracked data in this project (add some with `loopml data add PATH`)")
        return
    rows = []
    for e in entries:
        d = e.diff
        counts = (len(d.added), len(d.removed), len(d.changed)) if d else ("", "", "")
        rows.append([e.path, f"{e.name}@{e.version}", e.state, *counts])
    print_table(["path", "version", "state", "added", "removed", "changed"], rows)


@app.command("list")
def list_datasets(json_out: JsonOption = False, tracking_uri: TrackingUriOption = None) -> None:
    """List datasets with their latest version."""
    with _data(tracking_uri) as data:
        datasets = data.store.list_datasets()
    if json_out:
        print_json(datasets)
        return
    print_table(
        ["name", "latest", "updated (UTC)", "schema pinned"],
        [
            [d.name, d.latest_version, fmt_time(d.last_update_time), "yes" if d.schema else ""]
            for d in datasets
        ],
    )


@app.command("show")
def show(ref: RefArg, json_out: JsonOption = False, tracking_uri: TrackingUriOption = None) -> None:
    """A version: its files, size, rows, columns, and the runs that used or made it."""
    with _data(tracking_uri) as data:
        v = data.get_version(ref)
        edges = data.lineage(v)
        versions = data.store.list_dataset_versions(v.name)
    if json_out:
        print_json({"version": v, "lineage": edges})
        return
    typer.echo(
        f"{v.uri}  ({v.kind.value}, {v.file_count} files, {_size(v.size)}"
        + (f", {v.rows} rows" if v.rows is not None else "")
        + ")"
    )
    typer.echo(
        f"digest {v.digest}\nmade {fmt_time(v.creation_time)} by {v.created_by or '?'}"
        f" from {v.source or '?'}" + (f" in run {v.run_id}" if v.run_id else "")
    )
    if v.description:
        typer.echo(v.description)
    if v.profile:
        print_table(
            ["column", "type", "nulls", "distinct", "min", "max", "mean"],
            [
                [
                    c.get("name"),
                    c.get("type"),
                    c.get("nulls"),
                    c.get("distinct"),
                    c.get("min"),
                    c.get("max"),
                    c.get("mean"),
                ]
                for c in v.profile.get("columns", [])
            ],
            title="columns",
        )
    print_table(
        ["run", "direction", "role", "time (UTC)"],
        [[e.run_id, e.direction.value, e.role, fmt_time(e.time)] for e in edges],
        title="runs that used or made it",
    )
    print_table(
        ["version", "files", "size", "rows", "made (UTC)"],
        [
            [x.version, x.file_count, _size(x.size), x.rows, fmt_time(x.creation_time)]
            for x in versions
        ],
        title=f"versions of {v.name}",
    )


@app.command("diff")
def diff(
    a: RefArg,
    b: Annotated[str, typer.Argument(help="The newer version.")],
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Files added, removed and changed; for tables also schema, rows and statistics."""
    with _data(tracking_uri) as data:
        result = data.diff(a, b)
    va, vb = result.a, result.b
    if json_out:
        print_json(result.to_dict())
        return
    f = result.files
    rows: list[list[Any]] = [["added", p.path] for p in f.added]
    rows += [["removed", p.path] for p in f.removed]
    rows += [["changed", n.path] for _, n in f.changed]
    typer.echo(
        f"{va.uri} → {vb.uri}: {len(f.added)} added, {len(f.removed)} removed, "
        f"{len(f.changed)} changed, {f.unchanged} unchanged"
    )
    if rows:
        print_table(["change", "path"], rows[:200], title="files")
        if len(rows) > 200:
            typer.echo(f"… and {len(rows) - 200} more (use --json for all)")
    if result.rows != (None, None):
        typer.echo(f"rows: {result.rows[0]} → {result.rows[1]}")
    if result.columns:
        print_table(
            ["column", "change", "before", "after"],
            [[c.column, c.change, c.before, c.after] for c in result.columns],
            title="columns",
        )


@app.command("get")
def get(
    ref: RefArg,
    to: Annotated[Path, typer.Option("--to", help="Folder to write the files into.")],
    link: LinkOption = "auto",
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty folder.")] = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Materialise a version's files in a folder."""
    with _data(tracking_uri) as data:
        version = data.get_version(ref)
        with _progress(f"getting {version.name}@{version.version}", version.size) as step:
            data.get(version, to, link, force, progress=step)
    typer.echo(f"{version.uri}: {version.file_count} files → {to}")


@app.command("checkout")
def checkout(
    pointers: Annotated[
        list[Path] | None, typer.Argument(help="Pointer files (default: all in the project).")
    ] = None,
    link: LinkOption = "auto",
    force: Annotated[bool, typer.Option("--force", help="Discard unsaved changes.")] = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Restore the working files that pointer files name."""
    with _data(tracking_uri) as data, _progress("checking out") as step:
        done = data.checkout(pointers or None, link, force, progress=step)
    for e in done:
        what = "already matched" if e.state == "unchanged" else "restored"
        typer.echo(f"{e.path}: {what} {e.name}@{e.version}")


@app.command("push")
def push(
    refs: Annotated[list[str] | None, typer.Argument(help="Versions (default: all).")] = None,
    remote: RemoteOption = ...,  # type: ignore[assignment]
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Send versions' blobs that the remote lacks."""
    with _data(tracking_uri) as data, _progress(f"pushing to {remote}") as step:
        result = data.push(remote, refs or (), progress=step)
    typer.echo(
        f"pushed {result.blobs} blobs ({_size(result.bytes)}); {result.skipped} already there"
    )


@app.command("pull")
def pull(
    refs: Annotated[
        list[str] | None, typer.Argument(help="Versions (default: those the pointers name).")
    ] = None,
    remote: RemoteOption = ...,  # type: ignore[assignment]
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Fetch versions' blobs that the store lacks (verified)."""
    with _data(tracking_uri) as data, _progress(f"pulling from {remote}") as step:
        result = data.pull(remote, refs or (), progress=step)
    typer.echo(
        f"pulled {result.blobs} blobs ({_size(result.bytes)}); {result.skipped} already here"
    )


@app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="Parquet or CSV file to check.")],
    against: Annotated[
        str | None, typer.Option("--against", help="Version whose schema and profile to use.")
    ] = None,
    schema_file: Annotated[
        Path | None, typer.Option("--schema", help="A schema YAML file instead.")
    ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Also write an HTML report.")] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Check data against a version's schema; exits 1 when there are errors."""
    from loopml.data.schema import load_schema
    from loopml.errors import InvalidInputError

    if (against is None) == (schema_file is None):
        raise InvalidInputError("give exactly one of --against VERSION and --schema FILE")
    with _data(tracking_uri) as data:
        if schema_file is not None:
            report = data.validate(path, load_schema(schema_file))
        else:
            assert against is not None
            report = data.validate(path, against)
    if html is not None:
        report.save_html(html)
    if json_out:
        print_json(report.to_dict())
    else:
        print_table(
            ["severity", "column", "anomaly", "message"],
            [[a.severity, a.column or "", a.kind, a.message] for a in report.anomalies],
            title=f"{path}: {len(report.errors)} errors, {len(report.warnings)} warnings",
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("join")
def join(
    entities: Annotated[
        str, typer.Argument(help="Entity rows: a Parquet/CSV file or a table version (labels@4).")
    ],
    features: Annotated[
        list[str], typer.Argument(help="Feature table versions (driver_stats@12 …).")
    ],
    on: Annotated[
        list[str], typer.Option("--on", help="Key column (repeat for several).", show_default=False)
    ],
    timestamp: Annotated[
        str, typer.Option("--timestamp", help="The entities' event time column.")
    ] = "event_timestamp",
    feature_timestamp: Annotated[
        str | None,
        typer.Option("--feature-timestamp", help="The features' time column (default: same)."),
    ] = None,
    ttl: Annotated[
        list[str] | None,
        typer.Option(
            "--ttl",
            help="Oldest usable feature value: 7d for every table, or NAME=7d per dataset "
            "(repeat).",
        ),
    ] = None,
    prefix: Annotated[
        bool, typer.Option("--prefix", help="Name feature columns <dataset>__<column>.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the result (.parquet or .csv).")
    ] = None,
    log_as: Annotated[
        str | None,
        typer.Option("--log", help="Version the result as this dataset, in a run with lineage."),
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Point-in-time join: each entity row gets the latest feature values at its time."""
    from loopml.cli._common import use_tracking_uri
    from loopml.data.features import save_join
    from loopml.errors import InvalidInputError

    windows: Any = None
    if ttl:
        per_table = [t for t in ttl if "=" in t]
        if per_table and len(per_table) != len(ttl):
            raise InvalidInputError("give --ttl either once for every table or as NAME=AGE each")
        if per_table:
            windows = dict(t.split("=", 1) for t in per_table)
        elif len(ttl) > 1:
            raise InvalidInputError("--ttl without NAME= applies to every table: give it once")
        else:
            windows = ttl[0]
    if output is None and log_as is None:
        raise InvalidInputError("say where the result goes: --output FILE and/or --log NAME")
    use_tracking_uri(tracking_uri)
    with _data(tracking_uri) as data:
        joined, version = save_join(
            entities,
            features,
            output=output,
            log_as=log_as,
            data_client=data,
            on=on,
            timestamp=timestamp,
            feature_timestamp=feature_timestamp,
            ttl=windows,
            prefix=prefix,
        )
    rows = len(joined.frame)
    summary = {
        "rows": rows,
        "columns": list(map(str, joined.frame.columns)),
        "matched": joined.matched,
        "duplicates": joined.duplicates,
        "output": str(output) if output else None,
        "version": version.uri if version else None,
    }
    if json_out:
        print_json(summary)
        return
    print_table(
        ["feature table", "rows matched", "share", "duplicate rows dropped"],
        [
            [uri, hits, f"{hits / rows:.1%}" if rows else "", joined.duplicates.get(uri, 0)]
            for uri, hits in joined.matched.items()
        ],
        title=f"{rows:,} entity rows, {len(joined.frame.columns)} columns",
    )
    for where in (str(output) if output else "", version.uri if version else ""):
        if where:
            typer.echo(f"wrote {where}")


schema_app = typer.Typer(help="Show, export and pin dataset schemas.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


@schema_app.command("show")
def schema_show(ref: RefArg, tracking_uri: TrackingUriOption = None) -> None:
    """Print the schema a version validates against, as YAML (edit it, then pin it)."""
    with _data(tracking_uri) as data:
        typer.echo(data.schema_for(ref).to_yaml(), nl=False)


@schema_app.command("pin")
def schema_pin(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    file: Annotated[Path, typer.Argument(help="Schema YAML file.")],
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Pin an edited schema on a dataset; validation then uses it."""
    from loopml.data.schema import load_schema

    schema = load_schema(file)
    with _data(tracking_uri) as data:
        data.store.set_dataset_schema(name, schema.to_dict())
    typer.echo(f"pinned {file} on {name}")


@schema_app.command("unpin")
def schema_unpin(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Unpin a dataset's schema; validation goes back to each version's inferred one."""
    with _data(tracking_uri) as data:
        data.store.set_dataset_schema(name, None)
    typer.echo(f"unpinned the schema of {name}")


@app.command("unprotect")
def unprotect_cmd(
    path: Annotated[Path, typer.Argument(help="Tracked file or folder.")],
) -> None:
    """Turn linked, read-only working files into writable private copies."""
    from loopml.data import unprotect

    typer.echo(f"{unprotect(path)} files made writable")


@app.command("rm")
def remove(
    refs: Annotated[
        list[str], typer.Argument(help="Versions to delete: rides@2 … (or a name with --all).")
    ],
    all_versions: Annotated[
        bool, typer.Option("--all", help="Delete every version of the named datasets.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Also when a pointer file or a monitor names the version."),
    ] = False,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Delete dataset versions. Numbers are not given again; the blobs stay until `data gc`."""
    from loopml.errors import InvalidInputError
    from loopml.uris import parse_datasets_uri

    with _data(tracking_uri) as data:
        parsed = [(ref, parse_datasets_uri(ref, short=True)) for ref in refs]
        for ref, uri in parsed:
            if (uri.version is None) != all_versions:
                raise InvalidInputError(
                    f"{ref!r}: name one version (rides@2), or a dataset name with --all"
                    if uri.version is None
                    else f"{ref!r} names one version; --all takes dataset names (rides)"
                )
        versions: list[Any] = list(refs)
        if all_versions:
            versions = [v for _, u in parsed for v in data.store.list_dataset_versions(u.name)]
        deleted = data.delete_versions(versions, force=force)  # all checked before any goes
    if json_out:
        print_json({"deleted": [v.uri for v in deleted]})
        return
    for v in deleted:
        typer.echo(f"deleted {v.name}@{v.version}")
    if deleted:
        typer.echo("their blobs stay stored until `loopml data gc`")


@app.command("gc")
def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
    min_age: Annotated[
        str,
        typer.Option(
            "--min-age",
            help="Keep anything written more recently than this (90s, 15m, 1h, 0): an add "
            "running meanwhile stores blobs before it records its version.",
        ),
    ] = "1h",
    rewrite_below: Annotated[
        float,
        typer.Option(
            "--rewrite-below",
            min=0.0,
            max=1.0,
            help="Rewrite a pack when what it keeps fills less than this share of it (1: "
            "every pack holding a removable blob; 0: only drop packs with nothing kept).",
        ),
    ] = 0.5,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Remove the blobs no dataset version, run artifact or pointer file names."""
    from loopml.monitoring.spec import parse_duration

    seconds = parse_duration(min_age, "--min-age")
    with _data(tracking_uri) as data, _progress("collecting") as bar:
        result = data.gc(
            min_age=seconds,
            dry_run=dry_run,
            rewrite_below=rewrite_below,
            progress=bar,
            total=bar.total,
        )
    if json_out:
        print_json(result)
        return
    verb = "would free" if dry_run else "freed"
    typer.echo(
        f"{verb} {_size(result.bytes_freed)}: {result.blobs_removed} blobs "
        f"({result.loose_removed} loose, {result.recipes_removed} chunk lists, "
        f"{result.packs_removed} packs removed, {result.packs_rewritten} rewritten); "
        f"{_size(result.bytes_kept)} kept"
        + (
            f", of which {_size(result.bytes_dead_kept)} unused inside packs kept "
            "(--rewrite-below 1 frees them)"
            if result.bytes_dead_kept
            else ""
        )
    )
