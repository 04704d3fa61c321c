"""Large files as content-defined chunks, so that a small change stores a small chunk.

A file of at least :data:`CHUNKED_FROM` bytes is cut where its content says (FastCDC, a
gear rolling hash: the cut points move with inserted or removed bytes instead of shifting
every later chunk), into chunks of 256 KiB to 4 MiB (1 MiB on average). Each chunk is a
blob of its own (packed), and the file's digest, the BLAKE3 of its whole bytes as for any
blob, maps to its chunk list. Changing one byte of a 1 GiB file then stores one new chunk
of about 1 MiB, not another gigabyte.

The file is mapped into memory once; its digest, the cut points and the chunks' digests are
computed at the same time, by code that releases the GIL (BLAKE3, the Cython chunker), and
each new chunk is written to a pack straight from the mapping as soon as its digest is
known (the writes and the disk's writeback overlap the hashing).
"""

from __future__ import annotations

import mmap
import os
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from blake3 import blake3

from loopml.errors import InvalidInputError
from loopml.storage.artifacts import BlobInfo, ContentAddressedStore
from loopml.storage.artifacts.cas import Recipe
from loopml.storage.artifacts.packs import PACK_LIMIT, PackWriter

__all__ = ["CHUNKED_FROM", "ingest_chunked"]

CHUNKED_FROM = PACK_LIMIT  # files at least this large are chunked; smaller ones are packed
_AVG, _MIN, _MAX = 1 << 20, 256 << 10, 4 << 20  # chunks stay below PACK_LIMIT
Progress = Callable[[int], None]


def _cut(view: memoryview, cuts: queue.SimpleQueue[tuple[int, int] | None]) -> None:
    """Put the chunks' (offset, length) into ``cuts`` as they are found, then None."""
    from pyfastcdc import FastCDC

    try:
        for chunk in FastCDC(_AVG, min_size=_MIN, max_size=_MAX).cut_buf(view):
            cuts.put((chunk.offset, chunk.length))
    finally:
        cuts.put(None)


def ingest_chunked(
    cas: ContentAddressedStore,
    writer: PackWriter,
    path: str,
    st: os.stat_result,
    pool: ThreadPoolExecutor,
    stored: Callable[[str], bool],
    progress: Progress | None = None,
) -> tuple[BlobInfo, Recipe | None]:
    """Chunk one large file into ``writer``; returns its digest and size, and the chunk
    list to record once the pack is published (None when the file is stored already).

    Args:
        stored: whether a digest is stored already (its chunks are then not written).

    Raises:
        InvalidInputError: the file cannot be read, or changed while it was read.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        size = os.fstat(fd).st_size
        mapping = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        os.close(fd)
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc
    try:
        view = memoryview(mapping)
        # Three passes over the mapping at once: the cut points (a worker thread, feeding
        # this one), the whole file's digest (another) and, here, the chunks' digests and
        # the writing of new chunks, so that the disk is busy while the hashing goes on.
        # A file found stored already (as one blob) has what was written for it cut off.
        cuts: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        cutter = pool.submit(_cut, view, cuts)
        whole = pool.submit(lambda: blake3(view, max_threads=blake3.AUTO).hexdigest())
        mark = writer.mark()
        chunks: list[tuple[str, int]] = []
        try:
            for offset, length in iter(cuts.get, None):
                with view[offset : offset + length] as part:
                    chunk = blake3(part).hexdigest()
                    if chunk not in writer and not stored(chunk):
                        writer.add(chunk, part)
                chunks.append((chunk, length))
                if progress:
                    progress(length)
        finally:
            digest = whole.result()
            cutter.result()
            view.release()
        info = BlobInfo(digest, size)
        if stored(digest):
            writer.rollback(mark)
            return info, None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    finally:
        mapping.close()
        os.close(fd)
    after = os.stat(path)
    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns) or size != st.st_size:
        raise InvalidInputError(f"{path} changed while it was being added; add it again")
    return info, Recipe(size, tuple(chunks))
