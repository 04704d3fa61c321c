"""Model serving: the inference server, deployments, routing, the prediction log, and
batch scoring of files.

    import loopml as lm
    app = lm.serving.create_serving_app("models:/pricing@champion")    # an ASGI app
    lm.serving.run_server("pricing@champion", port=8080)                 # `loopml serve`
    lm.serving.create_deployment("pricing", "pricing@champion",
                                 canary="pricing@challenger", canary_weight=10)
    lm.serving.serve_deployment("pricing", detach=True)   # a server that follows the record
    lm.serving.promote("pricing")                  # the canary's version takes all traffic
    df = lm.serving.read_predictions("pricing", since="2026-11-01")
    lm.serving.trace_prediction("pricing", request_id)   # model version, run, data, commit
    lm.serving.predict_file("pricing@champion", "day.parquet", "preds.parquet")  # batch

Importing this package imports no web framework or table library; they load when a server
is built or the log is read.
"""

from __future__ import annotations

from loopml.serving.batch import BatchResult, predict_file
from loopml.serving.deployments import (
    create_deployment,
    delete_deployment,
    deployment_history,
    deployment_status,
    get_deployment,
    list_deployments,
    promote,
    rollback,
    update_deployment,
)
from loopml.serving.predictions import read_predictions, summarize_predictions
from loopml.serving.process import serve_deployment, stop_deployment
from loopml.serving.routing import ROUTING_KEY_HEADER
from loopml.serving.server import create_serving_app, run_server
from loopml.serving.spec import DeploymentSpec, parse_canary
from loopml.serving.trace import PredictionTrace, trace_prediction

__all__ = [
    "ROUTING_KEY_HEADER",
    "BatchResult",
    "DeploymentSpec",
    "PredictionTrace",
    "create_deployment",
    "create_serving_app",
    "delete_deployment",
    "deployment_history",
    "deployment_status",
    "get_deployment",
    "list_deployments",
    "parse_canary",
    "predict_file",
    "promote",
    "read_predictions",
    "rollback",
    "run_server",
    "serve_deployment",
    "stop_deployment",
    "summarize_predictions",
    "trace_prediction",
    "update_deployment",
]
