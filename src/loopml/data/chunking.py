"""Large files as content-defined chunks, so that a small change stores a small chunk.

A file of at least :data:`CHUNKED_FROM` bytes is cut where its content says (FastCDC, a
gear rolling hash: the cut points move with inserted or removed bytes instead of shifting
every later chunk), into chunks of 256 KiB to 4 MiB (1 MiB on average). Each chunk is a
blob of its own (packed), and the file's digest, the BLAKE3 of its whole bytes as for any
blob, maps to its chunk list. Changing one byte of a 1 GiB file then stores one new chunk
of about 1 MiB, not another gigabyte.

The file is mapped into memory once; its digest, the cut points and the chunks' digests are
computed by code that releases the GIL (BLAKE3 over several threads, the Cython chunker),
and new chunks are written to a pack straight from the mapping.
"""

from __future__ import annotations

import mmap
import os
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


def _cuts(view: memoryview) -> list[tuple[int, int]]:
    from pyfastcdc import FastCDC

    chunker = FastCDC(_AVG, min_size=_MIN, max_size=_MAX)
    return [(chunk.offset, chunk.length) for chunk in chunker.cut_buf(view)]


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
        whole = pool.submit(lambda: blake3(view, max_threads=blake3.AUTO).hexdigest())
        try:
            try:
                cuts = _cuts(view)  # while the digest is computed
            finally:
                digest = whole.result()
            info = BlobInfo(digest, size)
            if stored(digest):
                if progress:
                    progress(size)
                return info, None

            def hash_chunk(cut: tuple[int, int]) -> str:
                return blake3(view[cut[0] : cut[0] + cut[1]]).hexdigest()

            chunks = []
            for (offset, length), chunk in zip(cuts, pool.map(hash_chunk, cuts), strict=True):
                if chunk not in writer and not stored(chunk):
                    writer.add(chunk, view[offset : offset + length])
                chunks.append((chunk, length))
                if progress:
                    progress(length)
        finally:
            view.release()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    finally:
        mapping.close()
        os.close(fd)
    after = os.stat(path)
    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns) or size != st.st_size:
        raise InvalidInputError(f"{path} changed while it was being added; add it again")
    return info, Recipe(size, tuple(chunks))
