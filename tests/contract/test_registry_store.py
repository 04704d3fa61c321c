"""Contract of RegistryStore: every implementation must pass every test here.

It runs on every implementation in tests/contract/conftest.py (SQLite, PostgreSQL, and a
loopml server through the REST client store).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from loopml.config import Settings
from loopml.entities import LineageDirection, LineageEdge, RunTag
from loopml.entities._registry import VersionStatus
from loopml.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidNameError,
    InvalidStateError,
    NotFoundError,
)
from loopml.storage.metadata import MetadataStore, open_metadata_store
from loopml.storage.metadata.registry_base import RegistryStore
from loopml.storage.metadata.sql import SqlMetadataStore
from loopml.uris import parse_models_uri
from tests.contract.conftest import IMPLEMENTATIONS, make_store_uri


@pytest.fixture(params=IMPLEMENTATIONS)
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryStore]:
    uri = make_store_uri(request.param, tmp_path, request)
    store = open_metadata_store(uri, Settings(tracking_uri=uri))
    yield store
    store.close()


def _with_versions(registry: RegistryStore, name: str = "pricing", count: int = 1) -> None:
    registry.create_registered_model(name, actor="ana")
    for i in range(count):
        registry.create_model_version(name, f"runs:/{uuid.uuid4().hex}/model{i}", actor="ana")


# -- models ----------------------------------------------------------------------------
def test_create_get_and_search_models(registry: RegistryStore) -> None:
    made = registry.create_registered_model(
        "pricing", description="price per night", tags=[RunTag("team", "ml")], actor="ana"
    )
    assert (made.name, made.description, dict(made.tags)) == (
        "pricing",
        "price per night",
        {"team": "ml"},
    )
    assert made.latest_version is None and dict(made.aliases) == {}
    assert registry.get_registered_model("pricing") == made
    registry.create_registered_model("churn")
    assert [m.name for m in registry.search_registered_models()] == ["churn", "pricing"]
    assert [m.name for m in registry.search_registered_models(name_like="PRI%")] == ["pricing"]
    first = registry.search_registered_models(max_results=1)
    assert [m.name for m in first] == ["churn"] and first.token
    second = registry.search_registered_models(max_results=1, page_token=first.token)
    assert [m.name for m in second] == ["pricing"] and second.token is None


def test_update_and_tag_a_model(registry: RegistryStore) -> None:
    registry.create_registered_model("pricing")
    assert registry.update_registered_model("pricing", "v2 docs").description == "v2 docs"
    registry.set_registered_model_tag("pricing", "owner", "ana")
    registry.set_registered_model_tag("pricing", "owner", "bo")
    assert dict(registry.get_registered_model("pricing").tags) == {"owner": "bo"}


def test_duplicate_model_is_refused(registry: RegistryStore) -> None:
    registry.create_registered_model("pricing")
    with pytest.raises(AlreadyExistsError, match="pricing"):
        registry.create_registered_model("pricing")


@pytest.mark.parametrize("bad", ["", "a/b", "x" * 251, "tab\there", "line\n"])
def test_bad_model_names_are_refused(registry: RegistryStore, bad: str) -> None:
    with pytest.raises(InvalidInputError):
        registry.create_registered_model(bad)


def test_unknown_model_and_version_say_what_is_missing(registry: RegistryStore) -> None:
    with pytest.raises(NotFoundError, match="no registered model named 'ghost'"):
        registry.get_registered_model("ghost")
    with pytest.raises(NotFoundError, match="ghost"):
        registry.create_model_version("ghost", "runs:/x/model")
    _with_versions(registry, count=2)
    with pytest.raises(NotFoundError, match="no version 7; its latest version is 2"):
        registry.get_model_version("pricing", 7)
    with pytest.raises(InvalidInputError):
        registry.get_model_version("pricing", 0)
    with pytest.raises(NotFoundError, match="ghost"):
        registry.set_alias("ghost", "prod", 1)
    with pytest.raises(NotFoundError, match="ghost"):
        registry.list_approvals("ghost", 1)
    assert list(registry.audit_log("ghost")) == []


# -- renaming --------------------------------------------------------------------------
def test_rename_moves_versions_tags_aliases_and_reviews(registry: RegistryStore) -> None:
    registry.create_registered_model(
        "pricing", description="price per night", tags=[RunTag("team", "ml")], actor="ana"
    )
    for i in range(3):
        registry.create_model_version("pricing", f"s3://b/m{i}", description=f"v{i + 1}")
    registry.set_model_version_tag("pricing", 2, "stage", "canary")
    registry.set_version_status("pricing", 2, VersionStatus.APPROVED, actor="bo", comment="ok")
    registry.set_alias("pricing", "champion", 2)
    registry.set_alias("pricing", "challenger", 3)
    registry.delete_model_version("pricing", 1)
    created = registry.get_registered_model("pricing").creation_time

    renamed = registry.rename_registered_model("pricing", "fares", actor="cy")
    assert renamed == registry.get_registered_model("fares")
    assert (renamed.name, renamed.description, dict(renamed.tags)) == (
        "fares",
        "price per night",
        {"team": "ml"},
    )
    assert dict(renamed.aliases) == {"challenger": 3, "champion": 2}
    assert (renamed.latest_version, renamed.creation_time) == (3, created)
    champion = registry.get_version_by_uri(parse_models_uri("models:/fares@champion"))
    assert (champion.name, champion.version, champion.status) == (
        "fares",
        2,
        VersionStatus.APPROVED,
    )
    assert (champion.source, champion.description, dict(champion.tags)) == (
        "s3://b/m1",
        "v2",
        {"stage": "canary"},
    )
    assert champion.aliases == ("champion",)
    assert registry.get_version_by_uri(parse_models_uri("models:/fares/3")).aliases == (
        "challenger",
    )
    assert [(a.actor, a.comment) for a in registry.list_approvals("fares", 2)] == [("bo", "ok")]
    assert [v.version for v in registry.search_model_versions("fares")] == [3, 2]
    assert list(registry.search_model_versions("pricing")) == []
    assert [m.name for m in registry.search_registered_models()] == ["fares"]
    # the old name is gone: the usual errors
    for uri in ("models:/pricing/2", "models:/pricing@champion", "models:/pricing/latest"):
        with pytest.raises(NotFoundError, match="no registered model named 'pricing'"):
            registry.get_version_by_uri(parse_models_uri(uri))
    # numbers stay unique: the deleted 1 and the existing 3 are not given out again
    assert registry.create_model_version("fares", "s3://b/m4").version == 4
    # the old name is free for a new model
    assert registry.create_registered_model("pricing").latest_version is None


def test_rename_refuses_bad_names_and_changes_nothing(registry: RegistryStore) -> None:
    _with_versions(registry, "pricing", count=1)
    registry.create_registered_model("churn")
    before = registry.get_registered_model("pricing")
    with pytest.raises(AlreadyExistsError, match="'churn' already exists"):
        registry.rename_registered_model("pricing", "churn")
    for bad in ("", "a/b", "x" * 251, "tab\there"):
        with pytest.raises(InvalidInputError):
            registry.rename_registered_model("pricing", bad)
    with pytest.raises(InvalidInputError, match="already named"):
        registry.rename_registered_model("pricing", "pricing")
    with pytest.raises(NotFoundError, match="no registered model named 'ghost'"):
        registry.rename_registered_model("ghost", "spirit")
    assert registry.get_registered_model("pricing") == before
    assert registry.get_model_version("pricing", 1).name == "pricing"
    assert [e.action for e in registry.audit_log("pricing")] == ["create_model", "create_version"]
    assert list(registry.audit_log("spirit")) == []


def test_a_renamed_model_keeps_its_history(registry: RegistryStore) -> None:
    _with_versions(registry, "pricing", count=1)
    registry.rename_registered_model("pricing", "fares", actor="cy")
    registry.set_alias("fares", "prod", 1, actor="bo")
    story = list(registry.audit_log("fares"))
    assert [(e.action, e.name) for e in story] == [
        ("create_model", "pricing"),
        ("create_version", "pricing"),
        ("rename_model", "fares"),
        ("set_alias", "fares"),
    ]
    rename = story[2]
    assert (rename.actor, rename.version) == ("cy", None)
    assert (rename.before, rename.after) == ({"name": "pricing"}, {"name": "fares"})
    assert rename.time >= story[1].time
    # the old name's log ends with where it went
    assert [e.action for e in registry.audit_log("pricing")] == [
        "create_model",
        "create_version",
        "rename_model",
    ]
    # pages of the joined story
    first = registry.audit_log("fares", max_results=3)
    assert [e.action for e in first] == ["create_model", "create_version", "rename_model"]
    assert [e.action for e in registry.audit_log("fares", 3, first.token)] == ["set_alias"]


def test_history_follows_chains_of_renames_but_not_a_reused_name(
    registry: RegistryStore,
) -> None:
    registry.create_registered_model("a", description="first a")
    registry.rename_registered_model("a", "b")
    registry.create_registered_model("a", description="second a")  # another model, old name
    registry.update_registered_model("a", "second a, edited")
    registry.rename_registered_model("a", "c")
    registry.rename_registered_model("c", "d")

    def story(name: str) -> list[tuple[str, str]]:
        return [(e.action, e.name) for e in registry.audit_log(name)]

    assert story("b") == [("create_model", "a"), ("rename_model", "b")]
    assert story("d") == [
        ("create_model", "a"),
        ("update_model", "a"),
        ("rename_model", "c"),
        ("rename_model", "d"),
    ]
    assert registry.audit_log("d")[0].after == {
        "description": "second a",
        "tags": {},
    }
    # renaming back and forth still tells one story, each entry once
    registry.rename_registered_model("b", "e")
    registry.rename_registered_model("e", "b")
    assert story("b") == [
        ("create_model", "a"),
        ("rename_model", "b"),
        ("rename_model", "e"),
        ("rename_model", "b"),
    ]


def test_versions_registered_during_a_rename_are_not_lost(registry: RegistryStore) -> None:
    registry.create_registered_model("pricing")
    made: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    go = threading.Event()

    def register() -> None:
        go.wait()
        for _ in range(10):
            for name in ("pricing", "fares"):
                try:
                    made.append((name, registry.create_model_version(name, "s3://b/m").version))
                    break
                except NotFoundError:
                    continue  # the rename is between the two names' lookups: try again
                except BaseException as exc:  # collected and re-raised in the main thread
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=register) for _ in range(3)]
    for t in threads:
        t.start()
    go.set()
    registry.rename_registered_model("pricing", "fares")
    for t in threads:
        t.join()
    assert errors == []
    # every version a writer was told about is there, under the new name, numbered once
    kept = sorted(v.version for v in registry.search_model_versions("fares"))
    assert sorted(number for _, number in made) == kept
    assert kept == list(range(1, len(kept) + 1))
    assert list(registry.search_model_versions("pricing")) == []


def test_rename_moves_the_lineage_of_versions(registry: RegistryStore) -> None:
    store = cast(MetadataStore, registry)  # every registry here is a whole metadata store
    exp = store.create_experiment("lineage")
    train = store.create_run(exp, "train", 1).info.run_id
    score = store.create_run(exp, "score", 2).info.run_id
    _with_versions(registry, "price_v", count=2)  # '_' must not match as a LIKE wildcard
    _with_versions(registry, "priceXv", count=1)
    out, into = LineageDirection.OUTPUT, LineageDirection.INPUT
    store.log_lineage(train, [LineageEdge(train, "models:/price_v/1", out, "model", 10)])
    store.log_lineage(score, [LineageEdge(score, "models:/price_v/1", into, "scored", 20)])
    store.log_lineage(score, [LineageEdge(score, "models:/priceXv/1", into, "other", 21)])
    store.log_lineage(score, [LineageEdge(score, "datasets:/rides/1", into, "data", 22)])

    registry.rename_registered_model("price_v", "fares")
    assert store.list_lineage(uri="models:/price_v/1") == []
    moved = store.list_lineage(uri="models:/fares/1")
    assert [(e.run_id, e.direction, e.role) for e in moved] == [
        (train, out, "model"),
        (score, into, "scored"),
    ]
    assert sorted(e.uri for e in store.list_lineage(run_id=score)) == [
        "datasets:/rides/1",
        "models:/fares/1",
        "models:/priceXv/1",
    ]


# -- versions --------------------------------------------------------------------------
def test_versions_are_numbered_per_model_from_one(registry: RegistryStore) -> None:
    registry.create_registered_model("a")
    registry.create_registered_model("b")
    run_id = uuid.uuid4().hex
    v1 = registry.create_model_version(
        "a", f"runs:/{run_id}/model", run_id, "first", [RunTag("k", "v")], actor="ana"
    )
    assert (v1.version, v1.status, v1.run_id, v1.created_by) == (
        1,
        VersionStatus.PENDING_REVIEW,
        run_id,
        "ana",
    )
    assert (v1.description, dict(v1.tags), v1.aliases) == ("first", {"k": "v"}, ())
    assert registry.create_model_version("a", "s3://bucket/m").version == 2
    assert registry.create_model_version("b", "s3://bucket/m").version == 1
    assert registry.get_model_version("a", 1) == v1
    assert registry.get_registered_model("a").latest_version == 2
    assert [(v.name, v.version) for v in registry.search_model_versions()] == [
        ("a", 2),
        ("a", 1),
        ("b", 1),
    ]
    assert [v.version for v in registry.search_model_versions(run_id=run_id)] == [1]


def test_deleted_version_numbers_are_not_reused(registry: RegistryStore) -> None:
    _with_versions(registry, count=2)
    registry.delete_model_version("pricing", 2)
    assert registry.create_model_version("pricing", "s3://b/m").version == 3


def test_concurrent_registrations_get_distinct_consecutive_versions(
    registry: RegistryStore,
) -> None:
    registry.create_registered_model("pricing")
    got: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(5):
                got.append(registry.create_model_version("pricing", "s3://b/m").version)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(got) == list(range(1, 21))


def test_update_and_tag_a_version(registry: RegistryStore) -> None:
    _with_versions(registry)
    assert registry.update_model_version("pricing", 1, "better").description == "better"
    registry.set_model_version_tag("pricing", 1, "stage", "canary")
    assert dict(registry.get_model_version("pricing", 1).tags) == {"stage": "canary"}


def test_a_model_with_versions_is_deleted_only_with_force(registry: RegistryStore) -> None:
    _with_versions(registry, count=2)
    with pytest.raises(InvalidStateError, match="force"):
        registry.delete_registered_model("pricing")
    registry.delete_registered_model("pricing", force=True)
    with pytest.raises(NotFoundError):
        registry.get_model_version("pricing", 1)
    assert [e.action for e in registry.audit_log("pricing")][-1] == "delete_model"


# -- aliases ---------------------------------------------------------------------------
def test_aliases_point_at_one_version_and_move(registry: RegistryStore) -> None:
    _with_versions(registry, count=2)
    registry.set_alias("pricing", "prod", 1)
    registry.set_alias("pricing", "challenger", 1)
    assert registry.get_version_by_alias("pricing", "prod").version == 1
    assert registry.get_model_version("pricing", 1).aliases == ("challenger", "prod")
    registry.set_alias("pricing", "prod", 2)
    assert registry.get_version_by_alias("pricing", "prod").version == 2
    assert registry.get_model_version("pricing", 1).aliases == ("challenger",)
    assert dict(registry.get_registered_model("pricing").aliases) == {
        "challenger": 1,
        "prod": 2,
    }
    registry.delete_alias("pricing", "challenger")
    with pytest.raises(NotFoundError, match="no alias 'challenger'"):
        registry.get_version_by_alias("pricing", "challenger")
    with pytest.raises(NotFoundError):
        registry.delete_alias("pricing", "challenger")


@pytest.mark.parametrize(
    "bad", ["3", "latest", "LATEST", "a/b", "a:b", "with space", "", "x\n", "x" * 251]
)
def test_bad_alias_names_are_refused(registry: RegistryStore, bad: str) -> None:
    _with_versions(registry)
    with pytest.raises(InvalidNameError):
        registry.set_alias("pricing", bad, 1)


def test_alias_needs_an_existing_version(registry: RegistryStore) -> None:
    _with_versions(registry)
    with pytest.raises(NotFoundError, match="no version 5"):
        registry.set_alias("pricing", "prod", 5)


def test_an_alias_blocks_deleting_its_version_unless_forced(registry: RegistryStore) -> None:
    _with_versions(registry, count=2)
    registry.set_alias("pricing", "prod", 2)
    with pytest.raises(InvalidStateError, match="prod"):
        registry.delete_model_version("pricing", 2)
    assert registry.get_version_by_alias("pricing", "prod").version == 2
    registry.delete_model_version("pricing", 2, actor="ana", force=True)
    with pytest.raises(NotFoundError):
        registry.get_version_by_alias("pricing", "prod")
    forced = registry.audit_log("pricing")[-1]
    assert (forced.action, forced.actor, forced.version) == ("delete_version", "ana", 2)
    assert forced.before is not None and forced.before["aliases"] == ["prod"]
    registry.delete_model_version("pricing", 1)
    assert registry.get_registered_model("pricing").latest_version is None


# -- review ----------------------------------------------------------------------------
def test_status_moves_record_approvals(registry: RegistryStore) -> None:
    _with_versions(registry)
    rejected = registry.set_version_status(
        "pricing", 1, VersionStatus.REJECTED, actor="bo", comment="leaks labels"
    )
    assert rejected.status == VersionStatus.REJECTED
    registry.set_version_status("pricing", 1, VersionStatus.PENDING_REVIEW, actor="ana")
    registry.set_version_status("pricing", 1, VersionStatus.APPROVED, actor="cy", comment="ok")
    approvals = registry.list_approvals("pricing", 1)
    assert [(a.decision, a.actor, a.comment) for a in approvals] == [
        (VersionStatus.REJECTED, "bo", "leaks labels"),
        (VersionStatus.APPROVED, "cy", "ok"),
    ]
    assert approvals[0].time <= approvals[1].time and approvals[0].time > 0
    assert registry.get_model_version("pricing", 1).status == VersionStatus.APPROVED


def test_disallowed_status_moves_are_refused(registry: RegistryStore) -> None:
    _with_versions(registry)
    registry.set_version_status("pricing", 1, VersionStatus.ARCHIVED)
    with pytest.raises(InvalidStateError, match="archived; it can move to pending_review"):
        registry.set_version_status("pricing", 1, VersionStatus.APPROVED)
    with pytest.raises(InvalidInputError, match="unknown status"):
        registry.set_version_status("pricing", 1, "shipped")  # type: ignore[arg-type]
    assert registry.list_approvals("pricing", 1) == []


# -- audit -----------------------------------------------------------------------------
def test_every_change_is_audited_in_order(registry: RegistryStore) -> None:
    registry.create_registered_model("pricing", actor="ana")
    registry.create_model_version("pricing", "s3://b/m", actor="ana")
    registry.set_registered_model_tag("pricing", "team", "ml", actor="ana")
    registry.set_model_version_tag("pricing", 1, "k", "v", actor="ana")
    registry.update_model_version("pricing", 1, "desc", actor="ana")
    registry.set_alias("pricing", "prod", 1, actor="bo")
    registry.set_version_status("pricing", 1, VersionStatus.APPROVED, actor="cy", comment="ok")
    registry.delete_alias("pricing", "prod", actor="bo")
    registry.delete_model_version("pricing", 1, actor="bo")
    log = list(registry.audit_log("pricing"))
    assert [(e.action, e.actor, e.version) for e in log] == [
        ("create_model", "ana", None),
        ("create_version", "ana", 1),
        ("set_model_tag", "ana", None),
        ("set_version_tag", "ana", 1),
        ("update_version", "ana", 1),
        ("set_alias", "bo", 1),
        ("approve", "cy", 1),
        ("delete_alias", "bo", 1),
        ("delete_version", "bo", 1),
    ]
    assert [e.id for e in log] == sorted(e.id for e in log)
    assert all(e.time > 0 and e.name == "pricing" for e in log)
    assert log[1].before is None and log[1].after is not None
    assert log[1].after["source"] == "s3://b/m"
    assert log[4].before == {"description": ""} and log[4].after == {"description": "desc"}
    assert log[6].before == {"status": "pending_review"}
    assert log[6].after == {"status": "approved", "comment": "ok"}
    assert log[8].before is not None and log[8].before["tags"] == {"k": "v"}
    assert log[8].after is None


def test_moving_an_alias_audits_where_it_was(registry: RegistryStore) -> None:
    _with_versions(registry, count=2)
    registry.set_alias("pricing", "prod", 1)
    registry.set_alias("pricing", "prod", 2)
    moves = [e for e in registry.audit_log("pricing") if e.action == "set_alias"]
    assert [(e.before, e.after) for e in moves] == [
        (None, {"alias": "prod", "version": 1}),
        ({"alias": "prod", "version": 1}, {"alias": "prod", "version": 2}),
    ]


def test_audit_log_pages_and_filters_by_model(registry: RegistryStore) -> None:
    registry.create_registered_model("a")
    registry.create_registered_model("b")
    registry.create_model_version("a", "s3://b/m")
    assert [e.name for e in registry.audit_log()] == ["a", "b", "a"]
    assert [e.action for e in registry.audit_log("a")] == ["create_model", "create_version"]
    page = registry.audit_log(max_results=2)
    assert len(page) == 2 and page.token
    assert [e.name for e in registry.audit_log(max_results=2, page_token=page.token)] == ["a"]


def test_a_failed_change_writes_no_audit_entry(registry: RegistryStore) -> None:
    _with_versions(registry)
    registry.set_alias("pricing", "prod", 1)
    before = len(registry.audit_log())
    with pytest.raises(InvalidStateError):
        registry.delete_model_version("pricing", 1)
    with pytest.raises(NotFoundError):
        registry.set_alias("pricing", "prod", 9)
    with pytest.raises(AlreadyExistsError):
        registry.create_registered_model("pricing")
    with pytest.raises(InvalidStateError):
        registry.set_version_status("pricing", 1, VersionStatus.PENDING_REVIEW)
    with pytest.raises(InvalidInputError):
        registry.set_model_version_tag("pricing", 1, "bad\x00key", "v")
    assert len(registry.audit_log()) == before
    assert registry.get_version_by_alias("pricing", "prod").version == 1


# -- the champion rule and tag deletion -------------------------------------------------
def test_champion_only_on_an_approved_version(registry: RegistryStore) -> None:
    _with_versions(registry, count=2)
    with pytest.raises(InvalidStateError, match="approve"):
        registry.set_alias("pricing", "champion", 1)
    with pytest.raises(NotFoundError):
        registry.get_version_by_alias("pricing", "champion")
    registry.set_version_status("pricing", 1, VersionStatus.APPROVED, actor="bo")
    registry.set_alias("pricing", "champion", 1, actor="bo")
    assert registry.get_version_by_alias("pricing", "champion").version == 1
    # the champion cannot be rejected or archived while it is the champion
    with pytest.raises(InvalidStateError, match="champion"):
        registry.set_version_status("pricing", 1, VersionStatus.REJECTED)
    assert registry.get_model_version("pricing", 1).status == VersionStatus.APPROVED
    # moving the alias to an unapproved version is refused too, and leaves it where it was
    with pytest.raises(InvalidStateError):
        registry.set_alias("pricing", "champion", 2)
    assert registry.get_version_by_alias("pricing", "champion").version == 1
    registry.delete_alias("pricing", "champion")
    registry.set_version_status("pricing", 1, VersionStatus.ARCHIVED)


def test_allow_unapproved_champion(tmp_path: Path) -> None:
    store = SqlMetadataStore(f"sqlite:///{tmp_path}/a.db", allow_unapproved_champion=True)
    try:
        _with_versions(store)
        store.set_alias("pricing", "champion", 1)
        assert store.get_version_by_alias("pricing", "champion").version == 1
    finally:
        store.close()


def test_delete_tags_of_models_and_versions(registry: RegistryStore) -> None:
    _with_versions(registry)
    registry.set_registered_model_tag("pricing", "team", "ml")
    registry.set_model_version_tag("pricing", 1, "data", "rides@3")
    registry.delete_registered_model_tag("pricing", "team", actor="cy")
    registry.delete_model_version_tag("pricing", 1, "data", actor="cy")
    assert dict(registry.get_registered_model("pricing").tags) == {}
    assert dict(registry.get_model_version("pricing", 1).tags) == {}
    with pytest.raises(NotFoundError, match="team"):
        registry.delete_registered_model_tag("pricing", "team")
    with pytest.raises(NotFoundError):
        registry.delete_model_version_tag("pricing", 1, "data")
    deletions = [e for e in registry.audit_log("pricing") if e.action.startswith("delete_")]
    assert [(e.action, e.actor, e.before) for e in deletions] == [
        ("delete_model_tag", "cy", {"key": "team", "value": "ml"}),
        ("delete_version_tag", "cy", {"key": "data", "value": "rides@3"}),
    ]


def test_get_version_by_uri(registry: RegistryStore) -> None:
    from loopml.uris import parse_models_uri

    _with_versions(registry, count=2)
    registry.set_alias("pricing", "staging", 1)
    assert registry.get_version_by_uri(parse_models_uri("models:/pricing/1")).version == 1
    assert registry.get_version_by_uri(parse_models_uri("models:/pricing@staging")).version == 1
    assert registry.get_version_by_uri(parse_models_uri("models:/pricing/latest")).version == 2
    registry.create_registered_model("empty")
    with pytest.raises(NotFoundError, match="no versions yet"):
        registry.get_version_by_uri(parse_models_uri("models:/empty@latest"))
