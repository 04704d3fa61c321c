"""Pipelines the tests run (importable, so the process executor can use them too)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

import loopml as lm
from loopml import pipeline, step

CALLS: list[str] = []  # which step bodies ran (inline executor)


def _scale(values: pd.Series) -> pd.Series:
    return values * 2.0


@step
def load(n: int, seed: int = 0) -> pd.DataFrame:
    CALLS.append("load")
    print(f"loading {n} rows")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=n)})
    frame["y"] = _scale(frame["x"]) + 1.0
    return frame


@step
def train(frame: pd.DataFrame, fit_intercept: bool = True) -> LinearRegression:
    CALLS.append("train")
    lm.log_metric("rows", len(frame))
    return LinearRegression(fit_intercept=fit_intercept).fit(frame[["x"]], frame["y"])


@step
def score(model: LinearRegression, frame: pd.DataFrame) -> dict:
    CALLS.append("score")
    return {"coef": float(model.coef_[0]), "intercept": float(model.intercept_)}


@step
def features(frame: pd.DataFrame) -> np.ndarray:
    CALLS.append("features")
    return frame[["x"]].to_numpy()


@pipeline
def training(n: int = 200, seed: int = 0, fit_intercept: bool = True):
    frame = load(n, seed=seed)
    model = train(frame, fit_intercept=fit_intercept)
    score(model, frame)
    features(frame)


@step
def square(value: int) -> int:
    return value * value


@step
def total(values: list) -> int:
    return sum(values)


@step
def numbers(count: int) -> list:
    return list(range(count))


@pipeline
def fan_out(count: int = 4):
    total(square.map(numbers(count)))
    total(square.map([10, 20]))


FLAKY = Path("flaky-attempts.txt")
BROKEN = Path("broken.flag")


@step(retries=2, retry_backoff=0.01)
def flaky(n: int) -> int:
    attempts = int(FLAKY.read_text()) + 1 if FLAKY.exists() else 1
    FLAKY.write_text(str(attempts))
    if attempts < 3:
        raise ConnectionError(f"attempt {attempts} failed")
    return n


@step
def fragile(n: int) -> int:
    if BROKEN.exists():
        raise ValueError("the input is broken")
    return n + 1


@step(catch=True)
def optional(n: int) -> int:
    raise RuntimeError("optional enrichment failed")


@step
def combine(a: int, b: int | None) -> dict:
    return {"a": a, "b": b}


@pipeline
def robust(n: int = 1):
    first = flaky(n)
    combine(fragile(first), optional(first))


@step(timeout=0.5)
def slow(n: int) -> int:
    import time

    time.sleep(5)
    return n


@pipeline
def too_slow():
    slow(1)


@step(deterministic=False)
def now() -> float:
    import time

    return time.time()


@step
def echo(value: float) -> float:
    CALLS.append("echo")
    return value


@pipeline
def clock():
    echo(now())
