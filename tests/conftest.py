"""Shared fixtures: settings that point at tmp_path, and the real servers tests need.

Servers (PostgreSQL, the S3-compatible server) are started once per test session by the
fixtures in tests/_servers. Where one cannot start, its tests are skipped with the reason —
unless LOOPML_REQUIRE_SERVICES=1 (set by `make test` and CI), where they fail instead.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml.tracking.fluent as fluent
from loopml.config import Settings

REQUIRE_SERVICES = os.environ.get("LOOPML_REQUIRE_SERVICES") == "1"
_KEEP = ("LOOPML_REQUIRE_SERVICES", "LOOPML_TEST_POSTGRES_URL")


def unavailable(reason: str) -> None:
    """Skip, or fail when services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required test service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with no LOOPML_* settings, in its own working folder."""
    for name in list(os.environ):
        if name.startswith("LOOPML_") and name not in _KEEP:
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield
    fluent._end_all(fluent.RunStatus.FINISHED) if fluent._run_stack.get() else None
    if fluent._client is not None:
        fluent._client.close()
        fluent._client = None
    fluent._experiment_id = None
    fluent._pending_seed = None


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for an embedded store in tmp_path, without context capture (fast)."""
    return Settings(tracking_uri=str(tmp_path / "store"), capture_packages=False)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Endpoint URL of a local S3-compatible server (one per test session)."""
    from tests._servers.s3 import CREDENTIALS, s3_available, s3_server

    ok, reason = s3_available()
    if not ok:
        unavailable(f"S3 server: {reason}")
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)  # botocore reads credentials from the environment
    try:
        with s3_server() as url:
            yield url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_bucket_counter = itertools.count()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket on the local S3 server; returns its name."""
    import boto3

    name = f"loopml-test-{next(_bucket_counter)}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a throwaway PostgreSQL database (one cluster per test session)."""
    from tests._servers.postgres import postgres_available, postgres_cluster

    if not os.environ.get("LOOPML_TEST_POSTGRES_URL"):
        ok, reason = postgres_available()
        if not ok:
            unavailable(f"PostgreSQL: {reason}")
    with postgres_cluster(tmp_path_factory.mktemp("pg")) as url:
        yield url


_db_counter = itertools.count()


@pytest.fixture
def fresh_postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database in the session's PostgreSQL cluster."""
    import sqlalchemy as sa

    base = request.getfixturevalue("postgres_url")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"contract_{next(_db_counter)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()
