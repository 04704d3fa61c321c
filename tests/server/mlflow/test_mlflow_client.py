"""The real MLflow client against a loopml server: what it logs, loopml sees, and back."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import pytest

import loopml as lm
from tests.server.mlflow.conftest import MlflowServer

pytestmark = pytest.mark.slow


def _experiment(client: Any) -> str:
    return str(client.create_experiment(f"exp-{uuid.uuid4().hex[:8]}"))


def test_experiments_round_trip(mlflow_client: Any, loopml_client: lm.TrackingClient) -> None:
    from mlflow.entities import ViewType

    name = f"pricing-{uuid.uuid4().hex[:8]}"
    exp_id = mlflow_client.create_experiment(name, tags={"team": "pricing"})
    assert exp_id.isdigit()

    exp = mlflow_client.get_experiment(exp_id)
    assert (exp.name, exp.lifecycle_stage, exp.tags["team"]) == (name, "active", "pricing")
    assert mlflow_client.get_experiment_by_name(name).experiment_id == exp_id
    assert mlflow_client.get_experiment_by_name("no-such-experiment-anywhere") is None
    assert mlflow_client.get_experiment("0").name == "Default"

    mlflow_client.set_experiment_tag(exp_id, "stage", "dev")
    mlflow_client.rename_experiment(exp_id, name + "-renamed")
    seen = loopml_client.get_experiment(exp_id)
    assert seen.name == name + "-renamed"
    assert seen.tags["stage"] == "dev"

    found = mlflow_client.search_experiments(filter_string=f"name = '{name}-renamed'")
    assert [e.experiment_id for e in found] == [exp_id]
    found = mlflow_client.search_experiments(filter_string="tags.stage = 'dev'")
    assert exp_id in {e.experiment_id for e in found}

    mlflow_client.delete_experiment(exp_id)
    assert mlflow_client.get_experiment(exp_id).lifecycle_stage == "deleted"
    active = {e.experiment_id for e in mlflow_client.search_experiments()}
    deleted = {
        e.experiment_id for e in mlflow_client.search_experiments(view_type=ViewType.DELETED_ONLY)
    }
    assert exp_id not in active and exp_id in deleted
    mlflow_client.restore_experiment(exp_id)
    assert loopml_client.get_experiment(exp_id).lifecycle_stage == lm.LifecycleStage.ACTIVE


def test_search_experiments_pages(mlflow_client: Any) -> None:
    prefix = f"paged-{uuid.uuid4().hex[:6]}"
    ids = {mlflow_client.create_experiment(f"{prefix}-{i}") for i in range(5)}
    first = mlflow_client.search_experiments(
        max_results=2, filter_string=f"name LIKE '{prefix}-%'", order_by=["name ASC"]
    )
    assert [e.name for e in first] == [f"{prefix}-0", f"{prefix}-1"]
    seen = [e.experiment_id for e in first]
    token = first.token
    while token:
        page = mlflow_client.search_experiments(
            max_results=2,
            filter_string=f"name LIKE '{prefix}-%'",
            order_by=["name ASC"],
            page_token=token,
        )
        seen.extend(e.experiment_id for e in page)
        token = page.token
    assert len(seen) == 5 and set(seen) == ids


def test_fluent_run_logs_params_metrics_tags(
    mlflow_client: Any, loopml_client: lm.TrackingClient
) -> None:
    import mlflow

    exp_id = _experiment(mlflow_client)
    with mlflow.start_run(experiment_id=exp_id, run_name="baseline") as run:
        mlflow.log_params({"lr": 0.1, "depth": 6})
        mlflow.log_param("optimizer", "adam")
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("odd", math.nan)
        mlflow.log_metric("big", math.inf)
        mlflow.set_tag("team", "pricing")
        mlflow.set_tags({"a": "1", "b": "2"})
    run_id = run.info.run_id

    got = mlflow_client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.end_time is not None
    assert got.info.run_name == "baseline"
    assert got.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"
    assert got.data.params == {"lr": "0.1", "depth": "6", "optimizer": "adam"}
    assert got.data.metrics["loss"] == pytest.approx(0.2)
    assert math.isnan(got.data.metrics["odd"]) and got.data.metrics["big"] == math.inf
    assert got.data.tags["team"] == "pricing" and got.data.tags["mlflow.runName"] == "baseline"

    # the same run through loopml's own API on the same folder
    mine = loopml_client.get_run(run_id)
    assert mine.info.status == lm.RunStatus.FINISHED
    assert mine.info.run_name == "baseline"
    assert mine.data.params["optimizer"] == "adam"
    assert [m.value for m in loopml_client.get_metric_history(run_id, "loss")] == [
        pytest.approx(1.0 / (s + 1)) for s in range(5)
    ]


def test_log_batch_and_metric_history(mlflow_client: Any) -> None:
    from mlflow.entities import Metric, Param, RunTag

    run = mlflow_client.create_run(_experiment(mlflow_client), run_name="batch")
    run_id = run.info.run_id
    metrics = [Metric("acc", i / 100, 1_700_000_000_000 + i, i) for i in range(250)]
    mlflow_client.log_batch(
        run_id, metrics=metrics, params=[Param("k", "v")], tags=[RunTag("t", "x")]
    )
    history = mlflow_client.get_metric_history(run_id, "acc")
    assert [m.step for m in history] == list(range(250))
    assert history[10].value == pytest.approx(0.1)
    assert history[10].timestamp == 1_700_000_000_010

    got = mlflow_client.get_run(run_id)
    assert got.data.params == {"k": "v"} and got.data.tags["t"] == "x"
    assert got.data.metrics["acc"] == pytest.approx(2.49)

    # log_batch with mlflow.runName renames the run, as in MLflow
    mlflow_client.set_tag(run_id, "mlflow.runName", "renamed")
    assert mlflow_client.get_run(run_id).info.run_name == "renamed"
    mlflow_client.update_run(run_id, status="KILLED", name="final")
    got = mlflow_client.get_run(run_id)
    assert (got.info.status, got.info.run_name) == ("KILLED", "final")

    mlflow_client.delete_tag(run_id, "t")
    assert "t" not in mlflow_client.get_run(run_id).data.tags


def test_param_conflict_is_invalid_parameter_value(mlflow_client: Any) -> None:
    from mlflow.exceptions import MlflowException

    run = mlflow_client.create_run(_experiment(mlflow_client))
    mlflow_client.log_param(run.info.run_id, "lr", "0.1")
    mlflow_client.log_param(run.info.run_id, "lr", "0.1")  # the same value is fine
    with pytest.raises(MlflowException) as info:
        mlflow_client.log_param(run.info.run_id, "lr", "0.2")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_nested_runs_link_parent_for_loopml(
    mlflow_client: Any, loopml_client: lm.TrackingClient
) -> None:
    import mlflow

    exp_id = _experiment(mlflow_client)
    with mlflow.start_run(experiment_id=exp_id, run_name="pipeline") as parent:
        with mlflow.start_run(experiment_id=exp_id, nested=True, run_name="step-1") as child:
            mlflow.log_metric("rows", 10)
        with mlflow.start_run(experiment_id=exp_id, nested=True, run_name="step-2"):
            pass
    parent_id, child_id = parent.info.run_id, child.info.run_id

    assert loopml_client.get_run(child_id).parent_run_id == parent_id
    assert mlflow_client.get_run(child_id).data.tags["mlflow.parentRunId"] == parent_id

    children = mlflow.search_runs(
        experiment_ids=[exp_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
        output_format="list",
        order_by=["attributes.run_name DESC"],
    )
    assert [r.info.run_name for r in children] == ["step-2", "step-1"]


def test_search_runs_filters_order_and_pages(mlflow_client: Any) -> None:
    from mlflow.entities import ViewType

    exp_id = _experiment(mlflow_client)
    ids = []
    for i in range(6):
        run = mlflow_client.create_run(exp_id, run_name=f"r{i}")
        mlflow_client.log_metric(run.info.run_id, "rmse", 1.0 - i / 10)
        mlflow_client.log_param(run.info.run_id, "model", "tree" if i % 2 else "linear")
        mlflow_client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)

    runs = mlflow_client.search_runs(
        [exp_id], "metrics.rmse < 0.75 and params.model = 'tree'", order_by=["metrics.rmse ASC"]
    )
    assert [r.info.run_name for r in runs] == ["r5", "r3"]

    page = mlflow_client.search_runs([exp_id], max_results=4, order_by=["attributes.run_name"])
    assert [r.info.run_name for r in page] == ["r0", "r1", "r2", "r3"] and page.token
    rest = mlflow_client.search_runs(
        [exp_id], max_results=4, order_by=["attributes.run_name"], page_token=page.token
    )
    assert [r.info.run_name for r in rest] == ["r4", "r5"] and not rest.token

    mlflow_client.delete_run(ids[0])
    assert mlflow_client.get_run(ids[0]).info.lifecycle_stage == "deleted"
    active = mlflow_client.search_runs([exp_id])
    deleted = mlflow_client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    every = mlflow_client.search_runs([exp_id], run_view_type=ViewType.ALL)
    assert ids[0] not in {r.info.run_id for r in active}
    assert [r.info.run_id for r in deleted] == [ids[0]]
    assert len(every) == 6
    mlflow_client.restore_run(ids[0])
    assert len(mlflow_client.search_runs([exp_id])) == 6


def test_artifacts_round_trip(
    mlflow_client: Any, loopml_client: lm.TrackingClient, tmp_path: Path
) -> None:
    import mlflow

    exp_id = _experiment(mlflow_client)
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.json").write_text('{"b": 1}')
    (src / "sub" / "deeper" / "c.bin").write_bytes(bytes(range(256)) * 4000)
    single = tmp_path / "model.pkl"
    single.write_bytes(b"\x00weights\xff" * 1000)

    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="copies")
        mlflow.log_artifacts(str(src), artifact_path="data")
        mlflow.log_text("hello", "notes/readme.md")
        mlflow.log_dict({"x": [1, 2]}, "config.json")
    run_id = run.info.run_id

    top = mlflow_client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [
        ("config.json", False),
        ("copies", True),
        ("data", True),
        ("model.pkl", False),
        ("notes", True),
    ]
    assert next(f for f in top if f.path == "model.pkl").file_size == single.stat().st_size
    sub = mlflow_client.list_artifacts(run_id, "data/sub")
    assert [(f.path, f.is_dir) for f in sub] == [
        ("data/sub/b.json", False),
        ("data/sub/deeper", True),
    ]
    assert mlflow_client.list_artifacts(run_id, "model.pkl") == []

    out = Path(mlflow_client.download_artifacts(run_id, "data", str(tmp_path / "out")))
    assert (out / "a.txt").read_text() == "alpha"
    assert (out / "sub" / "deeper" / "c.bin").read_bytes() == bytes(range(256)) * 4000
    one = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="copies/model.pkl", dst_path=str(tmp_path / "one")
    )
    assert Path(one).read_bytes() == single.read_bytes()
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json") == {"x": [1, 2]}

    # loopml sees the files the MLflow client uploaded
    assert loopml_client.load_text(run_id, "notes/readme.md") == "hello"
    paths = [r.path for r in loopml_client.list_artifacts(run_id)]
    assert "data/sub/deeper/c.bin" in paths and "copies/model.pkl" in paths


def test_log_inputs_round_trip(mlflow_client: Any, loopml_client: lm.TrackingClient) -> None:
    import mlflow
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    exp_id = _experiment(mlflow_client)
    dataset = MetaDataset(
        source=HTTPDatasetSource("https://example.com/train.csv"), name="train", digest="abc123"
    )
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_input(dataset, context="training")  # logged once
    got = mlflow_client.get_run(run.info.run_id)
    assert [(d.dataset.name, d.dataset.digest) for d in got.inputs.dataset_inputs] == [
        ("train", "abc123")
    ]
    assert got.inputs.dataset_inputs[0].tags[0].value == "training"
    assert "loopml.mlflow.inputs" not in got.data.tags
    assert "train" in loopml_client.get_run(run.info.run_id).data.tags["loopml.mlflow.inputs"]
    # MLflow's run search on datasets finds it, through the client's own search call.
    for condition, hits in (
        ("datasets.name = 'train'", 1),
        ("datasets.digest = 'abc123' AND datasets.context = 'training'", 1),
        ("datasets.context = 'testing'", 0),
    ):
        runs = mlflow_client.search_runs([exp_id], filter_string=condition)
        assert [r.info.run_id for r in runs] == [run.info.run_id] * hits
    # and loopml's lineage graph shows it upstream of the run
    graph = lm.registry.lineage(run.info.run_id, direction="up", client=loopml_client)
    [link] = graph.upstream_of(f"runs:/{run.info.run_id}")
    assert (link.source, link.relation, link.role) == (
        "mlflow-dataset:train@abc123", "input", "training",
    )  # fmt: skip
    assert graph.nodes[link.source].label == "MLflow dataset train"


def test_unknown_ids_raise_resource_does_not_exist(mlflow_client: Any) -> None:
    from mlflow.exceptions import MlflowException

    missing = uuid.uuid4().hex
    for call in (
        lambda: mlflow_client.get_run(missing),
        lambda: mlflow_client.log_metric(missing, "m", 1.0),
        lambda: mlflow_client.get_experiment("987654"),
        lambda: mlflow_client.create_run("987654"),
        lambda: mlflow_client.list_artifacts(missing),
    ):
        with pytest.raises(MlflowException) as info:
            call()
        assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST", info.value


def test_duplicate_experiment_name_is_already_exists(mlflow_client: Any) -> None:
    from mlflow.exceptions import MlflowException

    name = f"dup-{uuid.uuid4().hex[:8]}"
    mlflow_client.create_experiment(name)
    with pytest.raises(MlflowException) as info:
        mlflow_client.create_experiment(name)
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_runs_logged_by_loopml_show_up_in_mlflow(
    mlflow_client: Any, loopml_client: lm.TrackingClient, mlflow_server: MlflowServer
) -> None:
    exp_id = loopml_client.create_experiment(f"from-loopml-{uuid.uuid4().hex[:8]}")
    parent = loopml_client.create_run(exp_id, run_name="outer")
    child = loopml_client.create_run(
        exp_id, run_name="inner", tags={"loopml.parentRunId": parent.run_id}
    )
    loopml_client.log_metric(child.run_id, "score", 0.9)
    loopml_client.log_text(child.run_id, "made by loopml", "note.txt")
    loopml_client.flush()

    got = mlflow_client.get_run(child.run_id)
    assert got.data.metrics == {"score": 0.9}
    assert got.data.tags["mlflow.parentRunId"] == parent.run_id
    assert [f.path for f in mlflow_client.list_artifacts(child.run_id)] == ["note.txt"]
    text = Path(mlflow_client.download_artifacts(child.run_id, "note.txt")).read_text()
    assert text == "made by loopml"
