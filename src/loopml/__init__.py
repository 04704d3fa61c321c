"""loopml: the machine-learning lifecycle in one package.

Quick start::

    import loopml as lm
    lm.set_experiment("pricing")
    with lm.start_run(run_name="baseline"):
        lm.log_params({"lr": 0.1, "depth": 6})
        lm.log_metric("rmse", 0.31, step=0)

Everything public is listed in ``__all__`` (a test keeps it in step with the exports).
Importing loopml is cheap: stores and heavy libraries load on first use.
"""

from __future__ import annotations

import importlib

# typing.TYPE_CHECKING without importing typing (10 ms of `loopml data status` here).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from loopml import data as data
    from loopml import evaluation as evaluation
    from loopml import models as models
    from loopml import pipelines as pipelines
    from loopml import registry as registry
    from loopml.config import Settings, load_settings
    from loopml.data import log_input, log_output
    from loopml.entities import (
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
    from loopml.errors import (
        AlreadyExistsError,
        ArtifactNotFoundError,
        AuthenticationError,
        ConfigurationError,
        ConflictError,
        CorruptBlobError,
        DataSchemaError,
        DatasetNotFoundError,
        DatasetVersionNotFoundError,
        DeploymentNotFoundError,
        ExperimentNotFoundError,
        IntegrityError,
        InvalidInputError,
        InvalidNameError,
        InvalidPathError,
        InvalidStateError,
        InvalidUriError,
        LoopmlError,
        ModelIntegrityError,
        ModelLoadError,
        ModelVersionNotFoundError,
        MonitorNotFoundError,
        NotFoundError,
        ParamConflictError,
        PredictionError,
        RegisteredModelNotFoundError,
        RemoteError,
        RevisionConflictError,
        RunNotFoundError,
        SchemaVersionError,
        SearchSyntaxError,
        SignatureError,
        StoreError,
        UnsupportedModelError,
        ValueTooLongError,
    )
    from loopml.evaluation import evaluate, gate
    from loopml.pipelines import pipeline, step
    from loopml.tracking.api import (
        create_experiment,
        delete_experiment,
        delete_run,
        delete_tag,
        download_artifacts,
        flush,
        get_experiment,
        get_experiment_by_name,
        get_run,
        list_artifacts,
        log_artifact,
        log_artifacts,
        log_bytes,
        log_dict,
        log_figure,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_table,
        log_text,
        rename_experiment,
        restore_experiment,
        restore_run,
        search_experiments,
        seed,
        set_tag,
        set_tags,
    )
    from loopml.tracking.client import TrackingClient
    from loopml.tracking.fluent import (
        ActiveRun,
        active_run,
        end_run,
        get_metric_history,
        get_tracking_uri,
        last_active_run,
        search_runs,
        set_experiment,
        set_tracking_uri,
        start_run,
    )

__version__ = "0.1.0.dev0"

# name -> module: public names load on first use, so `import loopml` stays cheap.
_EXPORTS: dict[str, str] = {
    "Settings": "loopml.config",
    "load_settings": "loopml.config",
    "ActiveRun": "loopml.tracking.fluent",
    "AlreadyExistsError": "loopml.errors",
    "ArtifactNotFoundError": "loopml.errors",
    "AuthenticationError": "loopml.errors",
    "DataSchemaError": "loopml.errors",
    "DatasetNotFoundError": "loopml.errors",
    "DatasetVersionNotFoundError": "loopml.errors",
    "RemoteError": "loopml.errors",
    "DeploymentNotFoundError": "loopml.errors",
    "MonitorNotFoundError": "loopml.errors",
    "PredictionError": "loopml.errors",
    "RevisionConflictError": "loopml.errors",
    "log_input": "loopml.data",
    "evaluate": "loopml.evaluation",
    "gate": "loopml.evaluation",
    "pipeline": "loopml.pipelines",
    "step": "loopml.pipelines",
    "log_output": "loopml.data",
    "ArtifactRecord": "loopml.entities",
    "ConfigurationError": "loopml.errors",
    "ConflictError": "loopml.errors",
    "CorruptBlobError": "loopml.errors",
    "Experiment": "loopml.entities",
    "ExperimentNotFoundError": "loopml.errors",
    "IntegrityError": "loopml.errors",
    "InvalidInputError": "loopml.errors",
    "InvalidNameError": "loopml.errors",
    "InvalidPathError": "loopml.errors",
    "InvalidStateError": "loopml.errors",
    "InvalidUriError": "loopml.errors",
    "LifecycleStage": "loopml.entities",
    "LoopmlError": "loopml.errors",
    "ModelVersionNotFoundError": "loopml.errors",
    "RegisteredModelNotFoundError": "loopml.errors",
    "UnsupportedModelError": "loopml.errors",
    "SignatureError": "loopml.errors",
    "ModelLoadError": "loopml.errors",
    "ModelIntegrityError": "loopml.errors",
    "Metric": "loopml.entities",
    "NotFoundError": "loopml.errors",
    "PagedList": "loopml.entities",
    "Param": "loopml.entities",
    "ParamConflictError": "loopml.errors",
    "Run": "loopml.entities",
    "RunData": "loopml.entities",
    "RunInfo": "loopml.entities",
    "RunNotFoundError": "loopml.errors",
    "RunStatus": "loopml.entities",
    "RunTag": "loopml.entities",
    "SchemaVersionError": "loopml.errors",
    "SearchSyntaxError": "loopml.errors",
    "StoreError": "loopml.errors",
    "TrackingClient": "loopml.tracking.client",
    "ValueTooLongError": "loopml.errors",
    "ViewType": "loopml.entities",
    "active_run": "loopml.tracking.fluent",
    "create_experiment": "loopml.tracking.api",
    "delete_experiment": "loopml.tracking.api",
    "delete_run": "loopml.tracking.api",
    "delete_tag": "loopml.tracking.api",
    "download_artifacts": "loopml.tracking.api",
    "end_run": "loopml.tracking.fluent",
    "flush": "loopml.tracking.api",
    "get_experiment": "loopml.tracking.api",
    "get_experiment_by_name": "loopml.tracking.api",
    "get_metric_history": "loopml.tracking.fluent",
    "get_run": "loopml.tracking.api",
    "get_tracking_uri": "loopml.tracking.fluent",
    "last_active_run": "loopml.tracking.fluent",
    "list_artifacts": "loopml.tracking.api",
    "log_artifact": "loopml.tracking.api",
    "log_artifacts": "loopml.tracking.api",
    "log_bytes": "loopml.tracking.api",
    "log_dict": "loopml.tracking.api",
    "log_figure": "loopml.tracking.api",
    "log_metric": "loopml.tracking.api",
    "log_metrics": "loopml.tracking.api",
    "log_param": "loopml.tracking.api",
    "log_params": "loopml.tracking.api",
    "log_table": "loopml.tracking.api",
    "log_text": "loopml.tracking.api",
    "rename_experiment": "loopml.tracking.api",
    "restore_experiment": "loopml.tracking.api",
    "restore_run": "loopml.tracking.api",
    "search_experiments": "loopml.tracking.api",
    "search_runs": "loopml.tracking.fluent",
    "seed": "loopml.tracking.api",
    "set_experiment": "loopml.tracking.fluent",
    "set_tag": "loopml.tracking.api",
    "set_tags": "loopml.tracking.api",
    "set_tracking_uri": "loopml.tracking.fluent",
    "start_run": "loopml.tracking.fluent",
}


# Subpackages reached as attributes: lm.data.load(…), lm.models.load(…), lm.registry.register(…).
# (monitoring and serving sit above pipelines in the layers, which import this package: they
# stay out of the TYPE_CHECKING imports above so the layer contract holds.)
_SUBMODULES = frozenset(
    {"data", "evaluation", "models", "monitoring", "pipelines", "registry", "serving"}
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        submodule = importlib.import_module(f"loopml.{name}")
        globals()[name] = submodule
        return submodule
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)


__all__ = [
    "ActiveRun",
    "AlreadyExistsError",
    "ArtifactNotFoundError",
    "ArtifactRecord",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "CorruptBlobError",
    "DataSchemaError",
    "DatasetNotFoundError",
    "DatasetVersionNotFoundError",
    "DeploymentNotFoundError",
    "Experiment",
    "ExperimentNotFoundError",
    "IntegrityError",
    "InvalidInputError",
    "InvalidNameError",
    "InvalidPathError",
    "InvalidStateError",
    "InvalidUriError",
    "LifecycleStage",
    "LoopmlError",
    "Metric",
    "ModelIntegrityError",
    "ModelLoadError",
    "ModelVersionNotFoundError",
    "MonitorNotFoundError",
    "NotFoundError",
    "PagedList",
    "Param",
    "ParamConflictError",
    "PredictionError",
    "RegisteredModelNotFoundError",
    "RemoteError",
    "RevisionConflictError",
    "Run",
    "RunData",
    "RunInfo",
    "RunNotFoundError",
    "RunStatus",
    "RunTag",
    "SchemaVersionError",
    "SearchSyntaxError",
    "Settings",
    "SignatureError",
    "StoreError",
    "TrackingClient",
    "UnsupportedModelError",
    "ValueTooLongError",
    "ViewType",
    "__version__",
    "active_run",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "download_artifacts",
    "end_run",
    "evaluate",
    "flush",
    "gate",
    "get_experiment",
    "get_experiment_by_name",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "list_artifacts",
    "load_settings",
    "log_artifact",
    "log_artifacts",
    "log_bytes",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_output",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "pipeline",
    "rename_experiment",
    "restore_experiment",
    "restore_run",
    "search_experiments",
    "search_runs",
    "seed",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "step",
]
