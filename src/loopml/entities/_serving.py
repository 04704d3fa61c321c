"""Entities of the serving control plane: deployments and their append-only history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Deployment", "DeploymentEvent"]


@dataclass(frozen=True, slots=True)
class Deployment:
    """A named deployment: what to serve and how, as a JSON spec the servers follow.

    Attributes:
        spec: the deployment's spec (models, traffic split, batching, address); its fields
            are defined by :class:`loopml.serving.DeploymentSpec`.
        revision: 1, 2, 3… one per change; an update names the revision it read, and is
            refused when the record has moved on since (optimistic concurrency).
        versions: the concrete model versions at this revision, per route (``primary``,
            ``canary``, ``shadow``): ``{"name": "pricing", "version": 3, …}``.
        endpoint: where a server for it runs (``url``, ``pid``, ``host``, start-up figures),
            or None when none is running.
        actor: who made the last change.
    """

    name: str
    spec: Mapping[str, Any]
    revision: int
    versions: Mapping[str, Any]
    creation_time: int
    last_update_time: int
    actor: str
    endpoint: Mapping[str, Any] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class DeploymentEvent:
    """One change to a deployment: who did what, when, and the spec before and after.

    Events are written in the same transaction as the change and never edited or deleted,
    not even when the deployment is.
    """

    id: int
    name: str
    revision: int
    time: int
    actor: str
    action: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    versions: Mapping[str, Any] = field(default_factory=dict)
