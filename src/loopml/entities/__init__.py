"""Frozen dataclasses for everything loopml stores. No I/O, no heavy imports."""

from loopml.entities._data import (
    Dataset,
    DatasetFile,
    DatasetKind,
    DatasetVersion,
    LineageDirection,
    LineageEdge,
    Schedule,
)
from loopml.entities._monitoring import Monitor, MonitorAction, MonitorColumn, MonitorResult
from loopml.entities._registry import (
    Approval,
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)
from loopml.entities._serving import Deployment, DeploymentEvent
from loopml.entities._tracking import (
    ArtifactRecord,
    Experiment,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)

__all__ = [
    "Approval",
    "ArtifactRecord",
    "AuditEntry",
    "Dataset",
    "DatasetFile",
    "DatasetKind",
    "DatasetVersion",
    "Deployment",
    "DeploymentEvent",
    "Experiment",
    "LifecycleStage",
    "LineageDirection",
    "LineageEdge",
    "Metric",
    "ModelVersion",
    "Monitor",
    "MonitorAction",
    "MonitorColumn",
    "MonitorResult",
    "PagedList",
    "Param",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "Schedule",
    "VersionStatus",
    "ViewType",
]
