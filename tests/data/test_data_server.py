"""The data cycle through a loopml server: versions, blobs, lineage over REST."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import loopml as lm
from loopml.config import Settings
from loopml.server.app import create_app
from tests._servers.loopml import serve_in_thread


def test_add_get_and_lineage_through_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path(".git").mkdir()
    folder = Path("rides")
    folder.mkdir()
    for i in range(5):
        (folder / f"part-{i}.txt").write_text(f"part {i}\n")
    app = create_app(Settings(tracking_uri=str(tmp_path / "server"), capture_packages=False))
    with serve_in_thread(app) as url:
        monkeypatch.setenv("LOOPML_TRACKING_URI", url)
        monkeypatch.setenv("LOOPML_CAPTURE_PACKAGES", "0")
        v = lm.data.add(folder).version
        with lm.start_run() as run:
            lm.log_input(f"{v.name}@{v.version}", context="training")
        out = lm.data.get("rides@1", tmp_path / "copy")
        assert (out / "part-3.txt").read_text() == "part 3\n"
        [edge] = lm.data.lineage("rides@1")
        assert (edge.run_id, edge.role, edge.direction.value) == (
            run.info.run_id,
            "training",
            "input",
        )
        # A version whose manifest blob the server does not hold is refused (no dangling
        # version can be recorded by a client that skipped the uploads).
        body = {"files": [], "digest": "e" * 64, "kind": "files"}
        answer = httpx.post(f"{url}/api/v1/datasets/rides/versions", json=body)
        assert answer.status_code == 400 and "upload" in answer.json()["message"]
        # Nor one whose file blobs it lacks (the manifest held, one file's blob not).
        manifest = lm.data.get_version("rides@1").digest
        files = [{"path": "a.txt", "digest": "e" * 64, "size": 3}]
        body = {"files": files, "digest": manifest, "kind": "files"}
        answer = httpx.post(f"{url}/api/v1/datasets/rides/versions", json=body)
        assert answer.status_code == 400 and "file blobs" in answer.json()["message"]
        assert lm.data.list_versions("rides")[0].version == 1  # nothing was recorded
        assert httpx.get(f"{url}/api/v1/datasets/nope").status_code == 404
    server_side = lm.TrackingClient(str(tmp_path / "server"))
    assert server_side.stores.metadata.get_dataset("rides").latest_version == 1
    server_side.close()
