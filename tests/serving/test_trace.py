"""A served prediction traced back to its model version, run, data version and commit;
the lineage graph around models, runs and dataset versions (Python API and CLI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

import loopml as lm
from loopml.cli.main import main
from loopml.entities import LineageDirection, LineageEdge
from loopml.errors import InvalidInputError, NotFoundError
from loopml.tracking.client import TrackingClient
from tests.serving.conftest import serving

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

TRAIN = textwrap.dedent(
    """
    import numpy as np, pandas as pd
    from sklearn.linear_model import LogisticRegression
    import loopml as lm

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    df["y"] = (df.a + df.b > 0).astype(int)
    with lm.start_run(run_name="train-pricing") as run:
        lm.log_param("C", 0.5)
        dv = lm.data.log_dataset("fares", df)
        lm.log_input(dv, context="training")
        model = LogisticRegression(C=0.5).fit(df[list("abcd")], df.y)
        info = lm.models.log_model(model, "model", input_example=df[list("abcd")].head(5))
    lm.registry.register(info.uri, "pricing")
    print(run.info.run_id)
    """
)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def trained(store: TrackingClient, tmp_path: Path) -> tuple[str, str]:
    """pricing/1, trained by a committed script in its own git repository on fares/1;
    returns (the training run's id, the commit)."""
    repo = tmp_path / "project"
    repo.mkdir()
    (repo / "train.py").write_text(TRAIN)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "train")
    env = {**os.environ, "LOOPML_TRACKING_URI": str(store.settings.tracking_uri)}
    done = subprocess.run(
        [sys.executable, "train.py"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1], _git(repo, "rev-parse", "HEAD")


@pytest.mark.slow
def test_a_prediction_is_traced_to_its_model_run_data_and_commit(
    store: TrackingClient, trained: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_id, commit = trained
    body = {"dataframe_split": {"columns": list("abcd"), "data": [[1, 1, 0, 0], [-1, -2, 0, 0]]}}
    with serving("pricing/1", client=store, name="pricing") as (url, _):
        answer = httpx.post(f"{url}/invocations", json=body, headers={"x-request-id": "req-42"})
        assert answer.status_code == 200
    fares = store.stores.metadata.get_dataset_version("fares", 1)

    trace = lm.serving.trace_prediction("pricing", "req-42", client=store)

    assert [r["row"] for r in trace.rows] == [0, 1]
    assert [r["output.prediction"] for r in trace.rows] == [1, 0]
    assert trace.rows[0]["input.a"] == 1.0 and trace.rows[0]["status"] == 200
    assert trace.model_uri == "models:/pricing/1" and trace.run_id == run_id
    assert trace.git_commit == commit and trace.git_dirty == "false"
    assert trace.entry_point == "train.py" and trace.params == {"C": "0.5"}
    assert trace.datasets == [{"uri": fares.uri, "role": "training", "digest": fares.digest}]

    assert main(["trace", "pricing", "req-42"]) == 0
    out = capsys.readouterr().out
    for text in ("models:/pricing/1", run_id, f"commit {commit}", "datasets:/fares/1", "C=0.5"):
        assert text in out
    assert main(["trace", "pricing", "req-42", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["git_commit"] == commit

    with pytest.raises(NotFoundError, match="no prediction of deployment 'pricing'"):
        lm.serving.trace_prediction("pricing", "never-sent", client=store)
    assert main(["trace", "pricing", "never-sent"]) == 3
    assert main(["trace", "pricing", "req-42", "--days", "0"]) == 2


@pytest.mark.slow
def test_the_lineage_graph_both_ways(
    store: TrackingClient, trained: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_id, commit = trained
    # an evaluation run that read the model, downstream of it
    with lm.start_run(run_name="evaluate") as evaluation:
        store.stores.metadata.log_lineage(
            evaluation.info.run_id,
            [LineageEdge(evaluation.info.run_id, "models:/pricing/1",
                         LineageDirection.INPUT, "candidate")],
        )  # fmt: skip
    lm.registry.set_alias("pricing", "challenger", 1)

    graph = lm.registry.lineage("models:/pricing@challenger", client=store)

    assert graph.root == "models:/pricing/1"
    training = f"runs:/{run_id}"
    assert {(k.source, k.relation) for k in graph.upstream_of(graph.root)} == {
        (training, "registered")
    }
    assert {(k.source, k.relation, k.role) for k in graph.upstream_of(training)} == {
        ("datasets:/fares/1", "input", "training")
    }
    assert graph.nodes[training].details["git_commit"] == commit
    assert [(k.target, k.role) for k in graph.downstream_of(graph.root)] == [
        (f"runs:/{evaluation.info.run_id}", "candidate")
    ]
    # from the data: the run that read it, the model made from that run
    down = lm.registry.lineage("datasets:/fares/1", direction="down", client=store)
    assert {k.target for k in down.downstream_of("datasets:/fares/1")} == {training}
    assert "models:/pricing/1" in {k.target for k in down.downstream_of(training)}
    assert down.nodes["datasets:/fares/1"].details["rows"] == 300

    assert main(["lineage", "models:/pricing@challenger"]) == 0
    out = capsys.readouterr().out
    assert "came from" in out and "led to" in out and "[input: training]" in out
    assert main(["lineage", run_id, "--json", "--up"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["root"] == training
    assert {n["uri"] for n in data["nodes"]} == {training, "datasets:/fares/1"}

    with pytest.raises(InvalidInputError, match="names nothing lineage knows"):
        lm.registry.lineage("s3://bucket/x", client=store)
    with pytest.raises(InvalidInputError, match="depth"):
        lm.registry.lineage(run_id, depth=0, client=store)
    assert main(["lineage", "models:/pricing/9"]) == 3
    assert main(["lineage", run_id, "--up", "--down"]) == 2
