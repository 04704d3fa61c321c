"""Pack files: many small blobs in one object, found through an index file beside it.

Creating one file per blob costs more than the bytes themselves when blobs are small (20,000
files of 1 KiB take seconds to create on an ordinary disk), so the content-addressed store
can keep blobs in packs::

    packs/<id>.pack   the blobs' bytes, one after another
    packs/<id>.idx    digest -> (offset, length) of each blob, sorted by digest; the pack's
                      size; a BLAKE3 checksum of the index itself

A pack is published by writing it under a temporary name, flushing it, renaming it, then
doing the same for its index: a pack without an index (a crash in between) is invisible,
and an index whose pack is missing or has another size is ignored. Every blob read from a
pack is checked against its digest, like a loose blob.

    writer = PackWriter(byte_store)
    writer.add(digest, data)
    writer.publish()          # durable and visible: every added blob is now stored
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from blake3 import blake3

from loopml.errors import CorruptBlobError, StoreError
from loopml.storage.artifacts.base import ByteStore
from loopml.storage.artifacts.fsspec_store import LocalByteStore

__all__ = [
    "PACK_LIMIT",
    "TEMP_STAGING",
    "PackEntry",
    "PackWriter",
    "decode_index",
    "encode_index",
    "index_size",
    "pack_key",
    "planned_packs",
]

PACKS = "packs"
#: Name prefix of a writer's staging folder in the system's temporary folder (stores that
#: are not local folders); what a killed process leaves there, garbage collection removes.
TEMP_STAGING = "loopml-packs-"
PACK_LIMIT = 4 << 20  # blobs smaller than this go into packs
_PACK_TARGET = 256 << 20  # a writer starts a new pack past this size
_MAGIC = b"LOOPMLPACK1\n"
_HEAD = struct.Struct("<QQ")  # entry count, pack size
_ENTRY = struct.Struct("<32sQQ")  # digest, offset, length
_WRITEBACK = 32 << 20  # start writing a pack back to disk every this many bytes
_SYNC_FILE_RANGE_WRITE = 2
_BUFFER = 1 << 20  # small blobs are written to a pack in batches of this size


class PackEntry(NamedTuple):
    """Where a packed blob is: the pack's id, the offset and the length of its bytes."""

    pack: str
    offset: int
    length: int


def pack_key(pack: str, suffix: str = "pack") -> str:
    """The byte-store key of a pack (``suffix="pack"``) or of its index (``"idx"``)."""
    return f"{PACKS}/{pack}.{suffix}"


def encode_index(entries: Iterable[tuple[str, int, int]], pack_size: int) -> bytes:
    """An index file's bytes for (digest, offset, length) entries of a pack of that size."""
    rows = sorted(entries)
    body = b"".join(
        [
            _MAGIC,
            _HEAD.pack(len(rows), pack_size),
            *(_ENTRY.pack(bytes.fromhex(d), off, n) for d, off, n in rows),
        ]
    )
    return body + blake3(body).digest()


def index_size(count: int) -> int:
    """The size in bytes of the index of a pack of ``count`` blobs."""
    return len(_MAGIC) + _HEAD.size + count * _ENTRY.size + 32


def planned_packs(lengths: Iterable[int]) -> list[tuple[int, int]]:
    """The (size, blob count) of each pack a :class:`PackWriter` makes of distinct blobs of
    these lengths, added in this order (what a dry run reports it would write)."""
    packs: list[list[int]] = []
    for length in lengths:
        if not packs or packs[-1][0] >= _PACK_TARGET:
            packs.append([0, 0])
        packs[-1][0] += length
        packs[-1][1] += 1
    return [(size, count) for size, count in packs]


def decode_index(data: bytes, pack: str) -> tuple[int, dict[str, tuple[str, int, int]]]:
    """The pack size and entries an index file holds: digest -> (pack, offset, length)
    (plain tuples: an index of 20,000 blobs is read in a few milliseconds).

    Raises:
        CorruptBlobError: the index is truncated or does not match its checksum.
    """
    body, checksum = data[:-32], data[-32:]
    head = len(_MAGIC) + _HEAD.size
    if len(data) < head + 32 or not body.startswith(_MAGIC) or blake3(body).digest() != checksum:
        raise CorruptBlobError(
            f"the index of pack {pack} is corrupted; restore {pack_key(pack, 'idx')} from a "
            "remote or backup (or delete the pack and its index, then push/pull again)"
        )
    count, size = _HEAD.unpack_from(body, len(_MAGIC))
    if len(body) != head + count * _ENTRY.size:
        raise CorruptBlobError(f"the index of pack {pack} is truncated")
    entries = {
        digest.hex(): (pack, offset, length)
        for digest, offset, length in _ENTRY.iter_unpack(body[head:])
    }
    return size, entries


def _sync_file_range() -> object | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return function


_START_WRITEBACK = _sync_file_range()


def fsync_dir(path: Path) -> None:
    """Make renames inside a folder durable."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _OpenPack:
    """One pack being written to a temporary local file (small blobs are buffered, so that
    20,000 of them cost a few dozen ``write`` calls, not 20,000)."""

    def __init__(self, folder: Path) -> None:
        self.id = uuid.uuid4().hex
        self.path = folder / f"{self.id}.pack"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        self.size = 0
        self.flushed = 0
        self.entries: list[tuple[str, int, int]] = []
        self._buffer = bytearray()

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def write(self, digest: str, data: bytes | memoryview, durable: bool) -> None:
        self.entries.append((digest, self.size, len(data)))
        self.size += len(data)
        if len(data) < _BUFFER:
            self._buffer += data
            if len(self._buffer) >= _BUFFER:
                self.flush(durable)
        else:
            self.flush(durable)
            self._write(data)
            self._writeback(durable)

    def flush(self, durable: bool) -> None:
        """Write out what is buffered."""
        if self._buffer:
            self._write(self._buffer)
            self._buffer = bytearray()
            self._writeback(durable)

    def _writeback(self, durable: bool) -> None:
        # Let the disk take the bytes while more are written, so the final flush is short.
        if durable and _START_WRITEBACK is not None and self.size - self.flushed >= _WRITEBACK:
            _START_WRITEBACK(
                self.fd, self.flushed, self.size - self.flushed, _SYNC_FILE_RANGE_WRITE
            )  # type: ignore[operator]
            self.flushed = self.size


class PackWriter:
    """Blobs collected into new packs, published together.

    Blobs are written to temporary files under the store's ``tmp`` folder (a local store) or
    a local temporary folder (other stores) as they are added; :meth:`publish` flushes them
    (when ``durable``), then gives each pack and, after it, its index their real names.
    Until then nothing is visible; :meth:`abort` (or leaving the ``with`` block on an error)
    removes what was written.

    Args:
        store: where the packs go.
        staging: a folder for the temporary files (default: a ``packs-*`` folder in the
            store's ``tmp`` folder for a local store, a :data:`TEMP_STAGING` folder in the
            system's temporary folder otherwise; a collection removes either once stale).
        durable: flush the packs to disk before they are named (default True).
    """

    def __init__(self, store: ByteStore, staging: Path | None = None, durable: bool = True) -> None:
        import tempfile

        self.store = store
        self.durable = durable
        self._local = store if isinstance(store, LocalByteStore) else None
        if staging is None:
            if self._local:
                staging = self._local.root / "tmp" / f"packs-{uuid.uuid4().hex}"
            else:
                staging = Path(tempfile.gettempdir()) / f"{TEMP_STAGING}{uuid.uuid4().hex}"
        self._staging = staging
        self._staging.mkdir(parents=True, exist_ok=True)
        self._done: list[_OpenPack] = []
        self._current: _OpenPack | None = None
        self._added: set[str] = set()
        self._log: list[tuple[str, int]] = []  # what was added, in order (for rollback)
        self._lock = threading.Lock()
        self.bytes_written = 0

    def __enter__(self) -> PackWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()

    def __contains__(self, digest: object) -> bool:
        return digest in self._added

    def __len__(self) -> int:
        return len(self._added)

    def add(self, digest: str, data: bytes | memoryview) -> bool:
        """Append a blob (its digest already checked by the caller); False if it was added
        before."""
        with self._lock:
            if digest in self._added:
                return False
            try:
                if self._current is None or self._current.size >= _PACK_TARGET:
                    self._roll()
                assert self._current is not None
                self._current.write(digest, data, self.durable)
            except OSError as exc:
                raise StoreError(f"cannot write a pack under {self.store.url}: {exc}") from exc
            self._added.add(digest)
            self._log.append((digest, len(data)))
            self.bytes_written += len(data)
            return True

    def mark(self) -> tuple[int, int, int, int]:
        """A point to :meth:`rollback` to: what has been added so far."""
        with self._lock:
            current = self._current
            return (
                len(self._done),
                current.size if current else -1,
                len(current.entries) if current else 0,
                len(self._log),
            )

    def rollback(self, point: tuple[int, int, int, int]) -> None:
        """Forget (and cut off the bytes of) every blob added since ``point`` was taken.

        Raises:
            StoreError: a pack cannot be truncated.
        """
        done, size, count, logged = point
        with self._lock:
            packs = [*self._done, *([self._current] if self._current else [])]
            cut = done + 1 if size >= 0 else done  # the packs that were there at the mark
            keep, drop = packs[:cut], packs[cut:]
            try:
                for pack in drop:
                    os.close(pack.fd)
                    os.unlink(pack.path)
                if size >= 0:
                    pack = keep[-1]
                    pack.flush(False)
                    os.ftruncate(pack.fd, size)
                    os.lseek(pack.fd, size, os.SEEK_SET)
                    pack.size, pack.flushed = size, min(pack.flushed, size)
                    del pack.entries[count:]
            except OSError as exc:
                raise StoreError(f"cannot write a pack under {self.store.url}: {exc}") from exc
            self._done = keep[:done]
            self._current = keep[-1] if size >= 0 else None
            for digest, length in self._log[logged:]:
                self._added.discard(digest)
                self.bytes_written -= length
            del self._log[logged:]

    def _roll(self) -> None:
        if self._current is not None:
            self._done.append(self._current)
        self._current = _OpenPack(self._staging)

    def publish(self) -> list[str]:
        """Flush and name every pack, then its index; returns the new packs' ids.

        Raises:
            StoreError: the store cannot be written (nothing partial is visible).
        """
        with self._lock:
            if self._current is not None:
                self._done.append(self._current)
                self._current = None
            packs = [p for p in self._done if p.entries]
            try:
                for pack in self._done:
                    pack.flush(self.durable)
                    if self.durable and pack.entries:
                        os.fdatasync(pack.fd)
                    os.close(pack.fd)
                    pack.fd = -1
                self._done = []
                if self._local is not None:
                    self._publish_local(packs)
                else:
                    for pack in packs:
                        self.store.put_file(pack_key(pack.id), pack.path)
                        self.store.put_bytes(
                            pack_key(pack.id, "idx"), encode_index(pack.entries, pack.size)
                        )
            except OSError as exc:
                raise StoreError(f"cannot write a pack under {self.store.url}: {exc}") from exc
            finally:
                self._cleanup()
            return [p.id for p in packs]

    def _publish_local(self, packs: list[_OpenPack]) -> None:
        assert self._local is not None
        folder = self._local.root / PACKS
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            if self.durable:
                fsync_dir(folder.parent)
        indexes = []
        for pack in packs:
            tmp = self._staging / f"{pack.id}.idx"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            try:
                os.write(fd, encode_index(pack.entries, pack.size))
                if self.durable:
                    os.fdatasync(fd)
            finally:
                os.close(fd)
            indexes.append((pack, tmp))
        for pack, tmp in indexes:
            os.replace(pack.path, folder / f"{pack.id}.pack")
            os.replace(tmp, folder / f"{pack.id}.idx")
        if self.durable and packs:
            fsync_dir(folder)

    def abort(self) -> None:
        """Drop everything not yet published."""
        with self._lock:
            for pack in [*self._done, *([self._current] if self._current else [])]:
                if pack.fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(pack.fd)
                    pack.fd = -1
            self._done, self._current = [], None
            self._cleanup()

    def _cleanup(self) -> None:
        import shutil

        shutil.rmtree(self._staging, ignore_errors=True)


def coalesce(
    entries: Iterable[tuple[str, PackEntry]], gap: int = 1 << 20, span: int = 16 << 20
) -> Iterator[tuple[str, int, int, list[tuple[str, PackEntry]]]]:
    """Group packed blobs into ranges to read at once: (pack, start, end, blobs), blobs that
    are at most ``gap`` bytes apart sharing one range of at most about ``span`` bytes."""
    by_pack: dict[str, list[tuple[str, PackEntry]]] = {}
    for digest, entry in entries:
        by_pack.setdefault(entry.pack, []).append((digest, entry))
    for pack, items in by_pack.items():
        items.sort(key=lambda item: item[1].offset)
        run: list[tuple[str, PackEntry]] = []
        start = end = 0
        for digest, entry in items:
            if run and (entry.offset - end > gap or entry.offset + entry.length - start > span):
                yield pack, start, end, run
                run = []
            if not run:
                start = entry.offset
            run.append((digest, entry))
            end = max(end, entry.offset + entry.length)
        if run:
            yield pack, start, end, run
