"""The metadata store interface: experiments, runs, and what is logged to them.

Every method is abstract: an implementation that forgets one cannot be instantiated, so no
backend is silently incomplete. Implementations live beside this module (``sql/`` for SQLite
and PostgreSQL, ``rest/`` for a loopml server) and all pass ``tests/contract``.

Example — an implementation is used through this interface only::

    store = open_metadata_store("./.loopml")
    exp_id = store.create_experiment("pricing")
    run = store.create_run(exp_id, run_name="baseline", start_time=now_ms(), tags=[])
    store.log_batch(run.info.run_id, metrics=[Metric("rmse", 0.3, now_ms(), 0)])
    page = store.search_runs([exp_id], "metrics.rmse < 0.5", max_results=100)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from loopml.entities import (
    ArtifactRecord,
    Experiment,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from loopml.storage.metadata.datasets_base import DatasetStore
from loopml.storage.metadata.deployments_base import DeploymentStore
from loopml.storage.metadata.monitors_base import MonitorStore
from loopml.storage.metadata.registry_base import RegistryStore
from loopml.storage.metadata.schedules_base import ScheduleStore

__all__ = ["DEFAULT_EXPERIMENT_ID", "DEFAULT_EXPERIMENT_NAME", "MetadataStore"]

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_LIMIT = 50_000


class MetadataStore(DatasetStore, ScheduleStore, DeploymentStore, MonitorStore, RegistryStore, ABC):
    """Stores experiments, runs, params, metrics, tags and run artifact records, and the
    model registry (see :class:`~loopml.storage.metadata.registry_base.RegistryStore`) and
    datasets with lineage (see :class:`~loopml.storage.metadata.datasets_base.DatasetStore`)
    and pipeline schedules (see :class:`~loopml.storage.metadata.schedules_base.ScheduleStore`)
    and deployments (see :class:`~loopml.storage.metadata.deployments_base.DeploymentStore`)
    and monitors (see :class:`~loopml.storage.metadata.monitors_base.MonitorStore`).

    Errors: unknown ids raise :class:`~loopml.errors.NotFoundError` subclasses; name clashes
    :class:`~loopml.errors.AlreadyExistsError`; a param re-logged with another value
    :class:`~loopml.errors.ParamConflictError`; writes to a deleted run
    :class:`~loopml.errors.InvalidStateError`. A write that fails writes nothing.
    """

    # -- experiments -------------------------------------------------------------------
    @abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[RunTag] = ()
    ) -> str:
        """Create an experiment and return its id."""

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return the experiment with this id (active or deleted)."""

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment with this name, or None."""

    @abstractmethod
    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
        name_like: str | None = None,
    ) -> PagedList[Experiment]:
        """List experiments, newest first, optionally with names matching a LIKE pattern."""

    @abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new, unused name."""

    @abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an experiment (and hide its runs from default listings)."""

    @abstractmethod
    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""

    @abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set (or overwrite) a tag on an experiment."""

    # -- runs --------------------------------------------------------------------------
    @abstractmethod
    def create_run(
        self,
        experiment_id: str,
        run_name: str | None,
        start_time: int,
        tags: Sequence[RunTag] = (),
        user_id: str = "",
        run_id: str | None = None,
    ) -> Run:
        """Create a RUNNING run in an active experiment and return it.

        A missing ``run_name`` gets a generated, readable one.
        """

    @abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Return the run with its latest metrics, params and tags."""

    @abstractmethod
    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name; return the new info."""

    @abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""

    @abstractmethod
    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write metrics, params and tags to a run in one transaction.

        Every metric point is kept in the history; the latest value per key (highest step,
        then latest timestamp) is what searches and ``get_run`` see. Params are immutable:
        the same value again is accepted, a different one raises ParamConflictError and
        nothing of the batch is written.
        """

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run (NotFoundError when it has no such tag)."""

    @abstractmethod
    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        """Every point logged for one metric, ordered by step then timestamp."""

    @abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs of these experiments that match an MLflow-style filter, in order.

        Raises:
            SearchSyntaxError: the filter or an order_by clause is malformed.
        """

    # -- run artifacts -----------------------------------------------------------------
    @abstractmethod
    def record_artifacts(self, run_id: str, records: Sequence[ArtifactRecord]) -> None:
        """Record files of a run (path -> blob digest); a path logged again is replaced."""

    @abstractmethod
    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        """Every artifact record of a run under a path prefix, sorted by path."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""
