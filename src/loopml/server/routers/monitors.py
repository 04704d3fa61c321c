"""loopml's monitor API (``/api/v1/monitors``): monitors, their windows' results, and the
actions their policies took, with the atomic claims checkers rely on; and the routes a
remote service posts late labels (``/api/v1/labels/{deployment}``) and business metrics
(``/api/v1/business-metrics/{deployment}``) to."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from loopml.entities import MonitorResult
from loopml.errors import InvalidInputError
from loopml.schemas.monitoring import (
    BusinessMetricBody,
    ClaimActionBody,
    ClaimWindowBody,
    CreateMonitorBody,
    LabelsBody,
    OwnerBody,
    RecordActionBody,
    RecordResultBody,
    UpdateMonitorBody,
    action_to_json,
    column_from_json,
    column_to_json,
    monitor_to_json,
    result_to_json,
)
from loopml.server.deps import get_stores
from loopml.storage import Stores
from loopml.storage.metadata.base import MetadataStore

router = APIRouter(tags=["monitors"])


def _metadata(stores: Annotated[Stores, Depends(get_stores)]) -> MetadataStore:
    return stores.metadata


Store = Annotated[MetadataStore, Depends(_metadata)]
StoresDep = Annotated[Stores, Depends(get_stores)]
Name = Annotated[str, Path(min_length=1, max_length=250)]
Start = Annotated[int, Path(ge=0, lt=2**62)]
Time = Annotated[int | None, Query(ge=0, lt=2**62)]


@router.post("/monitors")
def create_monitor(body: CreateMonitorBody, store: Store) -> dict[str, Any]:
    """Add a monitor."""
    made = store.create_monitor(
        body.name, body.deployment, body.reference, body.window, body.spec, body.created_by
    )
    return monitor_to_json(made)


@router.get("/monitors")
def list_monitors(store: Store) -> dict[str, Any]:
    """Every monitor, by name."""
    return {"monitors": [monitor_to_json(m) for m in store.list_monitors()]}


@router.get("/monitors/{name}")
def get_monitor(name: Name, store: Store) -> dict[str, Any]:
    """One monitor."""
    return monitor_to_json(store.get_monitor(name))


@router.put("/monitors/{name}")
def update_monitor(name: Name, body: UpdateMonitorBody, store: Store) -> dict[str, Any]:
    """Replace a monitor's reference and spec (409 when ``expected_revision`` is stale)."""
    changed = store.update_monitor(
        name, body.reference, body.spec, body.updated_by, body.expected_revision
    )
    return monitor_to_json(changed)


@router.delete("/monitors/{name}")
def delete_monitor(name: Name, store: Store) -> dict[str, Any]:
    """Remove a monitor with its results and actions."""
    store.delete_monitor(name)
    return {}


@router.get("/monitors/{name}/windows")
def list_results(
    name: Name,
    store: Store,
    since: Time = None,
    until: Time = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> dict[str, Any]:
    """Results of windows starting in ``[since, until)``, newest first."""
    found = store.list_monitor_results(name, since, until, limit)
    return {"results": [result_to_json(r) for r in found]}


@router.post("/monitors/{name}/windows/{window_start}/claim")
def claim_window(
    name: Name, window_start: Start, body: ClaimWindowBody, store: Store
) -> dict[str, Any]:
    """Claim a window to compute it: ``claimed`` is true for exactly one caller."""
    claimed = store.claim_monitor_window(
        name, window_start, body.window_end, body.owner, body.replace, body.lease_ms,
        body.revision,
    )  # fmt: skip
    return {"claimed": claimed}


@router.put("/monitors/{name}/windows/{window_start}")
def record_result(
    name: Name, window_start: Start, body: RecordResultBody, store: Store
) -> dict[str, Any]:
    """Store a claimed window's result and column results (409 without the claim)."""
    result = MonitorResult(
        name, window_start, body.window_end, body.status, body.rows, body.run_id,
        body.summary, body.owner, 0, 0,
    )  # fmt: skip
    columns = [column_from_json(c.model_dump(), name, window_start) for c in body.columns]
    return result_to_json(store.record_monitor_result(result, columns, body.owner))


@router.post("/monitors/{name}/windows/{window_start}/release")
def release_window(
    name: Name, window_start: Start, body: OwnerBody, store: Store
) -> dict[str, Any]:
    """Give up a claim without a result."""
    store.release_monitor_window(name, window_start, body.owner)
    return {}


@router.get("/monitors/{name}/windows/{window_start}")
def get_result(name: Name, window_start: Start, store: Store) -> dict[str, Any]:
    """One window's result."""
    return result_to_json(store.get_monitor_result(name, window_start))


@router.get("/monitors/{name}/columns")
def list_columns(
    name: Name,
    store: Store,
    window_start: Annotated[list[Annotated[int, Query(ge=0, lt=2**62)]], Query(max_length=1000)],
) -> dict[str, Any]:
    """The column results of some windows."""
    return {"columns": [column_to_json(c) for c in store.list_monitor_columns(name, window_start)]}


@router.post("/monitors/{name}/windows/{window_start}/actions/claim")
def claim_action(
    name: Name, window_start: Start, body: ClaimActionBody, store: Store
) -> dict[str, Any]:
    """Claim an action for a window (once per window, and rate-limited by ``rate_key``)."""
    claimed, action = store.claim_monitor_action(
        name, window_start, body.action, body.kind, body.rate_key, body.min_interval_ms,
        body.detail,
    )  # fmt: skip
    return {"claimed": claimed, "action": action_to_json(action)}


@router.put("/monitors/{name}/windows/{window_start}/actions")
def record_action(
    name: Name, window_start: Start, body: RecordActionBody, store: Store
) -> dict[str, Any]:
    """Set a claimed action's outcome."""
    done = store.record_monitor_action(name, window_start, body.action, body.status, body.detail)
    return action_to_json(done)


@router.get("/monitors/{name}/actions")
def list_actions(name: Name, store: Store, window_start: Time = None) -> dict[str, Any]:
    """A monitor's actions, oldest first."""
    return {"actions": [action_to_json(a) for a in store.list_monitor_actions(name, window_start)]}


@router.post("/labels/{deployment}")
def post_labels(deployment: Name, body: LabelsBody, stores: StoresDep) -> dict[str, Any]:
    """Store labels keyed by request id (and row): what ``loopml labels add`` does."""
    import pyarrow as pa

    from loopml.monitoring.labels import write_labels

    count = len(body.request_id)
    rows = body.row if body.row is not None else [0] * count
    if len(rows) != count or len(body.label) != count:
        raise InvalidInputError(
            f"request_id has {count} entries, row {len(rows)} and label {len(body.label)}; "
            "give one of each per label"
        )
    try:
        table = pa.table({"request_id": body.request_id, "row": rows, "label": body.label})
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise InvalidInputError(
            f"labels must be of one type (numbers, text or booleans): {exc}"
        ) from exc
    return write_labels(stores, deployment, table).to_dict()


@router.post("/business-metrics/{deployment}")
def post_business_metric(
    deployment: Name, body: BusinessMetricBody, stores: StoresDep
) -> dict[str, Any]:
    """Log a business metric value against a deployment."""
    from loopml.monitoring.labels import write_business_metric

    return write_business_metric(stores, deployment, body.name, body.value, body.timestamp)
