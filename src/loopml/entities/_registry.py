"""Entities of the model registry: registered models, their versions, approvals and audit."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Approval",
    "AuditEntry",
    "ModelVersion",
    "RegisteredModel",
    "VersionStatus",
]


class VersionStatus(enum.StrEnum):
    """Where a model version is in its review. New versions start PENDING_REVIEW.

    Allowed moves: pending_review -> approved | rejected | archived; approved -> rejected |
    archived; rejected -> pending_review | archived; archived -> pending_review.
    """

    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    ARCHIVED = "archived"

    def can_move_to(self, other: VersionStatus) -> bool:
        """True when a version in this status may be moved to ``other``."""
        return VersionStatus(other) in _MOVES[self]


_MOVES: dict[VersionStatus, frozenset[VersionStatus]] = {
    VersionStatus.PENDING_REVIEW: frozenset(
        {VersionStatus.APPROVED, VersionStatus.REJECTED, VersionStatus.ARCHIVED}
    ),
    VersionStatus.APPROVED: frozenset({VersionStatus.REJECTED, VersionStatus.ARCHIVED}),
    VersionStatus.REJECTED: frozenset({VersionStatus.PENDING_REVIEW, VersionStatus.ARCHIVED}),
    VersionStatus.ARCHIVED: frozenset({VersionStatus.PENDING_REVIEW}),
}


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model whose versions are registered, reviewed and pointed at by aliases.

    Attributes:
        aliases: alias -> version number (``champion`` -> 3).
        latest_version: the highest existing version number, or None without versions.
    """

    name: str
    description: str
    tags: Mapping[str, str]
    aliases: Mapping[str, int]
    creation_time: int
    last_update_time: int
    latest_version: int | None


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a registered model.

    Attributes:
        version: 1, 2, 3… per model name; a number is never given twice to one model.
        source: where the model files are, e.g. ``runs:/<run_id>/model``.
        run_id: the run that produced the model, when it came from one.
        aliases: the aliases that point at this version, sorted.
        created_by: the actor who registered the version.
    """

    name: str
    version: int
    source: str
    run_id: str | None
    status: VersionStatus
    description: str
    tags: Mapping[str, str]
    aliases: tuple[str, ...]
    creation_time: int
    last_update_time: int
    created_by: str


@dataclass(frozen=True, slots=True)
class Approval:
    """A review decision on a model version (``approved`` or ``rejected``)."""

    name: str
    version: int
    decision: VersionStatus
    actor: str
    comment: str
    time: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change to the registry: who did what, when, and the state before and after.

    Audit entries are written in the same transaction as the change they describe and are
    never edited or deleted, not even when the model they name is.
    """

    id: int
    time: int
    actor: str
    action: str
    name: str
    version: int | None
    before: Mapping[str, Any] | None = field(default=None)
    after: Mapping[str, Any] | None = field(default=None)
