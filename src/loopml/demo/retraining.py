"""The demo's retraining pipeline, which its monitor triggers when production data drifts.

It receives the drifted window of the prediction log as a dataset version (the features the
server saw, with the fares that arrived later as labels), trains the demo's model on the
rows that carry a label, and registers it. The monitor records the links: check run →
window dataset → this pipeline run → the new model version.
"""

from __future__ import annotations

import pandas as pd

from loopml.pipelines import pipeline, step

__all__ = ["RETRAIN_TARGET", "retrain"]

RETRAIN_TARGET = "loopml.demo.retraining:retrain"


@step
def load_window(dataset: str) -> pd.DataFrame:
    """The window's rows, back from their dataset version."""
    import loopml as lm

    frame: pd.DataFrame = lm.data.load(dataset)
    return frame


# Registering a model version is a side effect a cache hit would skip: always run.
@step(cache=False)
def fit(
    frame: pd.DataFrame,
    model_name: str,
    target: str,
    learning_rate: float,
    max_depth: int,
    n_estimators: int,
) -> str:
    """Train on the labelled rows and register the model; returns ``name/version``."""
    from sklearn.ensemble import GradientBoostingRegressor

    import loopml as lm
    from loopml.demo import FEATURES

    labeled = frame.dropna(subset=[target])
    if len(labeled) < 50:
        raise ValueError(f"only {len(labeled)} labelled rows in the window; too few to retrain on")
    model = GradientBoostingRegressor(
        learning_rate=learning_rate,
        max_depth=max_depth,
        n_estimators=n_estimators,
        random_state=7,
    ).fit(labeled[FEATURES], labeled[target])
    lm.log_metric("rows", len(labeled))
    info = lm.models.log_model(model, "model", input_example=labeled[FEATURES].head(5))
    version = lm.registry.register(
        info.uri, model_name, description="Retrained on a drifted window of production data."
    )
    return f"{version.name}/{version.version}"


@pipeline
def retrain(
    dataset: str = "",
    model_name: str = "ride-fares",
    target: str = "fare",
    learning_rate: float = 0.1,
    max_depth: int = 3,
    n_estimators: int = 120,
) -> None:
    """Retrain the ride-fare model on a window of production data (``dataset``)."""
    fit(load_window(dataset), model_name, target, learning_rate, max_depth, n_estimators)
