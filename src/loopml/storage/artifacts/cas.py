"""The content-addressed store: every blob is kept once, under its BLAKE3 digest.

A blob is kept in one of three forms, and every read is verified (a blob whose bytes no
longer match its digest raises CorruptBlobError instead of handing back wrong data):

- loose: ``blobs/<2 hex>/<62 hex>``, one object per blob (artifacts, manifests, and every
  blob of stores written before packs existed);
- packed: inside ``packs/<id>.pack``, found through ``packs/<id>.idx`` (small dataset
  files; see :mod:`loopml.storage.artifacts.packs`);
- chunked: ``chunked/<2 hex>/<62 hex>`` lists the chunks (each a blob itself, usually
  packed) whose concatenation is the blob: large dataset files, so that a small change to
  one stores one new chunk instead of the whole file.

Writes are skipped when the blob is stored in any form.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from blake3 import blake3

from loopml.errors import ArtifactNotFoundError, CorruptBlobError, InvalidInputError
from loopml.storage.artifacts.base import ByteStore, RangeReader
from loopml.storage.artifacts.fsspec_store import LocalByteStore
from loopml.storage.artifacts.packs import (
    PACKS,
    PackEntry,
    PackWriter,
    coalesce,
    decode_index,
    pack_key,
)

__all__ = ["BlobInfo", "ContentAddressedStore", "Recipe", "hash_bytes", "hash_file"]

_CHUNK = 1 << 20
_BIG = 16 << 20  # above this, blake3 hashes with several threads
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNKED = "chunked"


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob: its digest (64 hex characters) and size in bytes."""

    digest: str
    size: int


def hash_bytes(data: bytes) -> BlobInfo:
    """The BLAKE3 digest and size of some bytes."""
    return BlobInfo(blake3(data).hexdigest(), len(data))


def hash_file(path: str | os.PathLike[str]) -> BlobInfo:
    """The BLAKE3 digest and size of a file, read in chunks (large files use threads)."""
    size = os.path.getsize(path)
    hasher = blake3(max_threads=blake3.AUTO) if size > _BIG else blake3()
    if size > _BIG:
        hasher.update_mmap(os.fspath(path))
    else:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
    return BlobInfo(hasher.hexdigest(), size)


def check_digest(digest: str) -> str:
    """Validate a digest (64 lowercase hex characters)."""
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise InvalidInputError(f"{digest!r} is not a blob digest (64 hexadecimal characters)")
    return digest


def _corrupt(digest: str, actual: str) -> CorruptBlobError:
    return CorruptBlobError(
        f"blob {digest} is corrupted: its bytes hash to {actual}. Re-upload the artifact, "
        "or restore the blob from a remote or backup"
    )


def _verified(digest: str, data: bytes) -> bytes:
    actual = blake3(data).hexdigest()
    if actual != digest:
        raise _corrupt(digest, actual)
    return data


@dataclass(frozen=True)
class Recipe:
    """A chunked blob: its size and its chunks (digest, size), in order."""

    size: int
    chunks: tuple[tuple[str, int], ...]

    def to_bytes(self) -> bytes:
        """The stored form (JSON)."""
        return json.dumps({"size": self.size, "chunks": [list(c) for c in self.chunks]}).encode()

    @classmethod
    def from_bytes(cls, data: bytes, digest: str) -> Recipe:
        """Parse a stored recipe.

        Raises:
            CorruptBlobError: it is not a readable chunk list.
        """
        try:
            raw = json.loads(data)
            chunks = tuple((check_digest(str(d)), int(n)) for d, n in raw["chunks"])
            recipe = cls(int(raw["size"]), chunks)
        except (ValueError, TypeError, KeyError, InvalidInputError) as exc:
            raise CorruptBlobError(
                f"the chunk list of blob {digest} is corrupted; restore "
                f"{CHUNKED}/{digest[:2]}/{digest[2:]} from a remote or backup"
            ) from exc
        if sum(n for _, n in chunks) != recipe.size:
            raise CorruptBlobError(f"the chunk list of blob {digest} does not add up to its size")
        return recipe


class _VerifyingReader(io.RawIOBase):
    """Hashes what is read; at end of stream, a mismatch raises CorruptBlobError."""

    def __init__(self, inner: BinaryIO, digest: str) -> None:
        self._inner = inner
        self._digest = digest
        self._hasher = blake3()
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        if not data:
            self._verify()
            return 0
        self._hasher.update(data)
        buffer[: len(data)] = data
        return len(data)

    def _verify(self) -> None:
        if not self._checked:
            self._checked = True
            if self._hasher.hexdigest() != self._digest:
                raise _corrupt(self._digest, self._hasher.hexdigest())

    def close(self) -> None:
        self._inner.close()
        super().close()


class _ChunkedReader(io.RawIOBase):
    """The chunks of a chunked blob in order, each verified, and the whole at the end."""

    def __init__(self, cas: ContentAddressedStore, digest: str, recipe: Recipe) -> None:
        self._cas = cas
        self._digest = digest
        self._chunks = iter(recipe.chunks)
        self._hasher = blake3()
        self._buffer = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                if not self._done:
                    self._done = True
                    if self._hasher.hexdigest() != self._digest:
                        raise _corrupt(self._digest, self._hasher.hexdigest())
                return 0
            data = self._cas.read_bytes(chunk[0])
            self._hasher.update(data)
            self._buffer = memoryview(data)
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


class ContentAddressedStore:
    """Blobs stored once by digest, over any :class:`ByteStore`.

    The index of the store's packs is read once and kept in memory; it is read again when
    a blob is not found (another process may have added packs since), and read anew when a
    pack it names has vanished (garbage collection rewrote or removed it): the read is then
    retried once through the fresh index.
    """

    def __init__(self, byte_store: ByteStore) -> None:
        self.bytes = byte_store
        self._packed: dict[str, tuple[str, int, int]] = {}
        self._packs: set[str] = set()
        self._loaded = False
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()

    @staticmethod
    def key_for(digest: str) -> str:
        """The byte-store key of a digest: ``blobs/ab/<62 hex>``."""
        check_digest(digest)
        return f"blobs/{digest[:2]}/{digest[2:]}"

    @staticmethod
    def recipe_key(digest: str) -> str:
        """The byte-store key of a chunked blob's chunk list: ``chunked/ab/<62 hex>``."""
        check_digest(digest)
        return f"{CHUNKED}/{digest[:2]}/{digest[2:]}"

    # -- the pack index ------------------------------------------------------------------
    def refresh_packs(self) -> None:
        """Read the indexes of packs not seen yet (published by this or another process)."""
        if not self.bytes.holds_packs:
            return
        with self._lock:
            self._loaded = True
            # An index that vanishes between the listing and its read was removed by a
            # garbage collection, which publishes the packs it rewrites first: list again
            # to see them.
            for _ in range(3):
                if self._refresh_once():
                    break

    def _refresh_once(self) -> bool:
        """Read the indexes listed now; False when one vanished before it could be read."""
        listed = {
            key[len(PACKS) + 1 : -4] for key in self.bytes.list(PACKS) if key.endswith(".idx")
        }
        if self._packs - listed:  # packs were removed: read the index anew
            self._packs, self._packed = set(), {}
        complete = True
        for pack in sorted(listed - self._packs):
            try:
                size, entries = decode_index(self._read_object(pack_key(pack, "idx")), pack)
            except ArtifactNotFoundError:
                complete = False
                continue
            try:
                actual = self.bytes.size(pack_key(pack))
            except ArtifactNotFoundError:
                continue  # an index whose pack is gone: its blobs are not stored
            if actual != size:
                raise CorruptBlobError(
                    f"pack {pack} has {actual} bytes where its index says {size}; restore "
                    f"{pack_key(pack)} from a remote or backup"
                )
            self._packs.add(pack)
            for digest, entry in entries.items():
                self._packed.setdefault(digest, entry)
        return complete

    def reload_packs(self) -> None:
        """Forget the pack index held in memory and read it anew (after packs were rewritten
        or removed, e.g. by garbage collection)."""
        with self._lock:
            self._packs, self._packed = set(), {}
        self.refresh_packs()

    def _relocate(self, digest: str, stale: PackEntry) -> PackEntry | None:
        """Where a packed blob is now, its pack ``stale.pack`` having vanished: the index is
        read anew once (not once per thread that hit the same vanished pack)."""
        with self._reload_lock:
            current = self._packed.get(digest)
            if current is None or current[0] == stale.pack:
                self.reload_packs()
                current = self._packed.get(digest)
        return None if current is None else PackEntry(*current)

    def _read_object(self, key: str) -> bytes:
        with self.bytes.open_read(key) as handle:
            return handle.read()

    def packed(self, digest: str, refresh: bool = True) -> PackEntry | None:
        """Where a packed blob is, or None when it is not in a pack."""
        if not self._loaded:
            self.refresh_packs()
        entry = self._packed.get(digest)
        if entry is None and refresh:
            self.refresh_packs()
            entry = self._packed.get(digest)
        return None if entry is None else PackEntry(*entry)

    @contextlib.contextmanager
    def guard(self, exclusive: bool = False) -> Iterator[None]:
        """Hold the store's collection lock (on a local store; elsewhere a no-op).

        Whatever stores blobs and then records what names them (a dataset version, run
        artifacts) holds it shared from the first blob to the record, and garbage
        collection holds it exclusive from reading what is referenced to its last removal:
        a blob that the writer found stored already (and so did not write again) cannot be
        collected before the record naming it exists. A store whose folder cannot be
        written to goes unlocked (nothing can be collected there either).
        """
        local = self.bytes if isinstance(self.bytes, LocalByteStore) else None
        fd = -1
        if local is not None:
            try:
                fd = os.open(local.root / "gc.lock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                fd = -1
        try:
            if fd >= 0:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            if fd >= 0:
                os.close(fd)  # releases the lock

    def pack_writer(self, durable: bool = True) -> PackWriter:
        """A writer of new packs into this store (see :class:`PackWriter`)."""
        return PackWriter(self.bytes, durable=durable)

    # -- chunked blobs -------------------------------------------------------------------
    def recipe(self, digest: str) -> Recipe | None:
        """The chunk list of a chunked blob, or None when the blob is not chunked."""
        if not self.bytes.holds_packs:
            return None
        try:
            data = self._read_object(self.recipe_key(digest))
        except ArtifactNotFoundError:
            return None
        return Recipe.from_bytes(data, digest)

    def chunked_digests(self) -> set[str]:
        """The digests of every chunked blob, from one listing."""
        if not self.bytes.holds_packs:
            return set()
        found = set()
        for key in self.bytes.list(CHUNKED):
            parts = key.split("/")
            if len(parts) == 3 and len(parts[1]) == 2 and len(parts[2]) == 62:
                found.add(parts[1] + parts[2])
        return found

    def open_chunked(self, digest: str, recipe: Recipe) -> BinaryIO:
        """A verified stream of a blob made of these chunks (raises CorruptBlobError at
        its end when they do not make up the digest)."""
        return io.BufferedReader(_ChunkedReader(self, digest, recipe), _CHUNK)

    def put_recipe(self, digest: str, recipe: Recipe) -> None:
        """Record a chunked blob (after its chunks are stored)."""
        self.bytes.put_bytes(self.recipe_key(digest), recipe.to_bytes())

    # -- presence ------------------------------------------------------------------------
    def _has_other(self, digest: str) -> bool:
        key = self.key_for(digest)
        if self.bytes.exists(key):
            return True
        return self.bytes.holds_packs and self.bytes.exists(self.recipe_key(digest))

    def has(self, digest: str) -> bool:
        """True when the blob is stored (loose, packed or chunked)."""
        check_digest(digest)
        if self.bytes.holds_packs and self.packed(digest, refresh=False) is not None:
            return True
        if self._has_other(digest):
            return True
        return self.bytes.holds_packs and self.packed(digest) is not None

    def missing(self, digests: Iterable[str]) -> set[str]:
        """The digests of those given that are not stored."""
        wanted = {check_digest(d) for d in digests}
        if self.bytes.holds_packs and wanted:
            self.refresh_packs()
            wanted = {d for d in wanted if d not in self._packed}
        return {d for d in wanted if not self._has_other(d)}

    def list_digests(self) -> set[str]:
        """Every digest the store holds, from listings (not one request per blob)."""
        found = set()
        prefixes = ("blobs", CHUNKED) if self.bytes.holds_packs else ("blobs",)
        for prefix in prefixes:
            for key in self.bytes.list(prefix):
                parts = key.split("/")
                if len(parts) == 3 and len(parts[1]) == 2 and len(parts[2]) == 62:
                    found.add(parts[1] + parts[2])
        if self.bytes.holds_packs:
            self.refresh_packs()
            found.update(self._packed)
        return found

    def size(self, digest: str) -> int:
        """The blob's size in bytes."""
        entry = self.packed(digest, refresh=False) if self.bytes.holds_packs else None
        if entry is not None:
            return entry.length
        try:
            return self.bytes.size(self.key_for(digest))
        except ArtifactNotFoundError:
            recipe = self.recipe(digest)
            if recipe is not None:
                return recipe.size
            entry = self.packed(digest) if self.bytes.holds_packs else None
            if entry is None:
                raise
            return entry.length

    # -- writing -------------------------------------------------------------------------
    def _stored(self, digest: str) -> bool:
        """Stored, as far as this process knows (no listing of packs again)."""
        if self.bytes.holds_packs and self.packed(digest, refresh=False) is not None:
            return True
        return self._has_other(digest)

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store bytes (skipped when already stored); returns digest and size."""
        info = hash_bytes(data)
        if not self._stored(info.digest):
            self.bytes.put_bytes(self.key_for(info.digest), data)
        return info

    def put_file(self, path: str | os.PathLike[str]) -> BlobInfo:
        """Store a file (streamed; skipped when already stored)."""
        info = hash_file(path)
        if not self._stored(info.digest):
            self.bytes.put_file(self.key_for(info.digest), path)
        return info

    def put_stream(self, stream: BinaryIO) -> BlobInfo:
        """Store what a stream yields, spooled to a temporary file while it is hashed."""
        fd, tmp = tempfile.mkstemp(prefix="loopml-upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                while chunk := stream.read(_CHUNK):
                    handle.write(chunk)
            return self.put_file(tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    # -- reading -------------------------------------------------------------------------
    def _range(self, key: str, start: int, end: int) -> bytes:
        if isinstance(self.bytes, RangeReader):
            return self.bytes.read_range(key, start, end)
        with self.bytes.open_read(key) as handle:  # no ranged reads: skip to the start
            remaining = start
            while remaining > 0:
                skipped = handle.read(min(remaining, _CHUNK))
                if not skipped:
                    break
                remaining -= len(skipped)
            return handle.read(end - start)

    def read_packed(self, digest: str, entry: PackEntry) -> bytes:
        """A packed blob's bytes, verified. When its pack has vanished since the index was
        read (rewritten or removed by garbage collection), the index is read anew and the
        blob read from where it is now.

        Raises:
            ArtifactNotFoundError: the blob is no longer stored.
            CorruptBlobError: its bytes do not match its digest.
        """
        try:
            data = self._range(pack_key(entry.pack), entry.offset, entry.offset + entry.length)
        except ArtifactNotFoundError:
            moved = self._relocate(digest, entry)
            if moved is None:  # in no pack any more: loose or chunked, or gone
                return self.read_bytes(digest)
            data = self._range(pack_key(moved.pack), moved.offset, moved.offset + moved.length)
        return _verified(digest, data)

    def read_entries(self, entries: Iterable[tuple[str, PackEntry]]) -> Iterator[tuple[str, bytes]]:
        """(digest, verified bytes) of blobs at these places in packs, a range at a time
        (neighbours in one read); grouped by pack, each pack's in offset order.

        Raises:
            ArtifactNotFoundError: a pack is missing.
            CorruptBlobError: a blob's bytes do not match its digest.
        """
        for pack, start, end, items in coalesce(entries):
            yield from self._split(items, start, self._range(pack_key(pack), start, end))

    @staticmethod
    def _split(
        items: list[tuple[str, PackEntry]], start: int, data: bytes
    ) -> Iterator[tuple[str, bytes]]:
        view = memoryview(data)
        for digest, entry in items:
            part = bytes(view[entry.offset - start : entry.offset - start + entry.length])
            yield digest, _verified(digest, part)

    def read_many(self, digests: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """(digest, verified bytes) of many blobs; packed ones are read a range at a time
        (neighbours in one read), the others one by one. The order is not kept. Blobs whose
        pack vanished meanwhile are looked up again once, through a fresh index."""
        packed: list[tuple[str, PackEntry]] = []
        others: list[str] = []
        for digest in dict.fromkeys(digests):
            entry = self.packed(digest, refresh=False) if self.bytes.holds_packs else None
            if entry is None:
                others.append(digest)
            else:
                packed.append((digest, entry))
        for attempt in range(2):
            vanished: list[str] = []
            for pack, start, end, items in coalesce(packed):
                try:
                    data = self._range(pack_key(pack), start, end)
                except ArtifactNotFoundError:
                    if attempt or self.bytes.exists(pack_key(pack)):
                        raise
                    vanished.extend(digest for digest, _ in items)
                    continue
                yield from self._split(items, start, data)
            if not vanished:
                break
            self.reload_packs()
            packed = []
            for digest in vanished:
                entry = self.packed(digest, refresh=False)
                if entry is None:
                    others.append(digest)
                else:
                    packed.append((digest, entry))
        for digest in others:
            yield digest, self.read_bytes(digest)

    def open_verified(self, digest: str) -> BinaryIO:
        """A stream of the blob that raises CorruptBlobError at its end on a mismatch.

        Raises:
            ArtifactNotFoundError: the blob is not stored.
        """
        check_digest(digest)
        entry = self.packed(digest, refresh=False) if self.bytes.holds_packs else None
        if entry is not None:
            return io.BytesIO(self.read_packed(digest, entry))
        try:
            raw: io.RawIOBase = _VerifyingReader(self.bytes.open_read(self.key_for(digest)), digest)
        except ArtifactNotFoundError:
            if not self.bytes.holds_packs:
                raise
            recipe = self.recipe(digest)
            if recipe is not None:
                return self.open_chunked(digest, recipe)
            else:
                entry = self.packed(digest)
                if entry is None:
                    raise
                return io.BytesIO(self.read_packed(digest, entry))
        return io.BufferedReader(raw, _CHUNK)

    def read_bytes(self, digest: str) -> bytes:
        """The blob's bytes, verified."""
        with self.open_verified(digest) as stream:
            return stream.read()

    def get_file(self, digest: str, path: str | os.PathLike[str]) -> None:
        """Write the blob to a local path, verified; on a mismatch nothing is left there."""
        dest = Path(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as handle, self.open_verified(digest) as src:
                while chunk := src.read(_CHUNK):
                    handle.write(chunk)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
