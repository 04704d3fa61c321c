"""Garbage collection of the content-addressed store: remove the blobs nothing needs.

The caller names the digests still needed (``live``: what dataset versions, their files and
run artifacts reference); :func:`collect` removes every other blob, in all its forms::

    result = collect(cas, live_digests)            # objects younger than an hour are spared
    print(result.bytes_freed, result.bytes_kept)

What is live. A live digest is kept in every form and place it is stored in (loose, in
one pack or several, chunked). A live chunked blob keeps its chunk list and every chunk the
list names (the caller does not name chunks). A chunk list younger than ``min_age`` counts
as live too: it was just written by an ``add`` that has not recorded its version yet.

What goes. Loose blobs and chunk lists of dead digests; packs with no live blob left (index,
then pack); packs whose live bytes are below ``rewrite_below`` of their size are rewritten:
their live blobs, verified against their digests while copied, go into new packs, published
(durably) before the old index and pack are removed. Packs at or above the threshold are
left alone (their dead bytes are reported as ``bytes_dead_kept``). Stale staging left by
interrupted writes is removed too: on a local store ``tmp/packs-*`` folders of a
:class:`PackWriter`, ``tmp/loopml-transfer-*`` files of a transfer and ``.<name>.<uuid>.tmp``
files of an atomic write; for any other store the ``loopml-packs-*`` folders and
``loopml-transfer-*`` files that writers to such stores keep in the system's temporary folder
(those of the current user only). Nothing younger than ``min_age`` seconds (its
modification time) is removed or rewritten; on a store that reports no modification times (see
:class:`~loopml.storage.artifacts.base.ObjectStats`) every age is unknown, so nothing is
removed unless ``min_age`` is 0.

Crash safety: the steps run in this order, and a crash (or an error) at any point leaves a
readable store that holds every live blob:

1. Listing and planning only read. A corrupt index or chunk list stops the collection here,
   before anything is changed.
2. Rewrite: the live blobs of sparse packs are written into new packs through
   :class:`PackWriter` (each pack flushed and named, then its index). A crash leaves either
   nothing visible (a pack without an index is invisible to readers and is removed by a
   later collection once older than ``min_age``) or new packs that duplicate live blobs of
   old packs still in place. A live blob that does not verify raises CorruptBlobError with
   nothing removed.
3. Chunk lists of dead digests are removed, before any chunk: no store ever lists a chunked
   blob whose chunks are gone (a crash leaves unused chunks, collected next time).
4. Loose blobs of dead digests are removed, one object at a time.
5. Dead and rewritten packs: the index first, then the pack. A crash between the two leaves
   a pack without an index, which readers never see (they find packs through their indexes)
   and a later collection removes. The other order would leave an index whose pack is gone,
   which readers skip as well, but only after stumbling on it; with the index gone first,
   every reader's next listing shows the pack as removed. A live blob is removed from an old
   pack only after the new pack holding it was published in step 2.
6. Stale staging is removed.

Concurrency. Another process *writing* during a collection is safe thanks to ``min_age``:
an ``add`` publishes its packs, loose blobs and chunk lists before it records the version
that references them, and the collection neither removes nor rewrites anything younger than
``min_age`` (default an hour), nor the chunks a young chunk list names. An ``add`` that
finds a blob already stored does not write it again, so if that blob is dead (a file of a
deleted version, added again) and the collection removed it before the ``add`` records its
version, the version would name a missing blob: callers close this with
:meth:`ContentAddressedStore.guard` (writers hold it shared from their first blob to their
record, :func:`loopml.data.garbage.collect_garbage` holds it exclusive around reading the
references and this function); it is a no-op on stores that are not local folders. Another process
*reading* a pack the collection rewrites or removes may find the pack gone; the
:class:`ContentAddressedStore` reading it then reads the pack index anew once and retries
(a file already open on a local store keeps reading). Run one collection at a time on a
store (a second one may stop with a StoreError saying an object vanished; nothing is lost).
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from loopml.errors import (
    ArtifactNotFoundError,
    CorruptBlobError,
    InvalidInputError,
    InvalidPathError,
    LoopmlError,
    StoreError,
)
from loopml.storage.artifacts.base import ByteStore, ObjectStat, ObjectStats
from loopml.storage.artifacts.cas import CHUNKED, ContentAddressedStore, Recipe, check_digest
from loopml.storage.artifacts.fsspec_store import LocalByteStore
from loopml.storage.artifacts.packs import (
    PACKS,
    TEMP_STAGING,
    PackEntry,
    decode_index,
    index_size,
    pack_key,
    planned_packs,
)

__all__ = ["CollectResult", "collect"]

Progress = Callable[[int], None]
_BLOBS = "blobs"
_STAGING = ("packs-", "loopml-transfer-")  # what interrupted writers leave under tmp/
_TEMP_STAGING = (TEMP_STAGING, "loopml-transfer-")  # … and in the system's temporary folder


@dataclass(frozen=True)
class CollectResult:
    """What a collection removed (or, in a dry run, would remove) and what is left.

    Attributes:
        loose_removed: loose blobs deleted.
        recipes_removed: chunk lists deleted.
        packs_removed: packs deleted whole (no live blob left, or an orphan without index).
        packs_rewritten: packs rewritten with only their live blobs.
        blobs_removed: distinct dead digests no longer stored in any form.
        bytes_freed: what the store shrank by: the packs, indexes, loose blobs, chunk lists
            and staging removed, less the new packs (and indexes) that rewriting wrote.
        bytes_kept: bytes of the store's blob objects after the collection (new packs
            included, staging not).
        staging_removed: stale staging folders and temporary files removed (under a local
            store's ``tmp``; for other stores, their writers' staging in the system's
            temporary folder).
        dry_run: nothing was changed; the figures say what a real run would do.
        bytes_dead_kept: bytes of dead blobs left inside packs kept because their live
            share is at or above ``rewrite_below``.
    """

    loose_removed: int
    recipes_removed: int
    packs_removed: int
    packs_rewritten: int
    blobs_removed: int
    bytes_freed: int
    bytes_kept: int
    staging_removed: int
    dry_run: bool
    bytes_dead_kept: int


@dataclass
class _Pack:
    """A pack id's objects as listed, and its index's entries once read."""

    id: str
    pack: ObjectStat | None = None
    index: ObjectStat | None = None
    entries: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    def objects(self) -> list[ObjectStat]:
        # The index first: removing it is what makes the pack invisible.
        return [o for o in (self.index, self.pack) if o is not None]

    def bytes(self) -> int:
        return sum(o.size for o in self.objects())


def _digest_of(key: str, prefix: str) -> str | None:
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != prefix or len(parts[1]) != 2 or len(parts[2]) != 62:
        return None
    try:
        return check_digest(parts[1] + parts[2])
    except InvalidInputError:
        return None


def _listing(store: ByteStore, prefix: str) -> list[ObjectStat]:
    if isinstance(store, ObjectStats):
        return list(store.list_stats(prefix))
    found = []
    for key in store.list(prefix):
        try:
            found.append(ObjectStat(key, store.size(key), None))
        except ArtifactNotFoundError:
            continue  # removed since it was listed
    return found


def _vanished(key: str, url: str) -> StoreError:
    return StoreError(
        f"{key!r} vanished from {url} while it was being collected; another collection "
        "is probably running. Run one at a time, then run this one again (nothing was lost)"
    )


def _tree_stat(path: Path) -> tuple[float, int]:
    """The newest modification time and the total size of a file or folder tree."""
    st = path.stat()
    newest, size = st.st_mtime, (st.st_size if path.is_file() else 0)
    if path.is_dir():
        for dirpath, _, files in os.walk(path):
            newest = max(newest, os.stat(dirpath).st_mtime)
            for name in files:
                try:
                    fst = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                newest, size = max(newest, fst.st_mtime), size + fst.st_size
    return newest, size


class _Collector:
    """One collection: the plan made from listings, then carried out step by step."""

    def __init__(
        self,
        cas: ContentAddressedStore,
        min_age: float,
        rewrite_below: float,
        now: float,
        progress: Progress | None,
    ) -> None:
        self.cas, self.store = cas, cas.bytes
        self.min_age, self.rewrite_below, self.now = min_age, rewrite_below, now
        self.progress = progress
        self.loose: dict[str, ObjectStat] = {}
        self.recipes: dict[str, ObjectStat] = {}
        self.packs: dict[str, _Pack] = {}
        self.keep: set[str] = set()
        self.kept_recipes: set[str] = set()
        self.dead_packs: list[_Pack] = []
        self.rewrite: list[_Pack] = []
        self.orphans: list[_Pack] = []
        self.kept_packs: list[_Pack] = []
        self.copies: list[tuple[str, PackEntry]] = []  # live blobs to copy, one per digest
        self.staging: list[tuple[Path, int]] = []
        self.dead_kept = 0

    def young(self, modified: float | None) -> bool:
        """Too young to remove (or of unknown age, when there is a grace period at all)."""
        if self.min_age == 0:
            return False
        return modified is None or self.now - modified < self.min_age

    def tick(self, size: int) -> None:
        if self.progress and size:
            self.progress(size)

    def _read(self, key: str) -> bytes:
        try:
            with self.store.open_read(key) as handle:
                return handle.read()
        except ArtifactNotFoundError as exc:
            raise _vanished(key, self.store.url) from exc

    # -- planning (reads only) -----------------------------------------------------------
    def plan(self, live: set[str]) -> None:
        try:
            loose = _listing(self.store, _BLOBS)
        except InvalidPathError as exc:
            raise InvalidInputError(
                f"the store {self.store.url} does not list its blobs (a loopml server "
                "keeps them): collect garbage on the server, against its own store"
            ) from exc
        self.loose = {d: o for o in loose if (d := _digest_of(o.key, _BLOBS))}
        if self.store.holds_packs:
            listed = _listing(self.store, CHUNKED)
            self.recipes = {d: o for o in listed if (d := _digest_of(o.key, CHUNKED))}
            for obj in _listing(self.store, PACKS):
                name = obj.key[len(PACKS) + 1 :]
                pack_id, _, suffix = name.rpartition(".")
                if "/" in name or not pack_id or suffix not in ("pack", "idx"):
                    continue
                pack = self.packs.setdefault(pack_id, _Pack(pack_id))
                if suffix == "pack":
                    pack.pack = obj
                else:
                    pack.index = obj
        self._close_over(live)
        for pack in self.packs.values():
            self._classify(pack)
        seen: set[str] = set()
        for pack in self.rewrite:  # in offset order per pack: how they will be read
            for digest, (_, offset, length) in sorted(pack.entries.items(), key=lambda e: e[1]):
                if digest in self.keep and digest not in seen:
                    seen.add(digest)
                    self.copies.append((digest, PackEntry(pack.id, offset, length)))
        if isinstance(self.store, LocalByteStore):
            self._plan_staging(self._local_staging(self.store.root))
        else:
            self._plan_staging(_temp_staging())

    def _recipe(self, digest: str) -> Recipe:
        return Recipe.from_bytes(self._read(self.recipes[digest].key), digest)

    def _close_over(self, live: set[str]) -> None:
        """The kept digests: the live ones, the chunk lists too young to judge, and every
        chunk a kept chunk list names."""
        self.keep = set(live)
        roots = [d for d, o in self.recipes.items() if d in live or self.young(o.modified)]
        self.keep.update(roots)
        todo = roots
        while todo:
            digest = todo.pop()
            if digest in self.kept_recipes or digest not in self.recipes:
                continue
            self.kept_recipes.add(digest)
            for chunk, _ in self._recipe(digest).chunks:
                self.keep.add(chunk)
                if chunk in self.recipes and chunk not in self.kept_recipes:
                    todo.append(chunk)

    def _classify(self, pack: _Pack) -> None:
        if pack.pack is None or pack.index is None:  # an orphan, or one being published
            if any(self.young(o.modified) for o in pack.objects()):
                self.kept_packs.append(pack)
            else:
                self.orphans.append(pack)
            return
        size, pack.entries = decode_index(self._read(pack.index.key), pack.id)
        if size != pack.pack.size:
            raise CorruptBlobError(
                f"pack {pack.id} has {pack.pack.size} bytes where its index says {size}; "
                f"restore {pack_key(pack.id)} from a remote or backup, then collect again"
            )
        if self.young(pack.pack.modified) or self.young(pack.index.modified):
            self.kept_packs.append(pack)
            return
        live = [length for d, (_, _, length) in pack.entries.items() if d in self.keep]
        if not live:
            self.dead_packs.append(pack)
        elif sum(live) < self.rewrite_below * size:
            self.rewrite.append(pack)
        else:
            self.kept_packs.append(pack)
            self.dead_kept += size - sum(live)

    @staticmethod
    def _local_staging(root: Path) -> list[Path]:
        candidates: list[Path] = []
        tmp = root / "tmp"
        if tmp.is_dir():
            candidates += [p for p in tmp.iterdir() if p.name.startswith(_STAGING)]
        for folder in (_BLOBS, CHUNKED, PACKS):
            for dirpath, _, files in os.walk(root / folder):
                candidates += [
                    Path(dirpath, n) for n in files if n.startswith(".") and n.endswith(".tmp")
                ]
        return candidates

    def _plan_staging(self, candidates: list[Path]) -> None:
        for path in candidates:
            try:
                newest, size = _tree_stat(path)
            except FileNotFoundError:
                continue
            if not self.young(newest):
                self.staging.append((path, size))

    # -- what the plan leaves ------------------------------------------------------------
    def dead_loose(self) -> list[ObjectStat]:
        return [
            o for d, o in self.loose.items() if d not in self.keep and not self.young(o.modified)
        ]

    def dead_recipes(self) -> list[ObjectStat]:
        return [o for d, o in self.recipes.items() if d not in self.kept_recipes]

    def blobs_removed(self) -> int:
        valid = [p for p in self.packs.values() if p.entries]
        before = set(self.loose) | set(self.recipes)
        for pack in valid:
            before.update(pack.entries)
        gone_loose = {o.key for o in self.dead_loose()}
        after = {d for d, o in self.loose.items() if o.key not in gone_loose}
        after |= self.kept_recipes
        for pack in self.kept_packs:
            after.update(pack.entries)
        after.update(d for d, _ in self.copies)
        return len(before - after)

    def total(self) -> int:
        """The bytes progress counts up to: every object looked at, and the live bytes
        copied out of rewritten packs."""
        objects = [*self.loose.values(), *self.recipes.values()]
        objects += [o for p in self.packs.values() for o in p.objects()]
        copied = sum(e.length for _, e in self.copies)
        return sum(o.size for o in objects) + sum(s for _, s in self.staging) + copied

    def planned_bytes(self) -> int:
        """The bytes of the packs the rewrite would write, with their indexes."""
        planned = planned_packs(e.length for _, e in self.copies)
        return sum(size + index_size(count) for size, count in planned)

    # -- carrying it out -----------------------------------------------------------------
    def _delete_all(self, objects: list[ObjectStat], batch: int = 1000) -> None:
        """Delete these objects, a batch (one request on an object store) at a time."""
        for start in range(0, len(objects), batch):
            part = objects[start : start + batch]
            try:
                self.store.delete_many([o.key for o in part])
            except (OSError, LoopmlError) as exc:
                reason = exc.message if isinstance(exc, LoopmlError) else str(exc)
                names = repr(part[0].key) + (f" and {len(part) - 1} more" if len(part) > 1 else "")
                raise StoreError(
                    f"cannot delete {names} from {self.store.url}: {reason}. Everything still "
                    "needed is intact; make the store writable (permissions, credentials, "
                    "reachability) and run the collection again to finish"
                ) from exc
            self.tick(sum(o.size for o in part))

    def rewrite_packs(self) -> list[str]:
        """Copy the live blobs of the sparse packs into new, published packs."""
        with self.cas.pack_writer(durable=True) as writer:
            try:
                for digest, data in self.cas.read_entries(self.copies):
                    writer.add(digest, data)
                    self.tick(len(data))
            except CorruptBlobError as exc:
                raise CorruptBlobError(
                    f"{exc.message}. The collection stopped before removing anything; "
                    "restore the blob, then collect again"
                ) from exc
            except ArtifactNotFoundError as exc:
                raise _vanished(exc.message, self.store.url) from exc
            return writer.publish()

    def remove(self) -> None:
        self._delete_all(self.dead_recipes())  # before any chunk goes
        self._delete_all(self.dead_loose())
        gone = [*self.rewrite, *self.dead_packs, *self.orphans]
        # Every index before any pack: removing the index is what makes a pack invisible.
        self._delete_all([p.index for p in gone if p.index is not None])
        self._delete_all([p.pack for p in gone if p.pack is not None])
        for path, size in self.staging:
            try:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot remove the stale staging {path}: {exc}. Remove it by hand, or "
                    "make it writable and run the collection again"
                ) from exc
            self.tick(size)

    def kept_bytes(self, new_packs: Iterable[str] | None) -> int:
        gone_loose = {o.key for o in self.dead_loose()}
        kept = sum(o.size for o in self.loose.values() if o.key not in gone_loose)
        kept += sum(self.recipes[d].size for d in self.kept_recipes if d in self.recipes)
        kept += sum(p.bytes() for p in self.kept_packs)
        if new_packs is None:
            return kept + self.planned_bytes()
        for pack in new_packs:
            kept += self.store.size(pack_key(pack)) + self.store.size(pack_key(pack, "idx"))
        return kept

    def freed_bytes(self) -> int:
        objects = [*self.dead_recipes(), *self.dead_loose()]
        gone = [*self.rewrite, *self.dead_packs, *self.orphans]
        objects += [o for pack in gone for o in pack.objects()]
        return sum(o.size for o in objects) + sum(s for _, s in self.staging)


def _temp_staging() -> list[Path]:
    """Staging that writers to non-local stores keep in the system's temporary folder; only
    the current user's (another user's is not ours to judge, nor removable)."""
    import tempfile

    try:
        entries = list(os.scandir(tempfile.gettempdir()))
    except OSError:
        return []
    uid = os.getuid()
    found = []
    for entry in entries:
        if not entry.name.startswith(_TEMP_STAGING):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid == uid and not entry.is_symlink():
                found.append(Path(entry.path))
        except OSError:
            continue
    return found


def _validate(min_age: float, rewrite_below: float, now: float | None) -> None:
    if not isinstance(min_age, int | float) or not math.isfinite(min_age) or min_age < 0:
        raise InvalidInputError(f"min_age must be a number of seconds, 0 or more, not {min_age!r}")
    if not isinstance(rewrite_below, int | float) or not 0 <= rewrite_below <= 1:
        raise InvalidInputError(
            f"rewrite_below must be a share between 0 and 1 (0.5 rewrites packs less than "
            f"half live; 0 never rewrites), not {rewrite_below!r}"
        )
    if now is not None and (not isinstance(now, int | float) or not math.isfinite(now)):
        raise InvalidInputError(f"now must be a POSIX time in seconds, not {now!r}")


def collect(
    cas: ContentAddressedStore,
    live: Iterable[str],
    *,
    min_age: float = 3600.0,
    dry_run: bool = False,
    rewrite_below: float = 0.5,
    progress: Callable[[int], None] | None = None,
    now: float | None = None,
    total: Callable[[int], None] | None = None,
) -> CollectResult:
    """Remove every blob of ``cas`` that is not live (see the module's documentation for
    the rules, the crash safety and what runs safely at the same time).

    Args:
        cas: the store to collect; its in-memory pack index is read anew afterwards.
        live: the digests still needed (chunks of chunked blobs need not be named).
        min_age: seconds an object must be old (by its modification time) to be removed or
            rewritten; spares what a running ``add`` wrote but has not recorded yet.
        dry_run: change nothing; the result says what would be removed and kept.
        rewrite_below: a pack whose live bytes are below this share of its size is
            rewritten with its live blobs only (0 never rewrites, 1 rewrites every pack
            holding any dead blob).
        progress: called with the bytes handled as the collection goes.
        now: the current POSIX time that ages are measured against (default: the clock).
        total: called once, before any work, with the bytes ``progress`` will add up to.

    Raises:
        InvalidInputError: a malformed digest or argument, or a store that cannot list its
            blobs (a loopml server's).
        CorruptBlobError: an index or chunk list is corrupted, or a live blob of a pack to
            rewrite does not match its digest (nothing was removed).
        StoreError: the store cannot be read or written (the message names the object);
            nothing still needed was removed, and running the collection again finishes it.
    """
    if isinstance(live, str):
        raise InvalidInputError("live must be a collection of digests, not one string")
    _validate(min_age, rewrite_below, now)
    wanted = {check_digest(d) for d in live}
    collector = _Collector(
        cas, float(min_age), float(rewrite_below), time.time() if now is None else now, progress
    )
    collector.plan(wanted)
    if total is not None:
        total(collector.total())
    freed = collector.freed_bytes()
    new_packs: list[str] | None = None
    if not dry_run:
        try:
            new_packs = collector.rewrite_packs() if collector.copies else []
            collector.remove()
        finally:
            cas.reload_packs()  # what this process holds in memory must match the store
    else:
        collector.tick(freed + sum(e.length for _, e in collector.copies))
    kept_objects = collector.total() - freed - sum(e.length for _, e in collector.copies)
    collector.tick(kept_objects)
    kept = collector.kept_bytes(new_packs)
    # What the store shrank by: rewritten packs' replacements are not freed bytes.
    written = kept - collector.kept_bytes([])
    return CollectResult(
        loose_removed=len(collector.dead_loose()),
        recipes_removed=len(collector.dead_recipes()),
        packs_removed=len(collector.dead_packs) + len(collector.orphans),
        packs_rewritten=len(collector.rewrite),
        blobs_removed=collector.blobs_removed(),
        bytes_freed=freed - written,
        bytes_kept=kept,
        staging_removed=len(collector.staging),
        dry_run=dry_run,
        bytes_dead_kept=collector.dead_kept,
    )
