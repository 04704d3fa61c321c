"""The metadata store contract runs on every implementation listed here.

A new backend adds itself to IMPLEMENTATIONS and to the `store` fixture below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.storage.metadata import MetadataStore, open_metadata_store

IMPLEMENTATIONS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
]


def make_store_uri(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return str(tmp_path / "store")
    if kind == "postgres":
        return str(request.getfixturevalue("fresh_postgres_url"))
    raise AssertionError(kind)


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    uri = make_store_uri(request.param, tmp_path, request)
    settings = Settings(tracking_uri=uri)
    opened = open_metadata_store(uri, settings)
    yield opened
    opened.close()
