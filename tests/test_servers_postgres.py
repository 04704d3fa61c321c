"""The throwaway PostgreSQL cluster used by the PostgreSQL tests really works and cleans up."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests._servers.postgres import ENV_URL, postgres_available, postgres_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def need_postgres() -> None:
    ok, reason = postgres_available()
    if not ok:
        if os.environ.get("LOOPML_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    if os.environ.get(ENV_URL):
        pytest.skip(f"{ENV_URL} is set: no throwaway cluster to start or clean up")


@pytest.mark.usefixtures("need_postgres")
def test_cluster_stores_rows_then_vanishes(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    began = time.perf_counter()
    with postgres_cluster(tmp_path) as url:
        started = time.perf_counter() - began
        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("CREATE TABLE runs (id integer PRIMARY KEY, name text)"))
                conn.execute(
                    sa.text("INSERT INTO runs VALUES (:id, :name)"),
                    [{"id": 1, "name": "baseline"}, {"id": 2, "name": "tuned"}],
                )
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT id, name FROM runs ORDER BY id")).all()
                database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
                data_dir = Path(conn.execute(sa.text("SHOW data_directory")).scalar_one())
        finally:
            engine.dispose()
        port = make_url(url).port
        assert port is not None
        assert _port_open(port)
        assert data_dir.is_dir()
        stop_began = time.perf_counter()
    stopped = time.perf_counter() - stop_began

    assert [tuple(row) for row in rows] == [(1, "baseline"), (2, "tuned")]
    assert database == "loopml_test"
    assert not _port_open(port)
    assert not data_dir.exists()
    assert not data_dir.parent.exists()
    assert "database system is ready" in (tmp_path / "postgres.log").read_text()
    record_property("postgres_start_seconds", round(started, 2))
    record_property("postgres_stop_seconds", round(stopped, 2))
    print(f"postgres cluster: start {started:.2f} s, stop and remove {stopped:.2f} s")


class _BlockFailed(Exception):
    pass


def _fail_inside_cluster(base_dir: Path, seen: dict[str, object]) -> None:
    with postgres_cluster(base_dir) as url:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            seen["data_dir"] = Path(conn.execute(sa.text("SHOW data_directory")).scalar_one())
        engine.dispose()
        seen["port"] = make_url(url).port
        raise _BlockFailed


def test_cluster_is_removed_when_the_block_fails(tmp_path: Path, need_postgres: None) -> None:
    seen: dict[str, object] = {}
    with pytest.raises(_BlockFailed):
        _fail_inside_cluster(tmp_path, seen)

    port, data_dir = seen["port"], seen["data_dir"]
    assert isinstance(port, int)
    assert isinstance(data_dir, Path)
    assert not _port_open(port)
    assert not data_dir.parent.exists()
