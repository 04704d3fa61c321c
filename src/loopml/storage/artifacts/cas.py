"""The content-addressed store: every blob is kept once, under its BLAKE3 digest.

Layout: ``blobs/<2 hex>/<62 hex>``. Writes are skipped when the blob exists; reads are
verified, so a blob whose bytes no longer match its digest raises CorruptBlobError instead
of handing back wrong data.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from blake3 import blake3

from loopml.errors import CorruptBlobError, InvalidInputError
from loopml.storage.artifacts.base import ByteStore

__all__ = ["BlobInfo", "ContentAddressedStore", "hash_bytes", "hash_file"]

_CHUNK = 1 << 20
_BIG = 16 << 20  # above this, blake3 hashes with several threads
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


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
                raise CorruptBlobError(
                    f"blob {self._digest} is corrupted: its bytes hash to "
                    f"{self._hasher.hexdigest()}. Re-upload the artifact, or restore the blob "
                    "from a remote or backup"
                )

    def close(self) -> None:
        self._inner.close()
        super().close()


class ContentAddressedStore:
    """Blobs stored once by digest, over any :class:`ByteStore`."""

    def __init__(self, byte_store: ByteStore) -> None:
        self.bytes = byte_store

    @staticmethod
    def key_for(digest: str) -> str:
        """The byte-store key of a digest: ``blobs/ab/<62 hex>``."""
        check_digest(digest)
        return f"blobs/{digest[:2]}/{digest[2:]}"

    def has(self, digest: str) -> bool:
        """True when the blob is stored."""
        return self.bytes.exists(self.key_for(digest))

    def missing(self, digests: Iterable[str]) -> set[str]:
        """The digests of those given that are not stored."""
        return {d for d in set(digests) if not self.has(d)}

    def size(self, digest: str) -> int:
        """The blob's size in bytes."""
        return self.bytes.size(self.key_for(digest))

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store bytes (skipped when already stored); returns digest and size."""
        info = hash_bytes(data)
        key = self.key_for(info.digest)
        if not self.bytes.exists(key):
            self.bytes.put_bytes(key, data)
        return info

    def put_file(self, path: str | os.PathLike[str]) -> BlobInfo:
        """Store a file (streamed; skipped when already stored)."""
        info = hash_file(path)
        key = self.key_for(info.digest)
        if not self.bytes.exists(key):
            self.bytes.put_file(key, path)
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

    def open_verified(self, digest: str) -> BinaryIO:
        """A stream of the blob that raises CorruptBlobError at its end on a mismatch."""
        raw = _VerifyingReader(self.bytes.open_read(self.key_for(digest)), digest)
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
