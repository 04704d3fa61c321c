"""Logging to runs and loading back by URI, with every file verified."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression

import loopml as lm
import loopml.models as models
from loopml.errors import (
    InvalidInputError,
    InvalidUriError,
    ModelIntegrityError,
    ModelLoadError,
    ModelVersionNotFoundError,
    RegisteredModelNotFoundError,
    RunNotFoundError,
)
from loopml.models.manifest import scan_files


@pytest.fixture
def fitted() -> tuple[LinearRegression, np.ndarray]:
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    return LinearRegression().fit(X, y), X


def test_log_model_to_the_active_run_and_load_by_runs_uri(fitted) -> None:  # type: ignore[no-untyped-def]
    model, X = fitted
    with lm.start_run() as run:
        info = models.log_model(model, "model", input_example=X[:5])
    assert info.uri == f"runs:/{run.info.run_id}/model" and info.flavor == "sklearn"
    assert info.manifest.run_id == run.info.run_id
    tag = json.loads(lm.get_run(run.info.run_id).data.tags[models.MODELS_TAG])
    assert tag == [{"artifact_path": "model", "flavor": "sklearn"}]
    loaded = models.load(info.uri)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    assert models.read_manifest(info.uri).signature == info.signature
    with pytest.raises(InvalidInputError, match="needs a run"):
        models.log_model(model)


def test_load_by_registered_version_alias_and_latest(fitted) -> None:  # type: ignore[no-untyped-def]
    model, X = fitted
    with lm.start_run():
        first = models.log_model(model, "model", input_example=X[:5])
    with lm.start_run():
        doubled = LinearRegression().fit(X, model.predict(X) * 2)
        second = models.log_model(doubled, "model", input_example=X[:5])
    store = lm.TrackingClient().stores.metadata
    store.create_registered_model("pricing")
    store.create_model_version("pricing", first.uri, first.run_id)
    store.create_model_version("pricing", second.uri, second.run_id)
    store.set_alias("pricing", "staging", 1)
    np.testing.assert_allclose(models.load("models:/pricing/1").predict(X), model.predict(X))
    np.testing.assert_allclose(models.load("models:/pricing@staging").predict(X), model.predict(X))
    np.testing.assert_allclose(models.load("models:/pricing/latest").predict(X), doubled.predict(X))
    assert models.resolve_model_uri("models:/pricing@staging") == first.uri
    with pytest.raises(ModelVersionNotFoundError):
        models.load("models:/pricing/9")
    with pytest.raises(RegisteredModelNotFoundError):
        models.load("models:/nope@staging")


def test_a_tampered_missing_or_extra_file_refuses_to_load(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, X = fitted
    folder = tmp_path / "m"
    models.save_model(model, folder, input_example=X[:5])
    weights = folder / "model.joblib"
    original = weights.read_bytes()

    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(ModelIntegrityError, match=r"model\.joblib"):
        models.load(folder)
    weights.write_bytes(original)

    (folder / "backdoor.py").write_text("print('hi')")
    with pytest.raises(ModelIntegrityError, match=r"backdoor\.py"):
        models.load(folder)
    assert models.load(folder, verify=False).predict(X[:2]) is not None
    (folder / "backdoor.py").unlink()

    (folder / "input_example.json").unlink()
    with pytest.raises(ModelIntegrityError, match=r"input_example\.json"):
        models.load(folder)


def _rewrite_manifest(folder: Path, change) -> None:  # type: ignore[no-untyped-def]
    path = folder / models.MANIFEST_FILE
    data = yaml.safe_load(path.read_text())
    change(data)
    data["files"] = scan_files(folder)
    path.write_text(yaml.safe_dump(data))


def test_library_version_drift_warns_and_a_missing_library_fails(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, _ = fitted
    folder = tmp_path / "m"
    installed = models.save_model(model, folder)
    _rewrite_manifest(folder, lambda d: d["libraries"].update({"scikit-learn": "0.0.1"}))
    with pytest.warns(models.ModelVersionWarning, match=r"scikit-learn 0\.0\.1.*installed"):
        models.load(folder)

    def add_missing(data: dict) -> None:  # type: ignore[type-arg]
        data["libraries"] = dict(installed.libraries, **{"not-a-real-lib": "1.0"})
        data["loader"]["modules"]["not_a_real_lib"] = "not-a-real-lib"

    _rewrite_manifest(folder, add_missing)
    with pytest.raises(ModelLoadError, match=r"pip install 'not-a-real-lib==1\.0'"):
        models.load(folder)


def test_clear_errors_for_what_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model folder"):
        models.load(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="holds no packaged model"):
        models.load(tmp_path / "empty")
    with pytest.raises(InvalidUriError):
        models.load("models:/pricing/abc")
    with pytest.raises(InvalidUriError):
        models.load("s3://bucket/model")
    with pytest.raises(RunNotFoundError):
        models.load("runs:/" + "0" * 32 + "/model")
    with lm.start_run() as run:
        lm.log_text("hello", "notes/readme.txt")
    with pytest.raises(ModelLoadError, match="holds no packaged model"):
        models.load(f"runs:/{run.info.run_id}/notes")
