"""MetadataStore over HTTP: the same interface, answered by a loopml server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

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
from loopml.entities.validation import check_run_id
from loopml.errors import ExperimentNotFoundError, NotFoundError
from loopml.schemas.tracking import (
    batch_to_json,
    experiment_from_json,
    metric_from_json,
    run_from_json,
    run_info_from_json,
)
from loopml.storage.metadata.base import SEARCH_MAX_RESULTS_DEFAULT, MetadataStore
from loopml.storage.metadata.rest._http import HttpSession
from loopml.storage.metadata.rest.datasets import RestDatasetMixin
from loopml.storage.metadata.rest.deployments import RestDeploymentMixin
from loopml.storage.metadata.rest.monitors import RestMonitorMixin
from loopml.storage.metadata.rest.registry import RestRegistryMixin
from loopml.storage.metadata.rest.schedules import RestScheduleMixin

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["RestMetadataStore", "open_rest_store"]

_API = "/api/v1"


def _segment(experiment_id: str) -> str:
    """An experiment id as one URL path segment; ids are integers, so anything else is unknown."""
    text = str(experiment_id)
    if not text.isdigit():
        raise ExperimentNotFoundError(
            f"{experiment_id!r} is not an experiment id; ids are integers "
            "(see `loopml experiments list`)"
        )
    return text


class RestMetadataStore(
    RestDatasetMixin,
    RestScheduleMixin,
    RestDeploymentMixin,
    RestMonitorMixin,
    RestRegistryMixin,
    MetadataStore,
):
    """Metadata kept by a loopml server at ``base_url``."""

    def __init__(self, base_url: str, timeout: float = 30.0, token: str = "") -> None:
        self.http = HttpSession(base_url, timeout, token)

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"RestMetadataStore({self.http.base_url!r})"

    def _get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.http.json("GET", _API + path, params=clean)

    def _post(self, path: str, body: Any = None) -> Any:
        return self.http.json("POST", _API + path, json=body if body is not None else {})

    # -- experiments -------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[RunTag] = ()
    ) -> str:
        body = {
            "name": name,
            "artifact_location": artifact_location,
            "tags": {t.key: t.value for t in tags},
        }
        return str(self._post("/experiments", body)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        return experiment_from_json(self._get(f"/experiments/{_segment(experiment_id)}"))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            return experiment_from_json(self._get("/experiments/by-name", name=name))
        except NotFoundError:
            return None

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
        name_like: str | None = None,
    ) -> PagedList[Experiment]:
        data = self._get(
            "/experiments",
            view=ViewType(view_type).value,
            max_results=max_results,
            page_token=page_token,
            name_like=name_like,
        )
        return PagedList(
            [experiment_from_json(e) for e in data["experiments"]], data.get("next_page_token")
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.http.json(
            "PATCH", f"{_API}/experiments/{_segment(experiment_id)}", json={"name": new_name}
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self._post(f"/experiments/{_segment(experiment_id)}/delete")

    def restore_experiment(self, experiment_id: str) -> None:
        self._post(f"/experiments/{_segment(experiment_id)}/restore")

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._post(f"/experiments/{_segment(experiment_id)}/tags", {"key": key, "value": value})

    # -- runs --------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        run_name: str | None,
        start_time: int,
        tags: Sequence[RunTag] = (),
        user_id: str = "",
        run_id: str | None = None,
    ) -> Run:
        body = {
            "experiment_id": str(experiment_id),
            "run_name": run_name,
            "start_time": start_time,
            "tags": {t.key: t.value for t in tags},
            "user_id": user_id,
            "run_id": run_id,
        }
        return run_from_json(self._post("/runs", body))

    def get_run(self, run_id: str) -> Run:
        return run_from_json(self._get(f"/runs/{check_run_id(run_id)}"))

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        body = {
            "status": None if status is None else RunStatus(status).value,
            "end_time": end_time,
            "run_name": run_name,
        }
        data = self.http.json("PATCH", f"{_API}/runs/{check_run_id(run_id)}", json=body)
        return run_info_from_json(data)

    def delete_run(self, run_id: str) -> None:
        self._post(f"/runs/{check_run_id(run_id)}/delete")

    def restore_run(self, run_id: str) -> None:
        self._post(f"/runs/{check_run_id(run_id)}/restore")

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        from loopml.errors import ParamConflictError

        seen: dict[str, str] = {}
        for p in params:  # a dict body cannot carry both values, so check here
            if seen.get(p.key, p.value) != p.value:
                raise ParamConflictError(
                    f"param {p.key!r} appears twice in one batch with different values "
                    f"({seen[p.key]!r} and {p.value!r})"
                )
            seen[p.key] = p.value
        body = batch_to_json(list(metrics), list(params), list(tags))
        self._post(f"/runs/{check_run_id(run_id)}/log-batch", body)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._post(f"/runs/{check_run_id(run_id)}/tags/delete", {"key": key})

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        data = self._get(
            f"/runs/{check_run_id(run_id)}/metrics/history",
            key=key,
            max_results=max_results,
            page_token=page_token,
        )
        return PagedList(
            [metric_from_json(m) for m in data["metrics"]], data.get("next_page_token")
        )

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[Run]:
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string or "",
            "view": ViewType(view_type).value,
            "max_results": max_results,
            "order_by": list(order_by or ()),
            "page_token": page_token,
        }
        data = self._post("/runs/search", body)
        return PagedList([run_from_json(r) for r in data["runs"]], data.get("next_page_token"))

    # -- run artifacts -----------------------------------------------------------------
    def record_artifacts(self, run_id: str, records: Sequence[ArtifactRecord]) -> None:
        body = {"records": [[r.path, r.digest, r.size] for r in records]}
        self._post(f"/runs/{check_run_id(run_id)}/artifacts", body)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        data = self._get(f"/runs/{check_run_id(run_id)}/artifacts", prefix=prefix)
        return [ArtifactRecord(p, d, int(s)) for p, d, s in data["records"]]


def open_rest_store(uri: str, settings: Settings) -> RestMetadataStore:
    """Factory used by :func:`loopml.storage.metadata.open_metadata_store`."""
    return RestMetadataStore(uri, timeout=settings.http_timeout, token=settings.tracking_token)
