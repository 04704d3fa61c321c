"""Moving dataset files into and out of the content-addressed store, fast.

Into the store: on a local store each new file is read once, hashed while it is copied to a
temporary name beside its blob, made read-only, and renamed into place after one
``syncfs`` for the whole batch (one flush instead of one per file, and still no partial
blob under a real name after a crash). Other stores (S3, a server) get the files hashed
first, then only the missing blobs uploaded, in parallel.

Out of the store (materialising a version): a reflink where the filesystem supports one, a
hard link to the read-only blob where it does not, and a copy otherwise (or when asked).
A linked working file is read-only: an in-place edit fails instead of corrupting the store;
``loopml data unprotect`` turns linked files into private, writable copies. Permission bits
do not stop root, so for root ``auto`` copies instead of hard-linking.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import errno
import fcntl
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from blake3 import blake3

from loopml.data.state import StateCache, hash_files, stat_key
from loopml.entities import DatasetFile
from loopml.errors import InvalidInputError, StoreError
from loopml.storage.artifacts import BlobInfo, ContentAddressedStore, LocalByteStore

__all__ = ["LinkType", "ingest", "materialise", "unprotect"]

_WORKERS = min(32, (os.cpu_count() or 2) * 4)
_CHUNK = 1 << 20
_SMALL = 1 << 20  # files below this are read whole in the calling thread
_FICLONE = 0x40049409  # linux/fs.h: clone a file's extents (a reflink)
Progress = Callable[[int], None]


class LinkType(enum.StrEnum):
    """How materialised files relate to the blobs they come from."""

    AUTO = "auto"  # reflink, else hard link, else copy
    REFLINK = "reflink"
    HARDLINK = "hardlink"
    COPY = "copy"


def _syncfs(folder: Path) -> None:
    """Flush one filesystem's dirty data (much cheaper than an fsync per file)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if getattr(libc, "syncfs", None) is None or libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _copy_hashing(src: str, tmp: Path, store_url: str) -> BlobInfo:
    """Copy ``src`` to ``tmp`` while hashing it: the file is read once."""
    hasher = blake3()
    size = 0
    try:
        reader = open(src, "rb")  # noqa: SIM115 - closed by the `with` below
    except OSError as exc:
        raise InvalidInputError(f"cannot read {src}: {exc.strerror or exc}") from exc
    with reader:
        try:
            writer = open(tmp, "wb")  # noqa: SIM115 - closed by the `with` below
        except OSError as exc:
            raise StoreError(f"cannot write to the store {store_url}: {exc}") from exc
        with writer:
            while True:
                try:
                    chunk = reader.read(_CHUNK)
                except OSError as exc:
                    raise InvalidInputError(f"cannot read {src}: {exc.strerror or exc}") from exc
                if not chunk:
                    break
                hasher.update(chunk)
                try:
                    writer.write(chunk)
                except OSError as exc:
                    raise StoreError(f"cannot write to the store {store_url}: {exc}") from exc
                size += len(chunk)
    return BlobInfo(hasher.hexdigest(), size)


def _read_small(path: str, size: int) -> bytes:
    """A small file's bytes with raw system calls (no buffered file object per file)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, size + 1)
            while len(data) <= size:  # short reads happen on some filesystems
                more = os.read(fd, size + 1 - len(data))
                if not more:
                    break
                data += more
        finally:
            os.close(fd)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return data


def _write_small(tmp: str, data: bytes, store_url: str) -> None:
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot write to the store {store_url}: {exc}") from exc


def _local_ingest(
    local: LocalByteStore,
    state: StateCache | None,
    files: Sequence[tuple[str, os.stat_result]],
    progress: Progress | None,
) -> dict[str, BlobInfo]:
    """Small files are read, hashed and staged in this thread with raw system calls (the
    per-file cost is what matters for many small files); large ones in a thread pool (the
    GIL is released while they are read, hashed and written)."""
    known = state.lookup([p for p, _ in files]) if state is not None else {}
    blobs = str(local.root / "blobs")

    def blob_path(digest: str) -> str:
        return f"{blobs}/{digest[:2]}/{digest[2:]}"

    # A folder of its own per call: whatever happens, removing it leaves nothing behind.
    staging = local.root / "tmp" / uuid.uuid4().hex
    staging.mkdir(parents=True, exist_ok=True)
    result: dict[str, BlobInfo] = {}
    small: list[tuple[str, os.stat_result]] = []
    large: list[tuple[str, os.stat_result]] = []
    for path, st in files:
        entry = known.get(path)
        digest = entry[1] if entry and entry[0] == stat_key(st) else ""
        if digest and os.path.exists(blob_path(digest)):
            result[path] = BlobInfo(digest, st.st_size)
            if progress:
                progress(st.st_size)
        else:
            (small if st.st_size < _SMALL else large).append((path, st))

    staged: list[tuple[str, str]] = []  # (temporary name, digest)
    fresh: list[tuple[str, os.stat_result, BlobInfo]] = []
    prefix = str(staging) + "/"

    def stage_large(item: tuple[str, os.stat_result]) -> tuple[str, BlobInfo, str]:
        path, _ = item
        tmp = prefix + uuid.uuid4().hex
        info = _copy_hashing(path, Path(tmp), local.url)
        os.chmod(tmp, 0o444)
        if progress:
            progress(info.size)
        return path, info, tmp

    try:
        for n, (path, st) in enumerate(small):
            data = _read_small(path, st.st_size)
            info = BlobInfo(blake3(data).hexdigest(), len(data))
            if not os.path.exists(blob_path(info.digest)):
                tmp = f"{prefix}{n}"
                _write_small(tmp, data, local.url)
                staged.append((tmp, info.digest))
            fresh.append((path, st, info))
            if progress:
                progress(info.size)
        if large:
            by_path = dict(large)
            with ThreadPoolExecutor(min(4, _WORKERS)) as pool:
                for path, info, tmp in pool.map(stage_large, large):
                    staged.append((tmp, info.digest))
                    fresh.append((path, by_path[path], info))
        if staged:
            _syncfs(local.root)  # the data is on disk before any blob gets its real name
            made: set[str] = set()
            for tmp, digest in staged:
                if digest[:2] not in made:
                    os.makedirs(f"{blobs}/{digest[:2]}", exist_ok=True)
                    made.add(digest[:2])
                os.replace(tmp, blob_path(digest))
            _syncfs(local.root)  # and the names are, before the version is recorded
    except OSError as exc:
        raise StoreError(f"cannot write to the store {local.url}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for path, _, info in fresh:
        result[path] = info
    if state is not None:
        state.save(
            [(p, stat_key(st), info.digest) for p, st, info in fresh if info.size == st.st_size]
        )
    return result


def ingest(
    cas: ContentAddressedStore,
    files: Sequence[tuple[str, os.stat_result]],
    state: StateCache | None = None,
    progress: Progress | None = None,
) -> dict[str, BlobInfo]:
    """Store these files (absolute path, stat) as blobs; return each path's digest and size.

    Files already stored (known unchanged through the state cache) are not read again.

    Raises:
        InvalidInputError: a file cannot be read.
        StoreError: the store cannot be written (nothing is recorded about the files).
    """
    local = cas.bytes
    if isinstance(local, LocalByteStore):
        return _local_ingest(local, state, files, progress)
    infos = hash_files(state, files)
    missing = cas.missing(i.digest for i in infos.values())
    uploads = {i.digest: p for p, i in infos.items() if i.digest in missing}

    def upload(item: tuple[str, str]) -> None:
        digest, path = item
        cas.bytes.put_file(cas.key_for(digest), path)
        if progress:
            progress(infos[path].size)

    with ThreadPoolExecutor(min(16, _WORKERS)) as pool:
        list(pool.map(upload, uploads.items()))
    return infos


def _reflink(src: Path, dest: Path) -> bool:
    try:
        with open(src, "rb") as reader, open(dest, "wb") as writer:
            fcntl.ioctl(writer.fileno(), _FICLONE, reader.fileno())
        return True
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            dest.unlink()
        return False


def _place(blob: Path, dest: Path, link: LinkType) -> None:
    """Put a stored blob at ``dest`` (a fresh temporary name) by reflink, link or copy."""
    if link in (LinkType.AUTO, LinkType.REFLINK) and _reflink(blob, dest):
        os.chmod(dest, 0o644)  # a reflink shares blocks, not the inode: it may be writable
        return
    # Read-only bits do not stop root, so for root a hard link would not protect the store.
    if link == LinkType.HARDLINK or (link == LinkType.AUTO and os.geteuid() != 0):
        os.chmod(blob, 0o444)
        try:
            os.link(blob, dest)
            return
        except OSError as exc:
            if link == LinkType.HARDLINK or exc.errno not in (
                errno.EXDEV,
                errno.EPERM,
                errno.EMLINK,
            ):
                raise
    shutil.copyfile(blob, dest)
    os.chmod(dest, 0o644)


def materialise(
    cas: ContentAddressedStore,
    files: Sequence[DatasetFile],
    dest: Path,
    link: LinkType = LinkType.AUTO,
    progress: Progress | None = None,
) -> None:
    """Write a version's files under ``dest``; each file appears whole or not at all.

    Blobs of a local store are linked or copied without re-reading; other stores' blobs are
    downloaded and verified.

    Raises:
        DatasetVersionNotFoundError: through the store, when a blob is missing.
        CorruptBlobError: a downloaded blob does not match its digest.
    """
    local = cas.bytes if isinstance(cas.bytes, LocalByteStore) else None
    dest.mkdir(parents=True, exist_ok=True)

    def one(item: DatasetFile) -> None:
        target = dest.joinpath(*item.path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            blob = local.path_for(cas.key_for(item.digest)) if local else None
            if blob is not None and blob.exists():
                _place(blob, tmp, link)
            else:
                cas.get_file(item.digest, tmp)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if progress:
            progress(item.size)

    with ThreadPoolExecutor(_WORKERS) as pool:
        list(pool.map(one, files))


def unprotect(path: Path) -> int:
    """Replace hard-linked (read-only) files under ``path`` by writable private copies.

    Returns:
        how many files were copied.
    """
    targets = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    copied = 0
    for target in targets:
        st = target.stat()
        if st.st_nlink > 1 or not st.st_mode & stat.S_IWUSR:
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            shutil.copyfile(target, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
            copied += 1
    return copied
