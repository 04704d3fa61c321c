"""Request bodies of MLflow's REST API, as the MLflow client sends them.

MLflow encodes its protobuf messages as JSON: field names in snake_case, enums by name (or
number), 64-bit integers as numbers or strings, and non-finite doubles as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"``. Unknown fields are ignored, as MLflow's own
server does, so newer clients that send extra fields keep working.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loopml.errors import InvalidInputError

__all__ = [
    "CreateExperimentBody",
    "CreateRunBody",
    "ExperimentIdBody",
    "KeyValue",
    "LogBatchBody",
    "LogInputsBody",
    "LogMetricBody",
    "MetricBody",
    "RunIdBody",
    "RunKeyBody",
    "RunKeyValueBody",
    "SearchExperimentsBody",
    "SearchRunsBody",
    "SetExperimentTagBody",
    "UpdateExperimentBody",
    "UpdateRunBody",
]

_MAX_LIST = 100_000


class _Body(BaseModel):
    # Unknown fields are ignored (newer clients send more); ids may arrive as numbers.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class KeyValue(_Body):
    """A tag or param: ``{"key": ..., "value": ...}``."""

    key: str
    value: str = ""


class MetricBody(_Body):
    """One metric point of a log-batch request."""

    key: str
    value: float
    timestamp: int
    step: int = 0


class CreateExperimentBody(_Body):
    """``experiments/create``."""

    name: str
    artifact_location: str | None = None
    tags: list[KeyValue] = Field(default_factory=list, max_length=_MAX_LIST)


class ExperimentIdBody(_Body):
    """``experiments/delete`` and ``experiments/restore``."""

    experiment_id: str


class UpdateExperimentBody(_Body):
    """``experiments/update`` (rename)."""

    experiment_id: str
    new_name: str


class SetExperimentTagBody(_Body):
    """``experiments/set-experiment-tag``."""

    experiment_id: str
    key: str
    value: str = ""


class SearchExperimentsBody(_Body):
    """``experiments/search``."""

    max_results: int | None = None
    page_token: str | None = None
    filter: str | None = None
    order_by: list[str] = Field(default_factory=list, max_length=20)
    view_type: str | None = None


class _RunRef(_Body):
    # Older clients send the run id as ``run_uuid``; current ones send both.
    run_id: str | None = None
    run_uuid: str | None = None

    def the_run_id(self) -> str:
        """The run id from ``run_id`` or, failing that, ``run_uuid``.

        Raises:
            InvalidInputError: neither field was sent.
        """
        run_id = self.run_id or self.run_uuid
        if not run_id:
            raise InvalidInputError("missing field 'run_id': name the run the request is for")
        return run_id


class RunIdBody(_RunRef):
    """``runs/delete`` and ``runs/restore``."""


class CreateRunBody(_Body):
    """``runs/create``."""

    experiment_id: str | None = None
    user_id: str | None = None
    run_name: str | None = None
    start_time: int | None = None
    tags: list[KeyValue] = Field(default_factory=list, max_length=_MAX_LIST)


class UpdateRunBody(_RunRef):
    """``runs/update``: status, end time or name."""

    status: str | None = None
    end_time: int | None = None
    run_name: str | None = None


class LogMetricBody(_RunRef):
    """``runs/log-metric``."""

    key: str
    value: float
    timestamp: int
    step: int = 0


class RunKeyValueBody(_RunRef):
    """``runs/log-parameter`` and ``runs/set-tag``."""

    key: str
    value: str


class RunKeyBody(_RunRef):
    """``runs/delete-tag``."""

    key: str


class LogBatchBody(_RunRef):
    """``runs/log-batch``."""

    metrics: list[MetricBody] = Field(default_factory=list, max_length=_MAX_LIST)
    params: list[KeyValue] = Field(default_factory=list, max_length=_MAX_LIST)
    tags: list[KeyValue] = Field(default_factory=list, max_length=_MAX_LIST)


class LogInputsBody(_RunRef):
    """``runs/log-inputs``: dataset inputs (logged-model inputs are not stored)."""

    datasets: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    models: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)


class SearchRunsBody(_Body):
    """``runs/search``."""

    experiment_ids: list[str] = Field(default_factory=list, max_length=1000)
    filter: str | None = None
    run_view_type: str | None = None
    max_results: int | None = None
    order_by: list[str] = Field(default_factory=list, max_length=20)
    page_token: str | None = None
