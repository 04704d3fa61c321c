"""Property-based requests from the server's own OpenAPI spec: nothing may answer 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from loopml.config import Settings
from loopml.server.app import create_app

pytestmark = pytest.mark.slow

# Bounded: a few dozen generated requests per operation keep the run within seconds.
EXAMPLES = 30


def test_no_operation_answers_5xx(tmp_path: Path) -> None:
    app = create_app(Settings(tracking_uri=str(tmp_path / "store"), capture_packages=False))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call()
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )
            elif response.status_code >= 400 and case.method != "HEAD":  # HEAD has no body
                assert "message" in response.json(), (case.method, case.formatted_path)

        check()
    app.state.stores.close()
    assert failures == []
