"""DataClient: version files and tables, compare them, move them, and record lineage.

from loopml.data import DataClient
data = DataClient()
v1 = data.add("data/rides")                 # version 1; writes data/rides.loopml
data.status()                                # what changed since each pointer's version
data.get("rides@1", "/tmp/rides_v1")         # materialise a version
dv = data.log_dataset("trips", df)           # a table: canonical Parquet + schema + profile
df = data.load("datasets:/trips@latest")
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.data.blobs import LinkType, ingest, materialise
from loopml.data.compare import DatasetDiff, diff_versions
from loopml.data.manifest import Manifest, ManifestDiff, diff_manifests
from loopml.data.remote import TransferResult, transfer
from loopml.data.state import StateCache, fingerprint, hash_files
from loopml.data.tables import TABLE_FILE, convert, is_table_files, read_table, to_arrow, to_parquet
from loopml.data.workspace import (
    Pointer,
    find_pointers,
    find_project_root,
    folder_fingerprint,
    pointer_path_for,
    project_relative,
    read_pointer,
    scan,
    write_pointer,
)
from loopml.entities import (
    DatasetFile,
    DatasetKind,
    DatasetVersion,
    LineageDirection,
    LineageEdge,
)
from loopml.errors import (
    AlreadyExistsError,
    ArtifactNotFoundError,
    DatasetNotFoundError,
    DatasetVersionNotFoundError,
    IntegrityError,
    InvalidInputError,
    InvalidStateError,
)
from loopml.storage.artifacts import ContentAddressedStore, open_byte_store
from loopml.storage.metadata.datasets_base import check_dataset_name
from loopml.tracking.context import current_user
from loopml.uris import parse_datasets_uri

if TYPE_CHECKING:
    from loopml.data.garbage import CollectResult
    from loopml.data.schema import DataSchema
    from loopml.data.validation import ValidationReport
    from loopml.storage.metadata.base import MetadataStore
    from loopml.tracking.client import TrackingClient

__all__ = ["AddResult", "DataClient", "StatusEntry"]

_log = logging.getLogger(__name__)
Progress = Callable[[int], None]
VersionRef = str | DatasetVersion


@dataclass(frozen=True)
class AddResult:
    """The outcome of :meth:`DataClient.add`: the version, and whether it is new."""

    version: DatasetVersion
    created: bool
    pointer: Path | None = None


@dataclass(frozen=True)
class StatusEntry:
    """One tracked path: ``unchanged``, ``modified`` (with the file diff) or ``missing``."""

    pointer: Path
    path: str
    name: str
    version: int
    state: str
    diff: ManifestDiff | None = None


class DataClient:
    """The data cycle of one tracking store and one project folder.

    Args:
        client: the tracking client whose stores hold datasets; defaults to the process's
            default client (``LOOPML_TRACKING_URI``, else ``./.loopml``).
        project: the project root (default: the nearest folder holding ``.git``,
            ``.loopml`` or ``loopml.toml``). Tracked paths must be inside it.
    """

    def __init__(self, client: TrackingClient | None = None, project: Path | None = None) -> None:
        if client is None:
            from loopml.tracking.fluent import get_client

            client = get_client()
        self.client = client
        self.project = (project or find_project_root()).resolve()
        self._state: StateCache | None = None

    @property
    def store(self) -> MetadataStore:
        """The metadata store (which holds datasets and lineage)."""
        return self.client.stores.metadata

    @property
    def blobs(self) -> ContentAddressedStore:
        """The content-addressed store the files live in."""
        return self.client.stores.blobs

    @property
    def state(self) -> StateCache:
        """The project's state cache of file digests."""
        if self._state is None:
            self._state = StateCache(self.project / ".loopml" / "state.db")
        return self._state

    def close(self) -> None:
        """Close the state cache (the tracking client stays open)."""
        if self._state is not None:
            self._state.close()
            self._state = None

    def __enter__(self) -> DataClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------
    def get_version(self, ref: VersionRef) -> DatasetVersion:
        """The version a reference names: ``rides@2``, ``rides/2``, ``rides`` (latest),
        ``datasets:/rides@latest``, or a :class:`DatasetVersion`."""
        if isinstance(ref, DatasetVersion):
            return ref
        return self.store.get_dataset_version_by_uri(parse_datasets_uri(ref, short=True))

    def manifest(self, ref: VersionRef) -> Manifest:
        """The files of a version, checked against its digest."""
        version = self.get_version(ref)
        manifest = Manifest.of(self.store.get_dataset_files(version.name, version.version))
        if manifest.digest != version.digest:
            raise IntegrityError(
                f"{version.uri}: its recorded files do not hash to its digest; the metadata "
                "store has been edited by hand"
            )
        return manifest

    def _manifest_by_digest(self, digest: str) -> Manifest:
        try:
            manifest = Manifest.from_bytes(self.blobs.read_bytes(digest))
        except ArtifactNotFoundError as exc:
            raise DatasetVersionNotFoundError(
                f"the store has no manifest {digest[:12]}…; pull it with "
                "`loopml data pull --remote URL`"
            ) from exc
        return manifest

    def diff(self, a: VersionRef, b: VersionRef) -> DatasetDiff:
        """Files added, removed and changed from ``a`` to ``b``; for tables also the schema,
        the row count and per-column statistics."""
        va, vb = self.get_version(a), self.get_version(b)
        return diff_versions(va, vb, self.manifest(va), self.manifest(vb))

    def lineage(self, ref: VersionRef) -> list[LineageEdge]:
        """The runs that read or made a version, oldest first."""
        return self.store.list_lineage(uri=self.get_version(ref).uri)

    # -- adding ----------------------------------------------------------------------
    def _active_run(self) -> str | None:
        from loopml.tracking.fluent import active_run_id

        return active_run_id()

    def _record(
        self, name: str, manifest: Manifest, kind: DatasetKind, **fields: Any
    ) -> tuple[DatasetVersion, bool]:
        """Store the manifest blob (after the files) and record a version unless the latest
        one holds the same data."""
        self.blobs.put_bytes(manifest.to_bytes())
        with contextlib.suppress(DatasetNotFoundError):
            latest = self.store.get_dataset(name).latest_version
            current = self.store.get_dataset_version(name, latest) if latest else None
            if current is not None and current.digest == manifest.digest:
                return current, False
        run_id = self._active_run()
        version = self.store.create_dataset_version(
            name,
            manifest.files,
            digest=manifest.digest,
            kind=kind,
            created_by=current_user(),
            run_id=run_id,
            **fields,
        )
        if run_id is not None:
            edge = LineageEdge(run_id, version.uri, LineageDirection.OUTPUT, "output")
            self.store.log_lineage(run_id, [edge])
        return version, True

    def _check_source(self, name: str, source: str) -> None:
        with contextlib.suppress(DatasetNotFoundError):
            dataset = self.store.get_dataset(name)
            if not dataset.latest_version:  # every version was deleted: the name is free
                return
            previous = self.store.get_dataset_version(name, dataset.latest_version).source
            if previous and previous != source:
                raise AlreadyExistsError(
                    f"dataset {name!r} already tracks {previous!r}, not {source!r}; pick "
                    "another name with --name"
                )

    def add(
        self,
        path: str | Path,
        name: str | None = None,
        description: str = "",
        progress: Progress | None = None,
        on_total: Progress | None = None,
    ) -> AddResult:
        """Version a file or folder: store new files once, record the version, write the
        pointer file beside it. Unchanged data returns the latest version (``created`` False).

        Args:
            progress: called with the bytes of each file as it is stored.
            on_total: called once with the bytes ``progress`` will count in all.

        Raises:
            InvalidPathError: the path is outside the project.
            InvalidInputError: it does not exist, has no files, or a file cannot be read.
            AlreadyExistsError: the name already tracks another path.
        """
        target = Path(path).resolve()
        source = project_relative(target, self.project)
        pointer_file = pointer_path_for(target)
        if name is None and pointer_file.exists():
            name = read_pointer(pointer_file).name
        name = check_dataset_name(name or target.name)
        self._check_source(name, source)
        entries = scan(target)
        if not entries:
            raise InvalidInputError(f"{path} holds no files to version")
        if on_total is not None:  # the bytes ``progress`` will count, for a progress bar
            on_total(sum(st.st_size for _, _, st in entries))
        with self.blobs.guard():  # no garbage collection between the blobs and the record
            version, created, files = self._ingest_and_record(
                name, target, entries, source, description, progress
            )
        pointer = Pointer(
            name,
            version.version,
            version.digest,
            target.name,
            len(files),
            sum(f.size for f in files),
        )
        write_pointer(pointer, pointer_file)
        return AddResult(version, created, pointer_file)

    def _ingest_and_record(
        self,
        name: str,
        target: Path,
        entries: Sequence[Any],
        source: str,
        description: str,
        progress: Progress | None,
    ) -> tuple[DatasetVersion, bool, list[DatasetFile]]:
        infos = ingest(
            self.blobs,
            [(a, st) for _, a, st in entries],
            self.state,
            progress,
            durable=self.client.settings.data_sync,
        )
        files = [DatasetFile(rel, infos[a].digest, infos[a].size) for rel, a, _ in entries]
        manifest = Manifest.of(files)
        self.state.save_tree(str(target), fingerprint(entries), manifest.digest)
        table: dict[str, Any] = {}
        if is_table_files([f.path for f in files]):
            try:
                table = self._describe(read_table([(rel, a) for rel, a, _ in entries]))
            except InvalidInputError as exc:
                _log.warning("%s is versioned as plain files: %s", source, exc.message)
        kind = DatasetKind.TABLE if table else DatasetKind.FILES
        version, created = self._record(
            name, manifest, kind, source=source, description=description, **table
        )
        return version, created, files

    @staticmethod
    def _describe(table: Any) -> dict[str, Any]:
        from loopml.data.profile import profile_table
        from loopml.data.schema import infer_schema

        profile = profile_table(table)
        return {
            "rows": table.num_rows,
            "schema": infer_schema(profile).to_dict(),
            "profile": profile.to_dict(),
        }

    def log_dataset(self, name: str, data: Any, description: str = "") -> DatasetVersion:
        """Version a table (pandas, polars, Arrow, dict of columns) as canonical Parquet,
        with its schema, row count and profile. The same data again returns the latest
        version. Inside an active run, the run is recorded as the version's maker."""
        check_dataset_name(name)
        table = to_arrow(data)
        described = self._describe(table)
        with self.blobs.guard():  # no garbage collection between the blob and the record
            info = self.blobs.put_bytes(to_parquet(table))
            manifest = Manifest.of([DatasetFile(TABLE_FILE, info.digest, info.size)])
            version, _ = self._record(
                name,
                manifest,
                DatasetKind.TABLE,
                source="dataframe",
                description=description,
                **described,
            )
        return version

    # -- reading data back -----------------------------------------------------------
    def _require_blobs(self, version: DatasetVersion, files: Sequence[DatasetFile]) -> None:
        missing = self.blobs.missing(f.digest for f in files)
        if missing:
            raise DatasetVersionNotFoundError(
                f"{len(missing)} file(s) of {version.uri} are not in the store; fetch them with "
                f"`loopml data pull {version.name}@{version.version} --remote URL`"
            )

    def load(self, ref: VersionRef, as_: str = "pandas") -> Any:
        """A table version's data as ``pandas`` (default), ``arrow`` or ``polars``.

        Raises:
            InvalidInputError: the version holds files that are not a table.
        """
        import pyarrow as pa

        version = self.get_version(ref)
        files = self.manifest(version).files
        if not is_table_files([f.path for f in files]):
            raise InvalidInputError(
                f"{version.uri} holds files, not a table; materialise it with "
                f"`loopml data get {version.name}@{version.version} --to FOLDER`"
            )
        self._require_blobs(version, files)
        sources = [(f.path, pa.BufferReader(self.blobs.read_bytes(f.digest))) for f in files]
        return convert(read_table(sources), as_)

    def get(
        self,
        ref: VersionRef,
        to: str | Path,
        link: LinkType | str = LinkType.AUTO,
        force: bool = False,
        progress: Progress | None = None,
    ) -> Path:
        """Materialise a version's files under ``to`` (a folder; made if missing).

        Raises:
            InvalidStateError: ``to`` is a non-empty folder and ``force`` is not set.
        """
        version = self.get_version(ref)
        files = self.manifest(version).files
        dest = Path(to)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not force:
            raise InvalidStateError(
                f"{dest} exists and is not an empty folder; pick another place or pass --force"
            )
        self._require_blobs(version, files)
        materialise(self.blobs, files, dest, LinkType(link), progress)
        return dest

    # -- the working copy ------------------------------------------------------------
    def pointers(self) -> list[Path]:
        """Every pointer file in the project."""
        return list(find_pointers(self.project))

    def _current(self, target: Path) -> Manifest:
        entries = scan(target)
        infos = hash_files(self.state, [(a, st) for _, a, st in entries])
        manifest = Manifest.of(
            DatasetFile(rel, infos[a].digest, infos[a].size) for rel, a, _ in entries
        )
        self.state.save_tree(str(target.resolve()), fingerprint(entries), manifest.digest)
        return manifest

    def _current_digest(self, target: Path) -> str:
        """The manifest digest of the working files, from the tree cache when nothing in
        their listing changed."""
        known = self.state.tree_digest(str(target.resolve()), folder_fingerprint(target))
        return known if known is not None else self._current(target).digest

    def _pointer_manifest(self, pointer: Pointer) -> Manifest:
        if self.blobs.has(pointer.digest):
            return self._manifest_by_digest(pointer.digest)
        return self.manifest(f"{pointer.name}@{pointer.version}")

    def status(self, pointer_files: Sequence[Path] | None = None) -> list[StatusEntry]:
        """For each pointer: is its path unchanged, modified (and how) or missing?"""
        entries = []
        for file in pointer_files or self.pointers():
            pointer = read_pointer(file)
            target = pointer.target(file)
            rel = project_relative(target, self.project)
            if not target.exists():
                entries.append(StatusEntry(file, rel, pointer.name, pointer.version, "missing"))
                continue
            if self._current_digest(target) == pointer.digest:
                entries.append(StatusEntry(file, rel, pointer.name, pointer.version, "unchanged"))
                continue
            current = self._current(target)
            diff = diff_manifests(self._pointer_manifest(pointer), current)
            entries.append(StatusEntry(file, rel, pointer.name, pointer.version, "modified", diff))
        return entries

    def checkout(
        self,
        pointer_files: Sequence[Path] | None = None,
        link: LinkType | str = LinkType.AUTO,
        force: bool = False,
        progress: Progress | None = None,
    ) -> list[StatusEntry]:
        """Make each pointer's path hold exactly the version it names.

        Files that differ are replaced and files the version lacks are removed. Working
        changes that are in no stored version are not thrown away unless ``force``.

        Raises:
            InvalidStateError: a change would be lost (add it first, or pass ``force``).
        """
        done = []
        for file in pointer_files or self.pointers():
            pointer = read_pointer(file)
            target = pointer.target(file)
            wanted = self._pointer_manifest(pointer)
            folder_like = not (len(wanted.files) == 1 and wanted.files[0].path == target.name)
            current = self._current(target) if target.exists() else Manifest(())
            diff = diff_manifests(current, wanted)
            lost = [f.path for f in (*diff.removed, *(old for old, _ in diff.changed))]
            unsaved = self.blobs.missing(f.digest for f in current.files if f.path in lost)
            if unsaved and not force:
                raise InvalidStateError(
                    f"checkout of {pointer.name}@{pointer.version} would discard changes to "
                    f"{len(unsaved)} file(s) under {target} that no version holds; run "
                    "`loopml data add` first, or pass --force"
                )
            self._require_blobs(self.get_version_or_stub(pointer), wanted.files)
            if folder_like:
                for item in diff.removed:
                    target.joinpath(*item.path.split("/")).unlink()
                changed = [new for _, new in diff.changed] + list(diff.added)
                materialise(self.blobs, changed, target, LinkType(link), progress)
            elif diff.changed or diff.added:
                materialise(self.blobs, wanted.files, target.parent, LinkType(link), progress)
            state = "unchanged" if diff.is_empty else "modified"
            rel = project_relative(target, self.project)
            done.append(StatusEntry(file, rel, pointer.name, pointer.version, state, diff))
        return done

    def get_version_or_stub(self, pointer: Pointer) -> DatasetVersion:
        """The version a pointer names, or a stand-in when this store does not know it."""
        try:
            return self.store.get_dataset_version(pointer.name, pointer.version)
        except (DatasetNotFoundError, DatasetVersionNotFoundError):
            return DatasetVersion(
                pointer.name,
                pointer.version,
                pointer.digest,
                DatasetKind.FILES,
                pointer.files,
                pointer.size,
                pointer.path,
                "",
                0,
            )

    # -- deleting versions and collecting their blobs --------------------------------
    def delete(self, ref: VersionRef, force: bool = False) -> DatasetVersion:
        """Delete one version (``rides@2``); its number is not given again and lineage
        edges naming it stay. Its blobs stay stored until :meth:`gc`.

        Raises:
            InvalidStateError: a pointer file of the project or a monitor names the version
                (pass ``force`` to delete it anyway).
        """
        return self.delete_versions([ref], force)[0]

    def delete_versions(
        self, refs: Sequence[VersionRef], force: bool = False
    ) -> list[DatasetVersion]:
        """Delete several versions, as :meth:`delete`: every one is looked up and checked
        before any is deleted, so a refusal deletes none."""
        versions: dict[tuple[str, int], DatasetVersion] = {}
        for ref in refs:
            version = self.get_version(ref)
            versions.setdefault((version.name, version.version), version)
        if not force and versions:
            self._check_unused(versions.values())
        for version in versions.values():
            self.store.delete_dataset_version(version.name, version.version)
        return list(versions.values())

    def _check_unused(self, versions: Iterable[DatasetVersion]) -> None:
        """Refuse versions a pointer file of the project or a monitor names (each is
        read once, whatever the number of versions)."""
        users: dict[str, list[str]] = {}
        for file in self.pointers():
            pointer = read_pointer(file)
            ref = f"{pointer.name}@{pointer.version}"
            users.setdefault(ref, []).append(str(file.relative_to(self.project)))
        for monitor in self.store.list_monitors():
            users.setdefault(monitor.reference, []).append(f"monitor {monitor.name}")
        for version in versions:
            names = [
                *users.get(f"{version.name}@{version.version}", []),
                *users.get(version.uri, []),
            ]
            if names:
                raise InvalidStateError(
                    f"{version.name}@{version.version} is in use by {', '.join(names)}; point "
                    "them at another version first (or delete them), or pass --force"
                )

    def _pointer_digests(self) -> set[str]:
        """The manifests the project's pointers name and the files in them (kept by gc
        even when this metadata store never recorded their versions)."""
        keep: set[str] = set()
        for file in self.pointers():
            digest = read_pointer(file).digest
            keep.add(digest)
            with contextlib.suppress(ArtifactNotFoundError, DatasetVersionNotFoundError):
                keep.update(f.digest for f in self._manifest_by_digest(digest).files)
        return keep

    def gc(
        self,
        min_age: float = 3600.0,
        dry_run: bool = False,
        rewrite_below: float = 0.5,
        progress: Progress | None = None,
        total: Progress | None = None,
    ) -> CollectResult:
        """Remove the blobs no dataset version, run artifact or pointer of this project
        names, and that are older than ``min_age`` seconds; packs mostly dead (kept share
        under ``rewrite_below``) are rewritten (see :mod:`loopml.data.garbage`).
        Through a loopml server, the server collects its own store."""
        from loopml.data.garbage import CollectResult, collect_garbage
        from loopml.storage.metadata.rest.store import RestMetadataStore

        keep = self._pointer_digests()
        store = self.store
        if isinstance(store, RestMetadataStore):
            body = {
                "min_age": min_age,
                "dry_run": dry_run,
                "rewrite_below": rewrite_below,
                "keep": sorted(keep),
            }
            return CollectResult(**store.http.json("POST", "/api/v1/data/gc", json=body))
        return collect_garbage(
            self.client.stores,
            keep,
            min_age=min_age,
            dry_run=dry_run,
            rewrite_below=rewrite_below,
            progress=progress,
            total=total,
        )

    # -- remotes ---------------------------------------------------------------------
    def _remote(self, url: str) -> ContentAddressedStore:
        return ContentAddressedStore(open_byte_store(url, self.client.settings))

    def _all_versions(self) -> Iterator[DatasetVersion]:
        for dataset in self.store.list_datasets():
            yield from self.store.list_dataset_versions(dataset.name)

    def push(
        self, remote: str, refs: Sequence[VersionRef] = (), progress: Progress | None = None
    ) -> TransferResult:
        """Send the blobs of these versions (default: every version) the remote lacks."""
        versions = [self.get_version(r) for r in refs] if refs else list(self._all_versions())
        files = [f.digest for v in versions for f in self.manifest(v).files]
        missing = self.blobs.missing(files)
        if missing:
            raise DatasetVersionNotFoundError(
                f"{len(missing)} blob(s) to push are not in the local store; pull them first"
            )
        target = self._remote(remote)
        batches = [files, [v.digest for v in versions]]
        return transfer(
            self.blobs,
            target,
            batches,
            direction="push",
            remote_url=remote,
            progress=progress,
            durable=self.client.settings.data_sync,
        )

    def pull(
        self, remote: str, refs: Sequence[VersionRef] = (), progress: Progress | None = None
    ) -> TransferResult:
        """Fetch the blobs of these versions (default: those the project's pointers name)
        that the store lacks. Pointers work even when this metadata store never saw their
        version: the manifest comes from the remote by digest."""
        source = self._remote(remote)
        first = TransferResult(0, 0, 0)
        if refs:
            versions = [self.get_version(r) for r in refs]
            manifests = [self.manifest(v) for v in versions]
            digests = [v.digest for v in versions]
        else:
            digests = [read_pointer(p).digest for p in self.pointers()]
            first = transfer(
                source,
                self.blobs,
                [digests],
                direction="pull",
                remote_url=remote,
                durable=self.client.settings.data_sync,
            )
            manifests = [self._manifest_by_digest(d) for d in digests]
        files = [f.digest for m in manifests for f in m.files]
        rest = transfer(
            source,
            self.blobs,
            [files, digests],
            direction="pull",
            remote_url=remote,
            progress=progress,
            durable=self.client.settings.data_sync,
        )
        return TransferResult(
            first.blobs + rest.blobs, first.bytes + rest.bytes, rest.skipped - first.blobs
        )

    # -- schema and validation -------------------------------------------------------
    def schema_for(self, ref: VersionRef) -> DataSchema:
        """The schema a version validates against: its dataset's pinned one, else its own
        inferred one.

        Raises:
            InvalidInputError: the version is not a table and nothing is pinned.
        """
        from loopml.data.schema import DataSchema

        version = self.get_version(ref)
        pinned = self.store.get_dataset(version.name).schema
        if pinned is not None:
            return DataSchema.from_dict(dict(pinned))
        if version.schema is None:
            raise InvalidInputError(
                f"{version.uri} holds files, not a table, so it has no schema to validate against"
            )
        return DataSchema.from_dict(dict(version.schema))

    def validate(
        self, data: Any, against: DataSchema | VersionRef, reference: bool = True
    ) -> ValidationReport:
        """Check a table (or a Parquet/CSV path) against a schema or a version.

        With a version, its profile is the reference distribution unless ``reference`` is
        False.
        """
        from loopml.data.profile import TableProfile
        from loopml.data.schema import DataSchema
        from loopml.data.validation import validate

        if isinstance(data, (str, Path)):
            path = Path(data)
            if not path.is_file():
                raise InvalidInputError(f"{path} is not a file; give a Parquet or CSV file")
            table = read_table([(path.name, str(path))])
        else:
            table = to_arrow(data)
        if isinstance(against, DataSchema):
            return validate(table, against)
        version = self.get_version(against)
        profile = (
            TableProfile.from_dict(dict(version.profile))
            if reference and version.profile is not None
            else None
        )
        return validate(table, self.schema_for(version), reference=profile)
