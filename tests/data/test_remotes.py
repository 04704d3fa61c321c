"""Push and pull between the store and remotes: a folder, and S3 (a local moto server)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.data import DataClient
from loopml.data.remote import list_digests
from loopml.errors import CorruptBlobError, DatasetVersionNotFoundError, RemoteError
from loopml.storage.artifacts import ContentAddressedStore, open_byte_store
from loopml.tracking.client import TrackingClient


def _client(project: Path, store: str, **settings: str) -> tuple[DataClient, TrackingClient]:
    tracking = TrackingClient(settings=Settings(tracking_uri=store, **settings))  # type: ignore[arg-type]
    return DataClient(tracking, project), tracking


@pytest.fixture
def project() -> Path:
    root = Path.cwd()
    (root / ".git").mkdir()
    folder = root / "rides"
    folder.mkdir()
    for i in range(20):
        (folder / f"part-{i:02d}.txt").write_text(f"rows of part {i}\n" * (i + 1))
    return root


def _remote_digests(url: str, **settings: str) -> set[str]:
    return list_digests(ContentAddressedStore(open_byte_store(url, Settings(**settings))))  # type: ignore[arg-type]


def test_push_then_pull_into_a_fresh_store_via_the_pointer(project: Path, tmp_path: Path) -> None:
    remote = str(tmp_path / "remote")
    data, tracking = _client(project, str(project / ".loopml"))
    v = data.add(project / "rides").version
    first = data.push(remote)
    assert first.blobs == 21 and first.skipped == 0  # 20 files and the manifest
    assert data.push(remote).blobs == 0  # nothing missing the second time
    data.close()
    tracking.close()
    # A colleague: same git checkout (pointer file), an empty store of their own.
    shutil.rmtree(project / "rides")
    other, other_tracking = _client(project, str(tmp_path / "colleague"))
    pulled = other.pull(remote)
    assert pulled.blobs == 21
    other.checkout()
    assert (project / "rides" / "part-03.txt").read_text() == "rows of part 3\n" * 4
    assert [e.state for e in other.status()] == ["unchanged"]
    assert v.digest in _remote_digests(remote)
    other.close()
    other_tracking.close()


def test_a_corrupt_blob_on_the_remote_is_refused(project: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    data, tracking = _client(project, str(project / ".loopml"))
    data.add(project / "rides")
    data.push(str(remote))
    victim = next(
        p for p in (remote / "blobs").rglob("*") if p.is_file() and p.stat().st_size > 100
    )
    victim.chmod(0o644)
    victim.write_bytes(b"flipped" + victim.read_bytes()[7:])
    digest = victim.parent.name + victim.name
    fresh, fresh_tracking = _client(project, str(tmp_path / "fresh"))
    with pytest.raises(CorruptBlobError, match="corrupted"):
        fresh.pull(str(remote))
    assert not fresh.blobs.has(digest)  # the bad bytes were not stored
    fresh.close()
    fresh_tracking.close()
    data.close()
    tracking.close()


def test_a_remote_that_fails_mid_push_leaves_no_partial_version(
    project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    (remote / "real_blobs").mkdir(parents=True)
    (remote / "not_a_folder").write_text("")
    (remote / "blobs").symlink_to("real_blobs")

    def point_blobs_at(target: str) -> None:  # atomically, as the upload threads run
        (remote / "blobs.new").symlink_to(target)
        os.replace(remote / "blobs.new", remote / "blobs")

    data, tracking = _client(project, str(project / ".loopml"))
    v = data.add(project / "rides").version
    sent: list[int] = []
    lock = threading.Lock()

    def cut_off(size: int) -> None:
        with lock:  # called from the upload threads
            sent.append(size)
            if len(sent) == 5:  # the remote goes away: every later write fails
                point_blobs_at("not_a_folder")

    with pytest.raises(RemoteError, match="run the push again"):
        data.push(str(remote), progress=cut_off)
    point_blobs_at("real_blobs")
    held = _remote_digests(str(remote))
    assert 5 <= len(held) < 21 and v.digest not in held  # files, but never the manifest
    again = data.push(str(remote))
    assert again.skipped == len(held) and v.digest in _remote_digests(str(remote))
    data.close()
    tracking.close()


def test_pull_of_a_version_the_remote_lacks(project: Path, tmp_path: Path) -> None:
    data, tracking = _client(project, str(project / ".loopml"))
    data.add(project / "rides")
    (tmp_path / "empty").mkdir()
    fresh, fresh_tracking = _client(project, str(tmp_path / "fresh"))
    with pytest.raises(DatasetVersionNotFoundError):
        fresh.pull(str(tmp_path / "empty"))
    fresh.close()
    fresh_tracking.close()
    data.close()
    tracking.close()


@pytest.mark.s3
def test_push_and_pull_through_s3(
    project: Path, tmp_path: Path, s3_bucket: str, s3_endpoint: str
) -> None:
    remote = f"s3://{s3_bucket}/loopml"
    data, tracking = _client(project, str(project / ".loopml"), s3_endpoint_url=s3_endpoint)
    v1 = data.add(project / "rides").version
    assert data.push(remote).blobs == 21
    (project / "rides" / "part-00.txt").write_text("changed")
    data.add(project / "rides")
    second = data.push(remote)
    assert second.blobs == 2 and second.skipped == 21  # one changed file and one manifest
    fresh, fresh_tracking = _client(project, str(tmp_path / "fresh"), s3_endpoint_url=s3_endpoint)
    shutil.rmtree(project / "rides")
    assert fresh.pull(remote).blobs == 21
    fresh.checkout()
    assert (project / "rides" / "part-00.txt").read_text() == "changed"
    assert v1.digest in _remote_digests(remote, s3_endpoint_url=s3_endpoint)
    for closing in (fresh, data):
        closing.close()
    fresh_tracking.close()
    tracking.close()


@pytest.mark.s3
@pytest.mark.slow  # botocore retries a refused connection for several seconds
def test_an_unreachable_remote_is_a_clear_error(project: Path) -> None:
    from tests._servers import free_port

    data, tracking = _client(
        project, str(project / ".loopml"), s3_endpoint_url=f"http://127.0.0.1:{free_port()}"
    )
    data.add(project / "rides")
    with pytest.raises(RemoteError):
        data.push("s3://nowhere/loopml")
    data.close()
    tracking.close()
