"""The DeploymentStore methods of the REST store: calls to ``/api/v1/deployments``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from loopml.entities import Deployment, DeploymentEvent
from loopml.schemas.serving import deployment_from_json, event_from_json
from loopml.storage.metadata.deployments_base import DeploymentStore

if TYPE_CHECKING:
    from loopml.storage.metadata.rest._http import HttpSession

__all__ = ["RestDeploymentMixin"]

_API = "/api/v1/deployments"


def _one(name: str) -> str:
    return f"{_API}/{quote(str(name), safe='')}"


class RestDeploymentMixin(DeploymentStore):
    """Deployment calls over the store's ``http`` session."""

    http: HttpSession

    def create_deployment(
        self,
        name: str,
        spec: Mapping[str, Any],
        versions: Mapping[str, Any] | None = None,
        actor: str = "",
    ) -> Deployment:
        body = {"name": name, "spec": dict(spec), "versions": dict(versions or {}), "actor": actor}
        return deployment_from_json(self.http.json("POST", _API, json=body))

    def get_deployment(self, name: str) -> Deployment:
        return deployment_from_json(self.http.json("GET", _one(name)))

    def list_deployments(self) -> list[Deployment]:
        return [deployment_from_json(d) for d in self.http.json("GET", _API)["deployments"]]

    def update_deployment(
        self,
        name: str,
        spec: Mapping[str, Any],
        expected_revision: int,
        versions: Mapping[str, Any] | None = None,
        actor: str = "",
        action: str = "update",
    ) -> Deployment:
        body = {
            "spec": dict(spec),
            "expected_revision": expected_revision,
            "versions": None if versions is None else dict(versions),
            "actor": actor,
            "action": action,
        }
        return deployment_from_json(self.http.json("PATCH", _one(name), json=body))

    def set_deployment_endpoint(
        self, name: str, endpoint: Mapping[str, Any] | None, expected_pid: int | None = None
    ) -> bool:
        body = {
            "endpoint": None if endpoint is None else dict(endpoint),
            "expected_pid": expected_pid,
        }
        return bool(self.http.json("PUT", f"{_one(name)}/endpoint", json=body)["changed"])

    def delete_deployment(self, name: str, actor: str = "") -> None:
        self.http.json("DELETE", _one(name), params={"actor": actor})

    def deployment_history(self, name: str) -> list[DeploymentEvent]:
        return [
            event_from_json(e) for e in self.http.json("GET", f"{_one(name)}/history")["events"]
        ]
