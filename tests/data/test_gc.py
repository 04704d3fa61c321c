"""Deleting dataset versions and collecting the blobs nothing names any more."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

import loopml as lm
from loopml.cli.main import main
from loopml.config import Settings
from loopml.data import DataClient
from loopml.errors import DatasetVersionNotFoundError, InvalidStateError
from loopml.server.app import create_app
from loopml.tracking.client import TrackingClient
from tests._servers.loopml import serve_in_thread

MiB = 1 << 20


def _store_bytes(root: Path) -> int:
    """Bytes of the blob objects a local store holds (loose blobs, packs, chunk lists)."""
    return sum(
        p.stat().st_size
        for part in ("blobs", "packs", "chunked")
        for p in (root / "artifacts" / part).rglob("*")
        if p.is_file()
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _write(folder: Path, seed: int, count: int = 40) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"part-{i:03d}.bin").write_bytes(rng.randbytes(2000))


@pytest.fixture
def data() -> DataClient:
    Path(".git").mkdir()
    client = TrackingClient(settings=Settings(tracking_uri=".loopml", capture_packages=False))
    made = DataClient(client, Path.cwd())
    yield made  # type: ignore[misc]
    made.close()
    client.close()


def _store_root(data: DataClient) -> Path:
    return Path(data.client.stores.blobs.bytes.url).parent  # type: ignore[attr-defined]


def test_a_deleted_version_frees_its_own_blobs_and_keeps_shared_ones(
    data: DataClient, tmp_path: Path
) -> None:
    _write(Path("rides"), seed=1)
    big = random.Random(9).randbytes(6 * MiB)
    Path("rides/big.bin").write_bytes(big)  # chunked
    data.add("rides")
    _write(Path("rides"), seed=2, count=20)  # half the small files change
    Path("rides/big.bin").write_bytes(big[:-1] + b"!")  # one chunk of it changes
    data.add("rides")
    v2_files = _tree(Path("rides"))
    root = _store_root(data)
    with pytest.raises(InvalidStateError, match=r"rides\.loopml"):
        data.delete("rides@2")  # the pointer file names it
    data.delete("rides@1")
    before = _store_bytes(root)
    nothing = data.gc(min_age=3600)  # everything was written just now: nothing goes
    assert nothing.blobs_removed == 0 and _store_bytes(root) == before
    dry = data.gc(min_age=0, dry_run=True)
    assert dry.blobs_removed > 0 and _store_bytes(root) == before
    result = data.gc(min_age=0)
    assert (result.blobs_removed, result.bytes_freed) == (dry.blobs_removed, dry.bytes_freed)
    # v2 still uses most of v1's pack: it is kept whole; only v1's manifest and its big
    # file's chunk list go, and the unused bytes inside the pack are reported.
    assert before - _store_bytes(root) == result.bytes_freed
    assert (result.packs_rewritten, result.loose_removed, result.recipes_removed) == (0, 1, 1)
    dead = 20 * 2000 + 256 * 1024  # v1's own 20 small files and at least its changed chunk
    assert dead <= result.bytes_dead_kept <= 20 * 2000 + 4 * MiB
    compact = data.gc(min_age=0, rewrite_below=1.0)  # rewrite every pack with unused bytes
    assert compact.packs_rewritten == 1 and compact.bytes_dead_kept == 0
    assert compact.bytes_freed >= result.bytes_dead_kept  # the old pack's index goes too
    after = _store_bytes(root)
    assert before - after == result.bytes_freed + compact.bytes_freed
    assert _tree(data.get("rides@2", tmp_path / "v2")) == v2_files
    with pytest.raises(DatasetVersionNotFoundError, match="deleted"):
        data.get("rides@1", tmp_path / "v1")
    assert [e.state for e in data.status()] == ["unchanged"]
    again = data.gc(min_age=0)
    assert again.blobs_removed == 0 and _store_bytes(root) == after


def test_gc_keeps_run_artifacts_and_versions_only_pointers_name(
    data: DataClient, tmp_path: Path
) -> None:
    experiment = data.client.create_experiment("gc")
    run = data.client.create_run(experiment)
    data.client.log_text(run.info.run_id, "weights", "model.txt")
    _write(Path("rides"), seed=3)
    data.add("rides")
    remote = str(tmp_path / "remote")
    data.push(remote)
    pointer = Path("rides.loopml").read_text()
    # A colleague's store: pulls the version by its pointer, never records it.
    colleague_client = TrackingClient(
        settings=Settings(tracking_uri=str(tmp_path / "colleague"), capture_packages=False)
    )
    colleague = DataClient(colleague_client, Path.cwd())
    colleague.pull(remote)
    assert colleague.store.list_datasets() == []
    kept = colleague.gc(min_age=0)
    assert kept.blobs_removed == 0
    shutil.rmtree("rides")
    colleague.checkout()
    assert len(list(Path("rides").iterdir())) == 40
    colleague.close()
    colleague_client.close()
    # Here: the artifact survives gc although no dataset names it.
    data.gc(min_age=0)
    assert data.client.read_artifact(run.info.run_id, "model.txt") == b"weights"
    assert Path("rides.loopml").read_text() == pointer


def test_a_monitor_reference_is_not_deleted_unless_forced(data: DataClient) -> None:
    _write(Path("rides"), seed=4)
    version = data.add("rides").version
    _write(Path("rides"), seed=5, count=3)
    data.add("rides")
    data.store.create_monitor("pricing", "pricing", version.uri, 3600, {})
    with pytest.raises(InvalidStateError, match="monitor pricing"):
        data.delete("rides@1")
    data.delete("rides@1", force=True)
    assert [v.version for v in data.store.list_dataset_versions("rides")] == [2]


def test_the_cli_deletes_versions_and_collects(capsys: pytest.CaptureFixture[str]) -> None:
    Path(".git").mkdir()
    _write(Path("rides"), seed=6)
    assert main(["data", "add", "rides"]) == 0
    _write(Path("rides"), seed=7)
    assert main(["data", "add", "rides"]) == 0
    capsys.readouterr()
    assert main(["data", "rm", "rides"]) == 2  # a bare name needs --all
    assert "--all" in capsys.readouterr().err
    assert main(["data", "rm", "rides@1", "rides@2"]) == 4  # rides@2 is checked out ...
    assert "rides.loopml" in capsys.readouterr().err
    assert main(["data", "list", "--json"]) == 0  # ... so neither was deleted
    assert json.loads(capsys.readouterr().out)[0]["latest_version"] == 2
    assert main(["data", "show", "rides@1"]) == 0
    capsys.readouterr()
    assert main(["data", "rm", "rides@1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"deleted": ["datasets:/rides/1"]}
    assert main(["data", "gc", "--min-age", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["blobs_removed"] >= 40 and result["dry_run"] is False
    assert main(["data", "gc", "--min-age", "0"]) == 0
    assert "freed 0 B: 0 blobs" in capsys.readouterr().out
    assert main(["data", "gc", "--min-age", "soon"]) == 2
    assert main(["data", "rm", "rides", "--all", "--force"]) == 0
    assert main(["data", "list", "--json"]) == 0
    capsys.readouterr()
    assert main(["data", "show", "rides"]) == 3  # no versions left
    assert "no versions left" in capsys.readouterr().err


def test_delete_and_gc_through_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".git").mkdir()
    _write(Path("rides"), seed=8)
    app = create_app(Settings(tracking_uri=str(tmp_path / "server"), capture_packages=False))
    with serve_in_thread(app) as url:
        monkeypatch.setenv("LOOPML_TRACKING_URI", url)
        monkeypatch.setenv("LOOPML_CAPTURE_PACKAGES", "0")
        lm.data.add("rides")
        _write(Path("rides"), seed=9)
        lm.data.add("rides")
        lm.data.delete("rides@1")
        assert lm.data.gc(min_age=0, dry_run=True).blobs_removed >= 40
        result = lm.data.gc(min_age=0)
        assert result.blobs_removed >= 40 and not result.dry_run
        assert lm.data.get("rides@2", tmp_path / "v2").is_dir()
        assert lm.data.gc(min_age=0).blobs_removed == 0
    assert os.path.isdir(tmp_path / "server")


def test_a_collection_waits_for_an_add_that_is_storing_and_recording(data: DataClient) -> None:
    """The race the lock closes: an add that finds a deleted version's blobs stored writes
    nothing, so a collection must not run between its blobs and its record."""
    import subprocess
    import sys

    _write(Path("rides"), seed=10)
    data.add("rides")
    data.delete("rides@1", force=True)  # its blobs are garbage now ...
    with data.blobs.guard():  # ... while an add of the same files is under way
        gc = subprocess.Popen(
            [sys.executable, "-m", "loopml.cli.main", "data", "gc", "--min-age", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "LOOPML_TRACKING_URI": ".loopml", "LOOPML_CAPTURE_PACKAGES": "0"},
        )
        with pytest.raises(subprocess.TimeoutExpired):
            gc.wait(timeout=3)  # it waits for the lock instead of collecting
        again = data.add("rides").version  # the same files: nothing new is written
    out, err = gc.communicate(timeout=120)
    assert gc.returncode == 0, err
    assert b"freed 0 B" in out  # the new version names every blob: nothing is garbage
    assert data.blobs.missing(f.digest for f in data.manifest(again).files) == set()
