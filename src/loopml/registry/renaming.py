"""Renaming a registered model, and what else names it: deployments and monitors.

The registry moves a model's versions, tags, aliases, reviews and lineage in one
transaction (:meth:`~loopml.storage.metadata.registry_base.RegistryStore.rename_registered_model`).
Deployments and monitors name models by URI in their specs, outside the registry, so a
rename looks at them first::

    refs = model_references(store, "pricing")      # deployments/monitors naming it
    rename_model(store, "pricing", "fares", actor="ana", force=True)

Without ``force`` a rename that any of them names is refused, listing them. With
``force`` the deployments are moved to the new name, each as a new revision (action
``rename_model``) that running servers pick up, and each monitor that names it (the model
its outputs' reference was profiled with, or the one it is pinned to) gets the new name in
a new monitor revision, so a later ``--refresh-outputs`` still finds the model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.entities._registry import RegisteredModel
from loopml.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidStateError,
    InvalidUriError,
    RegisteredModelNotFoundError,
    RevisionConflictError,
)
from loopml.storage.metadata.registry_base import check_model_name
from loopml.uris import ModelUri, parse_models_uri

if TYPE_CHECKING:
    from loopml.storage.metadata.base import MetadataStore

__all__ = ["ModelReference", "model_references", "rename_model"]

_DEPLOYMENT_FIELDS = ("model", "canary", "shadow")
RENAMED = "rename_model"  # the action of the deployment revision a forced rename makes
_MONITOR_FIELDS = ("model", "pinned_model")
_RETRIES = 5


@dataclass(frozen=True, slots=True)
class ModelReference:
    """A deployment or monitor whose spec names a registered model.

    Attributes:
        kind: ``deployment`` or ``monitor``.
        name: the deployment's or monitor's name.
        field: the spec field holding the reference (``model``, ``canary``, ``shadow``).
        ref: the reference itself, ``models:/pricing@champion``.
    """

    kind: str
    name: str
    field: str
    ref: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r} ({self.field} {self.ref})"


def _named(ref: object, name: str) -> ModelUri | None:
    """The parsed URI when ``ref`` is a ``models:/`` URI of the model ``name``."""
    if not isinstance(ref, str) or not ref.startswith("models:"):
        return None
    try:
        parsed = parse_models_uri(ref)
    except InvalidUriError:
        return None
    return parsed if parsed.name == name else None


def model_references(store: MetadataStore, name: str) -> list[ModelReference]:
    """Every deployment and monitor whose spec names the model ``name``, by kind and name."""
    found = []
    for deployment in store.list_deployments():
        for field in _DEPLOYMENT_FIELDS:
            ref = deployment.spec.get(field)
            if _named(ref, name) is not None:
                found.append(ModelReference("deployment", deployment.name, field, str(ref)))
    for monitor in store.list_monitors():
        for field in _MONITOR_FIELDS:
            ref = monitor.spec.get(field)
            if _named(ref, name) is not None:
                found.append(ModelReference("monitor", monitor.name, field, str(ref)))
    return found


def _moved(ref: str, name: str, new_name: str) -> str:
    parsed = _named(ref, name)
    if parsed is None:
        return ref
    return str(ModelUri(new_name, version=parsed.version, alias=parsed.alias))


def _moved_versions(versions: Mapping[str, Any], name: str, new_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for route, served in versions.items():
        if isinstance(served, Mapping) and served.get("name") == name:
            served = {**served, "name": new_name}
            if isinstance(served.get("ref"), str):
                served["ref"] = _moved(served["ref"], name, new_name)
        out[route] = served
    return out


def _moved_spec(
    spec: Mapping[str, Any], fields: tuple[str, ...], name: str, new_name: str
) -> dict[str, Any] | None:
    """The spec with the model references in ``fields`` moved to ``new_name``, or None when
    none names ``name`` (any more: someone moved it already)."""
    moved = dict(spec)
    for field in fields:
        if isinstance(moved.get(field), str):
            moved[field] = _moved(moved[field], name, new_name)
    return None if moved == dict(spec) else moved


def _repoint(
    store: MetadataStore, kind: str, record_name: str, name: str, new_name: str, actor: str
) -> None:
    """Move one deployment's or monitor's references from ``name`` to ``new_name`` (a new
    revision), reading it again when it changed between the read and the write."""
    for attempt in range(_RETRIES):
        try:
            if kind == "deployment":
                record = store.get_deployment(record_name)
                spec = _moved_spec(record.spec, _DEPLOYMENT_FIELDS, name, new_name)
                if spec is not None:
                    versions = _moved_versions(record.versions, name, new_name)
                    store.update_deployment(
                        record_name, spec, record.revision, versions, actor, action=RENAMED
                    )
            else:
                monitor = store.get_monitor(record_name)
                spec = _moved_spec(monitor.spec, _MONITOR_FIELDS, name, new_name)
                if spec is not None:
                    store.update_monitor(
                        record_name, monitor.reference, spec, actor, monitor.revision
                    )
            return
        except RevisionConflictError:
            if attempt == _RETRIES - 1:
                raise


def rename_model(
    store: MetadataStore, name: str, new_name: str, *, actor: str = "", force: bool = False
) -> RegisteredModel:
    """Rename a registered model; see the module docstring for deployments and monitors.

    Raises:
        InvalidStateError: a deployment or monitor names the model and ``force`` is false
            (the message lists them), or, with ``force``, a deployment could not be moved
            (the model is renamed then; the message says which deployments to update).
        NotFoundError, AlreadyExistsError, InvalidNameError, InvalidInputError: as
            :meth:`~loopml.storage.metadata.registry_base.RegistryStore.rename_registered_model`.
    """
    check_model_name(new_name)
    store.get_registered_model(name)  # an unknown name says so before anything else
    if new_name == name:
        raise InvalidInputError(
            f"model {name!r} is already named {new_name!r}; pass the name it should have"
        )
    with contextlib.suppress(RegisteredModelNotFoundError):
        store.get_registered_model(new_name)
        raise AlreadyExistsError(
            f"a registered model named {new_name!r} already exists; pick another name, or "
            "delete or rename that model first"
        )
    refs = model_references(store, name)
    if refs and not force:
        listed = "; ".join(str(r) for r in refs)
        raise InvalidStateError(
            f"model {name!r} is named by {listed}; renaming it would leave them pointing at "
            f"a model that no longer exists. Point them elsewhere first, or pass force=True "
            f"(--force) to rename anyway: deployments and monitors then move to "
            f"{new_name!r} (a new revision each, which running servers pick up)"
        )
    renamed = store.rename_registered_model(name, new_name, actor=actor)
    failed = []
    for kind, record_name in sorted({(r.kind, r.name) for r in refs}):  # deployments first
        try:
            _repoint(store, kind, record_name, name, new_name, actor)
        except RevisionConflictError:
            failed.append(f"{kind} {record_name}")
    if failed:
        raise InvalidStateError(
            f"model {name!r} is now {new_name!r}, but {', '.join(failed)} kept changing and "
            f"still name {name!r}; update them (`loopml deploy update NAME --model "
            f"{new_name}@…`, `loopml monitor update NAME --model {new_name}@…`)"
        )
    return renamed
