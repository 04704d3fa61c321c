"""Request and response bodies of loopml's dataset, lineage and schedule API (``/api/v1``),
and their mapping to the entities."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loopml.entities import (
    Dataset,
    DatasetFile,
    DatasetKind,
    DatasetVersion,
    LineageDirection,
    LineageEdge,
    Schedule,
)

__all__ = [
    "ClaimBody",
    "CreateDatasetVersionBody",
    "CreateScheduleBody",
    "FileBody",
    "LineageBody",
    "LineageEdgeBody",
    "ScheduleRunBody",
    "SchemaBody",
    "dataset_from_json",
    "dataset_to_json",
    "edge_from_json",
    "edge_to_json",
    "file_to_json",
    "schedule_from_json",
    "schedule_to_json",
    "version_from_json",
    "version_to_json",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


_MAX_INT = 2**63 - 1  # the largest integer a BIGINT column (and SQLite) holds


class FileBody(_Body):
    path: str = Field(min_length=1, max_length=1000)
    digest: str = Field(min_length=64, max_length=64)
    size: int = Field(ge=0, le=_MAX_INT)


class CreateDatasetVersionBody(_Body):
    files: list[FileBody]
    digest: str = Field(min_length=64, max_length=64)
    kind: DatasetKind
    source: str = Field(default="", max_length=1000)
    created_by: str = Field(default="", max_length=256)
    run_id: str | None = Field(default=None, max_length=32)
    description: str = Field(default="", max_length=5000)
    rows: int | None = Field(default=None, ge=0, le=_MAX_INT)
    # Free-form JSON written by loopml.data (schema and profile); stored as given.
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    profile: dict[str, Any] | None = None


class SchemaBody(_Body):
    schema_: dict[str, Any] | None = Field(alias="schema")


class GcBody(_Body):
    min_age: float = Field(default=3600.0, ge=0, le=10 * 365 * 86400)
    dry_run: bool = False
    rewrite_below: float = Field(default=0.5, ge=0, le=1)
    keep: list[str] = Field(default_factory=list, max_length=1_000_000)


class LineageEdgeBody(_Body):
    uri: str = Field(min_length=1, max_length=500)
    direction: LineageDirection
    role: str = Field(default="", max_length=250)
    time: int = Field(default=0, ge=0, le=_MAX_INT)


class LineageBody(_Body):
    edges: list[LineageEdgeBody]


def dataset_to_json(dataset: Dataset) -> dict[str, Any]:
    """A dataset as JSON."""
    return {
        "name": dataset.name,
        "description": dataset.description,
        "latest_version": dataset.latest_version,
        "creation_time": dataset.creation_time,
        "last_update_time": dataset.last_update_time,
        "schema": None if dataset.schema is None else dict(dataset.schema),
    }


def dataset_from_json(data: dict[str, Any]) -> Dataset:
    """The inverse of :func:`dataset_to_json`."""
    return Dataset(
        data["name"],
        data["description"],
        int(data["latest_version"]),
        int(data["creation_time"]),
        int(data["last_update_time"]),
        data.get("schema"),
    )


def version_to_json(version: DatasetVersion) -> dict[str, Any]:
    """A dataset version (without its files) as JSON."""
    return {
        "name": version.name,
        "version": version.version,
        "digest": version.digest,
        "kind": version.kind.value,
        "file_count": version.file_count,
        "size": version.size,
        "source": version.source,
        "created_by": version.created_by,
        "creation_time": version.creation_time,
        "run_id": version.run_id,
        "description": version.description,
        "rows": version.rows,
        "schema": None if version.schema is None else dict(version.schema),
        "profile": None if version.profile is None else dict(version.profile),
    }


def version_from_json(data: dict[str, Any]) -> DatasetVersion:
    """The inverse of :func:`version_to_json`."""
    return DatasetVersion(
        name=data["name"],
        version=int(data["version"]),
        digest=data["digest"],
        kind=DatasetKind(data["kind"]),
        file_count=int(data["file_count"]),
        size=int(data["size"]),
        source=data["source"],
        created_by=data["created_by"],
        creation_time=int(data["creation_time"]),
        run_id=data.get("run_id"),
        description=data.get("description", ""),
        rows=data.get("rows"),
        schema=data.get("schema"),
        profile=data.get("profile"),
    )


def file_to_json(item: DatasetFile) -> list[Any]:
    """A manifest entry as a compact ``[path, digest, size]`` triple."""
    return [item.path, item.digest, item.size]


def edge_to_json(edge: LineageEdge) -> dict[str, Any]:
    """A lineage edge as JSON."""
    return {
        "run_id": edge.run_id,
        "uri": edge.uri,
        "direction": edge.direction.value,
        "role": edge.role,
        "time": edge.time,
    }


def edge_from_json(data: dict[str, Any]) -> LineageEdge:
    """The inverse of :func:`edge_to_json`."""
    return LineageEdge(
        data["run_id"], data["uri"], LineageDirection(data["direction"]), data["role"], data["time"]
    )


class CreateScheduleBody(_Body):
    name: str = Field(min_length=1, max_length=250)
    target: str = Field(min_length=1, max_length=1000)
    cron: str = Field(min_length=1, max_length=250)
    params: dict[str, Any] = Field(default_factory=dict)
    next_run_time: int = Field(ge=0, le=_MAX_INT)
    created_by: str = Field(default="", max_length=256)


class ClaimBody(_Body):
    due: int = Field(ge=0, le=_MAX_INT)
    next_run_time: int = Field(ge=0, le=_MAX_INT)


class ScheduleRunBody(_Body):
    run_id: str | None = Field(default=None, max_length=32)
    status: str = Field(max_length=20)


def schedule_to_json(schedule: Schedule) -> dict[str, Any]:
    """A schedule as JSON."""
    return {
        "name": schedule.name,
        "target": schedule.target,
        "cron": schedule.cron,
        "params": dict(schedule.params),
        "next_run_time": schedule.next_run_time,
        "created_by": schedule.created_by,
        "creation_time": schedule.creation_time,
        "last_run_id": schedule.last_run_id,
        "last_status": schedule.last_status,
        "last_run_time": schedule.last_run_time,
    }


def schedule_from_json(data: dict[str, Any]) -> Schedule:
    """The inverse of :func:`schedule_to_json`."""
    return Schedule(
        data["name"],
        data["target"],
        data["cron"],
        data["params"],
        int(data["next_run_time"]),
        data["created_by"],
        int(data["creation_time"]),
        data.get("last_run_id"),
        data.get("last_status", ""),
        data.get("last_run_time"),
    )
