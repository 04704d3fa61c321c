"""The metadata store contract runs on every implementation listed here.

A new backend adds itself to IMPLEMENTATIONS and to the `store` fixture below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.storage.metadata import MetadataStore, open_metadata_store

# Digests the contract's artifact tests refer to (fake: only their existence matters).
CONTRACT_DIGESTS = ("a" * 64, "b" * 64)
# File digests the dataset contract names; a server records a version only when it holds
# the version's manifest and file blobs, so the REST store's server gets these too.
CONTRACT_FILE_DIGESTS = ("1" * 64, "2" * 64, "3" * 64)

IMPLEMENTATIONS = [
    "sqlite",  # the embedded store: sqlite3 directly, SQLAlchemy for the registry and the rest
    "sqlite-sqlalchemy",  # SqlMetadataStore on SQLite: the statements PostgreSQL runs
    pytest.param("postgres", marks=pytest.mark.postgres),
    "rest",  # a loopml server (over SQLite) reached through the HTTP client store
]


@pytest.fixture(scope="session")
def rest_server() -> Iterator[tuple[object, str]]:
    """One live loopml server for the session; each test swaps in fresh stores."""
    import tempfile

    from loopml.server.app import create_app
    from tests._servers.loopml import serve_in_thread

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(tracking_uri=folder, capture_packages=False))
        with serve_in_thread(app) as url:
            yield app, url


def make_store_uri(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return str(tmp_path / "store")
    if kind == "sqlite-sqlalchemy":  # a URL naming the driver is opened by SQLAlchemy
        return f"sqlite+pysqlite:///{tmp_path / 'metadata.db'}"
    if kind == "postgres":
        return str(request.getfixturevalue("fresh_postgres_url"))
    if kind == "rest":
        from loopml.storage import open_stores

        app, url = request.getfixturevalue("rest_server")
        previous = app.state.stores  # type: ignore[attr-defined]
        stores = open_stores(Settings(tracking_uri=str(tmp_path / "server")))
        for digest in (*CONTRACT_DIGESTS, *CONTRACT_FILE_DIGESTS):  # it records only held blobs
            stores.blobs.bytes.put_bytes(stores.blobs.key_for(digest), b"contract test blob")
        app.state.stores = stores  # type: ignore[attr-defined]
        request.addfinalizer(lambda: _restore(app, previous))
        return str(url)
    raise AssertionError(kind)


def _restore(app: object, previous: object) -> None:
    app.state.stores.close()  # type: ignore[attr-defined]
    app.state.stores = previous  # type: ignore[attr-defined]


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    uri = make_store_uri(request.param, tmp_path, request)
    settings = Settings(tracking_uri=uri)
    opened = open_metadata_store(uri, settings)
    yield opened
    opened.close()
