"""The model registry: named models, numbered versions, aliases, review, audit, cards.

    import loopml as lm
    mv = lm.registry.register(info.uri, "pricing")        # -> a new version, pending review
    lm.registry.approve("pricing", mv.version, comment="passed review")
    lm.registry.set_alias("pricing", "champion", mv.version)
    lm.registry.history("pricing")                         # the audit log
    lm.registry.lineage("models:/pricing@champion")        # its run, data and their origins
    print(lm.registry.card("pricing@champion").to_markdown())

The functions here act on the default tracking store (``LOOPML_TRACKING_URI``, else
``./.loopml``); :class:`RegistryClient` binds another store or actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.entities._registry import (
    Approval,
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)
from loopml.registry.cards import OWNER_SECTIONS, ModelCard, build_card
from loopml.registry.client import RegistryClient, default_actor
from loopml.registry.lineage import Lineage, LineageLink, LineageNode, lineage

__all__ = [
    "OWNER_SECTIONS",
    "Approval",
    "AuditEntry",
    "Lineage",
    "LineageLink",
    "LineageNode",
    "ModelCard",
    "ModelVersion",
    "RegisteredModel",
    "RegistryClient",
    "VersionStatus",
    "approvals",
    "approve",
    "archive",
    "card",
    "create_model",
    "default_actor",
    "delete_alias",
    "delete_model",
    "delete_version",
    "get_model",
    "get_version",
    "history",
    "lineage",
    "list_models",
    "list_versions",
    "register",
    "reject",
    "request_review",
    "resolve",
    "set_alias",
    "set_description",
    "set_tag",
]


def _registry() -> RegistryClient:
    # A fresh client each call: cheap, and it picks up set_tracking_uri and LOOPML_USER.
    return RegistryClient()


def register(
    model_uri: str,
    name: str,
    *,
    description: str = "",
    tags: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Register a logged model (``runs:/<run_id>/model``) as the next version of ``name``."""
    return _registry().register(model_uri, name, description=description, tags=tags)


def create_model(
    name: str, description: str = "", tags: Mapping[str, Any] | None = None
) -> RegisteredModel:
    """Create a registered model with no versions yet."""
    return _registry().create_model(name, description, tags)


def get_model(name: str) -> RegisteredModel:
    """A registered model with its tags, aliases and latest version number."""
    return _registry().get_model(name)


def list_models(name_like: str | None = None) -> list[RegisteredModel]:
    """Every registered model, optionally only names matching a LIKE pattern."""
    return _registry().list_models(name_like)


def get_version(name: str, version: int | str) -> ModelVersion:
    """One version by number, alias or ``"latest"``."""
    return _registry().get_version(name, version)


def list_versions(name: str | None = None, run_id: str | None = None) -> list[ModelVersion]:
    """Versions newest first: of one model, of one run, or all."""
    return _registry().list_versions(name, run_id)


def resolve(uri: str) -> ModelVersion:
    """The version ``models:/pricing/3``, ``pricing@champion`` or ``pricing`` names."""
    return _registry().resolve(uri)


def set_alias(name: str, alias: str, version: int) -> None:
    """Point an alias at a version (``champion`` needs an approved version)."""
    _registry().set_alias(name, alias, version)


def delete_alias(name: str, alias: str) -> None:
    """Remove an alias."""
    _registry().delete_alias(name, alias)


def approve(name: str, version: int, comment: str = "") -> ModelVersion:
    """Approve a version, recording who, when and why."""
    return _registry().approve(name, version, comment)


def reject(name: str, version: int, comment: str = "") -> ModelVersion:
    """Reject a version, recording who, when and why."""
    return _registry().reject(name, version, comment)


def archive(name: str, version: int, comment: str = "") -> ModelVersion:
    """Archive a version."""
    return _registry().archive(name, version, comment)


def request_review(name: str, version: int, comment: str = "") -> ModelVersion:
    """Send a rejected or archived version back to review."""
    return _registry().request_review(name, version, comment)


def approvals(name: str, version: int) -> list[Approval]:
    """Every review decision on a version, oldest first."""
    return _registry().approvals(name, version)


def history(name: str | None = None) -> list[AuditEntry]:
    """The audit log, oldest first, of one model or of the whole registry."""
    return _registry().history(name)


def set_tag(name: str, key: str, value: Any, version: int | None = None) -> None:
    """Set a tag on a model, or on one of its versions."""
    _registry().set_tag(name, key, value, version)


def set_description(name: str, description: str, version: int | None = None) -> None:
    """Replace the description of a model, or of one of its versions."""
    _registry().set_description(name, description, version)


def delete_version(name: str, version: int, force: bool = False) -> None:
    """Delete a version; one behind an alias needs ``force=True``."""
    _registry().delete_version(name, version, force)


def delete_model(name: str, force: bool = False) -> None:
    """Delete a model; one with versions needs ``force=True``."""
    _registry().delete_model(name, force)


def card(uri: str) -> ModelCard:
    """The model card of a version (``pricing/3``, ``models:/pricing@champion``)."""
    return build_card(_registry(), uri)
