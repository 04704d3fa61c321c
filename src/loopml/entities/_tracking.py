"""Entities of experiment tracking: experiments, runs and what is logged to them."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = [
    "ArtifactRecord",
    "Experiment",
    "LifecycleStage",
    "Metric",
    "PagedList",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "ViewType",
]

T = TypeVar("T")


class RunStatus(enum.StrEnum):
    """Where a run is in its life. A run ends FINISHED, FAILED or KILLED."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """True for FINISHED, FAILED and KILLED."""
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class LifecycleStage(enum.StrEnum):
    """Soft deletion: deleted objects can be restored until they are purged."""

    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(enum.StrEnum):
    """Which objects a listing shows, by lifecycle stage."""

    ACTIVE_ONLY = "active_only"
    DELETED_ONLY = "deleted_only"
    ALL = "all"

    def stages(self) -> tuple[LifecycleStage, ...]:
        """The lifecycle stages this view includes."""
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED,)
        return (LifecycleStage.ACTIVE, LifecycleStage.DELETED)


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: LifecycleStage
    creation_time: int
    last_update_time: int
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Metric:
    """One point of a metric: a value at a step, with its wall-clock time in milliseconds."""

    key: str
    value: float
    timestamp: int
    step: int = 0

    def same_value(self, other: Metric) -> bool:
        """Equality that treats NaN as equal to NaN."""
        both_nan = math.isnan(self.value) and math.isnan(other.value)
        return (self.key, self.timestamp, self.step) == (
            other.key,
            other.timestamp,
            other.step,
        ) and (both_nan or self.value == other.value)


@dataclass(frozen=True, slots=True)
class Param:
    """An immutable input of a run."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunTag:
    """A mutable label on a run."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run's identity and state."""

    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: RunStatus
    start_time: int
    end_time: int | None
    lifecycle_stage: LifecycleStage
    artifact_uri: str

    @property
    def duration_ms(self) -> int | None:
        """Milliseconds from start to end, or None while the run has not ended."""
        return None if self.end_time is None else self.end_time - self.start_time


@dataclass(frozen=True, slots=True)
class RunData:
    """What was logged to a run: latest metric values, params and tags."""

    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Run:
    """A run: its info and its data."""

    info: RunInfo
    data: RunData = field(default_factory=RunData)

    @property
    def run_id(self) -> str:
        """Shortcut for ``run.info.run_id``."""
        return self.info.run_id

    @property
    def parent_run_id(self) -> str | None:
        """The id of the parent run, for nested runs."""
        return self.data.tags.get("loopml.parentRunId")


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """A file of a run: its path inside the run, and the blob that holds its bytes."""

    path: str
    digest: str
    size: int


class PagedList(Sequence[T], Generic[T]):
    """A page of results, with the token for the next page (None on the last page)."""

    __slots__ = ("_items", "token")

    def __init__(self, items: Sequence[T], token: str | None = None) -> None:
        self._items = list(items)
        self.token = token

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PagedList):
            return self._items == other._items and self.token == other.token
        if isinstance(other, list):
            return self._items == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PagedList({self._items!r}, token={self.token!r})"
