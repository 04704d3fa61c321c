"""Entities of the data cycle: datasets, their immutable versions, files, and lineage edges."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Dataset",
    "DatasetFile",
    "DatasetKind",
    "DatasetVersion",
    "LineageDirection",
    "LineageEdge",
    "Schedule",
]


class DatasetKind(enum.StrEnum):
    """What a version holds: plain files, or a table (Parquet with a schema and profile)."""

    FILES = "files"
    TABLE = "table"


class LineageDirection(enum.StrEnum):
    """Whether a run read (``input``) or made (``output``) the thing an edge names."""

    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True)
class DatasetFile:
    """One file of a version: its path relative to the version's root, digest and size."""

    path: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named dataset whose versions are numbered from 1.

    Attributes:
        latest_version: the highest version number (0 before the first version).
        schema: the pinned schema (a :class:`loopml.data.DataSchema` as a dict), or None
            when validation uses each version's inferred schema.
    """

    name: str
    description: str
    latest_version: int
    creation_time: int
    last_update_time: int
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """An immutable version: a manifest of files, and for tables their schema and profile.

    Attributes:
        digest: BLAKE3 digest of the canonical manifest; the manifest itself is a blob under
            this digest, so a version can be rebuilt from any store holding its blobs.
        source: where the files came from (a path relative to the project, or ``dataframe``).
        rows: row count of a table version (None for plain files).
        schema: the inferred schema of a table version, as a dict.
        profile: the per-column profile of a table version, as a dict.
    """

    name: str
    version: int
    digest: str
    kind: DatasetKind
    file_count: int
    size: int
    source: str
    created_by: str
    creation_time: int
    run_id: str | None = None
    description: str = ""
    rows: int | None = None
    schema: Mapping[str, Any] | None = field(default=None, repr=False)
    profile: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def uri(self) -> str:
        """``datasets:/<name>/<version>``."""
        return f"datasets:/{self.name}/{self.version}"


@dataclass(frozen=True, slots=True)
class LineageEdge:
    """A run read or made a dataset version (or another object named by URI).

    Attributes:
        uri: what the run used or produced, e.g. ``datasets:/rides/2``.
        role: why, in the user's words: ``training``, ``evaluation``, ``features`` …
    """

    run_id: str
    uri: str
    direction: LineageDirection
    role: str = ""
    time: int = 0


@dataclass(frozen=True, slots=True)
class Schedule:
    """A pipeline run on a cron schedule.

    Attributes:
        target: the pipeline, ``module:attribute``.
        cron: five cron fields, in UTC.
        next_run_time: when it is next due (ms since the epoch).
    """

    name: str
    target: str
    cron: str
    params: Mapping[str, Any]
    next_run_time: int
    created_by: str
    creation_time: int
    last_run_id: str | None = None
    last_status: str = ""
    last_run_time: int | None = None
