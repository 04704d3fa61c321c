"""Contract of DatasetStore: every implementation must pass every test here.

It runs on every implementation in tests/contract/conftest.py (SQLite, PostgreSQL, and a
loopml server through the REST client store).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.entities import (
    DatasetFile,
    DatasetKind,
    LineageDirection,
    LineageEdge,
)
from loopml.errors import (
    DatasetNotFoundError,
    DatasetVersionNotFoundError,
    InvalidInputError,
    InvalidNameError,
    InvalidPathError,
    RunNotFoundError,
)
from loopml.storage.metadata import MetadataStore, open_metadata_store
from loopml.uris import DatasetUri
from tests.contract.conftest import (
    CONTRACT_DIGESTS,
    CONTRACT_FILE_DIGESTS,
    IMPLEMENTATIONS,
    make_store_uri,
)

MANIFEST_A, MANIFEST_B = CONTRACT_DIGESTS
FILE_1, FILE_2, FILE_3 = CONTRACT_FILE_DIGESTS


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    uri = make_store_uri(request.param, tmp_path, request)
    opened = open_metadata_store(uri, Settings(tracking_uri=uri))
    yield opened
    opened.close()


def _files(*items: tuple[str, str, int]) -> list[DatasetFile]:
    return [DatasetFile(p, d, s) for p, d, s in items]


def test_first_version_creates_the_dataset(store: MetadataStore) -> None:
    files = _files(("b.csv", FILE_2, 20), ("a.csv", FILE_1, 10))
    v = store.create_dataset_version(
        "rides", files, digest=MANIFEST_A, kind=DatasetKind.FILES, source="data/rides"
    )
    assert (v.name, v.version, v.digest, v.kind) == ("rides", 1, MANIFEST_A, DatasetKind.FILES)
    assert (v.file_count, v.size, v.source, v.uri) == (2, 30, "data/rides", "datasets:/rides/1")
    assert store.get_dataset("rides").latest_version == 1
    assert [f.path for f in store.get_dataset_files("rides", 1)] == ["a.csv", "b.csv"]
    assert store.get_dataset_files("rides", 1)[0] == DatasetFile("a.csv", FILE_1, 10)


def test_versions_number_up_and_keep_their_own_manifests(store: MetadataStore) -> None:
    store.create_dataset_version(
        "rides", _files(("a.csv", FILE_1, 10)), digest=MANIFEST_A, kind=DatasetKind.FILES
    )
    v2 = store.create_dataset_version(
        "rides",
        _files(("a.csv", FILE_3, 11), ("sub/c.csv", FILE_2, 5)),
        digest=MANIFEST_B,
        kind=DatasetKind.FILES,
    )
    assert v2.version == 2
    assert [v.version for v in store.list_dataset_versions("rides")] == [2, 1]
    assert store.get_dataset_files("rides", 1) == _files(("a.csv", FILE_1, 10))
    assert len(store.get_dataset_files("rides", 2)) == 2
    assert store.get_dataset_version_by_uri(DatasetUri("rides")).version == 2
    assert store.get_dataset_version_by_uri(DatasetUri("rides", 1)).digest == MANIFEST_A


def test_table_versions_keep_schema_profile_and_rows(store: MetadataStore) -> None:
    schema = {"columns": [{"name": "fare", "type": "double", "kind": "float"}]}
    profile = {"rows": 3, "columns": [{"name": "fare", "mean": 2.5, "quantiles": [1.0, 2.0]}]}
    v = store.create_dataset_version(
        "trips",
        _files(("data.parquet", FILE_1, 100)),
        digest=MANIFEST_A,
        kind=DatasetKind.TABLE,
        rows=3,
        schema=schema,
        profile=profile,
        description="March",
        created_by="ana",
    )
    again = store.get_dataset_version("trips", v.version)
    assert again.kind == DatasetKind.TABLE and again.rows == 3
    assert again.schema == schema and again.profile == profile
    assert (again.description, again.created_by) == ("March", "ana")


def test_unknown_names_and_versions_say_what_exists(store: MetadataStore) -> None:
    with pytest.raises(DatasetNotFoundError, match="no dataset named 'nope'"):
        store.get_dataset("nope")
    store.create_dataset_version(
        "rides", _files(("a.csv", FILE_1, 1)), digest=MANIFEST_A, kind=DatasetKind.FILES
    )
    with pytest.raises(DatasetVersionNotFoundError, match="latest is 1"):
        store.get_dataset_version("rides", 7)
    with pytest.raises(DatasetVersionNotFoundError):
        store.get_dataset_files("rides", 7)
    with pytest.raises(DatasetNotFoundError):
        store.list_dataset_versions("nope")


def test_a_deleted_version_is_gone_and_its_number_not_given_again(store: MetadataStore) -> None:
    for digest, file in ((MANIFEST_A, FILE_1), (MANIFEST_B, FILE_2), (MANIFEST_A, FILE_3)):
        store.create_dataset_version(
            "rides", _files(("a.csv", file, 1)), digest=digest, kind=DatasetKind.FILES
        )
    store.delete_dataset_version("rides", 3)  # the latest
    with pytest.raises(DatasetVersionNotFoundError, match="deleted"):
        store.get_dataset_version("rides", 3)
    with pytest.raises(DatasetVersionNotFoundError):
        store.get_dataset_files("rides", 3)
    assert store.get_dataset("rides").latest_version == 2  # latest is what exists
    assert store.get_dataset_version_by_uri(DatasetUri("rides")).version == 2
    assert [v.version for v in store.list_dataset_versions("rides")] == [2, 1]
    v4 = store.create_dataset_version(
        "rides", _files(("a.csv", FILE_3, 1)), digest=MANIFEST_A, kind=DatasetKind.FILES
    )
    assert v4.version == 4  # 3 is not given again
    store.delete_dataset_version("rides", 1)
    assert store.get_dataset_files("rides", 2) == _files(("a.csv", FILE_2, 1))
    with pytest.raises(DatasetVersionNotFoundError):
        store.delete_dataset_version("rides", 1)  # twice
    with pytest.raises(DatasetNotFoundError):
        store.delete_dataset_version("nope", 1)
    for number in (2, 4):
        store.delete_dataset_version("rides", number)
    assert store.get_dataset("rides").latest_version == 0
    assert store.list_dataset_versions("rides") == []
    with pytest.raises(DatasetVersionNotFoundError, match="no versions left"):
        store.get_dataset_version_by_uri(DatasetUri("rides"))
    assert [d.name for d in store.list_datasets()] == ["rides"]  # the name stays taken


def test_referenced_digests_are_what_versions_and_artifacts_name(store: MetadataStore) -> None:
    from loopml.entities import ArtifactRecord

    assert store.referenced_digests() == set()
    store.create_dataset_version(
        "rides",
        _files(("a.csv", FILE_1, 1), ("b.csv", FILE_2, 1)),
        digest=MANIFEST_A,
        kind=DatasetKind.FILES,
    )
    store.create_dataset_version(
        "rides", _files(("a.csv", FILE_3, 1)), digest=MANIFEST_A, kind=DatasetKind.FILES
    )
    experiment = store.create_experiment("gc")
    run = store.create_run(experiment, None, start_time=1, user_id="u")
    store.record_artifacts(run.info.run_id, [ArtifactRecord("model.pkl", MANIFEST_B, 18)])
    assert store.referenced_digests() == {MANIFEST_A, MANIFEST_B, FILE_1, FILE_2, FILE_3}
    store.delete_dataset_version("rides", 1)
    assert store.referenced_digests() == {MANIFEST_A, MANIFEST_B, FILE_3}


@pytest.mark.parametrize("name", ["", "a/b", "x@1", "a b", "../up", "123", "-x"])
def test_bad_names_are_refused(store: MetadataStore, name: str) -> None:
    with pytest.raises((InvalidNameError, InvalidInputError)):
        store.create_dataset_version(
            name, _files(("a.csv", FILE_1, 1)), digest=MANIFEST_A, kind=DatasetKind.FILES
        )


@pytest.mark.parametrize(
    "files",
    [
        [DatasetFile("../escape.csv", FILE_1, 1)],
        [DatasetFile("/abs.csv", FILE_1, 1)],
        [DatasetFile("a.csv", "nothex", 1)],
        [DatasetFile("a.csv", FILE_1, -1)],
        [DatasetFile("a.csv", FILE_1, 1), DatasetFile("./a.csv", FILE_2, 1)],
    ],
)
def test_bad_manifests_write_nothing(store: MetadataStore, files: list[DatasetFile]) -> None:
    with pytest.raises((InvalidPathError, InvalidInputError)):
        store.create_dataset_version("rides", files, digest=MANIFEST_A, kind=DatasetKind.FILES)
    with pytest.raises(DatasetNotFoundError):
        store.get_dataset("rides")


def test_pinned_schema_round_trips_and_unpins(store: MetadataStore) -> None:
    store.create_dataset_version(
        "rides", _files(("a.csv", FILE_1, 1)), digest=MANIFEST_A, kind=DatasetKind.FILES
    )
    schema = {"columns": [{"name": "fare", "kind": "float", "min": 0.0}]}
    assert store.set_dataset_schema("rides", schema).schema == schema
    assert store.get_dataset("rides").schema == schema
    assert store.set_dataset_schema("rides", None).schema is None
    with pytest.raises(DatasetNotFoundError):
        store.set_dataset_schema("nope", schema)


def test_list_datasets_filters_by_name(store: MetadataStore) -> None:
    for name in ("rides", "rides_eu", "weather"):
        store.create_dataset_version(
            name, _files(("a", FILE_1, 1)), digest=MANIFEST_A, kind=DatasetKind.FILES
        )
    assert [d.name for d in store.list_datasets()] == ["rides", "rides_eu", "weather"]
    assert [d.name for d in store.list_datasets("rides%")] == ["rides", "rides_eu"]


def test_lineage_edges_both_ways(store: MetadataStore) -> None:
    exp = store.create_experiment("lineage")
    run = store.create_run(exp, "train", 1).info.run_id
    other = store.create_run(exp, "score", 2).info.run_id
    uri = "datasets:/rides/1"
    store.log_lineage(run, [LineageEdge(run, uri, LineageDirection.INPUT, "training", 10)])
    store.log_lineage(other, [LineageEdge(other, uri, LineageDirection.OUTPUT, "scores", 20)])
    # Logged again: the role is replaced, not duplicated.
    store.log_lineage(run, [LineageEdge(run, uri, LineageDirection.INPUT, "features", 11)])
    edges = store.list_lineage(uri=uri)
    assert [(e.run_id, e.direction, e.role) for e in edges] == [
        (run, LineageDirection.INPUT, "features"),
        (other, LineageDirection.OUTPUT, "scores"),
    ]
    assert [e.uri for e in store.list_lineage(run_id=run)] == [uri]
    assert store.list_lineage(uri="datasets:/rides/9") == []


def test_runs_are_found_by_the_datasets_they_read(store: MetadataStore) -> None:
    exp = store.create_experiment("by-data")
    for name, digest in (("rides", MANIFEST_A), ("trips", MANIFEST_B)):
        store.create_dataset_version(
            name, _files(("a.csv", FILE_1, 1)), digest=digest, kind=DatasetKind.FILES
        )
    train = store.create_run(exp, "train", 1).info.run_id
    score = store.create_run(exp, "score", 2).info.run_id
    store.create_run(exp, "none", 3)
    edge = LineageEdge
    store.log_lineage(train, [edge(train, "datasets:/rides/1", LineageDirection.INPUT, "training")])
    store.log_lineage(
        score,
        [
            edge(score, "datasets:/trips/1", LineageDirection.INPUT, "evaluation"),
            edge(score, "datasets:/rides/1", LineageDirection.OUTPUT, "scores"),  # not an input
        ],
    )

    def found(condition: str) -> list[str]:
        return sorted(r.info.run_name for r in store.search_runs([exp], condition))

    assert found("datasets.name = 'rides'") == ["train"]
    assert found("datasets.name LIKE 'tr%'") == ["score"]
    assert found("datasets.name ILIKE 'RIDES'") == ["train"]
    assert found("datasets.context = 'evaluation'") == ["score"]
    assert found(f"datasets.digest IN ('{MANIFEST_A}', 'f')") == ["train"]
    assert found("datasets.name != 'rides'") == ["score"]
    assert found("datasets.name NOT IN ('rides', 'trips')") == []
    # Together the comparisons describe one input: no run read rides for evaluation.
    assert found("datasets.name = 'rides' and datasets.context = 'evaluation'") == []
    assert found("datasets.name = 'trips' and datasets.context = 'evaluation'") == ["score"]
    assert found("datasets.name = 'rides' and attributes.run_name = 'score'") == []


def test_runs_are_found_by_the_inputs_an_mlflow_client_logged(store: MetadataStore) -> None:
    """MLflow's log-inputs keeps a run's dataset inputs as JSON in a tag; datasets.*
    comparisons find those runs too, one input meeting all, and a malformed tag is no
    input (the search still answers)."""
    import json

    from loopml.entities import RunTag
    from loopml.entities.tags import DATASET_INPUTS_TAG

    exp = store.create_experiment("mlflow-inputs")

    def logged(run_name: str, value: str) -> None:
        run = store.create_run(exp, run_name, 1).info.run_id
        store.log_batch(run, tags=[RunTag(DATASET_INPUTS_TAG, value)])

    def item(name: str, digest: str, context: str | None) -> dict[str, object]:
        tags = [{"key": "mlflow.data.context", "value": context}] if context else []
        return {"tags": tags, "dataset": {"name": name, "digest": digest}}

    logged("both", json.dumps([item("train", "d1", "training"), item("eval", "d2", "testing")]))
    logged("no-context", json.dumps([item("train", "d3", None)]))
    logged("broken", "{not json")
    logged("odd", json.dumps([5, "x", {"dataset": "no"}, {"tags": 3, "dataset": {"name": 7}}]))
    store.create_dataset_version(
        "train", _files(("a.csv", FILE_1, 1)), digest=MANIFEST_A, kind=DatasetKind.FILES
    )
    lineage = store.create_run(exp, "lineage", 2).info.run_id
    store.log_lineage(
        lineage, [LineageEdge(lineage, "datasets:/train/1", LineageDirection.INPUT, "training")]
    )

    def found(condition: str) -> list[str]:
        return sorted(r.info.run_name for r in store.search_runs([exp], condition))

    assert found("datasets.name = 'train'") == ["both", "lineage", "no-context"]
    assert found("datasets.digest = 'd2'") == ["both"]
    assert found("datasets.context = 'training'") == ["both", "lineage"]
    assert found("datasets.name = 'train' and datasets.context = 'testing'") == []
    assert found("datasets.name = 'eval' and datasets.context = 'testing'") == ["both"]
    assert found("datasets.name ILIKE 'TR%'") == ["both", "lineage", "no-context"]
    assert found("datasets.name IN ('eval')") == ["both"]
    assert found("datasets.context != 'training'") == ["both"]  # a missing context meets none
    assert found("datasets.name = 'train' and attributes.run_name = 'both'") == ["both"]
    page = store.search_runs([exp], "datasets.name = 'train'", max_results=2)
    rest = store.search_runs([exp], "datasets.name = 'train'", page_token=page.token)
    assert len(page) == 2 and len(rest) == 1


def test_lineage_needs_a_real_run(store: MetadataStore) -> None:
    ghost = "f" * 32
    with pytest.raises(RunNotFoundError):
        store.log_lineage(ghost, [LineageEdge(ghost, "datasets:/x/1", LineageDirection.INPUT)])
    with pytest.raises(InvalidInputError):
        store.list_lineage()


def test_concurrent_adds_get_distinct_numbers(store: MetadataStore, tmp_path: Path) -> None:
    numbers: list[int] = []
    errors: list[BaseException] = []

    def add() -> None:
        try:
            for _ in range(3):
                v = store.create_dataset_version(
                    "busy", _files(("a", FILE_1, 1)), digest=MANIFEST_A, kind=DatasetKind.FILES
                )
                numbers.append(v.version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == list(range(1, 10))
