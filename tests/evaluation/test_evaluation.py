"""Evaluation and release gates: metrics agree with scikit-learn and Fairlearn, slices and
fairness are reported, bad input is refused before work, verdicts gate approval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_squared_error, roc_auc_score

import loopml as lm
from loopml.cli.main import main
from loopml.errors import InvalidInputError, InvalidStateError, SignatureError
from loopml.storage.metadata.sql import EmbeddedSqliteStore

FEATURES = ["distance_km", "hour", "is_airport"]


def _rides(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "distance_km": rng.gamma(2.0, 3.0, n),
            "hour": rng.integers(0, 24, n),
            "is_airport": (rng.random(n) < 0.15).astype(int),
            "city": rng.choice(["paris", "lyon", "nice"], n, p=[0.6, 0.38, 0.02]),
            "driver_gender": rng.choice(["f", "m"], n),
        }
    )
    frame["fare"] = 3 + 1.7 * frame["distance_km"] + 8 * frame["is_airport"] + rng.normal(0, 1.5, n)
    return frame


def _register(model: object, frame: pd.DataFrame, name: str = "pricing") -> str:
    with lm.start_run():
        info = lm.models.log_model(model, "model", input_example=frame[FEATURES].head(5))
    version = lm.registry.register(info.uri, name)
    return f"models:/{name}/{version.version}"


@pytest.fixture
def rides() -> pd.DataFrame:
    return _rides()


@pytest.fixture
def good(rides: pd.DataFrame) -> str:
    model = GradientBoostingRegressor(random_state=0, n_estimators=60).fit(
        rides[FEATURES], rides["fare"]
    )
    return _register(model, rides)


def test_regression_metrics_slices_and_the_run(rides: pd.DataFrame, good: str) -> None:
    dv = lm.data.log_dataset("rides", rides)
    result = lm.evaluate(
        good, data="rides@1", target="fare", slices=["city", "hour"], sensitive=["driver_gender"]
    )
    model = lm.models.load(good)
    pred = model.predict(rides[FEATURES])
    assert result.task == "regression" and result.rows == 1200
    assert result.metrics["rmse"] == pytest.approx(np.sqrt(mean_squared_error(rides["fare"], pred)))
    cities = {s.value: s for s in result.by_slice if s.column == "city"}
    assert sum(s.count for s in cities.values()) == 1200
    assert not cities["nice"].gated and cities["paris"].gated  # 2 % of rows: reported, not gated
    hours = [s for s in result.by_slice if s.column == "hour"]
    assert len(hours) == 4 and hours[0].value.startswith("[")  # numeric: quartile buckets
    assert set(result.fairness["driver_gender"].by_group) == {"f", "m"}
    assert result.latency["latency_p99_ms"] >= result.latency["latency_p50_ms"] > 0
    run = lm.get_run(result.run_id)
    assert run.data.metrics["rmse"] == pytest.approx(result.metrics["rmse"])
    assert "slice/city/paris/rmse" in run.data.metrics
    edges = lm.data.lineage(dv)
    assert [(e.run_id, e.role) for e in edges] == [(result.run_id, "evaluation")]
    paths = {a.path for a in lm.list_artifacts(result.run_id, "evaluation")}
    assert paths == {"evaluation/result.json", "evaluation/report.html"}


def test_classification_metrics_and_fairness_match_the_references() -> None:
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
    )

    rng = np.random.default_rng(1)
    n = 2000
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["group"] = np.where(rng.random(n) < 0.4, "a", "b")
    logits = 1.5 * frame["x1"] - frame["x2"] + np.where(frame["group"] == "a", 0.8, 0.0)
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["label"])
    with lm.start_run():
        info = lm.models.log_model(model, "clf", input_example=frame[["x1", "x2"]].head(3))
    result = lm.evaluate(info.uri, frame, target="label", sensitive=["group"])
    assert result.task == "classification"
    proba = model.predict_proba(frame[["x1", "x2"]])[:, 1]
    pred = model.predict(frame[["x1", "x2"]])
    assert result.metrics["roc_auc"] == pytest.approx(roc_auc_score(frame["label"], proba))
    assert result.metrics["accuracy"] == pytest.approx((pred == frame["label"]).mean())
    assert 0 <= result.metrics["calibration_error"] < 0.1
    assert sum(map(sum, result.confusion)) == n
    fair = result.fairness["group"].metrics
    kwargs = {"y_true": frame["label"], "y_pred": pred, "sensitive_features": frame["group"]}
    assert fair["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(**kwargs)
    )
    assert fair["demographic_parity_ratio"] == pytest.approx(demographic_parity_ratio(**kwargs))
    assert fair["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(**kwargs))


def test_bad_input_is_refused_before_any_work(rides: pd.DataFrame, good: str) -> None:
    before = len(lm.search_runs([e.experiment_id for e in lm.search_experiments()]))
    with pytest.raises(InvalidInputError, match="target column 'tip' is not in the data"):
        lm.evaluate(good, rides, target="tip")
    with pytest.raises(InvalidInputError, match="slice/sensitive column 'country'"):
        lm.evaluate(good, rides, target="fare", slices=["country"])
    with pytest.raises(InvalidInputError, match="needs column"):
        lm.evaluate(good, rides.drop(columns=["hour"]), target="fare")
    with pytest.raises(InvalidInputError, match="class labels"):
        lm.evaluate(good, rides, target="fare", task="classification")
    with pytest.raises(InvalidInputError, match="unknown metric 'accuracy' for regression"):
        lm.gate(
            good, policy={"accuracy": {"min": 0.9}}, data=rides, target="fare", task="regression"
        )
    with pytest.raises(InvalidInputError, match="unknown bound 'below'"):
        lm.gate(good, policy={"rmse": {"below": 3}}, data=rides, target="fare", task="regression")
    after = len(lm.search_runs([e.experiment_id for e in lm.search_experiments()]))
    assert after == before  # nothing was logged
    with pytest.raises(SignatureError):
        lm.evaluate(good, rides.assign(hour="noon"), target="fare")


def test_gate_compares_with_the_champion_and_records_the_verdict(
    rides: pd.DataFrame, good: str, tmp_path: Path
) -> None:
    lm.registry.approve("pricing", 1)
    lm.registry.set_alias("pricing", "champion", 1)
    worse = _register(
        LinearRegression().fit(
            rides[["distance_km"]].assign(hour=0, is_airport=0)[FEATURES], rides["fare"]
        ),
        rides,
    )
    policy = tmp_path / "gates.yaml"
    policy.write_text(
        "rmse: {max: 5.0, max_relative_increase: 0.02}\n"
        "slices.city.rmse: {max: 6.0}\n"
        "fairness.demographic_parity_difference: {max: 0.1}\n"
        "latency_p99_ms: {max: 2000}\n"
    )
    same = lm.gate(
        good,
        against="models:/pricing@champion",
        policy=policy,
        data=rides,
        target="fare",
        sensitive=["driver_gender"],
    )
    # regression has no demographic parity: that check fails as "no value was measured"
    assert [c.name for c in same.failures] == ["fairness.demographic_parity_difference"]
    policy.write_text(
        "rmse: {max: 5.0, max_relative_increase: 0.02}\nslices.city.rmse: {max: 6.0}\n"
    )
    passed = lm.gate(
        good, against="models:/pricing@champion", policy=policy, data=rides, target="fare"
    )
    assert passed.passed
    assert {c.name for c in passed.checks} >= {
        "rmse",
        "slices.city=paris.rmse",
        "slices.city=lyon.rmse",
    }
    assert "slices.city=nice.rmse" not in {c.name for c in passed.checks}  # too few rows
    failed = lm.gate(
        worse, against="models:/pricing@champion", policy=policy, data=rides, target="fare"
    )
    assert not failed.passed
    rel = next(c for c in failed.checks if c.name == "rmse" and c.kind == "max_relative_increase")
    assert not rel.passed and rel.baseline == pytest.approx(passed.checks[0].value)
    tag = json.loads(lm.registry.get_version("pricing", 2).tags["loopml.gate"])
    assert tag["passed"] is False and "rmse max_relative_increase" in tag["failed"]
    report = lm.get_run(tag["run_id"])
    assert report.data.tags["loopml.gate.passed"] == "false"


def test_the_registry_can_require_a_passing_gate(
    rides: pd.DataFrame, good: str, tmp_path: Path
) -> None:
    store = lm.registry.RegistryClient().store
    assert isinstance(store, EmbeddedSqliteStore)
    store.require_passing_gate = True
    with pytest.raises(InvalidStateError, match="no release-gate verdict"):
        lm.registry.approve("pricing", 1)
    lm.gate(good, policy={"rmse": {"max": 0.01}}, data=rides, target="fare")
    with pytest.raises(InvalidStateError, match="failed its release gate"):
        lm.registry.approve("pricing", 1)
    lm.gate(good, policy={"rmse": {"max": 5.0}}, data=rides, target="fare")
    assert lm.registry.approve("pricing", 1).status.value == "approved"


def test_cli_evaluate_and_gate_exit_codes(
    rides: pd.DataFrame, good: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "rides.parquet"
    rides.to_parquet(data)
    code = main(
        [
            "evaluate",
            "pricing/1",
            "--data",
            str(data),
            "--target",
            "fare",
            "--slices",
            "city",
            "--json",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and json.loads(out)["metrics"]["rmse"] > 0
    strict = tmp_path / "strict.yaml"
    strict.write_text("rmse: {max: 0.01}\n")
    loose = tmp_path / "loose.yaml"
    loose.write_text("rmse: {max: 5}\nr2: {min: 0.5}\n")
    assert main(["gate", "pricing/1", "--policy", str(loose)]) == 0
    assert "PASS" in capsys.readouterr().out
    assert (
        main(
            ["gate", "pricing/1", "--policy", str(strict), "--data", str(data), "--target", "fare"]
        )
        == 1
    )
    assert "FAIL" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("rmse: {max: 5}\nauc: {min: 0.5}\n")
    assert main(["gate", "pricing/1", "--policy", str(bad)]) == 2
    assert "unknown metric 'auc'" in capsys.readouterr().err


def test_multiclass_metrics_and_a_task_the_outputs_do_not_fit() -> None:
    from sklearn.metrics import f1_score, log_loss

    rng = np.random.default_rng(3)
    n = 900
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["kind"] = np.select([frame["a"] > 0.5, frame["b"] > 0.0], ["bus", "car"], "bike")
    model = LogisticRegression(max_iter=500).fit(frame[["a", "b"]], frame["kind"])
    with lm.start_run():
        info = lm.models.log_model(model, "clf", input_example=frame[["a", "b"]].head(3))
    result = lm.evaluate(info.uri, frame, target="kind", log=False)
    pred = model.predict(frame[["a", "b"]])
    assert result.metrics["f1_macro"] == pytest.approx(
        f1_score(frame["kind"], pred, average="macro")
    )
    proba = model.predict_proba(frame[["a", "b"]])
    assert result.metrics["log_loss"] == pytest.approx(
        log_loss(frame["kind"], proba, labels=model.classes_)
    )
    assert 0.5 < result.metrics["roc_auc"] <= 1.0
    assert set(result.per_class) == {"bike", "bus", "car"} and result.labels == [
        "bike",
        "bus",
        "car",
    ]
    assert result.fairness == {} and result.run_id is None  # log=False: no run
    with pytest.raises(InvalidInputError, match="task 'regression' needs numeric outputs"):
        lm.evaluate(info.uri, frame, target="kind", task="regression")
