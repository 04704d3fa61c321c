"""Storage of deployments: the serving control plane that model servers follow.

A deployment is a named JSON spec with a revision number. Every change names the revision it
was based on and is refused when the record has moved on since, so two people (or a person
and a script) changing one deployment at once never overwrite each other silently. Every
change appends a :class:`~loopml.entities.DeploymentEvent` in the same transaction.

Example::

    d = store.create_deployment("pricing", {"model": "models:/pricing@champion"},
                                versions={"primary": {"name": "pricing", "version": 3}})
    d = store.update_deployment("pricing", {**d.spec, "shadow": "models:/pricing/7"},
                                expected_revision=d.revision, action="update")
    store.deployment_history("pricing")   # [create (rev 1), update (rev 2)]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from loopml.entities import Deployment, DeploymentEvent

__all__ = ["DeploymentStore"]


class DeploymentStore(ABC):
    """Deployments: create, read, update at a revision, record the endpoint, delete.

    Names follow the dataset naming rule (letters, digits, ``_ - .``), as they name folders
    of the prediction log. Errors: :class:`~loopml.errors.AlreadyExistsError` for a name
    clash, :class:`~loopml.errors.DeploymentNotFoundError` for an unknown name,
    :class:`~loopml.errors.RevisionConflictError` for an update based on an old revision.
    """

    @abstractmethod
    def create_deployment(
        self,
        name: str,
        spec: Mapping[str, Any],
        versions: Mapping[str, Any] | None = None,
        actor: str = "",
    ) -> Deployment:
        """Add a deployment. Its first revision follows the last one its name's history
        holds (1 for a new name), so revisions never repeat within a name."""

    @abstractmethod
    def get_deployment(self, name: str) -> Deployment:
        """One deployment."""

    @abstractmethod
    def list_deployments(self) -> list[Deployment]:
        """Every deployment, by name."""

    @abstractmethod
    def update_deployment(
        self,
        name: str,
        spec: Mapping[str, Any],
        expected_revision: int,
        versions: Mapping[str, Any] | None = None,
        actor: str = "",
        action: str = "update",
    ) -> Deployment:
        """Replace the spec (and versions) if the record is still at ``expected_revision``;
        the revision goes up by one and ``action`` (``update``, ``promote``, ``rollback``…)
        is recorded in the history.

        Raises:
            RevisionConflictError: the deployment is at another revision now.
        """

    @abstractmethod
    def set_deployment_endpoint(
        self, name: str, endpoint: Mapping[str, Any] | None, expected_pid: int | None = None
    ) -> bool:
        """Record where a server for the deployment runs (None: no server). Not a change of
        the spec: the revision stays. With ``expected_pid``, only replace an endpoint whose
        ``pid`` is that one (a stopping server clears only its own); returns whether it did."""

    @abstractmethod
    def delete_deployment(self, name: str, actor: str = "") -> None:
        """Remove a deployment; its history is kept (with a ``delete`` event)."""

    @abstractmethod
    def deployment_history(self, name: str) -> list[DeploymentEvent]:
        """Every change to deployments of this name, oldest first (also after a delete).

        Raises:
            DeploymentNotFoundError: the name has neither a deployment nor a history.
        """
