"""ByteStore over a loopml server: ``blobs/<2>/<62>`` keys through its blob API (verified
uploads), and log objects (``predictions/…``, the prediction log; ``labels/…`` and
``business-metrics/…``, what monitoring logs) through its object API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from loopml.errors import ArtifactNotFoundError, InvalidPathError
from loopml.storage.artifacts.base import ByteStore
from loopml.storage.artifacts.fsspec_store import atomic_local_copy

__all__ = ["HttpByteStore"]


_OBJECT_PREFIXES = ("predictions/", "labels/", "business-metrics/")


def _is_object(key: str) -> bool:
    return key.startswith(_OBJECT_PREFIXES)


def _digest_of(key: str) -> str:
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "blobs" or len(parts[1]) != 2:
        raise InvalidPathError(f"a loopml server stores only blobs/<digest> keys, not {key!r}")
    return parts[1] + parts[2]


class _ResponseReader:
    """A file-like reader over a streamed httpx response."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._chunks = response.iter_bytes(1 << 20)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> _ResponseReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpByteStore(ByteStore):
    """Blobs kept by a loopml server, reached through its ``/api/v1/blobs`` routes.

    The server hands out every blob whole, packed or chunked ones included, so the client
    side sees loose blobs only.
    """

    holds_packs = False

    def __init__(self, base_url: str, timeout: float = 30.0, token: str = "") -> None:
        from loopml.storage.metadata.rest._http import HttpSession

        self.url = base_url.rstrip("/")
        self.http = HttpSession(self.url, timeout, token)

    def _path(self, key: str) -> str:
        if _is_object(key):
            return f"/api/v1/objects/{quote(key)}"
        return f"/api/v1/blobs/{_digest_of(key)}"

    def exists(self, key: str) -> bool:
        if _is_object(key):
            return key in set(self.list(key))
        response = self.http.client.head(self._path(key))
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            self.http.raise_for(response)
        return True

    def size(self, key: str) -> int:
        if _is_object(key):
            with self.open_read(key) as handle:
                return len(handle.read())
        response = self.http.client.head(self._path(key))
        if response.status_code >= 400:
            if response.status_code == 404:
                raise ArtifactNotFoundError(f"no blob {_digest_of(key)} on {self.url}")
            self.http.raise_for(response)
        return int(response.headers["Content-Length"])

    def put_bytes(self, key: str, data: bytes) -> None:
        self.http.request("PUT", self._path(key), content=data)

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        with open(path, "rb") as handle:
            self.http.request("PUT", self._path(key), content=_chunks(handle))

    def open_read(self, key: str) -> BinaryIO:
        request = self.http.client.build_request("GET", self._path(key))
        response = self.http.client.send(request, stream=True)
        if response.status_code >= 400:
            response.read()
            response.close()
            if response.status_code == 404:
                what = key if _is_object(key) else f"blob {_digest_of(key)}"
                raise ArtifactNotFoundError(f"no {what} on {self.url}")
            self.http.raise_for(response)
        return _ResponseReader(response)  # type: ignore[return-value]

    def get_file(self, key: str, path: str | os.PathLike[str]) -> None:
        with self.open_read(key) as src:
            atomic_local_copy(src, Path(path))

    def list(self, prefix: str = "") -> Iterator[str]:
        if not _is_object(prefix.rstrip("/") + "/"):
            raise InvalidPathError(
                "a loopml server does not list its blobs; list a run's artifacts"
            )
        found = self.http.json("GET", "/api/v1/objects", params={"prefix": prefix})
        yield from found["keys"]

    def delete(self, key: str) -> None:
        raise InvalidPathError("blobs on a loopml server are deleted by its garbage collection")

    def close(self) -> None:
        """Close the pooled connections."""
        self.http.close()


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(1 << 20):
        yield chunk
