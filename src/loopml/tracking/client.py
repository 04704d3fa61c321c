"""TrackingClient: the explicit, run-id-based tracking API (the fluent API sits on top)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.config import Settings, load_settings
from loopml.entities import (
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
from loopml.entities.validation import (
    check_key,
    check_metric_value,
    check_param_value,
    check_run_id,
    check_tag_value,
)
from loopml.errors import ExperimentNotFoundError, InvalidInputError
from loopml.storage import Stores, open_stores
from loopml.tracking.artifacts import ArtifactsMixin
from loopml.tracking.buffer import MetricBuffer

__all__ = ["TrackingClient", "now_ms"]

PARENT_RUN_TAG = "loopml.parentRunId"


def now_ms() -> int:
    """Wall-clock time in milliseconds since the epoch, as loopml stores it."""
    return time.time_ns() // 1_000_000


def _view(view: ViewType | str) -> ViewType:
    try:
        return ViewType(view)
    except ValueError as exc:
        raise InvalidInputError(
            f"view {view!r} is not one of {', '.join(v.value for v in ViewType)}"
        ) from exc


class TrackingClient(ArtifactsMixin):
    """Log to and query a tracking store by explicit ids.

    Args:
        tracking_uri: a folder, ``sqlite:///…``, ``postgresql://…`` or a server URL. Defaults
            to the settings' ``tracking_uri``.
        settings: settings to use instead of reading the environment.

    Metrics logged with :meth:`log_metric` are buffered and written in batches unless
    ``settings.async_logging`` is off; reads through this client flush first, so a client
    always sees its own writes.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        settings: Settings | None = None,
        *,
        stores: Stores | None = None,
    ) -> None:
        base = settings or load_settings()
        self.settings = base.replace(tracking_uri=tracking_uri) if tracking_uri else base
        # stores opened elsewhere (a server's) are used, not closed, by this client
        self._stores: Stores | None = stores
        self._owns_stores = stores is None
        self._open_lock = threading.Lock()
        self._buffer = MetricBuffer(
            self._write_points, self.settings.flush_max_points, self.settings.flush_interval
        )
        self._checked_keys: set[str] = set()

    @property
    def tracking_uri(self) -> str:
        """The tracking URI this client writes to."""
        return self.settings.tracking_uri

    @property
    def stores(self) -> Stores:
        """The metadata and artifact stores (opened on first use)."""
        if self._stores is None:
            with self._open_lock:
                if self._stores is None:
                    self._stores = open_stores(self.settings)
        return self._stores

    def close(self) -> None:
        """Flush buffered metrics and release connections."""
        self._buffer.close()
        if self._stores is not None:
            if self._owns_stores:
                self._stores.close()
            self._stores = None

    def _write_points(self, run_id: str, points: list[Metric]) -> None:
        self.stores.metadata.log_batch(run_id, metrics=points)

    def flush(self, run_id: str | None = None) -> None:
        """Write every buffered metric point now (of one run, or all)."""
        self._buffer.flush(run_id)

    # -- experiments -------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an experiment; returns its id. AlreadyExistsError if the name is taken."""
        tag_list = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        return self.stores.metadata.create_experiment(name, artifact_location, tag_list)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id."""
        return self.stores.metadata.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        return self.stores.metadata.get_experiment_by_name(name)

    def resolve_experiment(self, name_or_id: str) -> Experiment:
        """An experiment by name, or by id when no experiment has that name.

        Raises:
            ExperimentNotFoundError: neither a name nor an id matches.
        """
        exp = self.get_experiment_by_name(str(name_or_id))
        if exp is not None:
            return exp
        if str(name_or_id).isdigit():
            return self.get_experiment(str(name_or_id))
        raise ExperimentNotFoundError(
            f"no experiment named {name_or_id!r} (see `loopml experiments list`)"
        )

    def search_experiments(
        self,
        view: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        page_token: str | None = None,
        name_like: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments, newest first; ``name_like`` is a case-insensitive LIKE pattern."""
        return self.stores.metadata.search_experiments(
            _view(view), max_results, page_token, name_like
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an experiment."""
        self.stores.metadata.rename_experiment(str(experiment_id), new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an experiment; :meth:`restore_experiment` undoes it."""
        self.stores.metadata.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        """Restore a deleted experiment."""
        self.stores.metadata.restore_experiment(str(experiment_id))

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set a tag on an experiment."""
        self.stores.metadata.set_experiment_tag(str(experiment_id), key, str(value))

    # -- runs --------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        start_time: int | None = None,
        parent_run_id: str | None = None,
        user_id: str = "",
    ) -> Run:
        """Create a RUNNING run (no context is captured here; the fluent API does that)."""
        tag_map = {k: str(v) for k, v in (tags or {}).items()}
        if parent_run_id:
            tag_map[PARENT_RUN_TAG] = check_run_id(parent_run_id)
        return self.stores.metadata.create_run(
            str(experiment_id),
            run_name,
            start_time if start_time is not None else now_ms(),
            [RunTag(k, v) for k, v in tag_map.items()],
            user_id,
        )

    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params and tags."""
        self.flush(run_id)
        return self.stores.metadata.get_run(run_id)

    def set_terminated(
        self, run_id: str, status: RunStatus | str = RunStatus.FINISHED, end_time: int | None = None
    ) -> RunInfo:
        """End a run: flush its metrics, then set its status and end time."""
        try:
            state = RunStatus(status)
        except ValueError as exc:
            raise InvalidInputError(f"{status!r} is not a run status") from exc
        self.flush(run_id)
        return self.stores.metadata.update_run_info(
            run_id, status=state, end_time=end_time if end_time is not None else now_ms()
        )

    def update_run(
        self, run_id: str, status: RunStatus | str | None = None, run_name: str | None = None
    ) -> RunInfo:
        """Change a run's status or name."""
        state = RunStatus(status) if status is not None else None
        return self.stores.metadata.update_run_info(run_id, status=state, run_name=run_name)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run; :meth:`restore_run` undoes it."""
        self.flush(run_id)
        self.stores.metadata.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        """Restore a deleted run."""
        self.stores.metadata.restore_run(run_id)

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Log one metric point (buffered unless async logging is off)."""
        if key not in self._checked_keys:
            check_key("metric", key)
            self._checked_keys.add(key)
        point = Metric(
            key,
            check_metric_value(key, value),
            timestamp if timestamp is not None else now_ms(),
            _step(step),
        )
        if self.settings.async_logging:
            self._buffer.add(run_id, point)
        else:
            self.stores.metadata.log_batch(run_id, metrics=[point])

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        step: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Log several metrics at one step and time."""
        ts = timestamp if timestamp is not None else now_ms()
        stp = _step(step)
        points = []
        for key, value in metrics.items():
            if key not in self._checked_keys:
                check_key("metric", key)
                self._checked_keys.add(key)
            points.append(Metric(key, check_metric_value(key, value), ts, stp))
        if self.settings.async_logging:
            self._buffer.add_many(run_id, points)
        else:
            self.stores.metadata.log_batch(run_id, metrics=points)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log a param (immutable: a different value later raises ParamConflictError)."""
        self.log_batch(run_id, params=[Param(key, check_param_value(key, value))])

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log several params in one transaction."""
        self.log_batch(
            run_id, params=[Param(k, check_param_value(k, v)) for k, v in params.items()]
        )

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set (or overwrite) a run tag."""
        self.log_batch(run_id, tags=[RunTag(key, check_tag_value(key, value))])

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set several run tags in one transaction."""
        self.log_batch(run_id, tags=[RunTag(k, check_tag_value(k, v)) for k, v in tags.items()])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run."""
        self.stores.metadata.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """Write metrics, params and tags at once, synchronously, in one transaction."""
        self.stores.metadata.log_batch(run_id, list(metrics), list(params), list(tags))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, ordered by step then time."""
        self.flush(run_id)
        return list(self.stores.metadata.get_metric_history(run_id, key))

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        view: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs matching an MLflow-style filter, one page at a time (see docs/tracking.md)."""
        self.flush()
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        return self.stores.metadata.search_runs(
            [str(i) for i in ids],
            filter_string or "",
            _view(view),
            max_results,
            list(order_by or ()),
            page_token,
        )


def _step(step: int | None) -> int:
    if step is None:
        return 0
    if isinstance(step, bool) or not isinstance(step, int):
        try:
            if float(step) != int(step):
                raise ValueError
            return int(step)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"metric step must be an integer, got {step!r}") from exc
    return step
