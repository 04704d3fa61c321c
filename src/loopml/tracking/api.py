"""Fluent logging functions: they log to the active run (starting one if none is active)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopml.entities import ArtifactRecord, Experiment, PagedList, Run, ViewType
from loopml.tracking.fluent import get_client, remember_seed, require_run_id

__all__ = [
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "download_artifacts",
    "flush",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_bytes",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "rename_experiment",
    "restore_experiment",
    "restore_run",
    "search_experiments",
    "seed",
    "set_tag",
    "set_tags",
]


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Log one metric point to the active run (buffered; see ``flush``)."""
    get_client().log_metric(require_run_id(), key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    """Log several metrics at one step to the active run."""
    get_client().log_metrics(require_run_id(), metrics, step, timestamp)


def log_param(key: str, value: Any) -> None:
    """Log a param to the active run. Params are immutable once logged."""
    get_client().log_param(require_run_id(), key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params to the active run in one transaction."""
    get_client().log_params(require_run_id(), params)


def set_tag(key: str, value: Any) -> None:
    """Set a tag on the active run."""
    get_client().set_tag(require_run_id(), key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags on the active run."""
    get_client().set_tags(require_run_id(), tags)


def delete_tag(key: str) -> None:
    """Remove a tag from the active run."""
    get_client().delete_tag(require_run_id(), key)


def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None
) -> ArtifactRecord:
    """Store a local file among the active run's artifacts."""
    return get_client().log_artifact(require_run_id(), local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None
) -> list[ArtifactRecord]:
    """Store a local folder's files among the active run's artifacts."""
    return get_client().log_artifacts(require_run_id(), local_dir, artifact_path)


def log_bytes(data: bytes, artifact_file: str) -> ArtifactRecord:
    """Store bytes as a file of the active run."""
    return get_client().log_bytes(require_run_id(), data, artifact_file)


def log_text(text: str, artifact_file: str) -> ArtifactRecord:
    """Store text as a file of the active run."""
    return get_client().log_text(require_run_id(), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> ArtifactRecord:
    """Store a dict as JSON (or YAML for .yaml/.yml) in the active run."""
    return get_client().log_dict(require_run_id(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> ArtifactRecord:
    """Store a matplotlib figure as an image in the active run."""
    return get_client().log_figure(require_run_id(), figure, artifact_file)


def log_table(table: Any, artifact_file: str) -> ArtifactRecord:
    """Store a pandas/polars DataFrame or Arrow table as Parquet in the active run."""
    return get_client().log_table(require_run_id(), table, artifact_file)


def list_artifacts(run_id: str, path: str = "") -> list[ArtifactRecord]:
    """A run's artifact files under a path."""
    return get_client().list_artifacts(run_id, path)


def download_artifacts(
    artifact_uri: str | None = None,
    *,
    run_id: str | None = None,
    path: str = "",
    dst_path: str | os.PathLike[str] = ".",
) -> Path:
    """Copy run artifacts to a folder: ``download_artifacts("runs:/ID/model", dst_path=…)``."""
    if artifact_uri is not None:
        from loopml.uris import parse_runs_uri

        parsed = parse_runs_uri(artifact_uri)
        run_id, path = parsed.run_id, parsed.path
    if run_id is None:
        from loopml.errors import InvalidInputError

        raise InvalidInputError("give an artifact URI (runs:/<run_id>/<path>) or run_id")
    return get_client().download_artifacts(run_id, path, dst_path)


def flush() -> None:
    """Write every buffered metric point now."""
    get_client().flush()


def get_run(run_id: str) -> Run:
    """A run with its latest metrics, params and tags."""
    return get_client().get_run(run_id)


def delete_run(run_id: str) -> None:
    """Soft-delete a run."""
    get_client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Restore a deleted run."""
    get_client().restore_run(run_id)


def create_experiment(name: str, tags: Mapping[str, Any] | None = None) -> str:
    """Create an experiment; returns its id."""
    return get_client().create_experiment(name, tags=tags)


def get_experiment(experiment_id: str) -> Experiment:
    """An experiment by id."""
    return get_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """An experiment by name, or None."""
    return get_client().get_experiment_by_name(name)


def search_experiments(
    view: ViewType | str = ViewType.ACTIVE_ONLY,
    name_like: str | None = None,
    max_results: int = 1000,
) -> PagedList[Experiment]:
    """Experiments, newest first."""
    return get_client().search_experiments(view, max_results, name_like=name_like)


def rename_experiment(experiment_id: str, new_name: str) -> None:
    """Rename an experiment."""
    get_client().rename_experiment(experiment_id, new_name)


def delete_experiment(experiment_id: str) -> None:
    """Soft-delete an experiment."""
    get_client().delete_experiment(experiment_id)


def restore_experiment(experiment_id: str) -> None:
    """Restore a deleted experiment."""
    get_client().restore_experiment(experiment_id)


def seed(n: int) -> dict[str, bool]:
    """Seed random, NumPy and (if installed) PyTorch, and record the seed on the run.

    Returns which libraries were seeded.
    """
    from loopml.tracking.seeding import seed_everything

    seeded = seed_everything(n)
    remember_seed(n)
    return seeded
