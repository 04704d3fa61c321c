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
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["ByteStore", "RangeReader"]


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

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""


class RangeReader(ABC):
    """An optional capability: read part of an object without fetching all of it."""

    @abstractmethod
    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive) of the object (ArtifactNotFoundError when
        missing); fewer when the object is shorter."""
