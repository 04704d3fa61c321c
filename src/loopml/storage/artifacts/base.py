"""The byte-store interface: the few operations every artifact backend provides.

Keys are '/'-separated paths relative to the store's root. Writes are atomic: a reader
sees the whole object or none. Example::

    store = open_byte_store("s3://bucket/loopml", settings)
    store.put_bytes("blobs/ab/cd…", b"...")
    with store.open_read("blobs/ab/cd…") as f:
        data = f.read()
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import BinaryIO, NamedTuple

__all__ = ["ByteStore", "ObjectStat", "ObjectStats", "RangeReader"]


class ByteStore(ABC):
    """A flat store of byte objects under string keys (local folder, memory, S3, …)."""

    url: str
    #: False for a store that holds only loose ``blobs/…`` keys (a loopml server, which
    #: resolves packed and chunked blobs on its side).
    holds_packs: bool = True

    @abstractmethod
    def exists(self, key: str) -> bool:
        """True when an object is stored under the key."""

    @abstractmethod
    def size(self, key: str) -> int:
        """The object's size in bytes (ArtifactNotFoundError when missing)."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store bytes under the key, atomically, replacing any object there."""

    @abstractmethod
    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Store a local file under the key, atomically, streaming it."""

    @abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """A streaming reader of the object (ArtifactNotFoundError when missing)."""

    @abstractmethod
    def get_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Copy the object to a local path, atomically (temporary name, then rename)."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under a prefix, relative to the root."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error when it is absent."""

    def delete_many(self, keys: Sequence[str]) -> None:
        """Remove these objects (absent ones are no error), in as few requests as the
        backend allows; on a failure, some may be gone and the rest not."""
        for key in keys:
            self.delete(key)

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""


class RangeReader(ABC):
    """An optional capability: read part of an object without fetching all of it."""

    @abstractmethod
    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive) of the object (ArtifactNotFoundError when
        missing); fewer when the object is shorter."""


class ObjectStat(NamedTuple):
    """An object's key, size in bytes and modification time (POSIX seconds; None when the
    filesystem does not record one)."""

    key: str
    size: int
    modified: float | None


class ObjectStats(ABC):
    """An optional capability: when objects were last written, for many at once.

    Garbage collection uses it to spare objects younger than its grace period (a store
    without it has every object's age unknown, so only a collection with no grace period
    removes anything from it).
    """

    @abstractmethod
    def modified(self, key: str) -> float | None:
        """The object's modification time, POSIX seconds (None when the filesystem does
        not record one; ArtifactNotFoundError when missing)."""

    @abstractmethod
    def list_stats(self, prefix: str = "") -> Iterator[ObjectStat]:
        """Key, size and modification time of the objects under a prefix, from listings
        (not one request per object)."""
