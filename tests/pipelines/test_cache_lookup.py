"""Finding the execution a cached step reuses: within a run, across pipelines, and past the
executions a run fetches up front."""

from __future__ import annotations

import pytest

import loopml as lm
from loopml import pipeline, step
from loopml.errors import StepFailedError
from loopml.pipelines import runner

CALLS: list[int] = []


@step
def cube(value: int) -> int:
    CALLS.append(value)
    return value**3


@step
def total(values: list) -> int:
    return sum(values)


@pipeline
def cubes(items: list = [2, 3]):  # noqa: B006 - a pipeline default, never mutated
    total(cube.map(items))


@pipeline
def one_cube(value: int = 2):
    cube(value)


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    CALLS.clear()


def test_an_item_reuses_an_equal_item_of_the_same_run() -> None:
    run = cubes.run(items=[3, 3, 4])
    assert CALLS == [3, 4]
    first, second, third = (r for r in run.steps if r.node == "cube")
    assert (first.state, second.state, third.state) == ("finished", "cached", "finished")
    assert second.reused_from == first.run_id
    assert run.output("total") == 27 + 27 + 64


def test_a_step_reuses_what_another_pipeline_computed() -> None:
    made = cubes.run(items=[2, 5])
    CALLS.clear()
    run = one_cube.run(value=5)
    assert CALLS == [] and [r.state for r in run.steps] == ["cached"]
    original = next(r for r in made.steps if r.node == "cube" and r.item == 1)
    assert run.steps[0].reused_from == original.run_id
    assert run.output("cube") == 125


def test_an_old_execution_is_found_past_those_fetched_up_front(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "_PREFETCH", 2)  # the oldest executions are not fetched
    oldest = one_cube.run(value=1)
    for value in (2, 3, 4):
        one_cube.run(value=value)
    CALLS.clear()
    again = one_cube.run(value=1)
    assert CALLS == [] and again.steps[0].reused_from == oldest.steps[0].run_id
    fresh = one_cube.run(value=9)
    assert CALLS == [9] and fresh.steps[0].state == "finished"
    assert lm.get_run(fresh.steps[0].run_id).data.tags["loopml.step.cache"] == "miss"


@step
def fragile(value: int) -> int:
    CALLS.append(value)
    if value < 0:
        raise ValueError("negative")
    return value + 100


@pipeline
def fragiles(items: list = [1]):  # noqa: B006 - a pipeline default, never mutated
    total(fragile.map(items))


def test_an_item_that_finished_beside_a_failed_one_is_reused_with_its_output() -> None:
    with pytest.raises(StepFailedError):
        fragiles.run(items=[1, -1, 2])
    CALLS.clear()
    run = fragiles.run(items=[1, 2])
    assert CALLS == [] and run.output("total") == 101 + 102
    for record in (r for r in run.steps if r.node == "fragile"):
        assert lm.get_run(record.run_id).data.tags["loopml.step.cache"] == "hit"
