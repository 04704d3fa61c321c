"""Push and pull: copy the blobs of dataset versions between the store and a remote.

A remote is any fsspec URL (a folder, ``s3://bucket/prefix``, …) laid out like the store
(loose ``blobs/``, ``packs/`` with their indexes, ``chunked/`` chunk lists). Only blobs the
other side lacks travel. Blobs the source keeps in packs are read a range at a time and
written into new packs on the other side (one object per 64 MiB instead of one per blob);
loose blobs are copied one by one, in parallel. A chunked file travels as its missing
chunks, then its chunk list, once the whole has been checked against the file's digest.
Each version's file blobs go first and its manifest blob last, so a remote never holds a
manifest whose files it lacks: a push cut off midway leaves no partial version behind, and
running it again sends only what is still missing. Pulled blobs are verified before they
are stored.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from loopml.errors import (
    ArtifactNotFoundError,
    CorruptBlobError,
    DatasetVersionNotFoundError,
    LoopmlError,
    RemoteError,
)
from loopml.storage.artifacts import ContentAddressedStore, LocalByteStore
from loopml.storage.artifacts.cas import Recipe

__all__ = ["TransferResult", "list_digests", "transfer"]

_WORKERS = 16
_PUBLISH_EVERY = 64 << 20  # a pack on the other side is finished every this many bytes
_READ = 1 << 20
Progress = Callable[[int], None]


@dataclass(frozen=True)
class TransferResult:
    """What a push or pull moved: blobs and bytes, and how many were already there."""

    blobs: int
    bytes: int
    skipped: int


def list_digests(cas: ContentAddressedStore) -> set[str]:
    """Every blob digest a store holds, from listings (not one request per blob)."""
    return cas.list_digests()


def _copy(src: ContentAddressedStore, dst: ContentAddressedStore, digest: str) -> int:
    """Copy one loose blob, verified; nothing is stored under its name if it does not
    verify."""
    folder = dst.bytes.root / "tmp" if isinstance(dst.bytes, LocalByteStore) else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="loopml-transfer-", dir=folder)
    os.close(fd)
    try:
        src.get_file(digest, tmp)  # verified while it is read
        size = os.path.getsize(tmp)
        if isinstance(dst.bytes, LocalByteStore):
            target = dst.bytes.path_for(dst.key_for(digest))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        else:
            dst.bytes.put_file(dst.key_for(digest), tmp)
        return size
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _check_whole(side: ContentAddressedStore, digest: str, recipe: Recipe) -> None:
    """Read a chunked blob through its chunk list: it must hash to its digest."""
    with side.open_chunked(digest, recipe) as stream:
        while stream.read(_READ):
            pass


class _Mover:
    """Copies one batch of blobs: packed ones into new packs, loose ones one by one."""

    def __init__(
        self,
        src: ContentAddressedStore,
        dst: ContentAddressedStore,
        progress: Progress | None,
        durable: bool,
    ) -> None:
        self.src, self.dst, self.progress, self.durable = src, dst, progress, durable
        self.moved_bytes = 0

    def _tick(self, size: int) -> None:
        self.moved_bytes += size
        if self.progress:
            self.progress(size)

    def packed(self, digests: list[str]) -> None:
        """Move blobs the source keeps in packs, publishing a new pack every 64 MiB."""
        writer = self.dst.pack_writer(self.durable)
        try:
            for digest, data in self.src.read_many(digests):  # each verified
                writer.add(digest, data)
                self._tick(len(data))
                if writer.bytes_written >= _PUBLISH_EVERY:
                    writer.publish()
                    writer = self.dst.pack_writer(self.durable)
            writer.publish()
        finally:
            writer.abort()

    def loose(self, digests: list[str]) -> None:
        def one(digest: str) -> None:
            self._tick(_copy(self.src, self.dst, digest))

        with ThreadPoolExecutor(_WORKERS) as pool:
            list(pool.map(one, digests))

    def move(self, digests: list[str]) -> None:
        in_packs = [d for d in digests if self.src.packed(d, refresh=False) is not None]
        packed = set(in_packs)
        self.packed(in_packs)
        self.loose([d for d in digests if d not in packed])


def transfer(
    src: ContentAddressedStore,
    dst: ContentAddressedStore,
    batches: Sequence[Iterable[str]],
    *,
    direction: str,
    remote_url: str,
    present: set[str] | None = None,
    progress: Progress | None = None,
    durable: bool = True,
) -> TransferResult:
    """Copy the blobs ``dst`` lacks, batch after batch (a batch is finished before the next
    starts: file blobs first, then the manifests naming them).

    Args:
        present: digests ``dst`` is known to hold (listed once by the caller).
        direction: ``push`` or ``pull``, for messages.
        durable: flush new packs on a local ``dst`` before naming them.

    Raises:
        RemoteError: the remote failed midway (what was copied stays; run again).
        CorruptBlobError: a blob's bytes do not match its digest (it is not stored).
        DatasetVersionNotFoundError: a needed blob is on neither side.
    """
    moved = skipped = 0
    mover = _Mover(src, dst, progress, durable)
    try:
        have = present if present is not None else list_digests(dst)
        chunked = src.chunked_digests()
    except LoopmlError as exc:
        raise RemoteError(f"cannot list the blobs at {remote_url}: {exc.message}") from exc
    for batch in batches:
        wanted = sorted(set(batch))
        todo = [d for d in wanted if d not in have]
        skipped += len(wanted) - len(todo)
        try:
            recipes = {}
            for digest in todo:
                recipe = src.recipe(digest) if digest in chunked else None
                if recipe is not None:
                    recipes[digest] = recipe
            chunks = {c for r in recipes.values() for c, _ in r.chunks} - have
            mover.move(sorted(chunks | {d for d in todo if d not in recipes}))
            have.update(chunks)
            # Chunk lists last: checked through the local side, then recorded.
            for digest, recipe in recipes.items():
                _check_whole(src if isinstance(src.bytes, LocalByteStore) else dst, digest, recipe)
                dst.put_recipe(digest, recipe)
        except CorruptBlobError:
            raise
        except ArtifactNotFoundError as exc:
            raise DatasetVersionNotFoundError(
                f"a blob to {direction} is missing ({exc.message}); {direction} from a store "
                "that holds the version"
            ) from exc
        except (LoopmlError, OSError) as exc:
            reason = exc.message if isinstance(exc, LoopmlError) else str(exc)
            raise RemoteError(
                f"{direction} with {remote_url} failed after {moved} blobs: {reason}. Nothing "
                f"partial was recorded; run the {direction} again to finish"
            ) from exc
        moved += len(todo)
        have.update(todo)
    return TransferResult(moved, mover.moved_bytes, skipped)
