"""Request and response bodies of loopml's registry API (``/api/v1``), and their mapping to
the registry entities."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loopml.entities._registry import (
    Approval,
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)

__all__ = [
    "AliasBody",
    "CreateModelBody",
    "CreateVersionBody",
    "DescriptionBody",
    "RenameModelBody",
    "StatusBody",
    "approval_from_json",
    "approval_to_json",
    "audit_from_json",
    "audit_to_json",
    "model_from_json",
    "model_to_json",
    "version_from_json",
    "version_to_json",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateModelBody(_Body):
    name: str = Field(min_length=1, max_length=250)
    description: str = Field(default="", max_length=5000)
    tags: dict[str, str] = Field(default_factory=dict)


class RenameModelBody(_Body):
    new_name: str = Field(min_length=1, max_length=250)
    # without it, a model that deployments or monitors name is refused (409), listing them
    force: bool = False


class DescriptionBody(_Body):
    description: str = Field(max_length=5000)


class CreateVersionBody(_Body):
    source: str = Field(min_length=1, max_length=1000)
    run_id: str | None = Field(default=None, max_length=32)
    description: str = Field(default="", max_length=5000)
    tags: dict[str, str] = Field(default_factory=dict)


class AliasBody(_Body):
    version: int = Field(ge=1, lt=2**31)


class StatusBody(_Body):
    status: VersionStatus
    comment: str = Field(default="", max_length=5000)


def model_to_json(model: RegisteredModel) -> dict[str, Any]:
    """A registered model as JSON."""
    return {
        "name": model.name,
        "description": model.description,
        "tags": dict(model.tags),
        "aliases": dict(model.aliases),
        "creation_time": model.creation_time,
        "last_update_time": model.last_update_time,
        "latest_version": model.latest_version,
    }


def model_from_json(data: dict[str, Any]) -> RegisteredModel:
    """The inverse of :func:`model_to_json`."""
    return RegisteredModel(
        name=data["name"],
        description=data["description"],
        tags=dict(data["tags"]),
        aliases={k: int(v) for k, v in data["aliases"].items()},
        creation_time=int(data["creation_time"]),
        last_update_time=int(data["last_update_time"]),
        latest_version=data["latest_version"],
    )


def version_to_json(version: ModelVersion) -> dict[str, Any]:
    """A model version as JSON."""
    return {
        "name": version.name,
        "version": version.version,
        "source": version.source,
        "run_id": version.run_id,
        "status": version.status.value,
        "description": version.description,
        "tags": dict(version.tags),
        "aliases": list(version.aliases),
        "creation_time": version.creation_time,
        "last_update_time": version.last_update_time,
        "created_by": version.created_by,
    }


def version_from_json(data: dict[str, Any]) -> ModelVersion:
    """The inverse of :func:`version_to_json`."""
    return ModelVersion(
        name=data["name"],
        version=int(data["version"]),
        source=data["source"],
        run_id=data["run_id"],
        status=VersionStatus(data["status"]),
        description=data["description"],
        tags=dict(data["tags"]),
        aliases=tuple(data["aliases"]),
        creation_time=int(data["creation_time"]),
        last_update_time=int(data["last_update_time"]),
        created_by=data["created_by"],
    )


def approval_to_json(approval: Approval) -> dict[str, Any]:
    """A review decision as JSON."""
    return {
        "name": approval.name,
        "version": approval.version,
        "decision": approval.decision.value,
        "actor": approval.actor,
        "comment": approval.comment,
        "time": approval.time,
    }


def approval_from_json(data: dict[str, Any]) -> Approval:
    """The inverse of :func:`approval_to_json`."""
    return Approval(
        name=data["name"],
        version=int(data["version"]),
        decision=VersionStatus(data["decision"]),
        actor=data["actor"],
        comment=data["comment"],
        time=int(data["time"]),
    )


def audit_to_json(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as JSON."""
    return {
        "id": entry.id,
        "time": entry.time,
        "actor": entry.actor,
        "action": entry.action,
        "name": entry.name,
        "version": entry.version,
        "before": None if entry.before is None else dict(entry.before),
        "after": None if entry.after is None else dict(entry.after),
    }


def audit_from_json(data: dict[str, Any]) -> AuditEntry:
    """The inverse of :func:`audit_to_json`."""
    return AuditEntry(
        id=int(data["id"]),
        time=int(data["time"]),
        actor=data["actor"],
        action=data["action"],
        name=data["name"],
        version=data["version"],
        before=data["before"],
        after=data["after"],
    )
