"""Garbage collection of the content-addressed store: what goes, what stays, and that a
crash, a corrupt blob or a concurrent reader never costs a live blob."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from blake3 import blake3

from loopml.config import Settings
from loopml.data.blobs import ingest
from loopml.data.remote import transfer
from loopml.errors import CorruptBlobError, InvalidInputError, StoreError
from loopml.storage.artifacts import (
    ByteStore,
    ContentAddressedStore,
    LocalByteStore,
    open_byte_store,
)
from loopml.storage.artifacts.base import ObjectStats
from loopml.storage.artifacts.gc import CollectResult, collect
from loopml.storage.artifacts.packs import decode_index, pack_key

MiB = 1 << 20
LATER = 2 * 3600.0  # seconds after now at which every object written now is old enough


def _later() -> float:
    return time.time() + LATER


def _files(folder: Path, count: int, seed: int, size: int = 3000) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"f{i:03d}.bin"
        path.write_bytes(rng.randbytes(rng.randint(size // 2, size)))
        paths.append(path)
    return paths


def _ingest(cas: ContentAddressedStore, paths: Iterable[Path]) -> dict[Path, str]:
    """Store the files the way ``loopml data add`` does: one new pack (chunks for large
    files); returns each file's digest."""
    paths = list(paths)
    infos = ingest(cas, [(str(p), p.stat()) for p in paths])
    return {p: infos[str(p)].digest for p in paths}


def _disk(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under a local store, with size and modification time."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def _blob_bytes(store: ByteStore) -> int:
    """The bytes of the store's blob objects (loose, chunk lists, packs and indexes)."""
    assert isinstance(store, ObjectStats)
    return sum(o.size for prefix in ("blobs", "chunked", "packs") for o in store.list_stats(prefix))


def _packs(store: ByteStore) -> set[str]:
    return {k[6:-5] for k in store.list("packs") if k.endswith(".pack")}


def _assert_survivors(cas: ContentAddressedStore, blobs: dict[str, bytes], dead: set[str]) -> None:
    """Live blobs read back byte-identical through this store and a fresh one on the same
    bytes (another process); the dead are missing from both."""
    for side in (cas, ContentAddressedStore(cas.bytes)):
        assert side.missing(blobs) == set()
        assert side.missing(dead) == dead
        for digest, data in blobs.items():
            assert side.read_bytes(digest) == data


@pytest.fixture
def cas(tmp_path: Path) -> ContentAddressedStore:
    return ContentAddressedStore(LocalByteStore(tmp_path / "store"))


def test_dead_packs_and_loose_blobs_go_and_the_live_read_back(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    kept = _ingest(cas, _files(tmp_path / "v1", 30, seed=1))
    gone = _ingest(cas, _files(tmp_path / "v2", 30, seed=2))
    artifact, scratch = cas.put_bytes(b"a model file"), cas.put_bytes(b"a scratch file")
    assert len(_packs(cas.bytes)) == 2
    live = {*kept.values(), artifact.digest}
    dead = {*gone.values(), scratch.digest}
    before = _blob_bytes(cas.bytes)

    result = collect(cas, live, now=_later())

    assert result == CollectResult(
        loose_removed=1,
        recipes_removed=0,
        packs_removed=1,
        packs_rewritten=0,
        blobs_removed=len(dead),
        bytes_freed=result.bytes_freed,
        bytes_kept=_blob_bytes(cas.bytes),
        staging_removed=0,
        dry_run=False,
        bytes_dead_kept=0,
    )
    assert result.bytes_freed == before - result.bytes_kept > sum(p.stat().st_size for p in gone)
    assert len(_packs(cas.bytes)) == 1
    blobs = {d: p.read_bytes() for p, d in kept.items()} | {artifact.digest: b"a model file"}
    _assert_survivors(cas, blobs, dead)
    # Collecting again finds nothing more to do.
    again = collect(cas, live, now=_later())
    assert (again.bytes_freed, again.blobs_removed, again.bytes_kept) == (0, 0, result.bytes_kept)


def test_a_sparse_pack_is_rewritten_with_only_its_live_blobs(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    files = _ingest(cas, _files(tmp_path / "v1", 20, seed=3))
    [old] = _packs(cas.bytes)
    digests = list(files.values())
    live, dead = set(digests[:3]), set(digests[3:])
    cas.read_bytes(digests[0])  # the pack index is now held in memory

    result = collect(cas, live, now=_later())

    assert (result.packs_rewritten, result.packs_removed, result.blobs_removed) == (1, 0, 17)
    [new] = _packs(cas.bytes)
    assert new != old and not cas.bytes.exists(pack_key(old, "idx"))
    with cas.bytes.open_read(pack_key(new, "idx")) as handle:
        size, entries = decode_index(handle.read(), new)
    assert set(entries) == live
    assert size == sum(p.stat().st_size for p, d in files.items() if d in live)
    assert result.bytes_kept == _blob_bytes(cas.bytes)
    _assert_survivors(cas, {d: p.read_bytes() for p, d in files.items() if d in live}, dead)
    assert not list((tmp_path / "store" / "tmp").iterdir())  # the writer's staging is gone


def test_a_pack_mostly_live_is_left_alone_and_its_dead_bytes_reported(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    files = _ingest(cas, _files(tmp_path / "v1", 20, seed=4))
    digests = list(files.values())
    live, dead = set(digests[:15]), set(digests[15:])
    on_disk = _disk(tmp_path / "store")
    dead_bytes = sum(p.stat().st_size for p, d in files.items() if d in dead)

    result = collect(cas, live, now=_later())
    assert (result.packs_rewritten, result.blobs_removed, result.bytes_freed) == (0, 0, 0)
    assert result.bytes_dead_kept == dead_bytes
    assert _disk(tmp_path / "store") == on_disk
    assert cas.missing(dead) == set()  # still stored: the pack is kept whole
    # Asking for every pack with a dead blob to be rewritten frees them.
    forced = collect(cas, live, now=_later(), rewrite_below=1.0)
    assert forced.packs_rewritten == 1 and forced.bytes_dead_kept == 0
    assert forced.blobs_removed == len(dead) and cas.missing(dead) == dead
    assert collect(cas, set(), now=_later(), rewrite_below=0).packs_removed == 1  # all dead


def test_a_dry_run_changes_nothing_and_reports_what_the_real_run_does(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    sparse = _ingest(cas, _files(tmp_path / "v1", 40, seed=5))
    dead_pack = _ingest(cas, _files(tmp_path / "v2", 10, seed=6))
    big = tmp_path / "big.bin"
    big.write_bytes(random.Random(7).randbytes(5 * MiB))
    chunked = _ingest(cas, [big])
    cas.put_bytes(b"loose and dead")
    live = set(list(sparse.values())[:5])
    (tmp_path / "store" / "tmp" / "packs-crashed").mkdir(parents=True)
    (tmp_path / "store" / "tmp" / "packs-crashed" / "x.pack").write_bytes(b"half a pack")
    on_disk = _disk(tmp_path / "store")

    planned = collect(cas, live, now=_later(), dry_run=True)
    assert _disk(tmp_path / "store") == on_disk
    assert cas.missing([*dead_pack.values(), *chunked.values()]) == set()
    assert planned.dry_run and planned.packs_rewritten == 1 and planned.staging_removed == 1
    assert planned.recipes_removed == 1 and planned.loose_removed == 1

    done = collect(cas, live, now=_later())
    assert done == dataclasses.replace(planned, dry_run=False)
    assert done.bytes_kept == _blob_bytes(cas.bytes)
    assert not (tmp_path / "store" / "tmp" / "packs-crashed").exists()
    after = _disk(tmp_path / "store")
    removed, added = set(on_disk) - set(after), set(after) - set(on_disk)
    # What the store shrank by: removed objects less the rewritten pack that replaced one.
    assert added and done.bytes_freed == sum(on_disk[k][0] for k in removed) - sum(
        after[k][0] for k in added
    )


def _age(root: Path, keys: Iterable[str], seconds: float) -> None:
    when = time.time() - seconds
    for key in keys:
        os.utime(root / key, (when, when))


def test_young_objects_are_never_removed_nor_rewritten(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    old = _ingest(cas, _files(tmp_path / "old", 20, seed=8))
    [old_pack] = _packs(cas.bytes)
    young = _ingest(cas, _files(tmp_path / "young", 20, seed=9))  # an add not recorded yet
    old_loose, young_loose = cas.put_bytes(b"old scratch"), cas.put_bytes(b"new scratch")
    _age(root, [pack_key(old_pack), pack_key(old_pack, "idx"), cas.key_for(old_loose.digest)], 7200)
    staging = root / "tmp" / "packs-running"
    staging.mkdir(parents=True)
    (staging / "a.pack").write_bytes(b"being written")
    stale = root / "tmp" / "packs-crashed"
    stale.mkdir()
    (stale / "b.pack").write_bytes(b"left behind")
    half = root / "blobs" / "ab" / ".cdef.0123.tmp"  # an interrupted atomic write
    half.parent.mkdir(parents=True, exist_ok=True)
    half.write_bytes(b"partial")
    _age(root, ["tmp/packs-crashed/b.pack", "tmp/packs-crashed", "blobs/ab/.cdef.0123.tmp"], 7200)

    result = collect(cas, [])  # nothing is live: only age protects

    assert (result.packs_removed, result.loose_removed, result.staging_removed) == (1, 1, 2)
    assert cas.missing(old.values()) == set(old.values())
    assert cas.missing([young_loose.digest, *young.values()]) == set()
    assert staging.exists() and not stale.exists() and not half.exists()
    # With no grace period everything dead goes.
    assert collect(cas, [], min_age=0).blobs_removed == len(young) + 1
    assert cas.list_digests() == set() and not staging.exists()


def test_a_young_chunk_list_keeps_its_old_chunks(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    payload = random.Random(10).randbytes(6 * MiB)
    (tmp_path / "big.bin").write_bytes(payload)
    [digest] = _ingest(cas, [tmp_path / "big.bin"]).values()
    root = tmp_path / "store"
    _age(root, list(cas.bytes.list("packs")), 7200)  # chunks old, chunk list new

    result = collect(cas, [])
    assert result.blobs_removed == 0 and result.bytes_freed == 0
    assert cas.read_bytes(digest) == payload


def test_a_live_chunked_blob_keeps_the_chunks_a_dead_one_shares(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    rng = random.Random(11)
    first = rng.randbytes(8 * MiB)
    second = first[: 3 * MiB] + rng.randbytes(MiB) + first[4 * MiB :]  # one region changed
    (tmp_path / "a.bin").write_bytes(first)
    (tmp_path / "b.bin").write_bytes(second)
    digests = _ingest(cas, [tmp_path / "a.bin", tmp_path / "b.bin"])  # one pack for both
    live, dead = digests[tmp_path / "a.bin"], digests[tmp_path / "b.bin"]
    keep_recipe, dead_recipe = cas.recipe(live), cas.recipe(dead)
    assert keep_recipe is not None and dead_recipe is not None
    shared = {c for c, _ in keep_recipe.chunks} & {c for c, _ in dead_recipe.chunks}
    unshared = {c for c, _ in dead_recipe.chunks} - shared
    assert shared and unshared

    result = collect(cas, [live], now=_later(), rewrite_below=1.0)

    assert (result.recipes_removed, result.packs_rewritten) == (1, 1)
    assert result.blobs_removed == 1 + len(unshared)
    assert cas.missing([dead, *unshared]) == {dead, *unshared}
    assert cas.missing(shared) == set()
    _assert_survivors(cas, {live: first}, {dead})


def test_duplicates_in_two_packs_and_loose_are_kept_or_dropped_together(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    blobs = {name: os.urandom(5000) for name in ("live", "dead", "other")}
    digests = {name: blake3(data).hexdigest() for name, data in blobs.items()}
    for _ in range(2):  # the same blobs in two packs (two pushes that raced, say)
        with cas.pack_writer() as writer:
            for name in ("live", "dead"):
                writer.add(digests[name], blobs[name])
            writer.publish()
    for name in ("live", "dead"):  # and loose too
        cas.bytes.put_bytes(cas.key_for(digests[name]), blobs[name])
    with cas.pack_writer() as writer:  # keeps every pack above the rewrite threshold
        writer.add(digests["other"], blobs["other"])
        writer.publish()

    result = collect(cas, [digests["live"], digests["other"]], now=_later())
    assert (result.blobs_removed, result.loose_removed) == (0, 1)
    assert len(_packs(cas.bytes)) == 3  # each holds a live blob and is half live or more
    assert cas.has(digests["dead"])  # still in the two packs kept
    assert cas.bytes.exists(cas.key_for(digests["live"]))
    assert not cas.bytes.exists(cas.key_for(digests["dead"]))
    # Rewriting both packs copies the live blob once; the dead one is gone from both.
    forced = collect(cas, [digests["live"], digests["other"]], now=_later(), rewrite_below=1.0)
    assert (forced.packs_rewritten, forced.blobs_removed) == (2, 1)
    assert len(_packs(cas.bytes)) == 2
    _assert_survivors(cas, {digests[n]: blobs[n] for n in ("live", "other")}, {digests["dead"]})


def test_progress_adds_up_to_the_announced_total(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    files = _ingest(cas, _files(tmp_path / "v1", 30, seed=12))
    cas.put_bytes(b"scratch")
    ticks: list[int] = []
    totals: list[int] = []
    live = list(files.values())[:3]
    collect(cas, live, now=_later(), progress=ticks.append, total=totals.append)
    assert len(totals) == 1 and totals[0] > 0
    assert sum(ticks) == totals[0] and all(t > 0 for t in ticks)


def test_a_corrupt_live_blob_stops_the_rewrite_and_removes_nothing(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    files = _ingest(cas, _files(tmp_path / "v1", 20, seed=13))
    cas.put_bytes(b"dead loose")
    live = list(files.values())[:2]
    entry = cas.packed(live[1])
    assert entry is not None
    pack = tmp_path / "store" / pack_key(entry.pack)
    os.chmod(pack, 0o644)
    with open(pack, "r+b") as handle:  # bit rot inside a live blob
        handle.seek(entry.offset + 10)
        byte = handle.read(1)
        handle.seek(entry.offset + 10)
        handle.write(bytes([byte[0] ^ 0xFF]))
    on_disk = _disk(tmp_path / "store")

    with pytest.raises(CorruptBlobError, match=f"{live[1]} is corrupted.*before removing"):
        collect(cas, live, now=_later())
    assert {k: v for k, v in _disk(tmp_path / "store").items() if "tmp/" not in k} == on_disk
    assert list((tmp_path / "store" / "tmp").iterdir()) == []
    assert cas.read_bytes(live[0]) == next(p for p, d in files.items() if d == live[0]).read_bytes()


class _FailingStore(LocalByteStore):
    """A real local store whose ``fail_at``-th delete fails, as a full disk or a revoked
    permission would make it (fault injection)."""

    def __init__(self, root: Path, fail_at: int) -> None:
        super().__init__(root)
        self.fail_at, self.deletes = fail_at, 0

    def delete(self, key: str) -> None:
        self.deletes += 1
        if self.deletes == self.fail_at:
            raise PermissionError(13, "Permission denied", key)
        super().delete(key)


def _mixed_store(root: Path, sources: Path) -> tuple[dict[str, bytes], set[str]]:
    """A store with every form of blob, dead and live: returns the live blobs' bytes and
    the dead digests."""
    cas = ContentAddressedStore(LocalByteStore(root))
    sparse = _ingest(cas, _files(sources / "v1", 12, seed=14))
    dead_pack = _ingest(cas, _files(sources / "v2", 6, seed=15))
    rng = random.Random(16)
    first = rng.randbytes(5 * MiB)
    (sources / "a.bin").write_bytes(first)
    (sources / "b.bin").write_bytes(first[: 2 * MiB] + rng.randbytes(MiB) + first[3 * MiB :])
    big = _ingest(cas, [sources / "a.bin", sources / "b.bin"])
    loose = [cas.put_bytes(f"artifact {i}".encode()) for i in range(4)]
    live = {
        **{d: p.read_bytes() for p, d in list(sparse.items())[:3]},
        big[sources / "a.bin"]: first,
        loose[0].digest: b"artifact 0",
    }
    dead = {*list(sparse.values())[3:], *dead_pack.values(), big[sources / "b.bin"]}
    kept_chunks, dead_chunks = (cas.recipe(big[sources / n]) for n in ("a.bin", "b.bin"))
    assert kept_chunks is not None and dead_chunks is not None
    dead |= {c for c, _ in dead_chunks.chunks} - {c for c, _ in kept_chunks.chunks}
    return live, dead | {info.digest for info in loose[1:]}


def test_a_store_failing_at_any_delete_loses_nothing_live(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    live, dead = _mixed_store(tmp_path / "reference", sources)
    reference = ContentAddressedStore(LocalByteStore(tmp_path / "reference"))
    expected = collect(reference, live, now=_later(), rewrite_below=1.0)
    assert expected.loose_removed and expected.recipes_removed and expected.packs_removed
    final = reference.list_digests()
    objects = expected.loose_removed + expected.recipes_removed
    objects += 2 * (expected.packs_removed + expected.packs_rewritten)
    for deletes in range(1, objects + 1):  # every delete of every step interrupted in turn
        root = tmp_path / f"store{deletes}"
        _mixed_store(root, tmp_path / f"sources{deletes}")
        failing = ContentAddressedStore(_FailingStore(root, fail_at=deletes))
        with pytest.raises(StoreError, match=r"cannot delete .*run the collection again"):
            collect(failing, live, now=_later(), rewrite_below=1.0)
        _assert_survivors(failing, live, set())
        fresh = ContentAddressedStore(LocalByteStore(root))  # another process
        assert fresh.missing(live) == set()
        collect(fresh, live, now=_later(), rewrite_below=1.0)  # running again finishes it
        assert fresh.list_digests() == final
        _assert_survivors(fresh, live, dead)
    _mixed_store(tmp_path / "last", tmp_path / "sources-last")
    past = ContentAddressedStore(_FailingStore(tmp_path / "last", fail_at=objects + 1))
    assert collect(past, live, now=_later(), rewrite_below=1.0) == expected


def test_a_reader_holding_the_old_index_finds_rewritten_blobs(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    paths = _files(tmp_path / "v1", 20, seed=17)
    payload = random.Random(18).randbytes(5 * MiB)
    (tmp_path / "v1" / "big.bin").write_bytes(payload)
    files = _ingest(cas, [*paths, tmp_path / "v1" / "big.bin"])  # one pack, chunks too
    contents = {d: p.read_bytes() for p, d in files.items()}
    big = files[tmp_path / "v1" / "big.bin"]
    live = [files[paths[0]], files[paths[1]], big]
    readers = [ContentAddressedStore(cas.bytes) for _ in range(3)]  # other processes
    for reader in readers:
        reader.refresh_packs()  # the index as it was before the collection

    result = collect(ContentAddressedStore(cas.bytes), live, now=_later(), rewrite_below=1.0)
    assert result.packs_rewritten == 1 and result.blobs_removed == 18

    assert readers[0].read_bytes(live[1]) == contents[live[1]]
    assert dict(readers[1].read_many(live)) == {d: contents[d] for d in live}
    assert readers[2].read_bytes(big) == payload  # its chunks moved to the new pack


def test_bad_arguments_are_refused_before_anything_changes(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    from loopml.storage.artifacts.http_store import HttpByteStore

    files = _ingest(cas, _files(tmp_path / "v1", 5, seed=19))
    on_disk = _disk(tmp_path / "store")
    digest = next(iter(files.values()))
    for kwargs, message in [
        ({"min_age": -1}, "min_age"),
        ({"min_age": float("nan")}, "min_age"),
        ({"rewrite_below": 1.5}, "rewrite_below"),
        ({"now": float("inf")}, "now"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            collect(cas, [digest], **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not one string"):
        collect(cas, digest)
    with pytest.raises(InvalidInputError, match="is not a blob digest"):
        collect(cas, [digest, "not-a-digest"], min_age=0)
    assert _disk(tmp_path / "store") == on_disk
    server = ContentAddressedStore(HttpByteStore("http://127.0.0.1:9"))
    with pytest.raises(InvalidInputError, match="collect garbage on the server"):
        collect(server, [])


@pytest.mark.parametrize(
    "backend", ["memory", pytest.param("s3", marks=[pytest.mark.s3, pytest.mark.slow])]
)
def test_collecting_a_remote_store(
    backend: str, cas: ContentAddressedStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "memory":
        remote = open_byte_store(f"memory://loopml-gc-{tmp_path.name}")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        remote = open_byte_store(f"s3://{bucket}/store", Settings(s3_endpoint_url=endpoint))
    live, dead = _mixed_store(tmp_path / "local", tmp_path / "sources")
    local = ContentAddressedStore(LocalByteStore(tmp_path / "local"))
    target = ContentAddressedStore(remote)
    transfer(local, target, [sorted(local.list_digests())], direction="push", remote_url=remote.url)
    assert target.missing(live) == set() and target.missing(dead) == set()
    before = _blob_bytes(remote)
    listed = sorted(remote.list_stats())

    assert collect(target, live).bytes_freed == 0  # everything was just written
    planned = collect(target, live, now=_later(), dry_run=True, rewrite_below=1.0)
    assert sorted(remote.list_stats()) == listed
    result = collect(target, live, now=_later(), rewrite_below=1.0)

    assert result == dataclasses.replace(planned, dry_run=False)
    assert result.blobs_removed == len(dead) and result.packs_rewritten >= 1
    assert result.bytes_kept == _blob_bytes(remote)
    written = sum(o.size for o in remote.list_stats() if o.key not in {k for k, _, _ in listed})
    assert written > 0 and result.bytes_freed == before - result.bytes_kept  # net of them
    _assert_survivors(target, live, dead)


class _StaleListing(LocalByteStore):
    """A real local store whose next listing of ``packs`` is the one given (what a reader
    listing just before a collection removed an index sees)."""

    stale: list[str] | None = None

    def list(self, prefix: str = "") -> Iterator[str]:
        if prefix == "packs" and self.stale is not None:
            listed, self.stale = self.stale, None
            return iter(listed)
        return super().list(prefix)


def test_an_index_removed_between_listing_and_reading_is_listed_again(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    files = _ingest(cas, _files(tmp_path / "v1", 10, seed=20))
    live = list(files.values())[:2]
    before = list(cas.bytes.list("packs"))
    assert collect(cas, live, now=_later()).packs_rewritten == 1
    store = _StaleListing(tmp_path / "store")
    store.stale = before  # names the index the collection removed, not the new one
    reader = ContentAddressedStore(store)
    assert reader.missing(live) == set()
    assert (
        reader.read_bytes(live[0]) == next(p for p, d in files.items() if d == live[0]).read_bytes()
    )


def test_orphans_of_an_interrupted_publish_or_collection_are_removed_once_old(
    cas: ContentAddressedStore, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    assert collect(cas, [], min_age=0) == CollectResult(0, 0, 0, 0, 0, 0, 0, 0, False, 0)
    files = _ingest(cas, _files(tmp_path / "v1", 5, seed=21))
    kept = _ingest(cas, _files(tmp_path / "v2", 5, seed=22))
    entries = [cas.packed(next(iter(d.values()))) for d in (files, kept)]
    first, second = (e.pack for e in entries if e is not None)
    (root / pack_key(first, "idx")).unlink()  # a pack whose index was never named
    (root / pack_key(second)).rename(root / "moved.pack")  # an index whose pack is gone
    orphans = {pack_key(first): _disk(root)[pack_key(first)][0]}
    orphans[pack_key(second, "idx")] = _disk(root)[pack_key(second, "idx")][0]
    assert cas.missing([*files.values(), *kept.values()]) == {*files.values(), *kept.values()}
    assert collect(cas, []).bytes_freed == 0  # too young to tell from a publish under way

    result = collect(cas, [], now=_later())
    assert (result.packs_removed, result.bytes_freed, result.blobs_removed) == (
        2,
        sum(orphans.values()),
        0,  # their blobs were not stored to begin with
    )
    assert not any((root / key).exists() for key in orphans)


class _NoAges(ByteStore):
    """A complete byte store (over a memory store) that records no modification times, as
    a backend without :class:`ObjectStats` does."""

    def __init__(self, inner: ByteStore) -> None:
        self.inner, self.url = inner, inner.url

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def size(self, key: str) -> int:
        return self.inner.size(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.inner.put_bytes(key, data)

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        self.inner.put_file(key, path)

    def open_read(self, key: str) -> BinaryIO:
        return self.inner.open_read(key)

    def get_file(self, key: str, path: str | os.PathLike[str]) -> None:
        self.inner.get_file(key, path)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def close(self) -> None:
        self.inner.close()


def test_a_store_without_ages_is_collected_only_without_a_grace_period(tmp_path: Path) -> None:
    live, dead = _mixed_store(tmp_path / "local", tmp_path / "sources")
    local = ContentAddressedStore(LocalByteStore(tmp_path / "local"))
    target = ContentAddressedStore(
        _NoAges(open_byte_store(f"memory://loopml-ages-{tmp_path.name}"))
    )
    transfer(local, target, [sorted(local.list_digests())], direction="push", remote_url="x")
    stored = sorted(target.bytes.list())

    spared = collect(target, live, now=_later(), rewrite_below=1.0)  # any age could be young
    assert (spared.blobs_removed, spared.bytes_freed) == (0, 0)
    assert sorted(target.bytes.list()) == stored

    result = collect(target, live, min_age=0, rewrite_below=1.0)
    assert result.blobs_removed == len(dead) and result.bytes_freed > 0
    _assert_survivors(target, live, dead)


_CRASHING_WRITER = """
import os, sys
from loopml.storage.artifacts import open_byte_store
from loopml.storage.artifacts.packs import PackWriter
writer = PackWriter(open_byte_store("memory://crashing"))
writer.add("ab" * 32, b"x" * (2 << 20))  # past the write buffer: on disk
print(writer._staging, flush=True)
os._exit(1)  # killed before it could publish or clean up
"""


def test_staging_a_killed_writer_to_a_remote_store_left_in_the_temp_folder_is_removed(
    cas: ContentAddressedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    done = subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER],
        env={**os.environ, "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        check=False,
    )
    left = Path(done.stdout.strip())
    assert done.returncode == 1 and left.parent == temp and left.name.startswith("loopml-packs-")
    assert sum(f.stat().st_size for f in left.iterdir()) >= 2 << 20
    transfer_tmp = temp / "loopml-transfer-abc123"  # a blob copy cut short
    transfer_tmp.write_bytes(b"partial")
    running = temp / "loopml-packs-running"  # another writer, still at work
    running.mkdir()
    (running / "c.pack").write_bytes(b"being written")
    other = temp / "loopml-notes.txt"  # not staging
    other.write_text("keep")
    for path in (left, *left.iterdir(), transfer_tmp, other):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    remote = ContentAddressedStore(open_byte_store(f"memory://loopml-temp-{tmp_path.name}"))

    assert collect(cas, [], min_age=0).staging_removed == 0  # a local store has its own tmp
    planned = collect(remote, [], dry_run=True)
    assert planned.staging_removed == 2 and left.exists() and transfer_tmp.exists()
    result = collect(remote, [])
    assert result.staging_removed == 2 and result.bytes_freed >= 2 << 20
    assert not left.exists() and not transfer_tmp.exists()
    assert running.exists() and other.read_text() == "keep"
