"""The listing of a tracked folder and its fingerprint: ``add`` records it, ``status``
recomputes it, and the two must agree byte for byte, whatever the folder holds."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from blake3 import blake3

from loopml.config import Settings
from loopml.data import DataClient
from loopml.data.listing import fingerprint, folder_fingerprint, scan
from loopml.data.quick import quick_status
from loopml.data.workspace import scan as workspace_scan
from loopml.errors import InvalidInputError
from loopml.tracking.client import TrackingClient


@pytest.fixture
def data() -> Iterator[DataClient]:
    project = Path.cwd()
    (project / ".git").mkdir()
    client = TrackingClient(settings=Settings(tracking_uri=str(project / ".loopml")))
    made = DataClient(client, project)
    yield made
    made.close()
    client.close()


def _awkward_tree(root: Path) -> Path:
    """Names that test the order (a prefix of another name, separators, non-ASCII),
    symbolic links of each kind, and the folders and files a listing skips."""
    files = {
        "a": "1",
        "a b": "2",
        "a-b": "3",
        "a.txt": "4",
        "a0/x": "5",
        "ab/c/d.bin": "6",
        "é.csv": "7",
        "日本/データ.txt": "8",
        "Z": "9",
        ".hidden": "10",
        ".git/config": "skipped",
        "sub/__pycache__/m.pyc": "skipped",
        "sub/node_modules/p.js": "skipped",
        "sub/inner.loopml": "skipped: a pointer",
        "sub/kept.txt": "11",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "seen.txt").write_text("a linked file is listed as the file")
    (outside / "folder").mkdir(exist_ok=True)
    (outside / "folder" / "unseen.txt").write_text("a linked folder is not followed")
    (root / "link.txt").symlink_to(outside / "seen.txt")
    (root / "linked_folder").symlink_to(outside / "folder")
    (root / "dangling").symlink_to(root / "no-such-file")
    return root


def _not_utf8(folder: Path) -> Path:
    """A file whose name is not UTF-8 (kept as its bytes, surrogate escapes, in listings)."""
    os.close(os.open(os.fsencode(folder) + b"/raw\xff.bin", os.O_CREAT | os.O_WRONLY, 0o644))
    return folder / os.fsdecode(b"raw\xff.bin")


def _recorded(project: Path, target: Path) -> str:
    with sqlite3.connect(project / ".loopml" / "state.db") as conn:
        row = conn.execute(
            "SELECT fingerprint FROM trees WHERE path = ?", (str(target.resolve()),)
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_the_listing_follows_the_documented_rules(tmp_path: Path) -> None:
    root = _awkward_tree(tmp_path / "tree")
    _not_utf8(root)
    listed = [rel for rel, _, _ in scan(str(root))]
    assert listed == sorted(listed)
    assert set(listed) == {
        ".hidden",
        "Z",
        "a",
        "a b",
        "a-b",
        "a.txt",
        "a0/x",
        "ab/c/d.bin",
        "link.txt",
        "raw\udcff.bin",
        "sub/kept.txt",
        "é.csv",
        "日本/データ.txt",
    }
    by_rel = {rel: (absolute, st) for rel, absolute, st in scan(str(root))}
    absolute, st = by_rel["link.txt"]
    assert absolute == str(root / "link.txt")
    assert st.st_size == len("a linked file is listed as the file")  # the target's stat


def test_the_fingerprint_is_the_documented_digest_of_the_listing(tmp_path: Path) -> None:
    root = _awkward_tree(tmp_path / "tree")
    _not_utf8(root)
    lines = []
    for rel, _, st in scan(str(root)):
        lines.append(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}")
    by_hand = blake3("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()
    # Changing this definition would make every recorded fingerprint miss once.
    assert fingerprint(scan(str(root))) == folder_fingerprint(str(root)) == by_hand
    single = root / "a.txt"
    assert folder_fingerprint(str(single)) == fingerprint(scan(str(single)))
    assert [rel for rel, _, _ in scan(str(single))] == ["a.txt"]


def test_add_records_the_fingerprint_that_status_computes(data: DataClient) -> None:
    project = data.project
    root = _awkward_tree(project / "tree")
    data.add(root)
    assert _recorded(project, root) == folder_fingerprint(str(root))
    assert _states() == {"tree": "unchanged"}

    changes = [
        lambda: (root / "a").write_text("changed, same size? no: longer"),  # an edit
        lambda: (root / "ab" / "c" / "new.txt").write_text("new"),  # a new file
        lambda: (root / "a b").unlink(),  # a deleted file
        lambda: (root / "é.csv").rename(root / "e.csv"),  # a renamed non-ASCII name
        lambda: (root / "link2").symlink_to(root / "Z"),  # a new link to a file
    ]
    for change in changes:
        before = folder_fingerprint(str(root))
        change()
        assert folder_fingerprint(str(root)) != before
        assert quick_status() is None  # not plainly unchanged: the full status decides
        assert data.status()[0].state == "modified"
        data.add(root)
        assert _recorded(project, root) == folder_fingerprint(str(root))
        assert _states() == {"tree": "unchanged"}


def test_what_the_listing_skips_does_not_change_the_fingerprint(data: DataClient) -> None:
    root = _awkward_tree(data.project / "tree")
    data.add(root)
    before = folder_fingerprint(str(root))
    (root / "sub" / "__pycache__" / "n.pyc").write_text("skipped")
    (root / ".git" / "HEAD").write_text("skipped")
    (root / "other.loopml").write_text("a pointer file")
    (root.parent / "outside" / "folder" / "also-unseen.txt").write_text("behind a folder link")
    (root / "dangling2").symlink_to(root / "nowhere")
    assert folder_fingerprint(str(root)) == before
    assert _states() == {"tree": "unchanged"}


def test_a_touched_file_is_not_plainly_unchanged(data: DataClient) -> None:
    root = _awkward_tree(data.project / "tree")
    data.add(root)
    st = (root / "a").stat()
    os.utime(root / "a", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert quick_status() is None
    # Same bytes: the full status hashes the file again and finds no change.
    assert data.status()[0].state == "unchanged"
    assert _states() == {"tree": "unchanged"}  # and it recorded the new fingerprint


def test_unreadable_paths_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"cannot read .*no_such"):
        workspace_scan(tmp_path / "no_such")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInputError, match="neither a file nor a folder"):
        workspace_scan(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "broken").symlink_to("/proc/self/mem")  # listed; reading it fails later
    os.mkfifo(folder / "pipe")  # neither a file nor a folder: not listed
    assert [rel for rel, _, _ in workspace_scan(folder)] == ["broken"]


def test_a_name_that_is_not_utf8_is_refused_by_add_clearly(data: DataClient) -> None:
    root = _awkward_tree(data.project / "tree")
    _not_utf8(root)
    with pytest.raises(InvalidInputError, match=r"raw\\udcff.bin.* not UTF-8.*rename it"):
        data.add(root)
    assert not (data.project / "tree.loopml").exists()


def _states() -> dict[str, str]:
    entries = quick_status()
    assert entries is not None, "the quick status fell through"
    return {e.path: e.state for e in entries}
