"""`loopml runs reproduce`: a tracked script re-run at its commit, on the data its pointer
files pinned, compared with the original; what cannot be reproduced is refused or said."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml as lm
from loopml.cli.main import main
from loopml.errors import InvalidInputError, InvalidStateError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]

TRAIN = textwrap.dedent(
    """
    import sys
    import pandas as pd
    import loopml as lm

    rides = pd.read_parquet("data/rides.parquet")     # a file a pointer pins, relative path
    scale = float(sys.argv[sys.argv.index("--scale") + 1])
    noise = "--noisy" in sys.argv
    with lm.start_run(run_name="train") as run:
        lm.log_param("scale", scale)
        mean = float(rides["fare"].mean()) * scale
        if noise:
            import time
            mean += time.perf_counter_ns() % 1000 / 1e3 + 1e-3
        lm.log_metric("mean_fare", mean)
        lm.log_metric("rows", len(rides))
    print(run.info.run_id)
    """
)


def _git(repo: Path, *args: str) -> str:
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    done = subprocess.run(
        ["git", *ident, *args], cwd=repo, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository whose train.py reads data/rides.parquet, versioned by a pointer."""
    store = tmp_path / "store"
    monkeypatch.setenv("LOOPML_TRACKING_URI", str(store))
    monkeypatch.setenv("LOOPML_CAPTURE_PACKAGES", "false")
    lm.set_tracking_uri(str(store))
    repo = tmp_path / "project"
    (repo / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    pd.DataFrame({"fare": rng.gamma(2.0, 6.0, 500)}).to_parquet(repo / "data" / "rides.parquet")
    (repo / "train.py").write_text(TRAIN)
    _git(repo, "init", "-q", "-b", "main")
    monkeypatch.chdir(repo)
    assert main(["data", "add", "data/rides.parquet", "--name", "rides"]) == 0
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "train on rides v1")
    return repo


def _train(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "train.py", *args], cwd=repo, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_run_is_reproduced_at_its_commit_on_its_data(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = _train(project, "--scale", "2")
    # the work tree moves on: other code, the data file changed, then gone
    (project / "train.py").write_text(TRAIN.replace("* scale", "* scale * 10"))
    (project / "data" / "rides.parquet").unlink()

    shown = io.StringIO()
    result = lm.pipelines.reproduce(run_id, echo=shown)

    assert result.ok, result.output
    assert result.new_run_id in shown.getvalue() and result.new_run_id in result.output
    assert result.new_run_id and result.new_run_id != run_id
    assert result.metrics_compared == 2 and not result.param_diffs and not result.metric_diffs
    new = lm.get_run(result.new_run_id)
    assert new.data.tags["loopml.reproduces"] == run_id
    assert new.data.tags["loopml.source.git.commit"] == _git(project, "rev-parse", "HEAD")
    assert not (project / "data" / "rides.parquet").exists()  # the work tree was left alone
    assert "loopml-reproduce" not in _git(project, "worktree", "list")

    assert main(["runs", "reproduce", run_id]) == 0
    assert "reproduced: run" in capsys.readouterr().out
    assert main(["runs", "reproduce", run_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_a_metric_that_moves_is_reported_and_fails(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = _train(project, "--scale", "1", "--noisy")

    assert main(["runs", "reproduce", run_id]) == 1
    out = capsys.readouterr().out
    assert "did NOT reproduce" in out and "mean_fare" in out
    loose = lm.pipelines.reproduce(run_id, tolerance=10.0)
    assert loose.ok and loose.metric_diffs == []


def test_what_cannot_be_reproduced_is_refused(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _train(project, "--scale", "1", "--password", "hunter2")
    with pytest.raises(InvalidStateError, match="secrets that were not recorded"):
        lm.pipelines.reproduce(secret)

    plain = _train(project, "--scale", "1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(InvalidStateError, match="not in a git work tree"):
        lm.pipelines.reproduce(plain)
    monkeypatch.chdir(project)
    with pytest.raises(InvalidInputError, match="tolerance"):
        lm.pipelines.reproduce(plain, tolerance=-1)
    (project / "train.py").write_text("print('changed')\n")
    _git(project, "commit", "-qam", "later")
    dirty = _train_dirty(project)
    result = lm.pipelines.reproduce(dirty)
    assert any("uncommitted changes" in w for w in result.warnings)
    assert os.path.exists(project / "train.py")


def _train_dirty(repo: Path) -> str:
    """A run of the original script as an uncommitted change on top of the last commit."""
    (repo / "train.py").write_text(TRAIN)
    return _train(repo, "--scale", "3")
