"""Contract of ByteStore: every backend (local folder, memory, S3) behaves the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.errors import ArtifactNotFoundError, InvalidPathError
from loopml.storage.artifacts import ByteStore


def test_put_and_read_bytes(byte_store: ByteStore) -> None:
    byte_store.put_bytes("a/b/c.bin", b"hello")
    assert byte_store.exists("a/b/c.bin")
    assert byte_store.size("a/b/c.bin") == 5
    with byte_store.open_read("a/b/c.bin") as handle:
        assert handle.read() == b"hello"


def test_put_replaces(byte_store: ByteStore) -> None:
    byte_store.put_bytes("k", b"one")
    byte_store.put_bytes("k", b"two!")
    assert byte_store.size("k") == 4


def test_put_file_and_get_file(byte_store: ByteStore, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 1000)
    byte_store.put_file("files/src.bin", src)
    dest = tmp_path / "out" / "copy.bin"
    byte_store.get_file("files/src.bin", dest)
    assert dest.read_bytes() == src.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["copy.bin"]  # no temp files left


def test_missing_objects(byte_store: ByteStore, tmp_path: Path) -> None:
    assert not byte_store.exists("nope")
    with pytest.raises(ArtifactNotFoundError):
        byte_store.size("nope")
    with pytest.raises(ArtifactNotFoundError):
        byte_store.open_read("nope")
    with pytest.raises(ArtifactNotFoundError):
        byte_store.get_file("nope", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    byte_store.delete("nope")  # no error


def test_list_and_delete(byte_store: ByteStore) -> None:
    for key in ("blobs/aa/1", "blobs/aa/2", "blobs/bb/3", "other/4"):
        byte_store.put_bytes(key, b"x")
    assert sorted(byte_store.list("blobs")) == ["blobs/aa/1", "blobs/aa/2", "blobs/bb/3"]
    assert sorted(byte_store.list()) == ["blobs/aa/1", "blobs/aa/2", "blobs/bb/3", "other/4"]
    assert list(byte_store.list("missing")) == []
    byte_store.delete("blobs/aa/1")
    assert not byte_store.exists("blobs/aa/1")
    assert sorted(byte_store.list("blobs")) == ["blobs/aa/2", "blobs/bb/3"]


def test_delete_many_removes_present_keys_and_ignores_absent_ones(byte_store: ByteStore) -> None:
    keys = [f"packs/p{i}.pack" for i in range(5)]
    for key in keys:
        byte_store.put_bytes(key, key.encode())
    byte_store.put_bytes("packs/kept.idx", b"kept")
    byte_store.delete_many([*keys[:3], "packs/never-there.pack", keys[4]])
    assert sorted(byte_store.list("packs")) == ["packs/kept.idx", keys[3]]
    byte_store.delete_many([])  # nothing to do


@pytest.mark.parametrize(
    "bad", ["../escape", "/etc/passwd", "a/../../b", "s3://other/key", "a\x00b"]
)
def test_keys_are_confined(byte_store: ByteStore, bad: str) -> None:
    with pytest.raises(InvalidPathError):
        byte_store.put_bytes(bad, b"x")
    with pytest.raises(InvalidPathError):
        byte_store.exists(bad)


def test_read_range(byte_store: ByteStore) -> None:
    from loopml.storage.artifacts.base import RangeReader

    assert isinstance(byte_store, RangeReader)  # every byte store here reads ranges
    byte_store.put_bytes("packs/p.pack", b"0123456789")
    assert byte_store.read_range("packs/p.pack", 2, 5) == b"234"
    assert byte_store.read_range("packs/p.pack", 8, 20) == b"89"  # short at the end
    with pytest.raises(ArtifactNotFoundError):
        byte_store.read_range("packs/none.pack", 0, 1)
    assert byte_store.read_range("packs/p.pack", 4, 4) == b""


def test_modification_times_and_stats_from_listings(byte_store: ByteStore) -> None:
    import time

    from loopml.storage.artifacts.base import ObjectStats

    assert isinstance(byte_store, ObjectStats)  # every byte store here reports them
    before = time.time()
    byte_store.put_bytes("blobs/aa/1", b"one")
    byte_store.put_bytes("blobs/bb/2", b"three")
    modified = byte_store.modified("blobs/aa/1")
    assert modified is not None and before - 5 <= modified <= time.time() + 5
    stats = sorted(byte_store.list_stats("blobs"))
    assert [(s.key, s.size) for s in stats] == [("blobs/aa/1", 3), ("blobs/bb/2", 5)]
    assert all(s.modified is not None and abs(s.modified - modified) < 60 for s in stats)
    assert list(byte_store.list_stats("missing")) == []
    with pytest.raises(ArtifactNotFoundError):
        byte_store.modified("nope")
