"""The embedded SQLite store: plain sqlite3 for tracking and data, SQLAlchemy for the rest.

The contract suite (tests/contract) runs every store method on it; these tests cover what
is particular to it: the two stores on one file agree, a new or old file is migrated, a
file that is not a store is refused, threads and processes share it.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.entities import DatasetFile, DatasetKind, Metric, Param, RunStatus, RunTag
from loopml.errors import StoreError
from loopml.storage.metadata import open_metadata_store
from loopml.storage.metadata.sql import EmbeddedSqliteStore, SqlMetadataStore, open_sql_store
from loopml.storage.metadata.sql.embedded import embedded_path
from loopml.storage.metadata.sql.migrations import HEAD


def _open(folder: Path) -> EmbeddedSqliteStore:
    store = open_metadata_store(str(folder), Settings(tracking_uri=str(folder)))
    assert isinstance(store, EmbeddedSqliteStore)
    return store


def test_a_folder_opens_as_the_embedded_store_and_is_migrated(tmp_path: Path) -> None:
    store = _open(tmp_path / "store")
    try:
        assert store._full is not None  # a new file is migrated by Alembic, through it
        assert store._revision() == HEAD
    finally:
        store.close()
    again = _open(tmp_path / "store")
    try:
        assert again.get_experiment("0").name == "Default"
        assert again._full is None  # a current file needs no SQLAlchemy
    finally:
        again.close()


def test_both_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    store = _open(tmp_path / "store")
    try:
        run = store.create_run("0", "r", int(time.time() * 1000), tags=[RunTag("t", "1")])
        store.log_batch(run.info.run_id, [Metric("m", 0.5, 1, 0)], [Param("p", "x")])
        full = SqlMetadataStore(store.url)
        try:
            seen = full.get_run(run.info.run_id)
            assert seen.data.metrics == {"m": 0.5} and seen.data.params == {"p": "x"}
            full.update_run_info(run.info.run_id, status=RunStatus.FINISHED, end_time=2)
        finally:
            full.close()
        assert store.get_run(run.info.run_id).info.status == RunStatus.FINISHED
        # A registry call goes to the SQLAlchemy store on the same file.
        store.create_registered_model("pricing")
        version = store.create_model_version(
            "pricing", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
        )
        assert version.run_id == run.info.run_id
        assert store._full is not None
        assert [m.name for m in store.search_registered_models()] == ["pricing"]
    finally:
        store.close()


def test_registry_settings_reach_the_sqlalchemy_store(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    settings = Settings(tracking_uri=str(folder), require_passing_gate=True)
    store = open_metadata_store(str(folder), settings)
    assert isinstance(store, EmbeddedSqliteStore)
    try:
        assert store._sql().require_passing_gate is True
        store.require_passing_gate = False
        assert store._sql().require_passing_gate is False
    finally:
        store.close()


def test_every_method_of_the_sqlalchemy_store_is_there(tmp_path: Path) -> None:
    public = {n for n in dir(SqlMetadataStore) if not n.startswith("_")}
    assert public <= {n for n in dir(EmbeddedSqliteStore) if not n.startswith("_")}


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "metadata.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="file is not a database"):
        _open(folder)


def test_only_plain_sqlite_file_urls_are_embedded(tmp_path: Path) -> None:
    assert embedded_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert embedded_path("sqlite:///relative.db") == Path("relative.db")
    assert embedded_path("sqlite://") is None
    assert embedded_path("sqlite:///:memory:") is None
    assert embedded_path(f"sqlite+pysqlite:///{tmp_path}/a.db") is None
    assert embedded_path(f"sqlite:///{tmp_path}/a.db?timeout=5") is None
    assert embedded_path("postgresql://u@h/db") is None
    memory = open_sql_store("sqlite:///:memory:", Settings())
    try:
        assert isinstance(memory, SqlMetadataStore)
    finally:
        memory.close()


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    store = _open(tmp_path / "store")
    try:
        good = DatasetFile("a.csv", "a" * 64, 1)
        with pytest.raises(Exception, match="twice"):
            store.create_dataset_version(
                "rides", [good, good], digest="c" * 64, kind=DatasetKind.FILES
            )
        with pytest.raises(Exception, match="no dataset named"):
            store.get_dataset("rides")
        # A constraint broken inside the transaction rolls back its earlier statements.
        run = store.create_run("0", "r", 1)
        with pytest.raises(Exception, match="already exists"):
            store.create_run("0", "again", 1, tags=[RunTag("x", "1")], run_id=run.info.run_id)
        assert store.get_run(run.info.run_id).info.run_name == "r"
        version = store.create_dataset_version(
            "rides", [good], digest="c" * 64, kind=DatasetKind.FILES
        )
        assert version.version == 1
    finally:
        store.close()


def test_threads_share_one_store(tmp_path: Path) -> None:
    store = _open(tmp_path / "store")
    run_id = store.create_run("0", "r", 1).info.run_id
    errors: list[BaseException] = []

    def log(worker: int) -> None:
        try:
            for step in range(25):
                store.log_batch(run_id, [Metric(f"w{worker}", float(step), step, step)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=log, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert store.get_run(run_id).data.metrics == {f"w{w}": 24.0 for w in range(4)}
        assert len(store.get_metric_history(run_id, "w0")) == 25
    finally:
        store.close()


def _log_in_child(folder: str, run_id: str, worker: int) -> None:
    store = _open(Path(folder))
    for step in range(20):
        store.log_batch(run_id, [Metric("m", float(worker * 100 + step), 0, worker * 100 + step)])
    store.close()


def test_processes_write_to_one_file_without_losing_a_point(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    store = _open(folder)
    run_id = store.create_run("0", "r", 1).info.run_id
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_log_in_child, args=(str(folder), run_id, w)) for w in range(3)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    try:
        history = store.get_metric_history(run_id, "m")
        assert len(history) == 60
        assert store.get_run(run_id).data.metrics["m"] == 219.0  # the highest step wins
    finally:
        store.close()


def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    store = _open(tmp_path / "store")
    run_id = store.create_run("0", "r", 1).info.run_id
    context = multiprocessing.get_context("fork")
    child = context.Process(target=lambda: store.log_batch(run_id, [Metric("child", 1.0, 0, 0)]))
    child.start()
    child.join(60)
    try:
        assert child.exitcode == 0
        assert store.get_run(run_id).data.metrics == {"child": 1.0}
    finally:
        store.close()


def test_tracking_through_the_embedded_store_imports_no_sqlalchemy(tmp_path: Path) -> None:
    _open(tmp_path / "store").close()  # made and migrated (Alembic runs on SQLAlchemy)
    code = (
        "import sys, loopml as lm\n"
        f"lm.set_tracking_uri({str(tmp_path / 'store')!r})\n"
        "with lm.start_run():\n"
        "    lm.log_param('p', 1); lm.log_metric('m', 2.0)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "LOOPML_CAPTURE_PACKAGES": "0", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
