"""RegistryClient: register model versions, move aliases, review, and read the audit log.

The registry lives in the metadata store next to runs, so a version keeps a link to the run
that made it (and, through the run, to its params, metrics, data and code commit)::

    from loopml.registry import RegistryClient
    reg = RegistryClient()
    mv = reg.register("runs:/<run_id>/model", "pricing")
    reg.approve("pricing", mv.version, comment="passed review")
    reg.set_alias("pricing", "champion", mv.version)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from loopml.entities import PagedList, RunTag
from loopml.entities._registry import (
    Approval,
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)
from loopml.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidUriError,
    RegisteredModelNotFoundError,
)
from loopml.models import read_manifest
from loopml.tracking.context import current_user
from loopml.uris import ModelUri, parse_models_uri, parse_runs_uri

if TYPE_CHECKING:
    from loopml.registry.renaming import ModelReference
    from loopml.storage.metadata.base import MetadataStore
    from loopml.tracking.client import TrackingClient

__all__ = ["RegistryClient", "default_actor"]

_PAGE = 1000


def default_actor(user: str = "") -> str:
    """Who is acting: ``user`` (the ``user`` setting, ``LOOPML_USER``) when set, else the
    login name ("" when unknown)."""
    return user.strip() or current_user()


def _status(value: VersionStatus | str) -> VersionStatus:
    try:
        return VersionStatus(str(value).lower())
    except ValueError as exc:
        allowed = ", ".join(s.value for s in VersionStatus)
        raise InvalidInputError(f"status {value!r} is not one of {allowed}") from exc


class RegistryClient:
    """The model registry of one tracking store.

    Args:
        client: the tracking client whose store holds the registry; defaults to the
            process's default client (``LOOPML_TRACKING_URI``, else ``./.loopml``).
        actor: who the audit log names for changes made through this client; defaults to
            the ``user`` setting (``LOOPML_USER``), else the login name.
    """

    def __init__(self, client: TrackingClient | None = None, actor: str | None = None) -> None:
        if client is None:
            from loopml.tracking.fluent import get_client

            client = get_client()
        self.client = client
        self.actor = default_actor(client.settings.user) if actor is None else actor

    @property
    def store(self) -> MetadataStore:
        """The metadata store (which includes the registry)."""
        return self.client.stores.metadata

    # -- reading ---------------------------------------------------------------------
    def get_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version number."""
        return self.store.get_registered_model(name)

    def list_models(self, name_like: str | None = None) -> list[RegisteredModel]:
        """Every registered model (sorted by name), optionally only names matching a LIKE
        pattern (``%`` any text, ``_`` one character; case-insensitive)."""
        return list(
            _all_pages(lambda token: self.store.search_registered_models(name_like, _PAGE, token))
        )

    def list_versions(
        self, name: str | None = None, run_id: str | None = None
    ) -> list[ModelVersion]:
        """Versions, newest first per model; of one model, of one run, or all."""
        if name is not None:
            self.store.get_registered_model(name)  # a clear error for an unknown name
        return list(
            _all_pages(lambda token: self.store.search_model_versions(name, run_id, _PAGE, token))
        )

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        """One version, by number (``3``), alias (``"champion"``) or ``"latest"``."""
        if isinstance(version, bool) or not isinstance(version, (int, str)):
            raise InvalidInputError(f"a version is a number, an alias or 'latest', got {version!r}")
        if isinstance(version, int) or version.isdigit():
            return self.store.get_model_version(name, int(version))
        alias = "latest" if version.lower() == "latest" else version
        return self.store.get_version_by_uri(ModelUri(name, alias=alias))

    def latest_version(self, name: str) -> ModelVersion:
        """The highest-numbered version of a model."""
        return self.store.get_version_by_uri(ModelUri(name, alias="latest"))

    def resolve(self, uri: str | ModelUri) -> ModelVersion:
        """The version a model URI names: ``models:/pricing/3``, ``models:/pricing@champion``,
        ``models:/pricing/latest``, or the short forms ``pricing/3``, ``pricing@champion``,
        ``pricing`` (its latest version)."""
        parsed = uri if isinstance(uri, ModelUri) else parse_models_uri(uri, short=True)
        return self.store.get_version_by_uri(parsed)

    def target(self, ref: str) -> tuple[str, ModelVersion | None]:
        """What a reference names: a bare ``pricing`` is the model itself (``(name,
        None)``); ``pricing/3``, ``pricing@champion`` and ``models:/…`` a version."""
        text = ref.strip() if isinstance(ref, str) else ""
        if text and not text.startswith("models:") and "/" not in text and "@" not in text:
            return text, None
        version = self.resolve(text)
        return version.name, version

    def approvals(self, name: str, version: int) -> list[Approval]:
        """Every review decision on a version, oldest first."""
        return self.store.list_approvals(name, version)

    def history(self, name: str | None = None) -> list[AuditEntry]:
        """The audit log, oldest first: of one model, or of the whole registry."""
        if name is not None:
            self._exists_or_audited(name)
        return list(_all_pages(lambda token: self.store.audit_log(name, _PAGE, token)))

    def _exists_or_audited(self, name: str) -> None:
        # A deleted model keeps its audit entries, so only refuse names never seen at all.
        try:
            self.store.get_registered_model(name)
        except RegisteredModelNotFoundError:
            if not self.store.audit_log(name, 1):
                raise

    # -- writing ---------------------------------------------------------------------
    def create_model(
        self, name: str, description: str = "", tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        """Create a registered model with no versions."""
        return self.store.create_registered_model(name, description, _tags(tags), actor=self.actor)

    def register(
        self,
        model_uri: str,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, Any] | None = None,
        check_model: bool = True,
    ) -> ModelVersion:
        """Register a logged model as the next version of ``name`` (created if missing).

        Args:
            model_uri: ``runs:/<run_id>/<path>`` of a model logged with
                :func:`loopml.models.log_model`, or ``models:/…`` to register an existing
                version's model under another name.
            check_model: refuse a URI that holds no packaged model (its manifest is read).

        Returns:
            The new version, in status ``pending_review``.
        """
        source, run_id = self._source(model_uri)
        if check_model:
            read_manifest(source, client=self.client)
        try:
            self.store.get_registered_model(name)
        except RegisteredModelNotFoundError:
            # Another writer may create it in between; then the version joins theirs.
            with contextlib.suppress(AlreadyExistsError):
                self.create_model(name)
        return self.store.create_model_version(
            name, source, run_id, description, _tags(tags), actor=self.actor
        )

    def _source(self, model_uri: str) -> tuple[str, str | None]:
        if not isinstance(model_uri, str) or not model_uri.strip():
            raise InvalidUriError("the model URI is empty; pass runs:/<run_id>/<path>")
        text = model_uri.strip()
        if text.startswith("runs:"):
            parsed = parse_runs_uri(text)
            if not parsed.path:
                raise InvalidUriError(
                    f"{model_uri!r} names a run, not a model in it; add the artifact path, "
                    "e.g. runs:/<run_id>/model"
                )
            self.client.get_run(parsed.run_id)  # RunNotFoundError for an unknown run
            return str(parsed), parsed.run_id
        if text.startswith("models:"):
            version = self.resolve(text)
            return version.source, version.run_id
        raise InvalidUriError(
            f"{model_uri!r} is not a run artifact or model URI; log the model in a run "
            "(loopml.models.log_model) and register runs:/<run_id>/<path>"
        )

    def references(self, name: str) -> list[ModelReference]:
        """The deployments and monitors whose specs name the model ``name``."""
        from loopml.registry.renaming import model_references

        return model_references(self.store, name)

    def rename(self, name: str, new_name: str, *, force: bool = False) -> RegisteredModel:
        """Give a model another name; its versions, tags, aliases, reviews, lineage and
        history go with it (``models:/<new_name>/3`` resolves; the old name is unknown).

        Args:
            force: rename even when deployments or monitors name the model: deployments
                move to the new name (a new revision each); monitors keep their record.

        Raises:
            InvalidStateError: a deployment or monitor names the model and ``force`` is
                false (the message lists them).
            AlreadyExistsError: a model named ``new_name`` exists.
            InvalidInputError: ``new_name`` is not a valid name, or is ``name``.
        """
        from loopml.registry.renaming import rename_model

        return rename_model(self.store, name, new_name, actor=self.actor, force=force)

    def set_description(self, name: str, description: str, version: int | None = None) -> None:
        """Replace the description of a model, or of one version."""
        if version is None:
            self.store.update_registered_model(name, description, actor=self.actor)
        else:
            self.store.update_model_version(name, version, description, actor=self.actor)

    def set_tag(self, name: str, key: str, value: Any, version: int | None = None) -> None:
        """Set a tag on a model, or on one version."""
        if version is None:
            self.store.set_registered_model_tag(name, key, str(value), actor=self.actor)
        else:
            self.store.set_model_version_tag(name, version, key, str(value), actor=self.actor)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point an alias at a version (moving it in one transaction).

        The alias ``champion`` may only point at an approved version unless the registry
        allows it (``allow_unapproved_champion``).
        """
        self.store.set_alias(name, alias, int(version), actor=self.actor)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        self.store.delete_alias(name, alias, actor=self.actor)

    def set_status(
        self, name: str, version: int, status: VersionStatus | str, comment: str = ""
    ) -> ModelVersion:
        """Move a version to ``pending_review``, ``approved``, ``rejected`` or ``archived``."""
        return self.store.set_version_status(
            name, int(version), _status(status), actor=self.actor, comment=comment
        )

    def approve(self, name: str, version: int, comment: str = "") -> ModelVersion:
        """Approve a version; the approval records who, when and why."""
        return self.set_status(name, version, VersionStatus.APPROVED, comment)

    def reject(self, name: str, version: int, comment: str = "") -> ModelVersion:
        """Reject a version; the decision records who, when and why."""
        return self.set_status(name, version, VersionStatus.REJECTED, comment)

    def archive(self, name: str, version: int, comment: str = "") -> ModelVersion:
        """Archive a version (it stays loadable; ``request_review`` brings it back)."""
        return self.set_status(name, version, VersionStatus.ARCHIVED, comment)

    def request_review(self, name: str, version: int, comment: str = "") -> ModelVersion:
        """Send a rejected or archived version back to ``pending_review``."""
        return self.set_status(name, version, VersionStatus.PENDING_REVIEW, comment)

    def delete_version(self, name: str, version: int, force: bool = False) -> None:
        """Delete a version; one behind an alias needs ``force`` (its aliases go too)."""
        self.store.delete_model_version(name, int(version), actor=self.actor, force=force)

    def delete_model(self, name: str, force: bool = False) -> None:
        """Delete a model; one with versions needs ``force``. The audit log is kept."""
        self.store.delete_registered_model(name, actor=self.actor, force=force)


def _tags(tags: Mapping[str, Any] | None) -> list[RunTag]:
    if tags is None:
        return []
    if not isinstance(tags, Mapping):
        raise InvalidInputError(f"tags must be a mapping of key to value, got {tags!r}")
    return [RunTag(str(k), str(v)) for k, v in tags.items()]


def _all_pages(fetch: Any) -> Iterator[Any]:
    token: str | None = None
    while True:
        page: PagedList[Any] = fetch(token)
        yield from page
        token = page.token
        if not token:
            return
