"""Request and response bodies of loopml's tracking API (``/api/v1``), and their mapping to
entities. JSON has no NaN or infinity, so non-finite metric values travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loopml.entities import (
    ArtifactRecord,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)
from loopml.errors import InvalidInputError

__all__ = [
    "ArtifactRecordsBody",
    "CreateExperimentBody",
    "CreateRunBody",
    "LogBatchBody",
    "RenameExperimentBody",
    "SearchRunsBody",
    "TagBody",
    "UpdateRunBody",
    "decode_float",
    "encode_float",
    "experiment_from_json",
    "experiment_to_json",
    "metric_from_json",
    "run_from_json",
    "run_info_from_json",
    "run_info_to_json",
    "run_to_json",
]

_MAX_BATCH = 100_000


def encode_float(value: float) -> float | str:
    """A float as JSON can carry it."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


_NON_FINITE = {
    "nan": math.nan,
    "infinity": math.inf,
    "inf": math.inf,
    "-infinity": -math.inf,
    "-inf": -math.inf,
}


def decode_float(value: float | str) -> float:
    """The inverse of :func:`encode_float`.

    Raises:
        InvalidInputError: a string other than NaN / Infinity / -Infinity.
    """
    if isinstance(value, str):
        number = _NON_FINITE.get(value.strip().lower())
        if number is None:
            raise InvalidInputError(
                f"metric value {value[:40]!r} is not a number; send a JSON number, or "
                '"NaN", "Infinity" or "-Infinity"'
            )
        return number
    return float(value)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateExperimentBody(_Body):
    name: str = Field(min_length=1, max_length=500)
    artifact_location: str | None = Field(default=None, max_length=1000)
    tags: dict[str, str] = Field(default_factory=dict)


class RenameExperimentBody(_Body):
    name: str = Field(min_length=1, max_length=500)


class TagBody(_Body):
    key: str = Field(min_length=1, max_length=250)
    value: str = Field(default="", max_length=8000)


class CreateRunBody(_Body):
    experiment_id: str = Field(min_length=1, max_length=32)
    run_name: str | None = Field(default=None, max_length=250)
    start_time: int = Field(ge=0)
    tags: dict[str, str] = Field(default_factory=dict)
    user_id: str = Field(default="", max_length=256)
    run_id: str | None = Field(default=None, max_length=32)


class UpdateRunBody(_Body):
    status: RunStatus | None = None
    end_time: int | None = Field(default=None, ge=0)
    run_name: str | None = Field(default=None, max_length=250)


class LogBatchBody(_Body):
    """Metrics as compact ``[key, value, timestamp, step]`` rows, params and tags as maps."""

    metrics: list[tuple[str, float | str, int, int]] = Field(
        default_factory=list, max_length=_MAX_BATCH
    )
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


class SearchRunsBody(_Body):
    experiment_ids: list[str] = Field(min_length=1, max_length=1000)
    filter: str = Field(default="", max_length=20_000)
    view: str = "active_only"
    max_results: int = 1000
    order_by: list[str] = Field(default_factory=list, max_length=20)
    page_token: str | None = Field(default=None, max_length=1000)


class ArtifactRecordsBody(_Body):
    records: list[tuple[str, str, int]] = Field(default_factory=list, max_length=_MAX_BATCH)


def experiment_to_json(exp: Experiment) -> dict[str, Any]:
    """An experiment as JSON."""
    return {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": exp.artifact_location,
        "lifecycle_stage": exp.lifecycle_stage.value,
        "creation_time": exp.creation_time,
        "last_update_time": exp.last_update_time,
        "tags": dict(exp.tags),
    }


def experiment_from_json(data: dict[str, Any]) -> Experiment:
    """The inverse of :func:`experiment_to_json`."""
    return Experiment(
        experiment_id=str(data["experiment_id"]),
        name=data["name"],
        artifact_location=data.get("artifact_location", ""),
        lifecycle_stage=LifecycleStage(data["lifecycle_stage"]),
        creation_time=int(data["creation_time"]),
        last_update_time=int(data["last_update_time"]),
        tags=dict(data.get("tags", {})),
    )


def run_info_to_json(info: RunInfo) -> dict[str, Any]:
    """A run's info as JSON."""
    return {
        "run_id": info.run_id,
        "experiment_id": info.experiment_id,
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status.value,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage.value,
        "artifact_uri": info.artifact_uri,
    }


def run_info_from_json(data: dict[str, Any]) -> RunInfo:
    """The inverse of :func:`run_info_to_json`."""
    return RunInfo(
        run_id=data["run_id"],
        experiment_id=str(data["experiment_id"]),
        run_name=data["run_name"],
        user_id=data.get("user_id", ""),
        status=RunStatus(data["status"]),
        start_time=int(data["start_time"]),
        end_time=None if data.get("end_time") is None else int(data["end_time"]),
        lifecycle_stage=LifecycleStage(data["lifecycle_stage"]),
        artifact_uri=data.get("artifact_uri", ""),
    )


def run_to_json(run: Run) -> dict[str, Any]:
    """A run (info and data) as JSON."""
    return {
        "info": run_info_to_json(run.info),
        "data": {
            "metrics": {k: encode_float(v) for k, v in run.data.metrics.items()},
            "params": dict(run.data.params),
            "tags": dict(run.data.tags),
        },
    }


def run_from_json(data: dict[str, Any]) -> Run:
    """The inverse of :func:`run_to_json`."""
    body = data.get("data", {})
    return Run(
        run_info_from_json(data["info"]),
        RunData(
            {k: decode_float(v) for k, v in body.get("metrics", {}).items()},
            dict(body.get("params", {})),
            dict(body.get("tags", {})),
        ),
    )


def metric_to_json(metric: Metric) -> list[Any]:
    """A metric point as a compact ``[key, value, timestamp, step]`` row."""
    return [metric.key, encode_float(metric.value), metric.timestamp, metric.step]


def metric_from_json(row: Any) -> Metric:
    """The inverse of :func:`metric_to_json`."""
    key, value, timestamp, step = row
    return Metric(key, decode_float(value), int(timestamp), int(step))


def batch_to_json(metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> dict[str, Any]:
    """A log-batch request body."""
    return {
        "metrics": [metric_to_json(m) for m in metrics],
        "params": {p.key: p.value for p in params},
        "tags": {t.key: t.value for t in tags},
    }


def artifact_to_json(record: ArtifactRecord) -> list[Any]:
    """An artifact record as a compact ``[path, digest, size]`` row."""
    return [record.path, record.digest, record.size]
