"""Versioning files and folders: add, status, diff, get, checkout, pointers, bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.data import DataClient
from loopml.data.manifest import Manifest
from loopml.entities import DatasetKind
from loopml.errors import (
    AlreadyExistsError,
    CorruptBlobError,
    DatasetVersionNotFoundError,
    InvalidInputError,
    InvalidPathError,
    InvalidStateError,
)
from loopml.storage.artifacts import LocalByteStore
from loopml.tracking.client import TrackingClient


@pytest.fixture
def data(tmp_path: Path) -> DataClient:
    project = Path.cwd()
    (project / ".git").mkdir()
    client = TrackingClient(settings=Settings(tracking_uri=str(project / ".loopml")))
    made = DataClient(client, project)
    yield made
    made.close()
    client.close()


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _blob_count(data: DataClient) -> int:
    return len(data.blobs.list_digests())  # loose, packed and chunked


def test_add_records_a_version_and_writes_a_pointer_for_git(data: DataClient) -> None:
    folder = _tree(Path("data/rides"), {"a.csv": "x,y\n1,2\n", "sub/b.txt": "hello"})
    result = data.add(folder)
    v = result.version
    assert (v.name, v.version, v.file_count, v.size, v.kind) == (
        "rides",
        1,
        2,
        13,
        DatasetKind.FILES,
    )
    assert v.source == "data/rides" and result.created
    pointer = Path("data/rides.loopml").read_text()
    assert "name: rides" in pointer and f"digest: {v.digest}" in pointer
    assert "/rides" in Path("data/.gitignore").read_text().splitlines()
    assert [f.path for f in data.manifest("rides@1").files] == ["a.csv", "sub/b.txt"]


def test_unchanged_data_is_not_a_new_version(data: DataClient) -> None:
    folder = _tree(Path("rides"), {"a.csv": "1", "b.csv": "2"})
    first = data.add(folder)
    again = data.add(folder)
    assert not again.created and again.version.version == first.version.version == 1


def test_second_version_stores_only_changed_files(data: DataClient) -> None:
    folder = _tree(Path("rides"), {f"f{i}.txt": f"row {i}" for i in range(50)})
    data.add(folder)
    before = _blob_count(data)
    (folder / "f3.txt").write_text("changed")
    v2 = data.add(folder).version
    assert v2.version == 2
    # one new file blob and one new manifest blob; the 49 unchanged files are stored once
    assert _blob_count(data) == before + 2
    d = data.diff("rides@1", v2)
    assert [new.path for _, new in d.files.changed] == ["f3.txt"] and d.files.unchanged == 49


def test_identical_files_across_datasets_are_stored_once(data: DataClient) -> None:
    data.add(_tree(Path("one"), {"a.txt": "same bytes"}))
    count = _blob_count(data)
    data.add(_tree(Path("two"), {"b.txt": "same bytes"}))
    assert _blob_count(data) == count + 1  # only the second manifest


def test_status_reports_changes_and_uses_the_state_cache(data: DataClient) -> None:
    folder = _tree(Path("rides"), {"a.txt": "aaaa", "b.txt": "bbbb", "c.txt": "cccc"})
    data.add(folder)
    assert [e.state for e in data.status()] == ["unchanged"]
    # Same size, same mtime, same inode: the cache answers without reading the file, as DVC
    # does. (Proves the cache is consulted: the new bytes are not noticed.)
    target = folder / "a.txt"
    st = target.stat()
    with open(target, "r+") as handle:
        handle.write("AAAA")
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert [e.state for e in data.status()] == ["unchanged"]
    (folder / "b.txt").write_text("bbbb and more")
    (folder / "c.txt").unlink()
    (folder / "d.txt").write_text("new")
    [entry] = data.status()
    assert entry.state == "modified" and entry.diff is not None
    assert [f.path for f in entry.diff.added] == ["d.txt"]
    assert [f.path for f in entry.diff.removed] == ["c.txt"]
    assert [n.path for _, n in entry.diff.changed] == ["b.txt"]


def test_status_of_a_missing_path(data: DataClient) -> None:
    folder = _tree(Path("rides"), {"a.txt": "a"})
    data.add(folder)
    (folder / "a.txt").unlink()
    folder.rmdir()
    assert [e.state for e in data.status()] == ["missing"]


def test_get_materialises_a_version_exactly(data: DataClient, tmp_path: Path) -> None:
    folder = _tree(Path("rides"), {"a.txt": "one", "sub/b.txt": "two"})
    data.add(folder)
    (folder / "a.txt").write_text("one, edited")
    data.add(folder)
    out = data.get("rides@1", tmp_path / "v1")
    assert (out / "a.txt").read_text() == "one" and (out / "sub/b.txt").read_text() == "two"
    with pytest.raises(InvalidStateError, match="not an empty folder"):
        data.get("rides@2", out)
    data.get("rides@2", out, force=True)
    assert (out / "a.txt").read_text() == "one, edited"


def test_hard_linked_files_are_read_only_and_unprotect_copies(
    data: DataClient, tmp_path: Path
) -> None:
    from loopml.data import unprotect
    from tests.data.stores import unpack_store

    data.add(_tree(Path("rides"), {"a.txt": "one"}))
    unpack_store(data.blobs)  # loose blobs, as a store written before packs: linkable
    out = data.get("rides@1", tmp_path / "linked", link="hardlink")
    linked = out / "a.txt"
    assert linked.stat().st_nlink == 2 and not linked.stat().st_mode & 0o222
    assert unprotect(out) == 1
    linked.write_text("edited")  # a private copy now: the store is untouched
    assert data.blobs.read_bytes(data.manifest("rides@1").files[0].digest) == b"one"


def test_a_corrupted_store_blob_is_caught_on_read(data: DataClient, tmp_path: Path) -> None:
    from tests.data.stores import unpack_store

    data.add(_tree(Path("rides"), {"a.txt": "one"}))
    unpack_store(data.blobs)  # a loose blob (the packed case: tests/data/test_packs.py)
    digest = data.manifest("rides@1").files[0].digest
    store = data.blobs.bytes
    assert isinstance(store, LocalByteStore)
    blob = store.path_for(data.blobs.key_for(digest))
    os.chmod(blob, 0o644)
    blob.write_text("two")
    with pytest.raises(CorruptBlobError):
        data.blobs.read_bytes(digest)


def test_checkout_restores_what_the_pointer_names(data: DataClient) -> None:
    folder = _tree(Path("rides"), {"a.txt": "v1", "b.txt": "kept"})
    data.add(folder)
    v1_pointer = Path("rides.loopml").read_text()
    (folder / "a.txt").write_text("v2")
    (folder / "c.txt").write_text("only in v2")
    data.add(folder)
    Path("rides.loopml").write_text(v1_pointer)  # as `git checkout` of an old commit does
    [entry] = data.checkout()
    assert entry.version == 1
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "b.txt"]
    assert (folder / "a.txt").read_text() == "v1"
    assert [e.state for e in data.status()] == ["unchanged"]


def test_checkout_refuses_to_lose_unsaved_changes(data: DataClient) -> None:
    folder = _tree(Path("rides"), {"a.txt": "v1"})
    data.add(folder)
    (folder / "a.txt").write_text("work in progress")
    with pytest.raises(InvalidStateError, match="would discard changes"):
        data.checkout()
    assert (folder / "a.txt").read_text() == "work in progress"
    data.checkout(force=True)
    assert (folder / "a.txt").read_text() == "v1"


def test_checkout_of_a_single_file(data: DataClient) -> None:
    target = Path("model_inputs.csv")
    target.write_text("a,b\n1,2\n")
    data.add(target, name="inputs")
    target.unlink()
    data.checkout([Path("model_inputs.csv.loopml")])
    assert target.read_text() == "a,b\n1,2\n"


def test_missing_blobs_give_a_pull_hint(data: DataClient, tmp_path: Path) -> None:
    data.add(_tree(Path("rides"), {"a.txt": "one"}))
    store = data.blobs.bytes
    assert isinstance(store, LocalByteStore)
    for pack in list(store.list("packs")):  # the file's blob is packed: lose the pack
        store.delete(pack)
    with pytest.raises(DatasetVersionNotFoundError, match="loopml data pull"):
        data.get("rides@1", tmp_path / "out")


def test_bad_input_is_refused_clearly(data: DataClient, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("x")
    with pytest.raises(InvalidPathError, match="outside the project"):
        data.add(outside)
    with pytest.raises(InvalidInputError, match="cannot read"):
        data.add(Path("no_such_folder"))
    Path("empty").mkdir()
    with pytest.raises(InvalidInputError, match="no files"):
        data.add(Path("empty"))
    data.add(_tree(Path("rides"), {"a.txt": "x"}))
    with pytest.raises(AlreadyExistsError, match="already tracks"):
        data.add(_tree(Path("other"), {"b.txt": "y"}), name="rides")
    Path("bad.loopml").write_text("not: [a pointer")
    with pytest.raises(InvalidInputError, match="not a loopml pointer"):
        data.status()


def test_an_unreadable_file_fails_the_add_and_records_nothing(data: DataClient) -> None:
    folder = _tree(Path("rides"), {"a.txt": "fine"})
    # /proc/self/mem is a regular file that no one, root included, can read from offset 0.
    (folder / "broken").symlink_to("/proc/self/mem")
    with pytest.raises(InvalidInputError, match="cannot read"):
        data.add(folder)
    with pytest.raises(Exception, match="no dataset named 'rides'"):
        data.get_version("rides")
    assert not Path("rides.loopml").exists()
    assert list(Path(".loopml/artifacts/tmp").iterdir()) == []  # no half-written blobs


def test_manifest_digest_is_canonical() -> None:
    from loopml.entities import DatasetFile

    a = Manifest.of([DatasetFile("b", "1" * 64, 1), DatasetFile("a", "2" * 64, 2)])
    b = Manifest.of([DatasetFile("a", "2" * 64, 2), DatasetFile("b", "1" * 64, 1)])
    assert a.digest == b.digest and Manifest.from_bytes(a.to_bytes()) == a
