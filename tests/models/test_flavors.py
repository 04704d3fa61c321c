"""Each flavor round-trips a real model: save, load in the same form, same predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import loopml.models as models
from loopml.errors import InvalidInputError, SignatureError, UnsupportedModelError


def _rides(n: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "distance": rng.uniform(1, 20, n),
            "hour": rng.integers(0, 24, n),
            "city": rng.choice(["oslo", "rome", "lima"], n),
        }
    )
    y = 2 * frame["distance"].to_numpy() + (frame["city"] == "rome") * 5 + rng.normal(0, 0.1, n)
    return frame, y


def test_sklearn_pipeline_with_a_categorical_column(tmp_path: Path) -> None:
    X, y = _rides()
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["distance", "hour"]),
                        ("cat", OneHotEncoder(), ["city"]),
                    ]
                ),
            ),
            ("model", Ridge()),
        ]
    ).fit(X, y)
    manifest = models.save_model(pipe, tmp_path / "m", input_example=X.head(5))
    assert manifest.flavor == "sklearn"
    assert "scikit-learn" in manifest.libraries and "pandas" in manifest.libraries
    loaded = models.load(tmp_path / "m")
    assert type(loaded.raw) is Pipeline
    np.testing.assert_allclose(loaded.predict(X), pipe.predict(X))
    # the signature travels with it: a missing column is named
    with pytest.raises(SignatureError, match="city"):
        loaded.predict(X.drop(columns=["city"]))
    # records work too, as a server would pass them
    records = X.head(3).to_dict(orient="records")
    np.testing.assert_allclose(loaded.predict(records), pipe.predict(X.head(3)))
    pd.testing.assert_frame_equal(loaded.input_example(), X.head(5).reset_index(drop=True))


def test_xgboost_wrapper_and_booster_in_native_format(tmp_path: Path) -> None:
    import xgboost as xgb

    X, y = make_regression(n_samples=200, n_features=4, random_state=0)
    reg = xgb.XGBRegressor(n_estimators=20, max_depth=3).fit(X, y)
    models.save_model(reg, tmp_path / "reg", input_example=X[:5])
    assert (tmp_path / "reg" / "model.ubj").is_file()
    loaded = models.load(tmp_path / "reg")
    assert loaded.flavor == "xgboost" and isinstance(loaded.raw, xgb.XGBRegressor)
    np.testing.assert_allclose(loaded.predict(X), reg.predict(X), rtol=1e-6)

    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=10)
    models.save_model(booster, tmp_path / "booster", input_example=X[:5])
    again = models.load(tmp_path / "booster")
    assert isinstance(again.raw, xgb.Booster)
    np.testing.assert_allclose(again.predict(X), booster.predict(xgb.DMatrix(X)), rtol=1e-6)


def test_lightgbm_classifier_returns_labels(tmp_path: Path) -> None:
    import lightgbm as lgb

    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    labels = np.where(y == 1, "fraud", "ok")
    clf = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, labels)
    models.save_model(clf, tmp_path / "m", input_example=X[:5])
    assert (tmp_path / "m" / "model.txt").read_text().startswith("tree")
    loaded = models.load(tmp_path / "m")
    assert loaded.flavor == "lightgbm"
    assert (loaded.predict(X) == clf.predict(X)).all()
    # probabilities and classes as the wrapper gives them (evaluation, batch scoring and
    # monitoring read these)
    assert loaded.has_proba and loaded.classes == list(clf.classes_)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-9)


def test_lightgbm_multiclass_and_regressor(tmp_path: Path) -> None:
    import lightgbm as lgb

    X, y = make_classification(
        n_samples=400, n_features=6, n_informative=4, n_classes=3, random_state=1
    )
    labels = np.array(["bus", "car", "bike"])[y]
    clf = lgb.LGBMClassifier(n_estimators=15, verbose=-1).fit(X, labels)
    models.save_model(clf, tmp_path / "multi", input_example=X[:5])
    loaded = models.load(tmp_path / "multi")
    assert loaded.classes == list(clf.classes_) == ["bike", "bus", "car"]
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-9)
    assert (loaded.predict(X) == clf.predict(X)).all()

    Xr, yr = make_regression(n_samples=200, n_features=4, random_state=0)
    reg = lgb.LGBMRegressor(n_estimators=15, verbose=-1).fit(Xr, yr)
    models.save_model(reg, tmp_path / "reg", input_example=Xr[:5])
    again = models.load(tmp_path / "reg")
    assert not again.has_proba and again.classes is None
    np.testing.assert_allclose(again.predict(Xr), reg.predict(Xr), rtol=1e-9)
    with pytest.raises(InvalidInputError, match="no predict_proba"):
        again.predict_proba(Xr)


# TorchScript is deprecated upstream in favour of torch.export, but still what many serve.
@pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:DeprecationWarning")
def test_pytorch_state_dict_and_torchscript(tmp_path: Path) -> None:
    import torch

    from tests.models.nets import TinyNet

    torch.manual_seed(0)
    net = TinyNet(n_in=3, hidden=5)
    X = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    expected = net(torch.from_numpy(X)).detach().numpy()
    models.save_model(
        net, tmp_path / "sd", input_example=X[:2], init_kwargs={"n_in": 3, "hidden": 5}
    )
    loaded = models.load(tmp_path / "sd")
    assert isinstance(loaded.raw, TinyNet) and not loaded.raw.training
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-5)
    with pytest.raises(SignatureError, match="dimension 1 should be 3"):
        loaded.predict(np.ones((2, 4), dtype="float32"))

    scripted = torch.jit.script(net)
    models.save_model(scripted, tmp_path / "ts", input_example=X[:2])
    again = models.load(tmp_path / "ts")
    assert again.manifest.loader["options"]["kind"] == "torchscript"
    np.testing.assert_allclose(again.predict(X), expected, rtol=1e-5)


class Fares(models.PythonModel):
    def load_context(self, context: models.PythonModelContext) -> None:
        self.per_km = float(Path(context.artifacts["rates"]).read_text())

    def predict(self, context: models.PythonModelContext, inputs: pd.DataFrame) -> np.ndarray:
        import fare_helpers  # shipped with code_paths

        return np.asarray(fare_helpers.base() + inputs["distance"] * self.per_km)


def test_python_model_with_artifacts_and_code(tmp_path: Path) -> None:
    rates = tmp_path / "rates.txt"
    rates.write_text("2.5")
    code = tmp_path / "src"
    code.mkdir()
    (code / "fare_helpers.py").write_text("def base():\n    return 3.0\n")
    X = pd.DataFrame({"distance": [1.0, 2.0]})
    import sys

    sys.path.insert(0, str(code))  # the model's code is importable while it is saved
    try:
        models.save_model(
            Fares(),
            tmp_path / "m",
            input_example=X,
            artifacts={"rates": rates},
            code_paths=[code / "fare_helpers.py"],
        )
    finally:
        sys.path.remove(str(code))
        sys.modules.pop("fare_helpers", None)
    rates.write_text("100")  # the package holds its own copy
    loaded = models.load(tmp_path / "m")
    assert isinstance(loaded.raw, Fares)
    np.testing.assert_allclose(loaded.predict(X), [5.5, 8.0])


def test_detection_and_choosing_a_flavor(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match="no flavor for a builtins:dict"):
        models.save_model({"not": "a model"}, tmp_path / "x")
    assert not (tmp_path / "x").exists()  # nothing half-written
    with pytest.raises(UnsupportedModelError, match="no model flavor named 'onnx'"):
        models.save_model(Ridge(), tmp_path / "y", flavor="onnx")
    assert set(models.available_flavors()) >= {
        "sklearn",
        "xgboost",
        "lightgbm",
        "pytorch",
        "python",
    }

    X, y = make_regression(n_samples=50, n_features=3, random_state=0)
    forest = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    models.save_model(forest, tmp_path / "f", flavor="sklearn")
    with pytest.raises(InvalidInputError, match="not empty"):
        models.save_model(forest, tmp_path / "f")
    models.save_model(forest, tmp_path / "f", overwrite=True, input_example=X[:2])
    assert models.load(tmp_path / "f").signature is not None
