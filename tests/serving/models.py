"""Small real models for the serving tests (pickled by value, so a server process started
from another folder can load them)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from loopml.models import PythonModel, PythonModelContext


class Echo(PythonModel):
    """Two named outputs per row: ``doubled`` (x * 2) and ``label`` (the name, upper-cased)."""

    def predict(self, context: PythonModelContext, inputs: Any) -> Any:
        return pd.DataFrame(
            {"doubled": inputs["x"].to_numpy() * 2, "label": inputs["name"].str.upper()}
        )


class Raiser(PythonModel):
    """x * 2, but raises on a negative x (a model bug a request can trigger)."""

    def predict(self, context: PythonModelContext, inputs: Any) -> Any:
        if (inputs["x"] < 0).any():
            raise ValueError("negative x is not supported")
        return inputs["x"].to_numpy() * 2


class Slow(PythonModel):
    """x + 1000, after a pause (a shadow that is much slower than the primary)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def predict(self, context: PythonModelContext, inputs: Any) -> Any:
        time.sleep(self.seconds)
        return inputs["x"].to_numpy() + 1000


class RowSum(PythonModel):
    """The sum of each row of an array input."""

    def predict(self, context: PythonModelContext, inputs: Any) -> Any:
        return np.asarray(inputs).sum(axis=1)
