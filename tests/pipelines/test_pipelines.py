"""Pipelines: graph building, materializers, caching (as DVC's and ZenML's suites test it),
map, failure, retries, resume, tracking, executors and the CLI."""

from __future__ import annotations

import json
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml as lm
from loopml import pipeline, step
from loopml.cli.main import main
from loopml.errors import InvalidInputError, PipelineDefinitionError, StepFailedError
from loopml.pipelines import Materializer, PickledOutputWarning, register_materializer
from loopml.pipelines.runner import load_target, resume
from tests.pipelines import flows


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    flows.CALLS.clear()


def _states(run: lm.pipelines.PipelineRun) -> dict[str, str]:
    return {r.node if r.item is None else f"{r.node}[{r.item}]": r.state for r in run.steps}


def test_a_run_tracks_every_step_and_hands_outputs_over() -> None:
    run = flows.training.run(n=100)
    assert run.status == "FINISHED" and set(_states(run).values()) == {"finished"}
    assert run.output("score")["coef"] == pytest.approx(2.0)
    assert isinstance(run.output("features"), np.ndarray)
    parent = lm.get_run(run.run_id)
    assert parent.data.params == {"n": "100", "seed": "0", "fit_intercept": "true"}
    assert parent.data.tags["loopml.pipeline.name"] == "training"
    train = next(r for r in run.steps if r.node == "train")
    child = lm.get_run(train.run_id)
    assert child.data.tags["loopml.parentRunId"] == run.run_id
    assert child.data.metrics["rows"] == 100  # lm.log_metric inside the step
    assert child.data.params == {"fit_intercept": "true"}
    load_run = next(r for r in run.steps if r.node == "load").run_id
    logs = lm.TrackingClient().load_text(load_run, "logs/stdout.txt")
    assert "loading 100 rows" in logs


def test_unchanged_nothing_reruns_and_cached_records_point_to_the_original() -> None:
    first = flows.training.run()
    flows.CALLS.clear()
    again = flows.training.run()
    assert flows.CALLS == [] and set(_states(again).values()) == {"cached"}
    originals = {r.node: r.run_id for r in first.steps}
    assert {r.node: r.reused_from for r in again.steps} == originals
    third = flows.training.run()
    assert {r.node: r.reused_from for r in third.steps} == originals  # not the copies
    assert third.output("score") == first.output("score")


def test_a_changed_parameter_reruns_that_step_and_downstream_only() -> None:
    flows.training.run()
    flows.CALLS.clear()
    run = flows.training.run(fit_intercept=False)
    assert sorted(flows.CALLS) == ["score", "train"]
    assert _states(run) == {
        "load": "cached",
        "train": "finished",
        "score": "finished",
        "features": "cached",
    }


def test_changed_upstream_data_reruns_downstream() -> None:
    flows.training.run(seed=0)
    flows.CALLS.clear()
    flows.training.run(seed=1)
    assert sorted(flows.CALLS) == ["features", "load", "score", "train"]


def test_changed_code_reruns_the_step_and_what_it_calls_counts(tmp_path: Path) -> None:
    source = textwrap.dedent(
        """
        from loopml import pipeline, step

        def helper(x):
            return x + 1

        @step
        def first(n: int) -> int:
            return helper(n)

        @step
        def second(v: int) -> int:
            return v * 10

        @pipeline
        def flow(n: int = 1):
            second(first(n))
        """
    )
    path = tmp_path / "codeflow.py"
    path.write_text(source)
    assert load_target(f"{path}:flow").run().output("second") == 20
    path.write_text(source.replace("return x + 1", "return x + 2"))  # only the helper changes
    run = load_target(f"{path}:flow").run()
    assert _states(run) == {"first": "finished", "second": "finished"}  # new value downstream
    assert run.output("second") == 30
    path.write_text(
        source.replace("return x + 1", "return x + 2").replace("v * 10", "v * 10  # note")
    )
    assert _states(load_target(f"{path}:flow").run()) == {"first": "cached", "second": "finished"}


def test_cache_can_be_turned_off_and_a_step_marked_nondeterministic() -> None:
    flows.training.run()
    flows.CALLS.clear()
    run = flows.training.run(cache=False)
    assert sorted(flows.CALLS) == ["features", "load", "score", "train"]
    assert {lm.get_run(r.run_id).data.tags["loopml.step.cache"] for r in run.steps} == {"off"}
    flows.clock.run()
    flows.CALLS.clear()
    again = flows.clock.run()
    assert _states(again) == {"now": "finished", "echo": "finished"}  # new time, new input
    assert flows.CALLS == ["echo"]


def test_fan_out_runs_one_task_per_item_and_downstream_gets_the_list() -> None:
    run = flows.fan_out.run(count=4)
    assert run.output("total") == 0 + 1 + 4 + 9 and run.output("total_2") == 500
    assert run.output("square") == [0, 1, 4, 9]
    assert [r.item for r in run.steps if r.node == "square"] == [0, 1, 2, 3]
    more = flows.fan_out.run(count=5)
    states = _states(more)
    assert [states[f"square[{i}]"] for i in range(5)] == ["cached"] * 4 + ["finished"]


def test_failure_keeps_finished_steps_and_resume_continues(tmp_path: Path) -> None:
    flows.BROKEN.write_text("yes")
    with pytest.raises(
        StepFailedError, match=r"failed at step.*fragile.*the input is broken"
    ) as info:
        flows.robust.run()
    parent_id = str(info.value).split("loopml pipeline resume ")[1].split("`")[0]
    parent = lm.get_run(parent_id)
    assert parent.info.status.value == "FAILED"
    steps = {
        lm.get_run(r.info.run_id).data.tags["loopml.step.node"]: r
        for r in lm.search_runs(
            parent.info.experiment_id, filter=f"tags.`loopml.pipeline.run` = '{parent_id}'"
        )
    }
    assert steps["flaky"].info.status.value == "FINISHED"
    assert steps["fragile"].info.status.value == "FAILED"
    assert "the input is broken" in steps["fragile"].data.tags["loopml.step.error"]
    assert int(flows.FLAKY.read_text()) == 3  # two retries, then success
    flows.BROKEN.unlink()
    resumed = resume(parent_id)
    states = _states(resumed)
    assert states["flaky"] == "cached" and states["fragile"] == "finished"
    assert int(flows.FLAKY.read_text()) == 3  # the finished step was not run again
    assert states["optional"] == "failed"  # catch=True: recorded, pipeline goes on
    assert resumed.output("combine") == {"a": 2, "b": None}


def test_a_step_past_its_timeout_fails() -> None:
    with pytest.raises(StepFailedError, match="timeout"):
        flows.too_slow.run()


def test_building_errors_are_clear() -> None:
    with pytest.raises(PipelineDefinitionError, match="called outside a pipeline"):
        flows.load(3)
    assert flows.load.fn(3).shape == (3, 2)  # the plain function is still callable
    with pytest.raises(PipelineDefinitionError, match="no parameter"):
        flows.training.run(epochs=3)
    with pytest.raises(PipelineDefinitionError, match="not by calling it"):
        flows.training()

    leaked = []

    @pipeline
    def first():
        leaked.append(flows.numbers(2))

    @pipeline
    def second():
        flows.total(leaked[0])

    @pipeline
    def nested_output():
        flows.total([flows.numbers(2)])

    @pipeline
    def branching():
        if flows.numbers(2):
            flows.total([1])

    first.build({})
    with pytest.raises(PipelineDefinitionError, match="another pipeline"):
        second.run()
    with pytest.raises(PipelineDefinitionError, match="passed directly"):
        nested_output.run()
    with pytest.raises(PipelineDefinitionError, match="branch inside a step"):
        branching.run()
    with pytest.raises(InvalidInputError, match="executor must be one of"):
        flows.fan_out.run("threads")


class Point:
    def __init__(self, x: float) -> None:
        self.x = x


@step
def make_point(x: float) -> Point:
    return Point(x)


@step
def point_x(p: Point) -> float:
    return p.x


@pipeline
def points(x: float = 1.5):
    point_x(make_point(x))


def test_unknown_types_are_pickled_with_a_warning_and_materializers_extend() -> None:
    with pytest.warns(PickledOutputWarning, match="Point"):
        assert points.run().output("point_x") == 1.5

    class PointMaterializer(Materializer):
        name = "point"

        def can_handle(self, obj: object) -> bool:
            return isinstance(obj, Point)

        def save(self, obj: Point, folder: Path) -> None:
            (folder / "point.json").write_text(json.dumps({"x": obj.x}))

        def load(self, folder: Path) -> Point:
            return Point(json.loads((folder / "point.json").read_text())["x"])

    register_materializer(PointMaterializer())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = points.run(x=2.5, cache=False)
    made = next(r for r in run.steps if r.node == "make_point")
    assert lm.get_run(made.run_id).data.tags["loopml.step.output"].count('"point"') == 1
    assert run.output("make_point").x == 2.5


def test_dataframes_and_models_round_trip_through_the_store() -> None:
    run = flows.training.run(n=50)
    run._values.clear()  # force reading back from the store
    frame = run.output("load")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 50
    model = run.output("train")
    assert model.predict(frame[["x"]]).shape == (50,)


@pytest.mark.slow
def test_the_process_executor_runs_branches_and_items_in_parallel() -> None:
    run = flows.fan_out.run("process", max_workers=2, count=6)
    assert run.output("total") == sum(i * i for i in range(6))
    assert run.output("square") == [i * i for i in range(6)]
    inline = flows.training.run()
    parallel = flows.training.run("process", max_workers=2, cache=False)
    assert parallel.output("score") == pytest.approx(inline.output("score"))
    train = next(r for r in parallel.steps if r.node == "train")
    assert lm.get_run(train.run_id).data.metrics["rows"] == 200  # logged from the worker


def test_cli_run_runs_show_and_resume(capsys: pytest.CaptureFixture[str]) -> None:
    target = "tests.pipelines.flows:training"
    assert main(["pipeline", "run", target, "-p", "n=30", "-p", "fit_intercept=false"]) == 0
    out = capsys.readouterr().out
    assert "FINISHED" in out and "train" in out
    assert (
        main(["pipeline", "run", target, "-p", "n=30", "-p", "fit_intercept=false", "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert {s["state"] for s in result["steps"]} == {"cached"}
    assert main(["pipeline", "runs", "training", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert len(runs) == 2 and runs[0]["data"]["params"]["n"] == "30"
    assert main(["pipeline", "show", result["run_id"]]) == 0
    shown = capsys.readouterr().out
    assert "hit" in shown and "load" in shown
    assert main(["pipeline", "run", target, "-p", "epochs=3"]) == 2
    assert "no parameter" in capsys.readouterr().err
    assert main(["pipeline", "run", "tests.pipelines.flows:nothing"]) == 2


@step(resources={"cpu": 1})
def heavy_square(value: int) -> int:
    return value * value


@pipeline
def ray_fan_out(count: int = 4):
    flows.total(heavy_square.map(flows.numbers(count)))


@pytest.mark.slow
@pytest.mark.ray
def test_the_ray_executor_runs_steps_as_ray_tasks() -> None:
    ray = pytest.importorskip("ray", reason="pip install 'loopml[ray]'")
    try:
        run = ray_fan_out.run("ray", count=5)
        assert run.output("total") == sum(i * i for i in range(5))
        assert [r.state for r in run.steps if r.node == "heavy_square"] == ["finished"] * 5
        assert ray.is_initialized()  # a local Ray instance, started for the run
        trained = flows.training.run("ray", cache=False, n=80)
        train = next(r for r in trained.steps if r.node == "train")
        assert lm.get_run(train.run_id).data.metrics["rows"] == 80  # logged from the task
        assert trained.output("score")["coef"] == pytest.approx(2.0)
    finally:
        ray.shutdown()


def test_rerun_reports_which_outputs_are_byte_identical(capsys: pytest.CaptureFixture[str]) -> None:
    from loopml.pipelines.runner import rerun

    first = flows.training.run(n=60)
    flows.CALLS.clear()
    again, comparisons = rerun(first.run_id)
    assert sorted(flows.CALLS) == ["features", "load", "score", "train"]  # no cache
    assert [c.node for c in comparisons] == ["load", "train", "score", "features"]
    assert all(c.identical for c in comparisons) and again.run_id != first.run_id
    clock = flows.clock.run()
    assert main(["pipeline", "rerun", clock.run_id]) == 1  # the time differs
    out = capsys.readouterr().out
    assert "NO" in out and "now" in out


@step
def snapshot(rows: int) -> lm.data.DatasetVersion:
    return lm.data.log_dataset("snapshots", {"x": list(range(rows))})


@step
def count_rows(version: lm.data.DatasetVersion) -> int:
    return len(lm.data.load(version))


@pipeline
def versioned(rows: int = 5):
    count_rows(snapshot(rows))


def test_dataset_versions_flow_between_steps_with_lineage() -> None:
    run = versioned.run(rows=7)
    assert run.output("count_rows") == 7
    version = run.output("snapshot")
    assert version.uri == "datasets:/snapshots/1"
    edges = {(e.direction.value, e.role) for e in lm.data.lineage(version)}
    assert edges == {("output", "output"), ("input", "version")}
    made = next(r for r in run.steps if r.node == "snapshot").run_id
    assert version.run_id == made  # the step's run made the version
