"""Renaming a registered model as a user does it: Python API and CLI, with deployments and
monitors that name the model."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import loopml as lm
from loopml.cli.main import main
from loopml.config import Settings
from loopml.errors import AlreadyExistsError, InvalidStateError, RegisteredModelNotFoundError
from loopml.server.app import create_app
from tests._servers.loopml import serve_in_thread


def _register(name: str = "pricing", count: int = 2) -> tuple[pd.DataFrame, LinearRegression]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"distance": rng.uniform(1, 20, 50), "hour": rng.integers(0, 24, 50)})
    model = LinearRegression().fit(X, 2.5 * X["distance"].to_numpy())
    lm.set_experiment("rename")
    with lm.start_run():
        info = lm.models.log_model(model, "model", input_example=X[:5])
    for _ in range(count):
        lm.registry.register(info.uri, name)
    lm.registry.approve(name, 1, comment="fine")
    lm.registry.set_alias(name, "champion", 1)
    return X, model


def test_a_renamed_model_loads_by_its_new_uris_and_keeps_its_story() -> None:
    X, model = _register()
    renamed = lm.registry.rename("pricing", "fares")
    assert (renamed.name, renamed.latest_version, dict(renamed.aliases)) == (
        "fares",
        2,
        {"champion": 1},
    )
    loaded = lm.models.load("models:/fares@champion")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    assert lm.registry.resolve("fares/2").version == 2
    assert [a.comment for a in lm.registry.approvals("fares", 1)] == ["fine"]
    with pytest.raises(RegisteredModelNotFoundError, match="'pricing'"):
        lm.models.load("models:/pricing@champion")
    actions = [e.action for e in lm.registry.history("fares")]
    assert actions[0] == "create_model" and actions[-1] == "rename_model"
    assert "approve" in actions and "set_alias" in actions
    # the card is built under the new name
    assert "fares" in lm.registry.card("fares@champion").to_markdown()


def test_deployments_and_monitors_that_name_the_model_need_force() -> None:
    _register()
    lm.serving.create_deployment("pricing-api", "pricing@champion", shadow="pricing/2")
    lm.serving.create_deployment("other-api", "pricing/1")
    store = lm.registry.RegistryClient().store
    store.create_monitor(
        "drift", "pricing-api", "datasets:/rides/1", 3600, {"model": "models:/pricing/1"}
    )

    with pytest.raises(InvalidStateError) as refused:
        lm.registry.rename("pricing", "fares")
    message = str(refused.value)
    for named in ("deployment 'pricing-api'", "deployment 'other-api'", "monitor 'drift'"):
        assert named in message
    assert "force=True" in message
    assert lm.registry.get_model("pricing").latest_version == 2  # nothing changed

    before = store.get_deployment("pricing-api")
    lm.registry.rename("pricing", "fares", force=True)
    after = store.get_deployment("pricing-api")
    assert after.revision == before.revision + 1
    assert (after.spec["model"], after.spec["shadow"]) == (
        "models:/fares@champion",
        "models:/fares/2",
    )
    assert after.versions["primary"]["name"] == "fares"
    assert after.versions["primary"]["version"] == 1
    assert store.deployment_history("pricing-api")[-1].action == "rename_model"
    assert store.get_deployment("other-api").spec["model"] == "models:/fares/1"
    # the monitor names the new model too, in a new revision, so a refresh still finds it
    drift = store.get_monitor("drift")
    assert (drift.spec["model"], drift.revision) == ("models:/fares/1", 2)
    # what the deployment now names resolves
    assert lm.registry.resolve(after.spec["model"]).version == 1


def test_a_taken_name_is_refused_before_deployments_are_touched() -> None:
    _register()
    _register("fares", count=1)
    lm.serving.create_deployment("pricing-api", "pricing@champion")
    with pytest.raises(AlreadyExistsError, match="'fares' already exists"):
        lm.registry.rename("pricing", "fares", force=True)
    deployment = lm.registry.RegistryClient().store.get_deployment("pricing-api")
    assert (deployment.revision, deployment.spec["model"]) == (1, "models:/pricing@champion")


def test_cli_rename(capsys: pytest.CaptureFixture[str]) -> None:
    _register()
    lm.serving.create_deployment("pricing-api", "pricing@champion")

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    code, _, err = cli("models", "rename", "pricing", "fares")
    assert code == 4 and "pricing-api" in err and "--force" in err
    code, _, err = cli("models", "rename", "ghost", "spirit")
    assert code == 3 and "no registered model named 'ghost'" in err
    code, _, err = cli("models", "rename", "pricing", "a/b")
    assert code == 2 and "'a/b'" in err
    code, out, _ = cli("models", "rename", "pricing", "fares", "--force", "--actor", "cy")
    assert code == 0 and "renamed model pricing to fares" in out and "pricing-api" in out
    code, out, _ = cli("models", "history", "fares", "--json")
    entries = json.loads(out)
    assert entries[-1]["action"] == "rename_model" and entries[-1]["actor"] == "cy"
    assert entries[-1]["before"] == {"name": "pricing"}
    assert entries[0]["name"] == "pricing"
    code, out, _ = cli("models", "history", "fares")
    assert code == 0 and "name: pricing → fares" in out
    code, out, _ = cli("models", "rename", "fares", "pricing-v2", "--json", "--force")
    shown = json.loads(out)
    assert shown["name"] == "pricing-v2" and shown["deployments_moved"] == ["pricing-api"]
    code, _, err = cli("models", "rename", "pricing-v2", "pricing-v2")
    assert code == 2 and "already named" in err


def test_the_rest_route_guards_raw_requests_too(tmp_path: Path) -> None:
    settings = Settings(tracking_uri=str(tmp_path / "served"), capture_packages=False)
    app = create_app(settings)
    store = app.state.stores.metadata
    store.create_registered_model("pricing")
    store.create_deployment("pricing-api", {"model": "models:/pricing@champion"})
    with serve_in_thread(app) as url:
        route = f"{url}/api/v1/registered-models/pricing/rename"
        refused = httpx.post(route, json={"new_name": "fares"})
        assert refused.status_code == 409 and "pricing-api" in refused.json()["message"]
        assert store.get_registered_model("pricing").name == "pricing"
        forced = httpx.post(route, json={"new_name": "fares", "force": True})
        assert forced.status_code == 200 and forced.json()["name"] == "fares"
    assert store.get_deployment("pricing-api").spec["model"] == "models:/fares@champion"
