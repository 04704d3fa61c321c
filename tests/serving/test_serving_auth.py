"""A model server started with an auth file: predictions need a token, health and metrics
do not; a missing file stops it from starting."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from loopml.auth import TokenFile
from loopml.errors import ConfigurationError
from loopml.serving import create_serving_app
from loopml.tracking.client import TrackingClient
from tests.serving.conftest import frame, register, serving, settings_of, split_body


@pytest.mark.slow
def test_predictions_need_a_token_health_and_metrics_do_not(
    store: TrackingClient, tmp_path: Path
) -> None:
    from tests.serving.conftest import logistic

    register(logistic(), frame(5), "pricing")
    tokens = TokenFile(tmp_path / "tokens")
    app_token = tokens.create("checkout-service")
    reader = tokens.create("analyst", "read")  # a read-only token may still predict
    settings = settings_of(store, serving_auth_file=str(tokens.path))
    body = split_body(frame(3).values.tolist())
    with serving("pricing/1", client=store, settings=settings) as (url, _):
        refused = httpx.post(f"{url}/invocations", json=body)
        assert refused.status_code == 401
        assert refused.json()["type"] == "AuthenticationError"
        assert "model server of pricing" in refused.json()["message"]
        wrong = httpx.post(f"{url}/invocations", json=body, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        assert httpx.get(f"{url}/v2/models/pricing").status_code == 401  # metadata too
        for open_path in ("/v2/health/live", "/v2/health/ready", "/ping", "/metrics", "/stats"):
            assert httpx.get(f"{url}{open_path}").status_code == 200, open_path
        for token in (app_token, reader):
            ok = httpx.post(
                f"{url}/invocations", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert ok.status_code == 200 and len(ok.json()["predictions"]) == 3


def test_a_server_does_not_start_without_its_token_file(
    store: TrackingClient, tmp_path: Path
) -> None:
    from tests.serving.conftest import logistic

    register(logistic(), frame(5), "pricing")
    settings = settings_of(store, serving_auth_file=str(tmp_path / "absent"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        create_serving_app("pricing/1", client=store, settings=settings)
