"""The registry as a user drives it: log a model, register, review, alias, load, audit, card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import loopml as lm
from loopml.cli.main import main
from loopml.errors import (
    InvalidStateError,
    InvalidUriError,
    LoopmlError,
    ModelVersionNotFoundError,
    RegisteredModelNotFoundError,
    RunNotFoundError,
)


def _data(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"distance": rng.uniform(1, 20, 200), "hour": rng.integers(0, 24, 200)})
    y = 2.5 * X["distance"].to_numpy() + 0.1 * X["hour"].to_numpy() + rng.normal(0, 0.1, 200)
    return X, y


def _log_model(alpha: float = 1.0, seed: int = 0) -> tuple[str, str, Any, pd.DataFrame]:
    X, y = _data(seed)
    model = LinearRegression().fit(X, y * alpha)
    lm.set_experiment("pricing")
    with lm.start_run(run_name=f"lr-{alpha}") as run:
        lm.log_params({"alpha": alpha, "features": "distance,hour"})
        lm.log_metric("rmse", 0.1 * alpha)
        info = lm.models.log_model(model, "model", input_example=X[:5])
    return info.uri, run.info.run_id, model, X


@pytest.fixture
def logged() -> tuple[str, str, Any, pd.DataFrame]:
    return _log_model()


def test_register_numbers_versions_and_links_the_run(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOOPML_USER", "ana")  # read with the settings, before the first client
    uri, run_id, _, _ = _log_model()
    v1 = lm.registry.register(uri, "pricing", description="first cut")
    v2 = lm.registry.register(uri, "pricing")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.run_id == run_id and v1.source == uri
    assert v1.status == lm.registry.VersionStatus.PENDING_REVIEW
    assert v1.created_by == "ana"
    model = lm.registry.get_model("pricing")
    assert model.latest_version == 2
    assert [v.version for v in lm.registry.list_versions("pricing")] == [2, 1]
    assert [v.version for v in lm.registry.list_versions(run_id=run_id)] == [2, 1]
    assert lm.registry.resolve("pricing").version == 2
    assert lm.registry.resolve("models:/pricing/1").description == "first cut"


def test_register_refuses_what_is_not_a_logged_model(logged) -> None:  # type: ignore[no-untyped-def]
    _, run_id, _, _ = logged
    with pytest.raises(InvalidUriError, match="names a run, not a model"):
        lm.registry.register(f"runs:/{run_id}", "pricing")
    with pytest.raises(RunNotFoundError):
        lm.registry.register("runs:/" + "0" * 32 + "/model", "pricing")
    with pytest.raises(InvalidUriError, match="log the model in a run"):
        lm.registry.register("/tmp/some/folder", "pricing")
    with lm.start_run() as run:
        lm.log_text("not a model", "notes/readme.txt")
    with pytest.raises(LoopmlError):
        lm.registry.register(f"runs:/{run.info.run_id}/notes", "pricing")
    # nothing half-made: the failed registrations left no model behind
    with pytest.raises(RegisteredModelNotFoundError):
        lm.registry.get_model("pricing")


def test_champion_needs_approval_then_loads_and_predicts(logged) -> None:  # type: ignore[no-untyped-def]
    uri, _, model, X = logged
    mv = lm.registry.register(uri, "pricing")
    lm.registry.set_alias("pricing", "challenger", mv.version)
    with pytest.raises(InvalidStateError, match="approve"):
        lm.registry.set_alias("pricing", "champion", mv.version)
    approved = lm.registry.approve("pricing", mv.version, comment="passed review")
    assert approved.status == lm.registry.VersionStatus.APPROVED
    lm.registry.set_alias("pricing", "champion", mv.version)
    loaded = lm.models.load("models:/pricing@champion")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    [decision] = lm.registry.approvals("pricing", mv.version)
    assert decision.comment == "passed review" and decision.decision.value == "approved"


def test_alias_moves_in_one_step_and_protects_deletion(logged) -> None:  # type: ignore[no-untyped-def]
    uri, *_ = logged
    for _ in range(2):
        lm.registry.register(uri, "pricing")
    lm.registry.set_alias("pricing", "challenger", 1)
    lm.registry.set_alias("pricing", "challenger", 2)
    assert lm.registry.get_model("pricing").aliases == {"challenger": 2}
    assert lm.registry.get_version("pricing", "challenger").version == 2
    with pytest.raises(InvalidStateError):
        lm.registry.delete_version("pricing", 2)
    lm.registry.delete_version("pricing", 2, force=True)
    assert lm.registry.get_model("pricing").aliases == {}
    with pytest.raises(ModelVersionNotFoundError):
        lm.registry.get_version("pricing", "challenger")
    with pytest.raises(InvalidStateError):
        lm.registry.delete_model("pricing")
    lm.registry.delete_model("pricing", force=True)
    with pytest.raises(RegisteredModelNotFoundError):
        lm.registry.get_model("pricing")
    # the audit log outlives the model
    actions = [e.action for e in lm.registry.history("pricing")]
    assert actions[0].startswith("create") and "delete" in actions[-1]


def test_history_records_actor_and_before_after(logged) -> None:  # type: ignore[no-untyped-def]
    uri, *_ = logged
    reg = lm.registry.RegistryClient(actor="bo")
    reg.register(uri, "pricing")
    reg.register(uri, "pricing")
    reg.set_alias("pricing", "challenger", 1)
    reg.set_alias("pricing", "challenger", 2)
    entries = lm.registry.history("pricing")
    assert {e.actor for e in entries} == {"bo"}
    moves = [e for e in entries if e.after and e.after.get("alias") == "challenger"]
    assert moves, [(e.action, e.before, e.after) for e in entries]
    last = moves[-1]
    assert last.before is not None and last.after is not None
    assert json.dumps(last.before) != json.dumps(last.after)
    with pytest.raises(RegisteredModelNotFoundError):
        lm.registry.history("never-existed")


def test_card_gathers_what_the_store_knows(logged) -> None:  # type: ignore[no-untyped-def]
    uri, run_id, _, _ = logged
    mv = lm.registry.register(uri, "pricing", description="Fares <b>for</b> rides")
    lm.registry.set_tag("pricing", "card.intended_use", "Quoting city ride fares.")
    lm.registry.set_tag("pricing", "card.limitations", "Not for airport trips.", version=1)
    lm.registry.approve("pricing", mv.version, comment="looks good")
    lm.registry.set_alias("pricing", "champion", mv.version)

    card = lm.registry.card("pricing@champion")
    md = card.to_markdown()
    for expected in (
        "pricing v1",
        "approved",
        "champion",
        "sklearn",
        "| input | distance | float64 |  | no |",  # the signature, one row per column
        "| output | (array) | float64 | [-1] |",
        "alpha",  # a training param
        "rmse",  # a training metric
        run_id,
        "Quoting city ride fares.",
        "Not for airport trips.",
        "looks good",
        "scikit-learn",  # a pinned library
    ):
        assert expected in md, expected
    page = card.to_html()
    assert page.startswith("<!doctype html>") and "<table>" in page
    assert "<b>for</b>" not in page and "&lt;b&gt;for&lt;/b&gt;" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_cli_walks_the_registry(logged, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uri, run_id, _, _ = logged

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = cli("models", "register", uri, "pricing", "--actor", "cy")
    assert code == 0 and "registered pricing version 1" in out
    code, _, err = cli("models", "alias", "pricing", "champion", "1")
    assert code == 4 and "approve" in err  # InvalidStateError's exit code
    code, out, _ = cli("models", "approve", "pricing", "1", "--comment", "ok", "--actor", "cy")
    assert code == 0 and "approved" in out
    code, out, _ = cli("models", "alias", "pricing", "champion", "1")
    assert code == 0 and "pricing@champion → version 1" in out
    code, out, _ = cli("models", "list", "--json")
    [model] = json.loads(out)
    assert model["name"] == "pricing" and model["aliases"] == {"champion": 1}
    code, out, _ = cli("models", "show", "pricing@champion", "--json")
    shown = json.loads(out)
    assert shown["version"]["run_id"] == run_id and shown["approvals"][0]["actor"] == "cy"
    code, out, _ = cli("models", "show", "pricing")
    assert code == 0 and "champion→1" in out
    code, out, _ = cli("models", "history", "pricing", "--json")
    actions = [e["action"] for e in json.loads(out)]
    assert len(actions) >= 4
    code, out, _ = cli("models", "history", "pricing")
    assert code == 0 and "cy" in out
    target = tmp_path / "card.html"
    code, out, _ = cli("models", "card", "pricing/1", "--html", "-o", str(target))
    assert code == 0 and target.read_text().startswith("<!doctype html>")
    code, out, _ = cli("models", "card", "pricing/1")
    assert code == 0 and out.startswith("# Model card: pricing v1")
    code, _, err = cli("models", "delete", "pricing/1")
    assert code == 4
    code, out, _ = cli("models", "delete", "pricing/1", "--force")
    assert code == 0
    code, _, err = cli("models", "show", "pricing/1")
    assert code == 3 and "pricing" in err
    code, _, err = cli("models", "show", "pricing/abc")
    assert code == 2


def test_the_whole_path_through_a_server(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from loopml.config import Settings
    from loopml.server.app import create_app
    from tests._servers.loopml import serve_in_thread

    app = create_app(Settings(tracking_uri=str(tmp_path / "server"), capture_packages=False))
    with serve_in_thread(app) as url:
        monkeypatch.setenv("LOOPML_TRACKING_URI", url)
        monkeypatch.setenv("LOOPML_USER", "remote-ana")
        uri, run_id, model, X = _log_model()
        mv = lm.registry.register(uri, "pricing")
        with pytest.raises(InvalidStateError, match="approve"):
            lm.registry.set_alias("pricing", "champion", mv.version)
        lm.registry.approve("pricing", mv.version, comment="remote review")
        lm.registry.set_alias("pricing", "champion", mv.version)
        loaded = lm.models.load("models:/pricing@champion")
        np.testing.assert_allclose(loaded.predict(X), model.predict(X))
        assert {e.actor for e in lm.registry.history("pricing")} == {"remote-ana"}
        assert "remote review" in lm.registry.card("pricing@champion").to_markdown()
    # the server wrote to its own store: the registry is there, not in ./.loopml
    server_side = lm.TrackingClient(str(tmp_path / "server"))
    assert server_side.stores.metadata.get_version_by_alias("pricing", "champion").run_id == run_id
    server_side.close()


def test_cli_review_moves_tags_and_descriptions(logged, capsys) -> None:  # type: ignore[no-untyped-def]
    uri, *_ = logged

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    assert cli("models", "register", uri, "pricing", "-t", "team=ml", "-d", "first")[0] == 0
    code, out, _ = cli("models", "reject", "pricing", "1", "-m", "too slow")
    assert code == 0 and "rejected" in out
    code, _, err = cli("models", "approve", "pricing", "1")
    assert code == 4 and "rejected" in err  # rejected -> approved is not a move
    assert "pending_review" in cli("models", "review", "pricing", "1")[1]
    assert "archived" in cli("models", "archive", "pricing", "1")[1]
    assert cli("models", "tag", "pricing/1", "card.limitations=Not for airports")[0] == 0
    assert cli("models", "tag", "pricing", "owner=ana", "tier=gold")[0] == 0
    code, _, err = cli("models", "tag", "pricing", "no-equals-sign")
    assert code == 2 and "KEY=VALUE" in err
    assert cli("models", "describe", "pricing", "Fares for rides.")[0] == 0
    assert cli("models", "describe", "pricing/1", "Ridge, alpha 1.")[0] == 0
    model = lm.registry.get_model("pricing")
    assert model.description == "Fares for rides."
    assert dict(model.tags) == {"owner": "ana", "tier": "gold"}
    version = lm.registry.get_version("pricing", 1)
    assert version.description == "Ridge, alpha 1." and version.status.value == "archived"
    assert dict(version.tags) == {"team": "ml", "card.limitations": "Not for airports"}
    assert [a.decision.value for a in lm.registry.approvals("pricing", 1)] == ["rejected"]

    assert cli("models", "alias", "pricing", "staging", "1")[0] == 0
    code, _, err = cli("models", "alias", "pricing", "staging")
    assert code == 2 and "give the version" in err
    assert cli("models", "alias", "pricing", "staging", "--delete")[0] == 0
    assert lm.registry.get_model("pricing").aliases == {}
    code, _, err = cli("models", "alias", "pricing", "staging", "--delete")
    assert code == 3
