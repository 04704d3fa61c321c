"""Push and pull: copy the blobs of dataset versions between the store and a remote.

A remote is any fsspec URL (a folder, ``s3://bucket/prefix``, …) laid out like the store:
``blobs/<2 hex>/<62 hex>``. Only blobs the other side lacks travel, in parallel. Each
version's file blobs go first and its manifest blob last, so a remote never holds a manifest
whose files it lacks: a push cut off midway leaves no partial version behind, and running it
again sends only what is still missing. Pulled blobs are verified before they are stored.
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

__all__ = ["TransferResult", "list_digests", "transfer"]

_WORKERS = 16
Progress = Callable[[int], None]


@dataclass(frozen=True)
class TransferResult:
    """What a push or pull moved: blobs and bytes, and how many were already there."""

    blobs: int
    bytes: int
    skipped: int


def list_digests(cas: ContentAddressedStore) -> set[str]:
    """Every blob digest a store holds, from one listing (not one request per blob)."""
    found = set()
    for key in cas.bytes.list("blobs"):
        parts = key.split("/")
        if len(parts) == 3 and len(parts[1]) == 2 and len(parts[2]) == 62:
            found.add(parts[1] + parts[2])
    return found


def _copy(src: ContentAddressedStore, dst: ContentAddressedStore, digest: str) -> int:
    """Copy one blob, verified; nothing is stored under its name if it does not verify."""
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


def transfer(
    src: ContentAddressedStore,
    dst: ContentAddressedStore,
    batches: Sequence[Iterable[str]],
    *,
    direction: str,
    remote_url: str,
    present: set[str] | None = None,
    progress: Progress | None = None,
) -> TransferResult:
    """Copy the blobs ``dst`` lacks, batch after batch (a batch is finished before the next
    starts: file blobs first, then the manifests naming them).

    Args:
        present: digests ``dst`` is known to hold (listed once by the caller).
        direction: ``push`` or ``pull``, for messages.

    Raises:
        RemoteError: the remote failed midway (what was copied stays; run again).
        CorruptBlobError: a blob's bytes do not match its digest (it is not stored).
        DatasetVersionNotFoundError: a needed blob is on neither side.
    """
    moved = size = skipped = 0
    try:
        have = present if present is not None else list_digests(dst)
    except LoopmlError as exc:
        raise RemoteError(f"cannot list the blobs at {remote_url}: {exc.message}") from exc
    for batch in batches:
        wanted = sorted(set(batch))
        todo = [d for d in wanted if d not in have]
        skipped += len(wanted) - len(todo)

        def one(digest: str) -> int:
            done = _copy(src, dst, digest)
            if progress:
                progress(done)
            return done

        try:
            with ThreadPoolExecutor(_WORKERS) as pool:
                for done in pool.map(one, todo):
                    moved += 1
                    size += done
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
        have.update(todo)
    return TransferResult(moved, size, skipped)
