"""Worker of bench_serving.py, run by each tool's own interpreter.

    python _serving_worker.py train --tool loopml|mlflow|bentoml|bare --out DIR
    python _serving_worker.py bare --model DIR/model.pkl --port P

`train` fits the same LogisticRegression (same seed, same data, a pandas DataFrame so the
model has feature names) and packages it the tool's way; it prints one JSON line. `bare`
serves that model from a minimal Starlette app on uvicorn: parse the JSON, build the
DataFrame, call ``predict`` — the ceiling a server with more to do is measured against.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

COLUMNS = ["f0", "f1", "f2", "f3"]
SEED = 7
ROWS = 2_000


def training_data() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    frame = pd.DataFrame(rng.normal(size=(ROWS, 4)), columns=COLUMNS)
    noise = rng.normal(scale=0.5, size=ROWS)
    target = (frame.f0 + 0.5 * frame.f1 - frame.f2 + 0.25 * frame.f3 + noise > 0).astype(int)
    return frame, target


def train(tool: str, out: Path) -> dict[str, object]:
    from sklearn.linear_model import LogisticRegression

    frame, target = training_data()
    model = LogisticRegression(max_iter=1000).fit(frame, target)
    out.mkdir(parents=True, exist_ok=True)
    if tool == "loopml":
        import loopml as lm

        lm.models.save_model(model, out / "model", input_example=frame.head(5))
    elif tool == "mlflow":
        import mlflow.sklearn

        mlflow.sklearn.save_model(model, str(out / "model"), input_example=frame.head(5))
    elif tool == "bentoml":
        import bentoml

        bentoml.sklearn.save_model("bench-lr", model)  # into $BENTOML_HOME
    elif tool == "bare":
        import pickle

        (out / "model.pkl").write_bytes(pickle.dumps(model))
    else:
        raise SystemExit(f"unknown tool {tool!r}")
    return {"tool": tool, "coef": [round(float(c), 6) for c in model.coef_[0]]}


def serve_bare(model_path: Path, port: int) -> None:
    import pickle

    import pandas as pd
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    model = pickle.loads(model_path.read_bytes())

    async def invocations(request: Request) -> Response:
        body = await request.json()
        split = body["dataframe_split"]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        return JSONResponse({"predictions": model.predict(frame).tolist()})

    async def ping(request: Request) -> Response:
        return Response("ok")

    app = Starlette(
        routes=[Route("/invocations", invocations, methods=["POST"]), Route("/ping", ping)]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--tool", required=True)
    t.add_argument("--out", required=True, type=Path)
    b = sub.add_parser("bare")
    b.add_argument("--model", required=True, type=Path)
    b.add_argument("--port", required=True, type=int)
    args = parser.parse_args()
    if args.command == "train":
        os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
        print(json.dumps(train(args.tool, args.out)))
    else:
        serve_bare(args.model, args.port)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
