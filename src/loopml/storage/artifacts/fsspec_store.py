"""ByteStore over fsspec: a local folder (atomic via temp file + fsync + rename), memory, S3."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from loopml.entities.validation import normalize_relative_path
from loopml.errors import ArtifactNotFoundError, ConfigurationError, LoopmlError, StoreError
from loopml.storage.artifacts.base import ByteStore, ObjectStat, ObjectStats, RangeReader

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["FsspecByteStore", "LocalByteStore", "open_byte_store", "write_text_atomic"]

_CHUNK = 1 << 20


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LocalByteStore(ByteStore, RangeReader, ObjectStats):
    """Objects as files under a local folder; writes go to a temp name, fsync, rename."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the artifact folder {self.root}: {exc}") from exc

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*normalize_relative_path(key).split("/"))

    def path_for(self, key: str) -> Path:
        """The local file an object is (or would be) stored in; for linking, not writing."""
        return self._path(key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise ArtifactNotFoundError(f"no object {key!r} in {self.url}") from exc

    def _atomic_write(self, key: str, fill: Any) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "wb") as handle:
                    fill(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                raise
            _fsync_dir(target.parent)
        except OSError as exc:
            raise StoreError(f"cannot write {key!r} under {self.url}: {exc}") from exc

    def put_bytes(self, key: str, data: bytes) -> None:
        self._atomic_write(key, lambda handle: handle.write(data))

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        def copy(handle: BinaryIO) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, handle, _CHUNK)

        self._atomic_write(key, copy)

    def open_read(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise ArtifactNotFoundError(f"no object {key!r} in {self.url}") from exc
        except OSError as exc:
            raise StoreError(f"cannot read {key!r} under {self.url}: {exc}") from exc

    def get_file(self, key: str, path: str | os.PathLike[str]) -> None:
        with self.open_read(key) as src:
            atomic_local_copy(src, Path(path))

    def read_range(self, key: str, start: int, end: int) -> bytes:
        try:
            fd = os.open(self._path(key), os.O_RDONLY)
        except FileNotFoundError as exc:
            raise ArtifactNotFoundError(f"no object {key!r} in {self.url}") from exc
        except OSError as exc:
            raise StoreError(f"cannot read {key!r} under {self.url}: {exc}") from exc
        try:
            return os.pread(fd, max(0, end - start), start)
        except OSError as exc:
            raise StoreError(f"cannot read {key!r} under {self.url}: {exc}") from exc
        finally:
            os.close(fd)

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self.root
        clean = normalize_relative_path(prefix, allow_empty=True)
        start = self._path(clean) if clean else base
        if start.is_file():
            yield clean
            return
        if not start.is_dir():
            return
        for dirpath, _, files in os.walk(start):
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue
                yield Path(dirpath, name).relative_to(base).as_posix()

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot delete {key!r} under {self.url}: {exc}") from exc

    def modified(self, key: str) -> float | None:
        try:
            return self._path(key).stat().st_mtime
        except FileNotFoundError as exc:
            raise ArtifactNotFoundError(f"no object {key!r} in {self.url}") from exc

    def list_stats(self, prefix: str = "") -> Iterator[ObjectStat]:
        for key in self.list(prefix):
            try:
                st = self._path(key).stat()
            except FileNotFoundError:  # removed since it was listed
                continue
            yield ObjectStat(key, st.st_size, st.st_mtime)

    def close(self) -> None:
        """Nothing to release: files are opened per call."""


def atomic_local_copy(src: BinaryIO, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            shutil.copyfileobj(src, handle, _CHUNK)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write a text file (a report, a model card) whole or not at all: to a temporary name
    beside it, then renamed over it. Returns the path.

    Raises:
        InvalidInputError: the file cannot be written there (the message says why).
    """
    from loopml.errors import InvalidInputError

    target = Path(path)
    if not target.parent.is_dir():
        raise InvalidInputError(
            f"cannot write {target}: the folder {target.parent} does not exist; create it first"
        )
    try:
        atomic_local_copy(io.BytesIO(text.encode("utf-8")), target)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


class FsspecByteStore(ByteStore, RangeReader, ObjectStats):
    """Objects in any fsspec filesystem (``memory://``, ``s3://bucket/prefix``, …).

    Object stores write whole objects on close, so a reader never sees a partial one.
    """

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        import fsspec

        self.url = url.rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        except (ImportError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot open the artifact store {url!r}: {exc}. For S3 install 'loopml[s3]'"
            ) from exc
        self.root = self.root.rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self.root}/{normalize_relative_path(key)}"

    def _wrap(self, key: str, exc: Exception) -> Exception:
        if isinstance(exc, LoopmlError):
            return exc
        if isinstance(exc, FileNotFoundError):
            return ArtifactNotFoundError(f"no object {key!r} in {self.url}")
        return StoreError(
            f"artifact store {self.url} failed on {key!r}: {exc}. Check that it is reachable "
            "and that the credentials allow it"
        )

    def exists(self, key: str) -> bool:
        try:
            return bool(self.fs.isfile(self._path(key)))
        except Exception as exc:
            raise self._wrap(key, exc) from exc

    def size(self, key: str) -> int:
        try:
            return int(self.fs.size(self._path(key)))
        except Exception as exc:
            raise self._wrap(key, exc) from exc

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.fs.pipe_file(self._path(key), bytes(data))
        except Exception as exc:
            raise self._wrap(key, exc) from exc

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        try:
            self.fs.put_file(os.fspath(path), self._path(key))
        except Exception as exc:
            raise self._wrap(key, exc) from exc

    def open_read(self, key: str) -> BinaryIO:
        try:
            handle: BinaryIO = self.fs.open(self._path(key), "rb")
            return handle
        except Exception as exc:
            raise self._wrap(key, exc) from exc

    def get_file(self, key: str, path: str | os.PathLike[str]) -> None:
        with self.open_read(key) as src:
            atomic_local_copy(src, Path(path))

    def read_range(self, key: str, start: int, end: int) -> bytes:
        if end <= start:  # fsspec reads everything for an empty range
            if not self.exists(key):
                raise ArtifactNotFoundError(f"no object {key!r} in {self.url}")
            return b""
        try:
            return bytes(self.fs.cat_file(self._path(key), start=start, end=end))
        except Exception as exc:
            raise self._wrap(key, exc) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        clean = normalize_relative_path(prefix, allow_empty=True)
        start = f"{self.root}/{clean}" if clean else self.root
        try:
            if clean and self.fs.isfile(start):
                yield clean
                return
            found = self.fs.find(start) if self.fs.exists(start) else []
        except Exception as exc:
            raise self._wrap(clean, exc) from exc
        root = self.root.strip("/") + "/"
        for path in found:
            clean_path = path.strip("/")
            if clean_path.startswith(root):
                yield clean_path[len(root) :]

    def delete(self, key: str) -> None:
        try:  # one request, not an existence check first (a collection deletes thousands)
            self.fs.rm_file(self._path(key))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._wrap(key, exc) from exc

    def delete_many(self, keys: Sequence[str]) -> None:
        paths = [self._path(k) for k in keys]
        if not paths:
            return
        try:  # S3 and other object stores: one bulk request per 1,000 keys
            self.fs.rm(paths)
        except FileNotFoundError:  # some filesystems refuse a batch with an absent key
            for key in keys:
                self.delete(key)
        except Exception as exc:
            raise self._wrap(keys[0], exc) from exc

    def modified(self, key: str) -> float | None:
        try:
            info = self.fs.info(self._path(key))
        except Exception as exc:
            raise self._wrap(key, exc) from exc
        return _mtime(info)

    def list_stats(self, prefix: str = "") -> Iterator[ObjectStat]:
        clean = normalize_relative_path(prefix, allow_empty=True)
        start = f"{self.root}/{clean}" if clean else self.root
        try:
            found = self.fs.find(start, detail=True) if self.fs.exists(start) else {}
        except Exception as exc:
            raise self._wrap(clean, exc) from exc
        root = self.root.strip("/") + "/"
        for path, info in found.items():
            clean_path = path.strip("/")
            if clean_path.startswith(root) and info.get("type", "file") == "file":
                yield ObjectStat(clean_path[len(root) :], int(info.get("size") or 0), _mtime(info))

    def close(self) -> None:
        """Nothing to release: fsspec caches its filesystem instances itself."""


_TIME_FIELDS = ("mtime", "LastModified", "last_modified", "updated", "created", "timeCreated")


def _mtime(info: dict[str, Any]) -> float | None:
    """A modification time from an fsspec ``info()`` dict, whichever field the filesystem
    fills (local: mtime; S3: LastModified; Azure: last_modified; GCS: updated; memory:
    created), as POSIX seconds; None when it gives none."""
    import datetime

    for name in _TIME_FIELDS:
        value = info.get(name)
        if value is None:
            continue
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:  # object stores report UTC
                value = value.replace(tzinfo=datetime.UTC)
            return value.timestamp()
    return None


def open_byte_store(url: str, settings: Settings | None = None) -> ByteStore:
    """The byte store for a URL: a plain path or ``file://`` is a local folder; anything
    else goes through fsspec (``memory://``, ``s3://bucket/prefix``)."""
    if "://" not in url:
        return LocalByteStore(url)
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("file", "local"):
        return LocalByteStore(url.split("://", 1)[1])
    options: dict[str, Any] = {}
    if scheme in ("s3", "s3a") and settings is not None and settings.s3_endpoint_url:
        options["client_kwargs"] = {"endpoint_url": settings.s3_endpoint_url}
    return FsspecByteStore(url, options)
