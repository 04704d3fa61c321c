"""Byte stores to run the contract on. A new backend adds itself to BACKENDS and below."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.storage.artifacts import ByteStore, open_byte_store

BACKENDS = ["local", "memory", pytest.param("s3", marks=[pytest.mark.s3, pytest.mark.slow])]
_memory_counter = itertools.count()


@pytest.fixture(params=BACKENDS)
def byte_store(request: pytest.FixtureRequest, tmp_path: Path) -> ByteStore:
    if request.param == "local":
        return open_byte_store(str(tmp_path / "bytes"))
    if request.param == "memory":
        return open_byte_store(f"memory://loopml-test-{next(_memory_counter)}")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return open_byte_store(f"s3://{bucket}/prefix", Settings(s3_endpoint_url=endpoint))
