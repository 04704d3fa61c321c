"""`loopml serve`: one model behind the Open Inference Protocol v2 and /invocations."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._common import TrackingUriOption

BatchOption = Annotated[
    int,
    typer.Option(
        "--max-batch-size",
        min=0,
        help=(
            "Rows combined into one predict call; 1: no batching; 0: by the model's flavor "
            "(64 rows, but 1 for Python models)."
        ),
    ),
]
LatencyOption = Annotated[
    float,
    typer.Option("--max-latency-ms", min=0.0, help="How long a batch may wait for more rows (ms)."),
]
HostOption = Annotated[str, typer.Option("--host", help="Address to bind; 0.0.0.0 for all.")]
PortOption = Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")]
WorkersOption = Annotated[
    int, typer.Option("--workers", min=1, help="Server processes (for CPU-bound models).")
]


def serve(
    model_uri: Annotated[
        str,
        typer.Argument(
            help="models:/NAME@ALIAS, NAME@ALIAS, NAME/3, runs:/RUN_ID/PATH or a model folder."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Deployment name in metrics and the prediction log (default: the model's).",
        ),
    ] = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    workers: WorkersOption = 1,
    max_batch_size: BatchOption = 0,
    max_latency_ms: LatencyOption = 0.0,
    no_log_predictions: Annotated[
        bool, typer.Option("--no-log-predictions", help="Do not write the prediction log.")
    ] = False,
    auth_file: Annotated[
        str | None,
        typer.Option(
            "--auth-file", help="Require a token from this file (`loopml tokens create`)."
        ),
    ] = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Serve a model until stopped; follows the alias of a models:/NAME@ALIAS URI."""
    from loopml.config import load_settings
    from loopml.serving import run_server

    run_server(
        model_uri,
        name=name,
        host=host,
        port=port,
        workers=workers,
        max_batch_size=max_batch_size,
        max_latency_ms=max_latency_ms,
        log_predictions=not no_log_predictions,
        settings=load_settings(tracking_uri=tracking_uri, serving_auth_file=auth_file),
    )
