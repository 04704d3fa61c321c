"""Contract of MetadataStore: every implementation must pass every test here."""

from __future__ import annotations

import math
import time

import pytest

from loopml.entities import ArtifactRecord, Metric, Param, RunStatus, RunTag, ViewType
from loopml.errors import (
    AlreadyExistsError,
    ExperimentNotFoundError,
    InvalidInputError,
    InvalidNameError,
    InvalidPathError,
    InvalidStateError,
    NotFoundError,
    ParamConflictError,
    RunNotFoundError,
    SearchSyntaxError,
    ValueTooLongError,
)
from loopml.storage.metadata import MetadataStore


def now() -> int:
    return int(time.time() * 1000)


def new_run(store: MetadataStore, exp_id: str = "0", name: str | None = None, **kw):  # type: ignore[no-untyped-def]
    return store.create_run(exp_id, name, now(), **kw)


# -- experiments -----------------------------------------------------------------------
def test_default_experiment_exists(store: MetadataStore) -> None:
    exp = store.get_experiment("0")
    assert exp.name == "Default"
    assert store.get_experiment_by_name("Default") == exp


def test_create_get_and_list_experiments(store: MetadataStore) -> None:
    exp_id = store.create_experiment("pricing", tags=[RunTag("team", "ml")])
    exp = store.get_experiment(exp_id)
    assert (exp.name, exp.lifecycle_stage, dict(exp.tags)) == ("pricing", "active", {"team": "ml"})
    assert store.get_experiment_by_name("pricing") == exp
    assert store.get_experiment_by_name("nope") is None
    names = [e.name for e in store.search_experiments()]
    assert names[0] == "pricing" and "Default" in names


def test_duplicate_experiment_name_is_refused(store: MetadataStore) -> None:
    store.create_experiment("dup")
    with pytest.raises(AlreadyExistsError, match="dup"):
        store.create_experiment("dup")


@pytest.mark.parametrize("bad_id", ["999", "abc", "-1", "1e3", ""])
def test_unknown_experiment_ids(store: MetadataStore, bad_id: str) -> None:
    with pytest.raises(ExperimentNotFoundError):
        store.get_experiment(bad_id)


@pytest.mark.parametrize("bad_name", ["", "   ", "a\x00b", "x" * 501])
def test_invalid_experiment_names(store: MetadataStore, bad_name: str) -> None:
    with pytest.raises(InvalidInputError):
        store.create_experiment(bad_name)


def test_rename_delete_restore_experiment(store: MetadataStore) -> None:
    exp_id = store.create_experiment("old")
    store.create_experiment("taken")
    store.rename_experiment(exp_id, "new")
    assert store.get_experiment(exp_id).name == "new"
    with pytest.raises(AlreadyExistsError):
        store.rename_experiment(exp_id, "taken")
    store.delete_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert "new" not in [e.name for e in store.search_experiments()]
    assert [e.name for e in store.search_experiments(ViewType.DELETED_ONLY)] == ["new"]
    with pytest.raises(InvalidStateError, match="deleted"):
        new_run(store, exp_id)
    store.restore_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == "active"


def test_experiment_pages(store: MetadataStore) -> None:
    for i in range(5):
        store.create_experiment(f"e{i}")
    seen, token = [], None
    while True:
        page = store.search_experiments(max_results=2, page_token=token)
        seen += [e.name for e in page]
        token = page.token
        if token is None:
            break
    assert sorted(seen) == sorted(["Default"] + [f"e{i}" for i in range(5)])


def test_experiment_tag_upsert(store: MetadataStore) -> None:
    exp_id = store.create_experiment("t")
    store.set_experiment_tag(exp_id, "k", "1")
    store.set_experiment_tag(exp_id, "k", "2")
    assert store.get_experiment(exp_id).tags == {"k": "2"}


# -- runs ------------------------------------------------------------------------------
def test_create_and_get_run(store: MetadataStore) -> None:
    run = new_run(store, name="first", tags=[RunTag("a", "b")], user_id="ana")
    got = store.get_run(run.info.run_id)
    assert got.info.run_name == "first"
    assert got.info.status == RunStatus.RUNNING
    assert got.info.user_id == "ana"
    assert got.data.tags == {"a": "b"}
    assert len(got.info.run_id) == 32


def test_generated_run_names_are_readable(store: MetadataStore) -> None:
    run = new_run(store)
    assert run.info.run_name.count("-") == 2


def test_unknown_and_malformed_run_ids(store: MetadataStore) -> None:
    with pytest.raises(RunNotFoundError):
        store.get_run("0" * 32)
    with pytest.raises(InvalidNameError):
        store.get_run("../../etc/passwd")


def test_terminate_run(store: MetadataStore) -> None:
    run = new_run(store)
    end = now()
    info = store.update_run_info(run.info.run_id, status=RunStatus.FINISHED, end_time=end)
    assert info.status == RunStatus.FINISHED and info.end_time == end


def test_delete_and_restore_run(store: MetadataStore) -> None:
    run = new_run(store)
    rid = run.info.run_id
    store.delete_run(rid)
    assert store.get_run(rid).info.lifecycle_stage == "deleted"
    with pytest.raises(InvalidStateError, match="restore"):
        store.log_batch(rid, metrics=[Metric("m", 1.0, now(), 0)])
    assert store.search_runs(["0"]) == []
    assert [r.info.run_id for r in store.search_runs(["0"], view_type=ViewType.ALL)] == [rid]
    store.restore_run(rid)
    store.log_batch(rid, metrics=[Metric("m", 1.0, now(), 0)])
    assert store.get_run(rid).data.metrics == {"m": 1.0}


# -- logging ---------------------------------------------------------------------------
def test_metric_history_and_latest_value(store: MetadataStore) -> None:
    rid = new_run(store).info.run_id
    t = now()
    points = [Metric("loss", 1.0 / (s + 1), t + s, s) for s in (0, 2, 1)]
    store.log_batch(rid, metrics=points)
    store.log_batch(rid, metrics=[Metric("loss", 9.0, t, 1)])  # an older step, logged later
    history = store.get_metric_history(rid, "loss")
    # ordered by step, then time: the late point has the older timestamp
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 9.0), (1, 0.5), (2, 1 / 3)]
    assert store.get_run(rid).data.metrics["loss"] == pytest.approx(1 / 3)


def test_nan_and_infinities_are_stored(store: MetadataStore) -> None:
    rid = new_run(store).info.run_id
    store.log_batch(
        rid,
        metrics=[
            Metric("a", math.nan, now(), 0),
            Metric("b", math.inf, now(), 0),
            Metric("c", -math.inf, now(), 0),
        ],
    )
    data = store.get_run(rid).data.metrics
    assert math.isnan(data["a"]) and data["b"] == math.inf and data["c"] == -math.inf
    assert math.isnan(store.get_metric_history(rid, "a")[0].value)


def test_metric_history_pages(store: MetadataStore) -> None:
    rid = new_run(store).info.run_id
    store.log_batch(rid, metrics=[Metric("m", float(i), now(), i) for i in range(25)])
    page = store.get_metric_history(rid, "m", max_results=10)
    assert [m.step for m in page] == list(range(10)) and page.token
    rest = store.get_metric_history(rid, "m", max_results=100, page_token=page.token)
    assert [m.step for m in rest] == list(range(10, 25)) and rest.token is None


def test_params_are_immutable(store: MetadataStore) -> None:
    rid = new_run(store).info.run_id
    store.log_batch(rid, params=[Param("lr", "0.1")])
    store.log_batch(rid, params=[Param("lr", "0.1")])  # same value: fine
    with pytest.raises(ParamConflictError, match=r"'0\.1'.*'0\.2'"):
        store.log_batch(rid, params=[Param("lr", "0.2")], metrics=[Metric("m", 1, now(), 0)])
    # the failed batch wrote nothing at all
    run = store.get_run(rid)
    assert run.data.params == {"lr": "0.1"} and run.data.metrics == {}


def test_conflicting_params_in_one_batch(store: MetadataStore) -> None:
    rid = new_run(store).info.run_id
    with pytest.raises(ParamConflictError):
        store.log_batch(rid, params=[Param("x", "1"), Param("x", "2")])


def test_tags_overwrite_and_delete(store: MetadataStore) -> None:
    rid = new_run(store).info.run_id
    store.log_batch(rid, tags=[RunTag("stage", "dev")])
    store.log_batch(rid, tags=[RunTag("stage", "prod")])
    assert store.get_run(rid).data.tags["stage"] == "prod"
    store.delete_tag(rid, "stage")
    assert "stage" not in store.get_run(rid).data.tags
    with pytest.raises(NotFoundError):
        store.delete_tag(rid, "stage")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"params": [Param("", "v")]}, InvalidNameError),
        ({"params": [Param("a/../b", "v")]}, InvalidNameError),
        ({"params": [Param("/abs", "v")]}, InvalidNameError),
        ({"params": [Param("k", "v" * 6001)]}, ValueTooLongError),
        ({"tags": [RunTag("k", "v" * 8001)]}, ValueTooLongError),
        ({"tags": [RunTag("k" * 251, "v")]}, ValueTooLongError),
        ({"metrics": [Metric("bad;key", 1.0, 0, 0)]}, InvalidNameError),
    ],
)
def test_invalid_keys_and_values(store: MetadataStore, kwargs: dict, error: type) -> None:  # type: ignore[type-arg]
    rid = new_run(store).info.run_id
    with pytest.raises(error):
        store.log_batch(rid, **kwargs)


def test_logging_to_unknown_run(store: MetadataStore) -> None:
    with pytest.raises(RunNotFoundError):
        store.log_batch("f" * 32, metrics=[Metric("m", 1.0, now(), 0)])


# -- search ----------------------------------------------------------------------------
@pytest.fixture
def populated(store: MetadataStore) -> tuple[MetadataStore, str, dict[str, str]]:
    exp_id = store.create_experiment("search")
    ids = {}
    for i, (depth, rmse, team) in enumerate(
        [("6", 0.25, "pricing"), ("6", 0.35, "pricing"), ("8", 0.2, "Risk"), ("4", 0.5, "risk")]
    ):
        run = store.create_run(exp_id, f"run-{i}", 1000 + i)
        store.log_batch(
            run.info.run_id,
            metrics=[Metric("rmse", rmse, now(), 0)],
            params=[Param("depth", depth)],
            tags=[RunTag("team", team)],
        )
        ids[f"run-{i}"] = run.info.run_id
    extra = store.create_run(exp_id, "no-metrics", 999)
    ids["no-metrics"] = extra.info.run_id
    return store, exp_id, ids


def names(runs) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.info.run_name for r in runs]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("", ["run-3", "run-2", "run-1", "run-0", "no-metrics"]),
        ("metrics.rmse < 0.3", ["run-2", "run-0"]),
        ("metrics.rmse < 0.3 and params.depth = '6'", ["run-0"]),
        ("metrics.rmse >= 0.35", ["run-3", "run-1"]),
        ("params.depth != '6'", ["run-3", "run-2"]),
        ("tags.team = 'risk'", ["run-3"]),
        ("tags.team LIKE 'r%'", ["run-3"]),
        ("tags.team ILIKE 'r%'", ["run-3", "run-2"]),
        ("attributes.run_name = 'run-1'", ["run-1"]),
        ("attributes.run_name LIKE 'run-%' and metrics.rmse < 0.3", ["run-2", "run-0"]),
        ("attributes.status = 'RUNNING' and metrics.rmse > 0.4", ["run-3"]),
        ("attributes.start_time > 1001", ["run-3", "run-2"]),
    ],
)
def test_search_filters(populated, filter_string: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    store, exp_id, _ = populated
    assert names(store.search_runs([exp_id], filter_string)) == expected


def test_search_order_by_metric_puts_missing_last(populated) -> None:  # type: ignore[no-untyped-def]
    store, exp_id, _ = populated
    asc = names(store.search_runs([exp_id], order_by=["metrics.rmse ASC"]))
    assert asc == ["run-2", "run-0", "run-1", "run-3", "no-metrics"]
    desc = names(store.search_runs([exp_id], order_by=["metrics.rmse DESC"]))
    assert desc == ["run-3", "run-1", "run-0", "run-2", "no-metrics"]
    by_param = names(store.search_runs([exp_id], "", order_by=["params.depth", "metrics.rmse"]))
    assert by_param == ["run-3", "run-0", "run-1", "run-2", "no-metrics"]


def test_search_pages_cover_every_run_once(populated) -> None:  # type: ignore[no-untyped-def]
    store, exp_id, ids = populated
    seen, token = [], None
    while True:
        page = store.search_runs(
            [exp_id], max_results=2, page_token=token, order_by=["metrics.rmse"]
        )
        seen += [r.info.run_id for r in page]
        if page.token is None:
            break
        token = page.token
    assert sorted(seen) == sorted(ids.values())


def test_search_by_run_id_list(populated) -> None:  # type: ignore[no-untyped-def]
    store, exp_id, ids = populated
    wanted = f"attributes.run_id IN ('{ids['run-1']}', '{ids['run-3']}')"
    assert names(store.search_runs([exp_id], wanted)) == ["run-3", "run-1"]


def test_search_returns_run_data(populated) -> None:  # type: ignore[no-untyped-def]
    store, exp_id, _ = populated
    (run,) = store.search_runs([exp_id], "attributes.run_name = 'run-0'")
    assert run.data.metrics == {"rmse": 0.25}
    assert run.data.params == {"depth": "6"}
    assert run.data.tags == {"team": "pricing"}


@pytest.mark.parametrize(
    "bad", ["metrics.rmse 0.3", "metrics.rmse < 'x'", "params.depth = 6", "foo.bar = '1'"]
)
def test_malformed_filters(populated, bad: str) -> None:  # type: ignore[no-untyped-def]
    store, exp_id, _ = populated
    with pytest.raises(SearchSyntaxError):
        store.search_runs([exp_id], bad)


def test_search_bad_arguments(populated) -> None:  # type: ignore[no-untyped-def]
    store, exp_id, _ = populated
    with pytest.raises(InvalidInputError):
        store.search_runs([exp_id], max_results=0)
    with pytest.raises(InvalidInputError):
        store.search_runs([exp_id], page_token="not-a-token")
    with pytest.raises(SearchSyntaxError):
        store.search_runs([exp_id], order_by=["metrics.rmse SIDEWAYS"])


# -- artifacts -------------------------------------------------------------------------
def test_artifact_records(store: MetadataStore) -> None:
    rid = new_run(store).info.run_id
    d1, d2 = "a" * 64, "b" * 64
    store.record_artifacts(
        rid,
        [ArtifactRecord("model/model.pkl", d1, 10), ArtifactRecord("model/conda.yaml", d2, 5)],
    )
    store.record_artifacts(rid, [ArtifactRecord("plots/x.png", d2, 5)])
    store.record_artifacts(rid, [ArtifactRecord("plots/x.png", d1, 10)])  # replaced
    assert [r.path for r in store.list_artifacts(rid)] == [
        "model/conda.yaml",
        "model/model.pkl",
        "plots/x.png",
    ]
    assert store.list_artifacts(rid, "plots") == [ArtifactRecord("plots/x.png", d1, 10)]
    assert store.list_artifacts(rid, "model/model.pkl") == [
        ArtifactRecord("model/model.pkl", d1, 10)
    ]
    assert store.list_artifacts(rid, "mod") == []


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "s3://bucket/x", "a/\x00b", "a/../../b"])
def test_artifact_paths_are_confined(store: MetadataStore, bad: str) -> None:
    rid = new_run(store).info.run_id
    with pytest.raises(InvalidPathError):
        store.record_artifacts(rid, [ArtifactRecord(bad, "a" * 64, 1)])
