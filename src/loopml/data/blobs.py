"""Moving dataset files into and out of the content-addressed store, fast.

Into the store: on a local store each new file is read once. Small files (under 4 MiB) are
appended to a pack file, large ones are cut into content-defined chunks that go into the
same packs (see :mod:`loopml.data.chunking`); one ``add`` writes one pack (or a few, of up
to 256 MiB each) instead of one file per blob. The packs are flushed (``fdatasync`` of just
these files) before they get their real names, and their indexes after them, so a crash
leaves no partial pack under a real name and a recorded version never names a lost blob.
Other stores (S3, a server) get the files hashed first, then only the missing blobs
uploaded as loose blobs, in parallel.

Out of the store (materialising a version): a loose blob is reflinked where the filesystem
supports it, hard-linked (read-only) where it does not, and copied otherwise (or when
asked); packed and chunked files are copied out, verified. A linked working file is
read-only: an in-place edit fails instead of corrupting the store; ``loopml data
unprotect`` turns linked files into private, writable copies. Permission bits do not stop
root, so for root ``auto`` copies instead of hard-linking.
"""

from __future__ import annotations

import contextlib
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

from loopml.data.chunking import CHUNKED_FROM, ingest_chunked
from loopml.data.state import StateCache, hash_files, stat_key
from loopml.entities import DatasetFile
from loopml.errors import InvalidInputError, StoreError
from loopml.storage.artifacts import BlobInfo, ContentAddressedStore, LocalByteStore
from loopml.storage.artifacts.cas import Recipe

__all__ = ["LinkType", "ingest", "materialise", "unprotect"]

_WORKERS = min(32, (os.cpu_count() or 2) * 4)
_FICLONE = 0x40049409  # linux/fs.h: clone a file's extents (a reflink)
Progress = Callable[[int], None]


class LinkType(enum.StrEnum):
    """How materialised files relate to the blobs they come from."""

    AUTO = "auto"  # reflink, else hard link, else copy
    REFLINK = "reflink"
    HARDLINK = "hardlink"
    COPY = "copy"


def _read_small(path: str, size: int) -> bytes:
    """A small file's bytes with raw system calls (no buffered file object per file).

    One ``read`` of one byte more than ``stat`` said: a file that grew since shows up as
    longer than its recorded size (and is then not cached as unchanged).
    """
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, size + 1)
            while len(data) < size:  # short reads happen on some filesystems
                more = os.read(fd, size + 1 - len(data))
                if not more:
                    break
                data += more
        finally:
            os.close(fd)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return data


def _write_new(path: str, data: bytes) -> None:
    """Write a new private file (a materialised packed blob)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class _Loose:
    """Which loose blobs a local store holds, one folder listing per digest prefix (a
    store written before packs existed keeps every blob loose)."""

    def __init__(self, root: Path) -> None:
        self._root = root / "blobs"
        self._listed: dict[str, set[str]] = {}

    def __contains__(self, digest: object) -> bool:
        assert isinstance(digest, str)
        names = self._listed.get(digest[:2])
        if names is None:
            try:
                names = set(os.listdir(self._root / digest[:2]))
            except FileNotFoundError:
                names = set()
            self._listed[digest[:2]] = names
        return digest[2:] in names


def _local_ingest(
    cas: ContentAddressedStore,
    local: LocalByteStore,
    state: StateCache | None,
    files: Sequence[tuple[str, os.stat_result]],
    progress: Progress | None,
    durable: bool,
) -> dict[str, BlobInfo]:
    """Small files are read and hashed in this thread with raw system calls (the per-file
    cost is what matters for many small files) and appended to a pack; large ones are
    chunked (see :mod:`loopml.data.chunking`) into the same packs. Nothing is visible
    until the packs are flushed and named, then the large files' chunk lists."""
    known = state.lookup([p for p, _ in files]) if state is not None else {}
    result: dict[str, BlobInfo] = {}
    todo: list[tuple[str, os.stat_result]] = []
    cached: dict[str, str] = {}
    for path, st in files:
        entry = known.get(path)
        if entry and entry[0] == stat_key(st):
            cached[path] = entry[1]
        else:
            todo.append((path, st))
    absent = cas.missing(cached.values()) if cached else set()
    for path, st in files:
        digest = cached.get(path)
        if digest is None:
            continue
        if digest in absent:  # known, but its blob is gone (a pruned or other store)
            todo.append((path, st))
        else:
            result[path] = BlobInfo(digest, st.st_size)
    if progress and result:  # once for all the unchanged files
        progress(sum(info.size for info in result.values()))

    loose = _Loose(local.root)
    writer = cas.pack_writer(durable)

    def stored(digest: str) -> bool:
        return cas.packed(digest, refresh=False) is not None or digest in loose

    fresh: list[tuple[str, os.stat_result, BlobInfo]] = []
    recipes: dict[str, Recipe] = {}
    with writer:
        small = [item for item in todo if item[1].st_size < CHUNKED_FROM]
        large = [item for item in todo if item[1].st_size >= CHUNKED_FROM]
        pending = 0  # bytes not yet reported: one progress call per MiB, not per file
        for path, st in small:
            data = _read_small(path, st.st_size)
            info = BlobInfo(blake3(data).hexdigest(), len(data))
            if info.digest not in writer and not stored(info.digest):
                writer.add(info.digest, data)
            fresh.append((path, st, info))
            pending += info.size
            if progress and pending >= 1 << 20:
                progress(pending)
                pending = 0
        if progress and pending:
            progress(pending)
        if large:
            with ThreadPoolExecutor(2) as pool:
                for path, st in large:
                    info, recipe = ingest_chunked(
                        cas,
                        writer,
                        path,
                        st,
                        pool,
                        lambda d: stored(d) or cas.recipe(d) is not None,
                        progress,
                    )
                    if recipe is not None:
                        recipes[info.digest] = recipe
                    fresh.append((path, st, info))
        writer.publish()  # the bytes are on disk before any pack gets its real name
    cas.refresh_packs()
    for digest, recipe in recipes.items():  # the chunks are stored: now the chunk lists
        try:
            cas.put_recipe(digest, recipe)
        except OSError as exc:
            raise StoreError(f"cannot write to the store {local.url}: {exc}") from exc
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
    durable: bool = True,
) -> dict[str, BlobInfo]:
    """Store these files (absolute path, stat) as blobs; return each path's digest and size.

    Files already stored (known unchanged through the state cache) are not read again.
    On a local store, what is new is flushed to disk before this returns unless
    ``durable`` is False (then a crash soon after may lose the blobs of the versions just
    recorded; the ``data_sync`` setting).

    Raises:
        InvalidInputError: a file cannot be read.
        StoreError: the store cannot be written (nothing is recorded about the files).
    """
    local = cas.bytes
    if isinstance(local, LocalByteStore):
        return _local_ingest(cas, local, state, files, progress, durable)
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
            entry = cas.packed(item.digest, refresh=False) if local else None
            blob = local.path_for(cas.key_for(item.digest)) if local and not entry else None
            if entry is not None:  # a packed file: copied out, verified
                _write_new(str(tmp), cas.read_packed(item.digest, entry))
            elif blob is not None and blob.exists():
                _place(blob, tmp, link)
            else:  # chunked, or in another store: streamed and verified
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
