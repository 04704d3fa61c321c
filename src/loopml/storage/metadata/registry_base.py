"""The model registry's storage interface: models, versions, aliases, reviews and audit.

Every method is abstract, so a backend cannot be silently incomplete. Every change is one
transaction that also appends an :class:`~loopml.entities._registry.AuditEntry`; a change
that fails writes nothing, not even its audit entry. There is no way to edit or delete
audit entries.

Example::

    store.create_registered_model("pricing", actor="ana")
    v = store.create_model_version("pricing", f"runs:/{run_id}/model", run_id, actor="ana")
    store.set_version_status("pricing", v.version, VersionStatus.APPROVED, actor="bo")
    store.set_alias("pricing", "champion", v.version, actor="bo")
    store.get_version_by_alias("pricing", "champion").version  # == v.version
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence

from loopml.entities import PagedList, RunTag
from loopml.entities._registry import (
    Approval,
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)
from loopml.errors import (
    InvalidInputError,
    InvalidNameError,
    ModelVersionNotFoundError,
    ValueTooLongError,
)
from loopml.uris import ModelUri

__all__ = [
    "PROTECTED_ALIASES",
    "REGISTRY_MAX_RESULTS_DEFAULT",
    "RegistryStore",
    "check_alias",
    "check_model_name",
    "check_model_version",
    "check_status",
    "check_text",
]

REGISTRY_MAX_RESULTS_DEFAULT = 100
# Aliases that may only name an approved version (unless the store allows otherwise).
PROTECTED_ALIASES = frozenset({"champion"})
_NAME_RE = re.compile(r"[\w\-.: ]+")
_ALIAS_RE = re.compile(r"[\w\-.]+")


def check_model_name(name: object) -> str:
    """Validate a model name: 1-250 letters, digits, ``_ - . :`` and spaces (no ``/``).

    Raises:
        InvalidNameError: empty, not a string, or a forbidden character.
        ValueTooLongError: longer than 250 characters.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError(f"model name must be a non-empty string, got {name!r}")
    if len(name) > 250:
        raise ValueTooLongError(f"model name is {len(name)} characters; the limit is 250")
    if not _NAME_RE.fullmatch(name):
        raise InvalidNameError(
            f"model name {name!r} has a character loopml does not accept; use letters, digits, "
            "underscores, dashes, periods, colons and spaces (no '/')"
        )
    return name


def check_alias(alias: object) -> str:
    """Validate an alias: 1-250 letters, digits, ``_ - .``; not only digits, not ``latest``.

    Raises:
        InvalidNameError: the alias is malformed or would read as a version.
    """
    if not isinstance(alias, str) or not _ALIAS_RE.fullmatch(alias) or len(alias) > 250:
        raise InvalidNameError(
            f"alias {alias!r} is not valid; use 1-250 letters, digits, underscores, dashes "
            "and periods"
        )
    if alias.isdigit() or alias.lower() == "latest":
        raise InvalidNameError(
            f"alias {alias!r} would read as a version ('3', 'latest'); pick a word such as "
            "'champion'"
        )
    return alias


def check_model_version(version: object) -> int:
    """Return a version number (an int from 1, or a string of digits).

    Raises:
        InvalidInputError: anything else.
    """
    if isinstance(version, str) and version.isascii() and version.isdigit():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**31:
        raise InvalidInputError(f"a model version is a whole number from 1, got {version!r}")
    return version


def check_status(status: object) -> VersionStatus:
    """Return a review status from a :class:`VersionStatus` or its value.

    Raises:
        InvalidInputError: anything else.
    """
    try:
        return VersionStatus(str(status))
    except ValueError as exc:
        choices = ", ".join(s.value for s in VersionStatus)
        raise InvalidInputError(f"unknown status {status!r}; use one of {choices}") from exc


def check_text(kind: str, value: object, limit: int) -> str:
    """Return a free-text value (description, comment, actor, source) within ``limit``.

    Raises:
        InvalidInputError: not a string, or it has a NUL character.
        ValueTooLongError: longer than ``limit``.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{kind} must be a string, got {value!r}")
    if len(value) > limit:
        raise ValueTooLongError(f"{kind} is {len(value)} characters; the limit is {limit}")
    if "\x00" in value:
        raise InvalidInputError(f"{kind} must not contain NUL characters")
    return value


class RegistryStore(ABC):
    """Stores registered models, their versions, aliases, approvals and the audit log.

    Names of models are 1-250 characters of letters, digits, ``_ - . :`` and spaces (no
    ``/``, which separates name and version in ``models:/name/3``). ``actor`` is who made
    the change; it is recorded in the audit log.

    Errors: an unknown model, version or alias raises a
    :class:`~loopml.errors.NotFoundError`; a model name in use
    :class:`~loopml.errors.AlreadyExistsError`; a bad name, alias, version or status move
    :class:`~loopml.errors.InvalidInputError` or :class:`~loopml.errors.InvalidStateError`.
    """

    # -- registered models -------------------------------------------------------------
    @abstractmethod
    def create_registered_model(
        self, name: str, description: str = "", tags: Sequence[RunTag] = (), actor: str = ""
    ) -> RegisteredModel:
        """Create a model with no versions and return it.

        Raises:
            AlreadyExistsError: a model with this name exists.
            InvalidNameError: the name is empty or has a forbidden character.
        """

    @abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel:
        """Return the model with its tags, aliases and latest version number.

        Raises:
            NotFoundError: there is no model with this name.
        """

    @abstractmethod
    def search_registered_models(
        self,
        name_like: str | None = None,
        max_results: int = REGISTRY_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Models sorted by name, optionally only those matching a case-insensitive LIKE."""

    @abstractmethod
    def update_registered_model(
        self, name: str, description: str, actor: str = ""
    ) -> RegisteredModel:
        """Replace a model's description and return the model."""

    @abstractmethod
    def delete_registered_model(self, name: str, actor: str = "", force: bool = False) -> None:
        """Delete a model. Its audit entries are kept.

        Args:
            force: also delete its versions, aliases and approvals.

        Raises:
            InvalidStateError: the model still has versions and ``force`` is false.
        """

    @abstractmethod
    def rename_registered_model(self, name: str, new_name: str, actor: str = "") -> RegisteredModel:
        """Give a model another name, in one transaction, and return it under that name.

        Everything the registry keys by the name moves with it: versions (numbers kept,
        and the counter, so numbers are still never reused), tags, aliases, review status
        and approvals; lineage edges of its versions (``models:/<name>/<n>``) follow. Then
        ``models:/<new_name>/3`` and ``models:/<new_name>@champion`` resolve, and the old
        name is unknown (a new model may take it). The change is audited as
        ``rename_model`` under the new name (``before``/``after`` hold the names), and
        :meth:`audit_log` of the new name includes the entries made under the old one.

        This store method does not look at deployments or monitors that name the model;
        :meth:`loopml.registry.RegistryClient.rename` does.

        Raises:
            NotFoundError: there is no model named ``name``.
            AlreadyExistsError: a model named ``new_name`` exists.
            InvalidNameError: ``new_name`` is not a valid model name.
            InvalidInputError: ``new_name`` is ``name`` (nothing to rename).
        """

    @abstractmethod
    def set_registered_model_tag(self, name: str, key: str, value: str, actor: str = "") -> None:
        """Set (or overwrite) a tag on a model."""

    @abstractmethod
    def delete_registered_model_tag(self, name: str, key: str, actor: str = "") -> None:
        """Remove a tag from a model.

        Raises:
            NotFoundError: no such model, or the model has no such tag.
        """

    # -- versions ----------------------------------------------------------------------
    @abstractmethod
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        description: str = "",
        tags: Sequence[RunTag] = (),
        actor: str = "",
    ) -> ModelVersion:
        """Register a new version of an existing model, in status ``pending_review``.

        The number is one more than the highest ever given to this model (starting at 1),
        assigned inside the write transaction, so concurrent writers get distinct numbers.

        Raises:
            NotFoundError: there is no model with this name; create it first.
            InvalidInputError: the source is empty or the run id malformed.
        """

    @abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """Return one version.

        Raises:
            NotFoundError: no such model or version.
        """

    @abstractmethod
    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = REGISTRY_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Versions, by model name then newest version first, optionally of one model or run."""

    @abstractmethod
    def update_model_version(
        self, name: str, version: int, description: str, actor: str = ""
    ) -> ModelVersion:
        """Replace a version's description and return the version."""

    @abstractmethod
    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, actor: str = ""
    ) -> None:
        """Set (or overwrite) a tag on a version."""

    @abstractmethod
    def delete_model_version_tag(self, name: str, version: int, key: str, actor: str = "") -> None:
        """Remove a tag from a version.

        Raises:
            NotFoundError: no such model, version or tag.
        """

    @abstractmethod
    def delete_model_version(
        self, name: str, version: int, actor: str = "", force: bool = False
    ) -> None:
        """Delete a version and its approvals. Its number is not given out again.

        Args:
            force: delete it even when aliases point at it (the aliases are removed too).

        Raises:
            InvalidStateError: an alias points at the version and ``force`` is false.
        """

    # -- aliases -----------------------------------------------------------------------
    @abstractmethod
    def set_alias(self, name: str, alias: str, version: int, actor: str = "") -> None:
        """Point an alias at a version, moving it in one transaction if it pointed elsewhere.

        An alias names one version; a version may carry several aliases. Aliases are
        validated like keys, may not be only digits (they would read as a version number),
        may not be ``latest``, and may not contain ``/``, ``:`` or spaces.

        A protected alias (``champion``) may only point at an ``approved`` version, unless
        the store was opened with ``allow_unapproved_champion``.

        Raises:
            InvalidNameError: a bad alias.
            NotFoundError: no such model or version.
            InvalidStateError: a protected alias on a version that is not approved.
        """

    @abstractmethod
    def delete_alias(self, name: str, alias: str, actor: str = "") -> None:
        """Remove an alias.

        Raises:
            NotFoundError: the model has no such alias.
        """

    @abstractmethod
    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """Return the version an alias points at.

        Raises:
            NotFoundError: no such model or alias.
        """

    def get_version_by_uri(self, ref: ModelUri) -> ModelVersion:
        """The version a parsed ``models:/`` URI names: by number, by alias, or the latest.

        Raises:
            NotFoundError: no such model, version or alias, or the model has no versions.
        """
        if ref.version is not None:
            return self.get_model_version(ref.name, ref.version)
        assert ref.alias is not None
        if not ref.is_latest:
            return self.get_version_by_alias(ref.name, ref.alias)
        latest = self.get_registered_model(ref.name).latest_version
        if latest is None:
            raise ModelVersionNotFoundError(
                f"registered model {ref.name!r} has no versions yet; register one with "
                f"`loopml models register runs:/<run_id>/model {ref.name}`"
            )
        return self.get_model_version(ref.name, latest)

    # -- review ------------------------------------------------------------------------
    @abstractmethod
    def set_version_status(
        self,
        name: str,
        version: int,
        status: VersionStatus,
        actor: str = "",
        comment: str = "",
    ) -> ModelVersion:
        """Move a version to another status and return it.

        Moving to ``approved`` or ``rejected`` also records an :class:`Approval`. A version
        a protected alias (``champion``) points at cannot leave ``approved`` while the alias
        stays (unless ``allow_unapproved_champion``): move the alias first.

        Raises:
            InvalidStateError: the move is not allowed (see :class:`VersionStatus`).
        """

    @abstractmethod
    def list_approvals(self, name: str, version: int) -> list[Approval]:
        """Every review decision on a version, oldest first."""

    # -- audit -------------------------------------------------------------------------
    @abstractmethod
    def audit_log(
        self,
        name: str | None = None,
        max_results: int = REGISTRY_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[AuditEntry]:
        """Audit entries, oldest first, of one model or of the whole registry.

        The entries of one model are those filed under its name (including those of an
        earlier model of that name that was deleted), its renames away from that name, and,
        when it was renamed to ``name``, the entries it had under its earlier names.
        """
