"""The data cycle: versioned files and tables, status and diff, remotes, schema, validation,
profiles and lineage.

    import loopml as lm
    dv = lm.data.log_dataset("rides", df)             # canonical Parquet + schema + profile
    df = lm.data.load("datasets:/rides@latest")       # back as pandas (or as_="arrow"/"polars")
    lm.log_input(dv, context="training")              # this run read that version
    report = lm.data.validate(df_new, dv)             # anomalies against its schema
    train = lm.data.join_features("labels@2", ["driver_stats@5"], on="driver_id",
                                  timestamp="event_time")  # point-in-time correct features
    lm.data.add("data/images")                        # a folder; writes data/images.loopml
    lm.data.delete("rides@1"); lm.data.gc()           # drop a version, then its blobs

The functions here act on the default tracking store (``LOOPML_TRACKING_URI``, else
``./.loopml``) and the project folder around the working directory; :class:`DataClient`
binds others.
"""

from __future__ import annotations

import importlib

# typing.TYPE_CHECKING without importing typing: `loopml data status` starts in this package.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any

    from loopml.data.blobs import LinkType, unprotect
    from loopml.data.client import AddResult, DataClient, StatusEntry
    from loopml.data.compare import ColumnChange, DatasetDiff
    from loopml.data.features import FeatureJoin, join_features, save_join
    from loopml.data.garbage import CollectResult
    from loopml.data.manifest import Manifest, ManifestDiff
    from loopml.data.remote import TransferResult
    from loopml.data.schema import DataSchema
    from loopml.data.validation import ValidationReport
    from loopml.entities import (
        Dataset,
        DatasetFile,
        DatasetKind,
        DatasetVersion,
        LineageDirection,
        LineageEdge,
    )

# Imported on first use, so that `loopml data status` (loopml.data.quick) starts fast.
_EXPORTS: dict[str, str] = {
    "LinkType": "loopml.data.blobs",
    "unprotect": "loopml.data.blobs",
    "AddResult": "loopml.data.client",
    "DataClient": "loopml.data.client",
    "StatusEntry": "loopml.data.client",
    "ColumnChange": "loopml.data.compare",
    "DatasetDiff": "loopml.data.compare",
    "CollectResult": "loopml.data.garbage",
    "FeatureJoin": "loopml.data.features",
    "join_features": "loopml.data.features",
    "save_join": "loopml.data.features",
    "Manifest": "loopml.data.manifest",
    "ManifestDiff": "loopml.data.manifest",
    "TransferResult": "loopml.data.remote",
    "Dataset": "loopml.entities",
    "DatasetFile": "loopml.entities",
    "DatasetKind": "loopml.entities",
    "DatasetVersion": "loopml.entities",
    "LineageDirection": "loopml.entities",
    "LineageEdge": "loopml.entities",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "AddResult",
    "CollectResult",
    "ColumnChange",
    "DataClient",
    "Dataset",
    "DatasetDiff",
    "DatasetFile",
    "DatasetKind",
    "DatasetVersion",
    "FeatureJoin",
    "LineageDirection",
    "LineageEdge",
    "LinkType",
    "Manifest",
    "ManifestDiff",
    "StatusEntry",
    "TransferResult",
    "add",
    "checkout",
    "delete",
    "diff",
    "gc",
    "get",
    "get_schema",
    "get_version",
    "join_features",
    "lineage",
    "list_datasets",
    "list_versions",
    "load",
    "log_dataset",
    "log_input",
    "log_output",
    "pin_schema",
    "pull",
    "push",
    "save_join",
    "status",
    "unprotect",
    "validate",
]


def _client() -> DataClient:
    """The default client, to use in a ``with`` block (which closes it)."""
    from loopml.data.client import DataClient

    return DataClient()


def add(path: str | Path, name: str | None = None, description: str = "") -> AddResult:
    """Version a file or folder (see :meth:`DataClient.add`)."""
    with _client() as data:
        return data.add(path, name, description)


def log_dataset(name: str, data: Any, description: str = "") -> DatasetVersion:
    """Version a table as canonical Parquet with schema and profile."""
    with _client() as client:
        return client.log_dataset(name, data, description)


def load(ref: str | DatasetVersion, as_: str = "pandas") -> Any:
    """A table version's data as ``pandas``, ``arrow`` or ``polars``."""
    with _client() as data:
        return data.load(ref, as_)


def get(ref: str | DatasetVersion, to: str | Path, link: str = "auto", force: bool = False) -> Path:
    """Materialise a version's files under a folder."""
    with _client() as data:
        return data.get(ref, to, link, force)


def get_version(ref: str | DatasetVersion) -> DatasetVersion:
    """The version ``rides@2``, ``rides`` (latest) or ``datasets:/rides/2`` names."""
    with _client() as data:
        return data.get_version(ref)


def list_datasets(name_like: str | None = None) -> list[Dataset]:
    """Every dataset, by name."""
    with _client() as data:
        return data.store.list_datasets(name_like)


def list_versions(name: str) -> list[DatasetVersion]:
    """Every version of a dataset, newest first."""
    with _client() as data:
        return data.store.list_dataset_versions(name)


def status() -> list[StatusEntry]:
    """Which tracked paths of the project changed since the version their pointer names."""
    with _client() as data:
        return data.status()


def checkout(
    pointers: Sequence[str | Path] = (), link: str = "auto", force: bool = False
) -> list[StatusEntry]:
    """Restore the working files the project's pointer files (or these ones) name."""
    from pathlib import Path

    with _client() as data:
        files = [Path(p) for p in pointers] or None
        return data.checkout(files, link, force)


def diff(a: str | DatasetVersion, b: str | DatasetVersion) -> DatasetDiff:
    """Files added, removed and changed from ``a`` to ``b``; for tables also schema, rows
    and statistics."""
    with _client() as data:
        return data.diff(a, b)


def push(remote: str, refs: Sequence[str] = ()) -> TransferResult:
    """Send the blobs of these versions (default: all) that the remote lacks."""
    with _client() as data:
        return data.push(remote, refs)


def pull(remote: str, refs: Sequence[str] = ()) -> TransferResult:
    """Fetch the blobs of these versions (default: those the pointers name)."""
    with _client() as data:
        return data.pull(remote, refs)


def delete(ref: str | DatasetVersion, force: bool = False) -> DatasetVersion:
    """Delete one version (``rides@2``); its blobs stay until :func:`gc`. Refused while a
    pointer file of the project or a monitor names it, unless ``force``."""
    with _client() as data:
        return data.delete(ref, force=force)


def gc(min_age: float = 3600.0, dry_run: bool = False, rewrite_below: float = 0.5) -> CollectResult:
    """Remove the blobs no version, run artifact or pointer names, written more than
    ``min_age`` seconds ago, rewriting packs whose kept share is under ``rewrite_below``;
    ``dry_run`` only reports."""
    with _client() as data:
        return data.gc(min_age=min_age, dry_run=dry_run, rewrite_below=rewrite_below)


def lineage(ref: str | DatasetVersion) -> list[LineageEdge]:
    """The runs that read or made a version."""
    with _client() as data:
        return data.lineage(ref)


def _log_edge(
    ref: str | DatasetVersion, role: str, direction: LineageDirection, run_id: str | None
) -> DatasetVersion:
    from loopml.entities import LineageEdge
    from loopml.errors import InvalidStateError
    from loopml.tracking.fluent import active_run_id

    with _client() as data:
        version = data.get_version(ref)
        run = run_id or active_run_id()
        if run is None:
            raise InvalidStateError(
                "no active run to record the dataset on; call inside `with lm.start_run():` "
                "or pass run_id"
            )
        data.store.log_lineage(run, [LineageEdge(run, version.uri, direction, role)])
        return version


def log_input(
    dataset: str | DatasetVersion, context: str = "", run_id: str | None = None
) -> DatasetVersion:
    """Record that the active run (or ``run_id``) read a dataset version, and why
    (``context``: ``training``, ``evaluation``, …).

    Raises:
        InvalidStateError: there is no active run and no ``run_id``.
    """
    from loopml.entities import LineageDirection

    return _log_edge(dataset, context, LineageDirection.INPUT, run_id)


def log_output(
    dataset: str | DatasetVersion, role: str = "", run_id: str | None = None
) -> DatasetVersion:
    """Record that the active run (or ``run_id``) produced a dataset version."""
    from loopml.entities import LineageDirection

    return _log_edge(dataset, role, LineageDirection.OUTPUT, run_id)


def get_schema(ref: str | DatasetVersion) -> DataSchema:
    """The schema validation uses for a version: its dataset's pinned schema if one is
    pinned, else the schema inferred when the version was made."""
    with _client() as data:
        return data.schema_for(ref)


def pin_schema(name: str, schema: DataSchema | None) -> Dataset:
    """Pin a schema on a dataset (``None`` unpins); later validation uses it."""
    with _client() as data:
        return data.store.set_dataset_schema(name, None if schema is None else schema.to_dict())


def validate(
    data: Any, against: DataSchema | str | DatasetVersion, reference: bool = True
) -> ValidationReport:
    """Check a table (pandas, polars, Arrow, or a Parquet/CSV path) against a schema or a
    version (its pinned or inferred schema, and its profile as the reference distribution).
    """
    with _client() as client:
        return client.validate(data, against, reference)
