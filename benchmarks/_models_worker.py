"""One step of the model benchmark in its own process; prints one JSON line.

    python _models_worker.py --tool loopml|mlflow --step save --dir DIR --trees N
    python _models_worker.py --tool loopml|mlflow --step load --dir DIR [--no-verify]
                             [--format skops|cloudpickle]

`save` trains the same random forest (same data, same seed) and packages it in DIR/model
(MLflow: once per serialization format, DIR/model-skops and DIR/model-cloudpickle);
`load` times loading that package back (libraries imported before the clock starts, so the
figure is the load itself) and checks one prediction.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any


def _data() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 20_000
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
    target = frame.sum(axis=1).to_numpy() + rng.normal(0, 0.5, n)
    return frame, target


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def save(tool: str, folder: Path, trees: int) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestRegressor

    frame, target = _data()
    model = RandomForestRegressor(n_estimators=trees, random_state=0, n_jobs=-1)
    model.fit(frame, target)
    out = folder / "model"
    start = time.perf_counter()
    if tool == "loopml":
        import loopml as lm

        lm.models.save_model(model, str(out), input_example=frame.head(5))
    else:
        import mlflow.sklearn
        from mlflow.models import infer_signature

        signature = infer_signature(frame.head(5), model.predict(frame.head(5)))
        # MLflow's default format is skops, which must be told that tree nodes are trusted.
        mlflow.sklearn.save_model(
            model,
            str(folder / "model-skops"),
            signature=signature,
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
        out = folder / "model-cloudpickle"
        mlflow.sklearn.save_model(
            model, str(out), signature=signature, serialization_format="cloudpickle"
        )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "size_mb": _size_mb(out)}


def load(tool: str, folder: Path, verify: bool, fmt: str) -> dict[str, Any]:
    import numpy as np
    import sklearn.ensemble  # noqa: F401  imported before the clock, like the tool would

    frame, _ = _data()
    out = str(folder / ("model" if tool == "loopml" else f"model-{fmt}"))
    if tool == "loopml":
        import loopml.models

        start = time.perf_counter()
        model = loopml.models.load(out, verify=verify)
        seconds = time.perf_counter() - start
    else:
        import mlflow.pyfunc

        start = time.perf_counter()
        model = mlflow.pyfunc.load_model(out)
        seconds = time.perf_counter() - start
    pred = np.asarray(model.predict(frame.head(3)), dtype=float).reshape(-1)
    return {"seconds": seconds, "prediction": float(pred[0])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", choices=("loopml", "mlflow"), required=True)
    parser.add_argument("--step", choices=("save", "load"), required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--trees", type=int, default=60)
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--format", choices=("skops", "cloudpickle"), default="skops")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    folder = Path(args.dir)
    if args.step == "save":
        result = save(args.tool, folder, args.trees)
    else:
        result = load(args.tool, folder, not args.no_verify, args.format)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
