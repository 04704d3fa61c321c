"""A retraining pipeline the monitoring tests trigger: it trains on the window's dataset
version (the rows that carry a label) and registers the model."""

from __future__ import annotations

import pandas as pd
from sklearn.linear_model import LinearRegression

import loopml as lm
from loopml import pipeline, step

FEATURES = ["distance", "hour"]


@step
def load(dataset: str) -> pd.DataFrame:
    return lm.data.load(dataset)


@step
def fit(frame: pd.DataFrame, model_name: str, target: str) -> str:
    labeled = frame.dropna(subset=[target])
    model = LinearRegression().fit(labeled[FEATURES], labeled[target])
    lm.log_metric("rows", len(labeled))
    info = lm.models.log_model(model, "model", input_example=labeled[FEATURES].head(5))
    version = lm.registry.register(info.uri, model_name)
    return f"{version.name}/{version.version}"


@pipeline
def retrain(dataset: str = "", model_name: str = "pricing-retrained", target: str = "fare"):
    fit(load(dataset), model_name, target)


@pipeline
def no_data_param(days: int = 1):
    load(str(days))
