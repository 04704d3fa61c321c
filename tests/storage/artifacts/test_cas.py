"""The content-addressed store: dedup, verified reads, atomic writes, streaming."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
from blake3 import blake3

from loopml.errors import ArtifactNotFoundError, CorruptBlobError, InvalidInputError
from loopml.storage.artifacts import ByteStore, ContentAddressedStore, LocalByteStore


@pytest.fixture
def cas(byte_store: ByteStore) -> ContentAddressedStore:
    return ContentAddressedStore(byte_store)


def test_same_bytes_are_stored_once(cas: ContentAddressedStore, tmp_path: Path) -> None:
    a = cas.put_bytes(b"payload")
    f = tmp_path / "f.txt"
    f.write_bytes(b"payload")
    b = cas.put_file(f)
    assert a == b
    assert a.digest == blake3(b"payload").hexdigest()
    assert list(cas.bytes.list("blobs")) == [f"blobs/{a.digest[:2]}/{a.digest[2:]}"]
    assert cas.read_bytes(a.digest) == b"payload"
    assert cas.missing([a.digest, "0" * 64]) == {"0" * 64}


def test_get_file_verifies(cas: ContentAddressedStore, tmp_path: Path) -> None:
    info = cas.put_bytes(b"good bytes")
    cas.get_file(info.digest, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == b"good bytes"


def test_corrupted_blob_is_refused(cas: ContentAddressedStore, tmp_path: Path) -> None:
    info = cas.put_bytes(b"original content")
    cas.bytes.put_bytes(cas.key_for(info.digest), b"tampered content")  # bit rot / tampering
    with pytest.raises(CorruptBlobError, match=info.digest):
        cas.read_bytes(info.digest)
    dest = tmp_path / "out" / "out.bin"
    with pytest.raises(CorruptBlobError):
        cas.get_file(info.digest, dest)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no temp file left either


def test_unknown_and_malformed_digests(cas: ContentAddressedStore) -> None:
    with pytest.raises(ArtifactNotFoundError):
        cas.read_bytes("a" * 64)
    for bad in ("xyz", "A" * 64, "../" + "a" * 61):
        with pytest.raises(InvalidInputError):
            cas.read_bytes(bad)


def test_put_stream_that_fails_midway_stores_nothing(tmp_path: Path) -> None:
    cas = ContentAddressedStore(LocalByteStore(tmp_path / "store"))

    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, n: int) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("connection reset")
            return b"x" * n

    with pytest.raises(OSError, match="reset"):
        cas.put_stream(Broken())  # type: ignore[arg-type]
    assert list(cas.bytes.list()) == []


def test_local_writes_leave_no_temp_files(tmp_path: Path) -> None:
    cas = ContentAddressedStore(LocalByteStore(tmp_path / "store"))
    for i in range(20):
        cas.put_bytes(f"blob {i}".encode())
    names = [p.name for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert len(names) == 20
    assert not [n for n in names if n.endswith(".tmp")]


def test_large_file_is_streamed_not_loaded(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        for _ in range(40):
            handle.write(os.urandom(1 << 20))
    cas = ContentAddressedStore(LocalByteStore(tmp_path / "store"))
    tracemalloc.start()
    info = cas.put_file(big)
    cas.get_file(info.digest, tmp_path / "back.bin")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert info.size == 40 << 20
    assert peak < 8 << 20, f"peak Python allocation {peak} bytes for a 40 MiB file"
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()


def test_packed_and_chunked_blobs_read_back(cas: ContentAddressedStore) -> None:
    from loopml.storage.artifacts.cas import Recipe

    blobs = [os.urandom(n) for n in (0, 1, 1000, 70_000)]
    digests = [blake3(b).hexdigest() for b in blobs]
    with cas.pack_writer() as writer:
        for digest, data in zip(digests, blobs, strict=True):
            writer.add(digest, data)
        assert not cas.has(digests[2])  # nothing is visible before publishing
        writer.publish()
    assert list(cas.bytes.list("blobs")) == []  # in one pack, not one object each
    assert cas.missing([*digests, "0" * 64]) == {"0" * 64}
    assert [cas.read_bytes(d) for d in digests] == blobs
    assert dict(cas.read_many(reversed(digests))) == dict(zip(digests, blobs, strict=True))
    assert cas.size(digests[3]) == 70_000
    # A chunked blob: its chunks (here the packed blobs) in order make up the whole.
    whole = b"".join(blobs)
    digest = blake3(whole).hexdigest()
    chunks = tuple((d, len(b)) for d, b in zip(digests, blobs, strict=True))
    cas.put_recipe(digest, Recipe(len(whole), chunks))
    assert cas.has(digest) and cas.size(digest) == len(whole)
    assert cas.read_bytes(digest) == whole
    assert cas.list_digests() == {*digests, digest}
    fresh = ContentAddressedStore(cas.bytes)  # another process: reads the index anew
    assert fresh.read_bytes(digest) == whole and not fresh.missing(digests)


def test_a_pack_without_its_index_is_invisible(tmp_path: Path) -> None:
    from loopml.storage.artifacts.packs import pack_key

    cas = ContentAddressedStore(LocalByteStore(tmp_path / "store"))
    data = b"some bytes"
    digest = blake3(data).hexdigest()
    writer = cas.pack_writer()
    writer.add(digest, data)
    [pack] = writer.publish()
    cas.bytes.delete(pack_key(pack))  # an index whose pack is gone
    assert ContentAddressedStore(cas.bytes).missing([digest]) == {digest}
    assert not list((tmp_path / "store" / "tmp").iterdir())  # the writer cleaned up
    aborted = cas.pack_writer()
    aborted.add(digest, data)
    aborted.abort()
    assert list(cas.bytes.list("packs")) == [pack_key(pack, "idx")]


@pytest.mark.parametrize("buffered", [True, False])
def test_a_rolled_back_writer_forgets_what_came_after_the_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, buffered: bool
) -> None:
    from loopml.storage.artifacts import packs

    monkeypatch.setattr(packs, "_PACK_TARGET", 100_000)  # roll to a new pack often
    cas = ContentAddressedStore(LocalByteStore(tmp_path / "store"))
    size = 5_000 if buffered else 2 << 20  # buffered in memory, or written straight out
    kept = [os.urandom(size) for _ in range(3)]
    dropped = [os.urandom(size) for _ in range(40)]
    later = os.urandom(size)
    with cas.pack_writer() as writer:
        for data in kept:
            writer.add(blake3(data).hexdigest(), data)
        mark = writer.mark()
        for data in dropped:  # spans several packs
            writer.add(blake3(data).hexdigest(), data)
        writer.rollback(mark)
        assert blake3(dropped[0]).hexdigest() not in writer
        assert writer.bytes_written == size * len(kept)
        writer.add(blake3(later).hexdigest(), later)
        writer.add(blake3(dropped[1]).hexdigest(), dropped[1])  # may be added again
        writer.publish()
    stored = [*kept, later, dropped[1]]
    assert cas.missing(blake3(d).hexdigest() for d in dropped[2:]) == {
        blake3(d).hexdigest() for d in dropped[2:]
    }
    fresh = ContentAddressedStore(cas.bytes)
    assert [fresh.read_bytes(blake3(d).hexdigest()) for d in stored] == stored
    on_disk = sum(p.stat().st_size for p in (tmp_path / "store" / "packs").glob("*.pack"))
    assert on_disk == size * len(stored)  # the dropped bytes were cut off, not left behind
    assert not list((tmp_path / "store" / "tmp").iterdir())


def test_rolling_back_to_before_the_first_pack_leaves_no_pack(tmp_path: Path) -> None:
    cas = ContentAddressedStore(LocalByteStore(tmp_path / "store"))
    data = os.urandom(3000)
    with cas.pack_writer() as writer:
        mark = writer.mark()
        writer.add(blake3(data).hexdigest(), data)
        writer.rollback(mark)
        assert writer.publish() == []
    assert list(cas.bytes.list("packs")) == []
