"""BentoML services for bench_serving.py (run by `bentoml serve` in BentoML's own venv).

- ``Plain``: one service, ``POST /invocations`` with ``{"dataframe_split": {...}}``: builds
  the DataFrame and calls ``predict`` (sync API, one worker).
- ``Batched``: the same route on a front service that hands each request's rows to a
  ``Scorer`` service whose ``predict`` is batchable, so BentoML's adaptive batching combines
  concurrent requests (its way of batching: the batched API lives on a dependency).

The model is the one `_serving_worker.py train --tool bentoml` saved into $BENTOML_HOME.
BENCH_MAX_BATCH_SIZE and BENCH_MAX_LATENCY_MS set the batching limits.
"""

from __future__ import annotations

import os
from typing import Any

import bentoml
import numpy as np
import pandas as pd

COLUMNS = ["f0", "f1", "f2", "f3"]
MAX_BATCH = int(os.environ.get("BENCH_MAX_BATCH_SIZE", "64"))
# BentoML's max_latency_ms is a deadline: requests that cannot meet it are refused (503),
# and the dispatcher picks its own wait below it. A generous deadline keeps every request.
MAX_LATENCY_MS = int(os.environ.get("BENCH_MAX_LATENCY_MS", "1000"))


def _model() -> Any:
    return bentoml.sklearn.load_model("bench-lr:latest")


@bentoml.service(workers=1)
class Plain:
    def __init__(self) -> None:
        self.model = _model()

    @bentoml.api(route="/invocations")
    def invocations(self, dataframe_split: dict[str, Any]) -> dict[str, Any]:
        frame = pd.DataFrame(dataframe_split["data"], columns=dataframe_split["columns"])
        return {"predictions": self.model.predict(frame).tolist()}


@bentoml.service(workers=1)
class Scorer:
    def __init__(self) -> None:
        self.model = _model()

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH, max_latency_ms=MAX_LATENCY_MS)
    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.model.predict(pd.DataFrame(rows, columns=COLUMNS))


@bentoml.service(workers=1)
class Batched:
    scorer = bentoml.depends(Scorer)

    @bentoml.api(route="/invocations")
    async def invocations(self, dataframe_split: dict[str, Any]) -> dict[str, Any]:
        frame = pd.DataFrame(dataframe_split["data"], columns=dataframe_split["columns"])
        rows = frame[COLUMNS].to_numpy(dtype=float)
        predictions = await self.scorer.to_async.predict(rows)
        return {"predictions": np.asarray(predictions).tolist()}
