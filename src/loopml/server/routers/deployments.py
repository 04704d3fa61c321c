"""loopml's deployment API (``/api/v1/deployments``): the records model servers follow."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from loopml.schemas.serving import (
    CreateDeploymentBody,
    EndpointBody,
    UpdateDeploymentBody,
    deployment_to_json,
    event_to_json,
)
from loopml.server.auth import request_user
from loopml.server.deps import get_stores
from loopml.storage import Stores
from loopml.storage.metadata.base import MetadataStore

router = APIRouter(tags=["deployments"])


def _metadata(stores: Annotated[Stores, Depends(get_stores)]) -> MetadataStore:
    return stores.metadata


Store = Annotated[MetadataStore, Depends(_metadata)]
Name = Annotated[str, Path(min_length=1, max_length=250)]


@router.post("/deployments")
def create_deployment(body: CreateDeploymentBody, store: Store, request: Request) -> dict[str, Any]:
    """Add a deployment (revision 1, or the one after its name's last)."""
    actor = request_user(request, body.actor)
    made = store.create_deployment(body.name, body.spec, body.versions, actor)
    return deployment_to_json(made)


@router.get("/deployments")
def list_deployments(store: Store) -> dict[str, Any]:
    """Every deployment, by name."""
    return {"deployments": [deployment_to_json(d) for d in store.list_deployments()]}


@router.get("/deployments/{name}")
def get_deployment(name: Name, store: Store) -> dict[str, Any]:
    """One deployment."""
    return deployment_to_json(store.get_deployment(name))


@router.patch("/deployments/{name}")
def update_deployment(
    name: Name, body: UpdateDeploymentBody, store: Store, request: Request
) -> dict[str, Any]:
    """Replace the spec if the deployment is still at ``expected_revision`` (else 409)."""
    actor = request_user(request, body.actor)
    changed = store.update_deployment(
        name, body.spec, body.expected_revision, body.versions, actor, body.action
    )
    return deployment_to_json(changed)


@router.put("/deployments/{name}/endpoint")
def set_endpoint(name: Name, body: EndpointBody, store: Store) -> dict[str, Any]:
    """Record where a server for the deployment runs (``null``: none)."""
    return {"changed": store.set_deployment_endpoint(name, body.endpoint, body.expected_pid)}


@router.delete("/deployments/{name}")
def delete_deployment(
    name: Name, store: Store, request: Request, actor: Annotated[str, Query(max_length=256)] = ""
) -> dict[str, Any]:
    """Remove a deployment; its history is kept."""
    store.delete_deployment(name, request_user(request, actor))
    return {}


@router.get("/deployments/{name}/history")
def deployment_history(name: Name, store: Store) -> dict[str, Any]:
    """Every change to deployments of this name, oldest first."""
    return {"events": [event_to_json(e) for e in store.deployment_history(name)]}


@router.get("/deployments/{name}/requests/{request_id}/trace")
def trace_request(
    name: Name,
    request_id: Annotated[str, Path(min_length=1, max_length=128)],
    request: Request,
    days: Annotated[int | None, Query(ge=1, le=36_500)] = None,
) -> dict[str, Any]:
    """A logged prediction traced to its model version, run, data and code (what
    ``loopml trace`` prints); 404 when the log has no such request id."""
    from datetime import timedelta

    from loopml.serving.trace import trace_prediction
    from loopml.tracking.client import TrackingClient

    client = TrackingClient(settings=request.app.state.settings, stores=request.app.state.stores)
    try:
        since = timedelta(days=days) if days else None
        return trace_prediction(name, request_id, since=since, client=client).to_dict()
    finally:
        client.close()
