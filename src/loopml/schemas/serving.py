"""Request and response bodies of loopml's deployment API (``/api/v1/deployments``), and
their mapping to the entities."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loopml.entities import Deployment, DeploymentEvent

__all__ = [
    "CreateDeploymentBody",
    "EndpointBody",
    "UpdateDeploymentBody",
    "deployment_from_json",
    "deployment_to_json",
    "event_from_json",
    "event_to_json",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateDeploymentBody(_Body):
    name: str = Field(min_length=1, max_length=250)
    spec: dict[str, Any]
    versions: dict[str, Any] = Field(default_factory=dict)
    actor: str = Field(default="", max_length=256)


class UpdateDeploymentBody(_Body):
    spec: dict[str, Any]
    expected_revision: int = Field(ge=1, lt=2**31)
    versions: dict[str, Any] | None = None
    actor: str = Field(default="", max_length=256)
    action: str = Field(default="update", min_length=1, max_length=50)


class EndpointBody(_Body):
    endpoint: dict[str, Any] | None
    expected_pid: int | None = Field(default=None, ge=0, lt=2**63)


def deployment_to_json(deployment: Deployment) -> dict[str, Any]:
    """A deployment as JSON."""
    return {
        "name": deployment.name,
        "spec": dict(deployment.spec),
        "revision": deployment.revision,
        "versions": dict(deployment.versions),
        "creation_time": deployment.creation_time,
        "last_update_time": deployment.last_update_time,
        "actor": deployment.actor,
        "endpoint": None if deployment.endpoint is None else dict(deployment.endpoint),
    }


def deployment_from_json(data: dict[str, Any]) -> Deployment:
    """The inverse of :func:`deployment_to_json`."""
    return Deployment(
        data["name"],
        data["spec"],
        int(data["revision"]),
        data.get("versions") or {},
        int(data["creation_time"]),
        int(data["last_update_time"]),
        data.get("actor", ""),
        data.get("endpoint"),
    )


def event_to_json(event: DeploymentEvent) -> dict[str, Any]:
    """A history event as JSON."""
    return {
        "id": event.id,
        "name": event.name,
        "revision": event.revision,
        "time": event.time,
        "actor": event.actor,
        "action": event.action,
        "before": None if event.before is None else dict(event.before),
        "after": None if event.after is None else dict(event.after),
        "versions": dict(event.versions),
    }


def event_from_json(data: dict[str, Any]) -> DeploymentEvent:
    """The inverse of :func:`event_to_json`."""
    return DeploymentEvent(
        int(data["id"]),
        data["name"],
        int(data["revision"]),
        int(data["time"]),
        data.get("actor", ""),
        data["action"],
        data.get("before"),
        data.get("after"),
        data.get("versions") or {},
    )
