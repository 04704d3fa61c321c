"""Packed small files and chunked large files: round trips, damage, interruptions, old
stores, remotes."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.data import DataClient
from loopml.errors import CorruptBlobError, InvalidInputError, StoreError
from loopml.storage.artifacts import ContentAddressedStore, LocalByteStore, open_byte_store
from loopml.tracking.client import TrackingClient
from tests.data.stores import pack_files, unpack_store

MiB = 1 << 20


def _client(project: Path, store: Path, **settings: object) -> DataClient:
    tracking = TrackingClient(settings=Settings(tracking_uri=str(store), **settings))  # type: ignore[arg-type]
    return DataClient(tracking, project)


def _close(data: DataClient) -> None:
    data.close()
    data.client.close()


@pytest.fixture
def project() -> Path:
    root = Path.cwd()
    (root / ".git").mkdir()
    return root


@pytest.fixture
def data(project: Path):  # type: ignore[no-untyped-def]
    made = _client(project, project / ".loopml")
    yield made
    _close(made)


def _small_files(folder: Path, count: int, seed: int = 0) -> dict[str, bytes]:
    rng = random.Random(seed)
    files = {}
    for i in range(count):
        rel = f"d{i % 7}/f{i:04d}.bin"
        files[rel] = rng.randbytes(rng.randint(0, 3000))
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel])
    return files


def _big_file(path: Path, mib: int, seed: int = 1) -> bytes:
    payload = random.Random(seed).randbytes(mib * MiB)
    path.write_bytes(payload)
    return payload


def _flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


def _pack_bytes(cas: ContentAddressedStore) -> int:
    store = cas.bytes
    assert isinstance(store, LocalByteStore)
    return sum(store.size(key) for key in pack_files(cas))


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _corrupt_pack(cas: ContentAddressedStore, digest: str) -> None:
    """Flip one byte of a packed blob, inside its pack file."""
    store = cas.bytes
    assert isinstance(store, LocalByteStore)
    entry = cas.packed(digest)
    assert entry is not None
    pack = store.path_for(f"packs/{entry.pack}.pack")
    os.chmod(pack, 0o644)
    _flip_byte(pack, entry.offset + entry.length // 2)


def test_many_small_files_share_one_pack_and_round_trip(
    data: DataClient, project: Path, tmp_path: Path
) -> None:
    files = _small_files(project / "rides", 300)
    v1 = data.add(project / "rides").version
    v1_pointer = (project / "rides.loopml").read_text()
    assert len(pack_files(data.blobs)) == 1  # not 300 files
    assert sum(1 for _ in data.blobs.bytes.list("blobs")) == 1  # only the manifest is loose
    assert _read_tree(data.get("rides@1", tmp_path / "v1")) == files
    # A second version stores only the changed file, in a pack of its own.
    (project / "rides" / "d3/f0003.bin").write_bytes(b"changed")
    v2 = data.add(project / "rides").version
    assert len(pack_files(data.blobs)) == 2
    changed = data.diff(v1, v2).files.changed
    assert [new.path for _, new in changed] == ["d3/f0003.bin"]
    # checkout back to version 1 copies the packed file out (no link into a pack possible)
    (project / "rides.loopml").write_text(v1_pointer)  # as `git checkout` of an old commit
    data.checkout()
    assert _read_tree(project / "rides") == files
    assert [e.state for e in data.status()] == ["unchanged"]


def test_a_one_byte_change_in_a_large_file_stores_one_chunk(
    data: DataClient, project: Path, tmp_path: Path
) -> None:
    payload = _big_file(project / "big.bin", 24)
    v1 = data.add(project / "big.bin").version
    chunks_v1 = data.blobs.recipe(v1_digest := data.manifest(v1).files[0].digest)
    assert chunks_v1 is not None and len(chunks_v1.chunks) > 5  # chunked, about 1 MiB each
    before, digests = _pack_bytes(data.blobs), data.blobs.list_digests()
    _flip_byte(project / "big.bin", 13 * MiB + 12345)
    v2 = data.add(project / "big.bin").version
    new = data.blobs.list_digests() - digests
    v2_digest = data.manifest(v2).files[0].digest
    assert v2_digest != v1_digest and v2_digest in new
    recipe = data.blobs.recipe(v2_digest)
    assert recipe is not None
    new_chunks = [(d, n) for d, n in recipe.chunks if d in new]
    assert len(new_chunks) == 1  # one chunk changed ...
    growth = _pack_bytes(data.blobs) - before
    assert growth == new_chunks[0][1] < 4 * MiB  # ... and only it was stored
    # Both versions read back exactly, through their chunk lists.
    assert (data.get(v1, tmp_path / "v1") / "big.bin").read_bytes() == payload
    changed = (data.get(v2, tmp_path / "v2") / "big.bin").read_bytes()
    assert changed != payload and len(changed) == len(payload)
    assert data.blobs.size(v2_digest) == len(payload)


def test_a_corrupt_pack_is_caught_on_read_and_leaves_nothing(
    data: DataClient, project: Path, tmp_path: Path
) -> None:
    _small_files(project / "rides", 20)
    v = data.add(project / "rides").version
    victim = data.manifest(v).files[4]
    _corrupt_pack(data.blobs, victim.digest)
    with pytest.raises(CorruptBlobError, match="corrupted"):
        data.blobs.read_bytes(victim.digest)
    out = tmp_path / "out"
    with pytest.raises(CorruptBlobError):
        data.get(v, out)
    assert not (out / victim.path).exists()
    assert not list(out.rglob("*.tmp"))  # no half-written file either


def test_a_corrupt_chunk_is_caught_on_read(data: DataClient, project: Path, tmp_path: Path) -> None:
    _big_file(project / "big.bin", 6)
    v = data.add(project / "big.bin").version
    recipe = data.blobs.recipe(data.manifest(v).files[0].digest)
    assert recipe is not None
    _corrupt_pack(data.blobs, recipe.chunks[-1][0])
    with pytest.raises(CorruptBlobError):
        data.get(v, tmp_path / "out")
    assert not (tmp_path / "out" / "big.bin").exists()


def test_a_corrupt_pack_index_is_a_clear_error(data: DataClient, project: Path) -> None:
    _small_files(project / "rides", 5)
    data.add(project / "rides")
    store = data.blobs.bytes
    assert isinstance(store, LocalByteStore)
    [index] = [k for k in store.list("packs") if k.endswith(".idx")]
    path = store.path_for(index)
    os.chmod(path, 0o644)
    _flip_byte(path, 40)
    fresh = ContentAddressedStore(store)
    with pytest.raises(CorruptBlobError, match=r"index of pack .* is corrupted"):
        fresh.missing([data.manifest("rides").files[0].digest])


def test_an_unreadable_file_records_nothing_and_leaves_no_pack(
    data: DataClient, project: Path
) -> None:
    _small_files(project / "rides", 50)
    _big_file(project / "rides" / "zz_big.bin", 5)
    (project / "rides" / "zzz").symlink_to("/proc/self/mem")  # read last, and unreadable
    with pytest.raises(InvalidInputError, match="cannot read"):
        data.add(project / "rides")
    assert pack_files(data.blobs) == [] and data.blobs.list_digests() == set()
    assert list((project / ".loopml/artifacts/tmp").iterdir()) == []
    assert not (project / "rides.loopml").exists()


def test_a_store_that_fails_while_publishing_records_nothing(
    data: DataClient, project: Path
) -> None:
    _small_files(project / "rides", 30)
    packs = project / ".loopml/artifacts/packs"
    packs.parent.mkdir(parents=True)
    packs.write_text("not a folder")  # the pack cannot be named
    with pytest.raises(StoreError, match="cannot write"):
        data.add(project / "rides")
    assert not (project / "rides.loopml").exists()
    with pytest.raises(Exception, match="no dataset named 'rides'"):
        data.get_version("rides")
    assert list((project / ".loopml/artifacts/tmp").iterdir()) == []
    packs.unlink()
    assert data.add(project / "rides").version.version == 1  # and it works once fixed


def test_an_old_store_of_loose_blobs_still_reads_and_grows_mixed(
    project: Path, tmp_path: Path
) -> None:
    files = _small_files(project / "rides", 40)
    payload = _big_file(project / "big.bin", 5)
    data = _client(project, project / ".loopml")
    data.add(project / "rides")
    data.add(project / "big.bin")
    assert unpack_store(data.blobs) == 41  # what an older loopml wrote: one file per blob
    _close(data)
    data = _client(project, project / ".loopml")
    assert pack_files(data.blobs) == []
    assert _read_tree(data.get("rides@1", tmp_path / "old")) == files
    assert (data.get("big.bin@1", tmp_path / "oldbig") / "big.bin").read_bytes() == payload
    (project / "rides" / "d0/f0000.bin").write_bytes(b"new bytes")
    data.add(project / "rides")  # the new file goes to a pack; the 39 others stay loose
    assert len(pack_files(data.blobs)) == 1
    files["d0/f0000.bin"] = b"new bytes"
    assert _read_tree(data.get("rides@2", tmp_path / "mixed")) == files
    assert [e.state for e in data.status()] == ["unchanged", "unchanged"]
    remote = str(tmp_path / "remote")
    data.push(remote)
    _close(data)
    shutil.rmtree(project / "rides")
    colleague = _client(project, tmp_path / "colleague")
    colleague.pull(remote)
    colleague.checkout()
    assert _read_tree(project / "rides") == files
    _close(colleague)


def test_packed_and_chunked_data_round_trip_through_a_remote(
    data: DataClient, project: Path, tmp_path: Path
) -> None:
    files = _small_files(project / "rides", 200)
    payload = _big_file(project / "rides" / "big.bin", 12)
    files["big.bin"] = payload
    data.add(project / "rides")
    remote = tmp_path / "remote"
    first = data.push(str(remote))
    assert first.blobs == 202 and first.bytes > 12 * MiB  # 201 files and the manifest
    assert len(list((remote / "packs").glob("*.pack"))) == 1  # not 200 objects
    _flip_byte(project / "rides" / "big.bin", 7 * MiB)
    data.add(project / "rides")
    second = data.push(str(remote))
    assert second.blobs == 2 and second.bytes < 5 * MiB  # the file's new chunk, not 12 MiB
    shutil.rmtree(project / "rides")
    colleague = _client(project, tmp_path / "colleague")
    pulled = colleague.pull(str(remote))
    assert pulled.blobs == 202
    colleague.checkout()
    got = _read_tree(project / "rides")
    assert got.pop("big.bin") != payload and got == {
        k: v for k, v in files.items() if k != "big.bin"
    }
    assert [e.state for e in colleague.status()] == ["unchanged"]
    assert colleague.pull(str(remote)).blobs == 0  # nothing missing any more
    _close(colleague)


def test_a_corrupt_pack_on_the_remote_is_refused_on_pull(
    data: DataClient, project: Path, tmp_path: Path
) -> None:
    _small_files(project / "rides", 30)
    v = data.add(project / "rides").version
    remote = str(tmp_path / "remote")
    data.push(remote)
    remote_cas = ContentAddressedStore(open_byte_store(remote))
    victim = data.manifest(v).files[7].digest
    _corrupt_pack(remote_cas, victim)
    fresh = _client(project, tmp_path / "fresh")
    with pytest.raises(CorruptBlobError, match="corrupted"):
        fresh.pull(remote)
    assert fresh.blobs.missing([victim]) == {victim}  # the bad bytes were not stored
    assert pack_files(fresh.blobs) == []  # nor any part of the pack being made
    _close(fresh)


def test_a_tampered_chunk_list_on_the_remote_is_refused_on_pull(
    data: DataClient, project: Path, tmp_path: Path
) -> None:
    _big_file(project / "big.bin", 6)
    v = data.add(project / "big.bin").version
    remote = tmp_path / "remote"
    data.push(str(remote))
    digest = data.manifest(v).files[0].digest
    recipe_file = remote / "chunked" / digest[:2] / digest[2:]
    text = recipe_file.read_text()
    recipe = data.blobs.recipe(digest)
    assert recipe is not None
    first, second = recipe.chunks[0][0], recipe.chunks[1][0]
    os.chmod(recipe_file, 0o644)  # swap two chunks: each verifies, the whole does not
    recipe_file.write_text(text.replace(first, "@").replace(second, first).replace("@", second))
    fresh = _client(project, tmp_path / "fresh")
    with pytest.raises(CorruptBlobError):
        fresh.pull(str(remote))
    assert fresh.blobs.recipe(digest) is None and not fresh.blobs.has(digest)
    _close(fresh)


def test_data_sync_off_still_stores_everything(project: Path, tmp_path: Path) -> None:
    files = _small_files(project / "rides", 25)
    data = _client(project, project / ".loopml", data_sync=False)
    assert data.client.settings.data_sync is False
    data.add(project / "rides")
    assert _read_tree(data.get("rides@1", tmp_path / "out")) == files
    _close(data)


@pytest.mark.s3
def test_packed_and_chunked_data_through_s3(
    project: Path, tmp_path: Path, s3_bucket: str, s3_endpoint: str
) -> None:
    remote = f"s3://{s3_bucket}/packed"
    data = _client(project, project / ".loopml", s3_endpoint_url=s3_endpoint)
    files = _small_files(project / "rides", 40)
    files["big.bin"] = _big_file(project / "rides" / "big.bin", 6)
    data.add(project / "rides")
    assert data.push(remote).blobs == 42  # 41 files and the manifest
    _flip_byte(project / "rides" / "big.bin", 3 * MiB)
    data.add(project / "rides")
    files["big.bin"] = (project / "rides" / "big.bin").read_bytes()
    second = data.push(remote)
    assert second.blobs == 2 and second.bytes < 5 * MiB  # one new chunk, not the file
    _close(data)
    shutil.rmtree(project / "rides")
    fresh = _client(project, tmp_path / "fresh", s3_endpoint_url=s3_endpoint)
    assert fresh.pull(remote).blobs == 42  # read from the remote's packs by range
    fresh.checkout()
    assert _read_tree(project / "rides") == files
    _close(fresh)


def test_a_large_file_stored_whole_is_not_chunked_again(project: Path, tmp_path: Path) -> None:
    """A large file an older store keeps as one blob, added again among new small files
    in another folder: the small files are packed, the large one's chunks (written while
    it was hashed) are cut off again."""
    payload = _big_file(project / "big.bin", 6)
    data = _client(project, project / ".loopml")
    data.add(project / "big.bin")
    unpack_store(data.blobs)
    _close(data)
    data = _client(project, project / ".loopml")
    files = _small_files(project / "mixed", 20)
    (project / "mixed" / "zz_big.bin").write_bytes(payload)  # after the small ones
    version = data.add(project / "mixed").version
    assert _pack_bytes(data.blobs) == sum(len(b) for b in files.values())
    assert data.blobs.chunked_digests() == set()  # no chunk list for the whole blob
    files["zz_big.bin"] = payload
    assert _read_tree(data.get(version, tmp_path / "out")) == files
    _close(data)
