"""The data cycle's storage interface: datasets, immutable versions, files and lineage.

A version is written in one transaction with all its file rows, or not at all. Versions are
never edited (only deleted); a dataset's pinned schema and description are the only things
that change.

Example::

    files = [DatasetFile("a.csv", digest_a, 120), DatasetFile("b.csv", digest_b, 98)]
    v = store.create_dataset_version("rides", files, digest=manifest_digest,
                                     kind=DatasetKind.FILES, source="data/rides")
    store.get_dataset_files("rides", v.version)          # the manifest, sorted by path
    store.log_lineage(run_id, [LineageEdge(run_id, v.uri, LineageDirection.INPUT, "training")])
    store.list_lineage(uri=v.uri)                         # the runs that used it
    store.delete_dataset_version("rides", 1)              # gone; numbers are not reused
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.entities import (
    Dataset,
    DatasetFile,
    DatasetKind,
    DatasetVersion,
    LineageEdge,
)
from loopml.errors import DatasetVersionNotFoundError, InvalidNameError, ValueTooLongError
from loopml.uris import DatasetUri

__all__ = ["DatasetStore", "check_dataset_name"]

_NAME_RE = re.compile(r"[A-Za-z0-9_][\w\-.]*")


def check_dataset_name(name: object) -> str:
    """Validate a dataset name: 1-250 letters, digits, ``_ - .``, not starting with ``-``/``.``.

    Raises:
        InvalidNameError: empty, not a string, or a forbidden character.
        ValueTooLongError: longer than 250 characters.
    """
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"dataset name must be a non-empty string, got {name!r}")
    if len(name) > 250:
        raise ValueTooLongError(f"dataset name is {len(name)} characters; the limit is 250")
    if not _NAME_RE.fullmatch(name) or name.isdigit():
        raise InvalidNameError(
            f"dataset name {name!r} is not valid; use letters, digits, underscores, dashes "
            "and periods, starting with a letter, digit or underscore (and not only digits)"
        )
    return name


class DatasetStore(ABC):
    """Stores datasets, their versions and manifests, and run ↔ dataset lineage edges.

    Errors: :class:`~loopml.errors.DatasetNotFoundError` and
    :class:`~loopml.errors.DatasetVersionNotFoundError` for unknown names and numbers;
    :class:`~loopml.errors.InvalidNameError` for a malformed name.
    """

    @abstractmethod
    def create_dataset_version(
        self,
        name: str,
        files: Sequence[DatasetFile],
        *,
        digest: str,
        kind: DatasetKind,
        source: str = "",
        created_by: str = "",
        run_id: str | None = None,
        description: str = "",
        rows: int | None = None,
        schema: Mapping[str, Any] | None = None,
        profile: Mapping[str, Any] | None = None,
    ) -> DatasetVersion:
        """Record a new version (creating the dataset on its first version) and return it.

        The version number is one above the highest ever given; the version and its file
        rows are written in one transaction.
        """

    @abstractmethod
    def get_dataset(self, name: str) -> Dataset:
        """The dataset with this name."""

    @abstractmethod
    def list_datasets(self, name_like: str | None = None) -> list[Dataset]:
        """Every dataset, by name, optionally those whose names match a LIKE pattern."""

    @abstractmethod
    def get_dataset_version(self, name: str, version: int) -> DatasetVersion:
        """One version (without its file list; see :meth:`get_dataset_files`)."""

    @abstractmethod
    def list_dataset_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of a dataset, newest first."""

    @abstractmethod
    def get_dataset_files(self, name: str, version: int) -> list[DatasetFile]:
        """The manifest of a version: every file, sorted by path."""

    @abstractmethod
    def set_dataset_schema(self, name: str, schema: Mapping[str, Any] | None) -> Dataset:
        """Pin a schema on a dataset (None unpins); validation then uses it."""

    @abstractmethod
    def delete_dataset_version(self, name: str, version: int) -> None:
        """Delete a version and its file rows (its number is not given again; lineage
        edges naming it stay). Its blobs stay stored until a garbage collection finds no
        version or run artifact naming them (see :meth:`referenced_digests`)."""

    @abstractmethod
    def referenced_digests(self) -> set[str]:
        """Every blob digest the store names: version manifests, version files and run
        artifacts (what garbage collection must keep)."""

    @abstractmethod
    def log_lineage(self, run_id: str, edges: Sequence[LineageEdge]) -> None:
        """Record what a run read and made; an edge logged again replaces its role."""

    @abstractmethod
    def list_lineage(
        self, *, run_id: str | None = None, uri: str | None = None
    ) -> list[LineageEdge]:
        """Lineage edges of a run, or of a URI (``datasets:/rides/2``), oldest first."""

    def get_dataset_version_by_uri(self, ref: DatasetUri) -> DatasetVersion:
        """The version a :class:`~loopml.uris.DatasetUri` names (``None`` means latest)."""
        if ref.version is not None:
            return self.get_dataset_version(ref.name, ref.version)
        dataset = self.get_dataset(ref.name)
        if not dataset.latest_version:
            raise DatasetVersionNotFoundError(
                f"dataset {ref.name!r} has no versions left (all were deleted); add one with "
                "`loopml data add`"
            )
        return self.get_dataset_version(ref.name, dataset.latest_version)
