"""A tracking server that checks tokens: `loopml tokens`, 401s, loopml's and MLflow's
clients with a token, changes recorded under the token's user, revocation while running."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

import loopml as lm
from loopml.cli.main import main
from loopml.config import Settings
from loopml.errors import AuthenticationError, ConfigurationError
from loopml.server.app import create_app
from tests._servers.loopml import serve_in_thread


def _create(path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["tokens", "create", name, "--file", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == name
    return str(out["token"])


@pytest.fixture
def tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str, str]:
    path = tmp_path / "tokens"
    return path, _create(path, "alice", capsys), _create(path, "bob", capsys)


@pytest.fixture
def server(tmp_path: Path, tokens: tuple[Path, str, str]) -> Iterator[str]:
    settings = Settings(
        tracking_uri=str(tmp_path / "store"),
        capture_packages=False,
        server_auth_file=str(tokens[0]),
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def _client(url: str, token: str = "", user: str = "") -> lm.TrackingClient:
    return lm.TrackingClient(
        settings=Settings(tracking_uri=url, tracking_token=token, capture_packages=False, user=user)
    )


def test_the_token_file_keeps_digests_only_and_is_private(
    tokens: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, alice, bob = tokens
    text = path.read_text()
    assert alice.startswith("lml_") and alice != bob and len(alice) > 40
    assert alice not in text and bob not in text and "alice:" in text and "bob:" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert main(["tokens", "list", "--file", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"name": "alice"}, {"name": "bob"}]

    assert main(["tokens", "create", "alice", "--file", str(path)]) == 4  # taken
    assert "revoke it first" in capsys.readouterr().err
    assert main(["tokens", "create", "no spaces", "--file", str(path)]) == 2
    assert main(["tokens", "revoke", "carol", "--file", str(path)]) == 3
    assert path.read_text() == text  # nothing changed by the refusals
    assert main(["tokens", "list"]) == 2  # no file named, none configured
    assert "--file" in capsys.readouterr().err


def test_requests_without_a_known_token_are_refused_before_any_route(
    server: str, tokens: tuple[Path, str, str]
) -> None:
    _, alice, _ = tokens
    assert httpx.get(f"{server}/health").status_code == 200
    assert httpx.get(f"{server}/openapi.json").status_code == 200
    for headers in ({}, {"Authorization": "Bearer lml_wrong"}, {"Authorization": "Token x"}):
        answer = httpx.get(f"{server}/api/v1/experiments", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["type"] == "AuthenticationError"
        assert "LOOPML_TRACKING_TOKEN" in answer.json()["message"]
        assert "Bearer" in answer.headers["www-authenticate"]
    upload = httpx.post(f"{server}/api/2.0/mlflow/experiments/create", json={"name": "x"})
    assert upload.status_code == 401
    ok = httpx.get(f"{server}/api/v1/experiments", headers={"Authorization": f"Bearer {alice}"})
    assert ok.status_code == 200
    # basic auth: the user name must be the token's
    basic = base64.b64encode(f"alice:{alice}".encode()).decode()
    assert httpx.get(
        f"{server}/api/v1/experiments", headers={"Authorization": f"Basic {basic}"}
    ).is_success
    wrong = base64.b64encode(f"bob:{alice}".encode()).decode()
    assert (
        httpx.get(
            f"{server}/api/v1/experiments", headers={"Authorization": f"Basic {wrong}"}
        ).status_code
        == 401
    )
    anonymous = _client(server)
    with closing(anonymous), pytest.raises(AuthenticationError, match="needs a token"):
        anonymous.search_experiments()


def test_the_python_api_works_with_a_token_and_changes_name_the_tokens_user(
    server: str, tokens: tuple[Path, str, str], tmp_path: Path
) -> None:
    _, alice, _ = tokens
    with closing(_client(server, alice, user="mallory")) as client:
        exp = client.create_experiment("secured")
        run = client.create_run(exp)
        client.log_metric(run.info.run_id, "rmse", 0.5)
        (tmp_path / "notes.txt").write_text("artifacts travel with the token too")
        client.log_artifact(run.info.run_id, tmp_path / "notes.txt")
        client.flush()
        assert client.get_run(run.info.run_id).data.metrics["rmse"] == 0.5
        assert client.download_artifacts(run.info.run_id, "notes.txt", tmp_path / "back")
        # the client claims to be mallory; the server records the token's user
        client.stores.metadata.create_registered_model("fares", actor="mallory")
        [entry] = client.stores.metadata.audit_log("fares")
        assert entry.actor == "alice"
        meta = client.stores.metadata
        meta.create_deployment("fares", {"model": "models:/fares/1"}, actor="mallory")
        meta.delete_deployment("fares", actor="mallory")
        assert [e.actor for e in meta.deployment_history("fares")] == ["alice", "alice"]


def test_a_revoked_token_stops_working_without_a_restart(
    server: str, tokens: tuple[Path, str, str]
) -> None:
    path, alice, bob = tokens
    assert main(["tokens", "revoke", "bob", "--file", str(path)]) == 0
    bob_auth = {"Authorization": f"Bearer {bob}"}
    deadline = time.monotonic() + 10
    while httpx.get(f"{server}/api/v1/experiments", headers=bob_auth).status_code != 401:
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.2)
    alice_auth = {"Authorization": f"Bearer {alice}"}
    assert httpx.get(f"{server}/api/v1/experiments", headers=alice_auth).status_code == 200


def test_a_broken_token_file_refuses_everyone(server: str, tokens: tuple[Path, str, str]) -> None:
    path, alice, _ = tokens
    path.write_text(path.read_text() + "not a token line\n")
    auth = {"Authorization": f"Bearer {alice}"}
    deadline = time.monotonic() + 10
    while (answer := httpx.get(f"{server}/api/v1/experiments", headers=auth)).status_code != 503:
        assert time.monotonic() < deadline, "a broken token file was not noticed"
        time.sleep(0.2)
    assert "line 4" in answer.json()["message"]
    assert httpx.get(f"{server}/health").status_code == 200


def test_a_server_will_not_start_on_a_missing_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"does not exist.*loopml tokens create"):
        create_app(Settings(tracking_uri=str(tmp_path / "s"), server_auth_file=str(tmp_path / "x")))
    bad = tmp_path / "bad"
    bad.write_text("alice:1234\n")
    with pytest.raises(ConfigurationError, match=r"line 1: expected `name:sha256-hex`"):
        create_app(Settings(tracking_uri=str(tmp_path / "s"), server_auth_file=str(bad)))
    assert main(["server", "--backend-uri", str(tmp_path / "s"), "--auth-file", str(bad)]) == 2


@pytest.mark.parametrize("how", ["token", "basic"])
def test_the_mlflow_client_authenticates_as_mlflow_users_configure_it(
    how: str, server: str, tokens: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    _, alice, _ = tokens
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    client: Any = mlflow.MlflowClient(server)
    with pytest.raises(MlflowException, match="needs a token"):
        client.create_experiment(f"refused-{how}")
    if how == "token":
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", alice)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", alice)
    exp = client.create_experiment(f"allowed-{how}")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "auc", 0.9)
    assert client.get_run(run.info.run_id).data.metrics == {"auc": 0.9}
    assert os.environ.get("MLFLOW_TRACKING_TOKEN", alice) == alice
