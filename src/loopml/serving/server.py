"""Building and running a model server: ``create_serving_app`` and ``run_server``.

    app = create_serving_app("models:/pricing@champion")      # any ASGI server can run it
    run_server("models:/pricing@champion", port=8080)          # uvicorn, as `loopml serve`
    run_server(deployment="pricing")                           # as `loopml deploy serve`

With ``workers > 1`` the socket is bound once and shared by worker processes (uvicorn's
supervisor); each loads the models, and the metrics are shared through prometheus_client's
multiprocess mode. A server for a deployment records its endpoint (address, pid, start-up
figures) in the deployment record once it is ready, and clears it when it stops.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loopml.config import Settings, load_settings
from loopml.errors import InvalidInputError
from loopml.serving.spec import DeploymentSpec, default_name

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from loopml.tracking.client import TrackingClient

__all__ = ["create_serving_app", "run_server"]

log = logging.getLogger("loopml.serving")


def _require_serving_extra() -> None:
    try:
        import orjson  # noqa: F401
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        from loopml.errors import ConfigurationError

        raise ConfigurationError(
            f"model serving needs {exc.name}: pip install 'loopml[serving]'"
        ) from exc


def create_serving_app(
    model: str | DeploymentSpec | None = None,
    *,
    name: str | None = None,
    deployment: str | None = None,
    max_batch_size: int = 0,
    max_latency_ms: float = 0.0,
    log_predictions: bool = True,
    settings: Settings | None = None,
    client: TrackingClient | None = None,
    metrics_dir: str | None = None,
) -> Starlette:
    """An inference server (a Starlette ASGI app) with its models loaded.

    Args:
        model: what to serve: ``models:/pricing@champion``, ``pricing/3``, ``runs:/…``, a
            model folder, or a :class:`DeploymentSpec`. Omit it to serve ``deployment``.
        name: the deployment name in metrics and the prediction log (default: the
            registered model's name, else the folder's).
        deployment: serve this deployment record and follow its changes.
        max_batch_size, max_latency_ms: adaptive batching (rows per predict call; how long
            a batch may wait for more). ``max_batch_size=1`` predicts each request alone;
            0 chooses by the model's flavor (see :attr:`DeploymentSpec.max_batch_size`).
        log_predictions: append every request to the prediction log.
        metrics_dir: prometheus_client's multiprocess folder (set by ``run_server`` for
            several workers).

    Raises:
        NotFoundError: no such deployment, registered model, version or alias.
        ModelLoadError: a model that cannot be loaded here.
    """
    _require_serving_extra()
    from loopml.serving.app import build_app
    from loopml.serving.state import ServingState
    from loopml.storage.metadata.datasets_base import check_dataset_name
    from loopml.tracking.client import TrackingClient

    if client is None:
        if settings is None:
            from loopml.tracking.fluent import get_client

            client = get_client()  # the process's store (set_tracking_uri, LOOPML_*)
        else:
            client = TrackingClient(settings=settings)
    settings = settings if settings is not None else client.settings  # the server's knobs
    revision = None
    if deployment is not None:
        record = client.stores.metadata.get_deployment(deployment)
        spec = DeploymentSpec.from_dict(record.spec)
        name, revision = deployment, record.revision
    elif model is None:
        raise InvalidInputError("pass a model to serve, or the name of a deployment")
    elif isinstance(model, DeploymentSpec):
        spec = model
    else:
        spec = DeploymentSpec(
            model=model,
            max_batch_size=max_batch_size,
            max_latency_ms=max_latency_ms,
            log_predictions=log_predictions,
        )
    name = check_dataset_name(name or default_name(spec.model))
    state = ServingState(name, spec, client, settings, deployment, revision, metrics_dir)
    return build_app(state)


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def _record_endpoint(
    settings: Settings,
    deployment: str,
    url: str,
    workers: int,
    stop: threading.Event,
) -> None:
    """Wait until the server answers ready, then write its endpoint into the record."""
    import httpx

    from loopml.tracking.client import TrackingClient

    stats: dict[str, Any] = {}
    while not stop.is_set():
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                stats = httpx.get(f"{url}/stats", timeout=5).json()
                break
        except httpx.HTTPError:
            pass
        stop.wait(0.2)
    if stop.is_set():
        return
    endpoint = {
        "url": url,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "workers": workers,
        "started": int(time.time() * 1000),
        "startup_seconds": stats.get("startup_seconds"),
        "idle_memory_mib": stats.get("idle_memory_mib"),
    }
    client = TrackingClient(settings=settings)
    try:
        client.stores.metadata.set_deployment_endpoint(deployment, endpoint)
    except Exception:  # the record is gone or the store is down: serve on regardless
        log.warning("%s: could not record the endpoint %s", deployment, url, exc_info=True)
    finally:
        client.close()


def _clear_endpoint(settings: Settings, deployment: str) -> None:
    from loopml.tracking.client import TrackingClient

    client = TrackingClient(settings=settings)
    try:
        with contextlib.suppress(Exception):  # gone, or the store is down: nothing to clear
            client.stores.metadata.set_deployment_endpoint(
                deployment, None, expected_pid=os.getpid()
            )
    finally:
        client.close()


def _log_to_console() -> None:
    logger = logging.getLogger("loopml.serving")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def run_server(
    model: str | None = None,
    *,
    name: str | None = None,
    deployment: str | None = None,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    max_batch_size: int = 0,
    max_latency_ms: float = 0.0,
    log_predictions: bool = True,
    settings: Settings | None = None,
    log_level: str = "info",
) -> None:
    """Serve until stopped (Ctrl-C or SIGTERM), with uvicorn (uvloop, httptools).

    For a ``deployment``, host, port and workers default to the record's spec.

    Raises:
        NotFoundError, ModelLoadError: as :func:`create_serving_app`, before listening.
    """
    _require_serving_extra()
    import uvicorn

    settings = settings or load_settings()
    _log_to_console()
    factory_args: dict[str, Any] = {"settings": settings}
    if deployment is not None:
        from loopml.tracking.client import TrackingClient

        client = TrackingClient(settings=settings)
        try:
            spec = DeploymentSpec.from_dict(client.stores.metadata.get_deployment(deployment).spec)
        finally:
            client.close()
        factory_args["deployment"] = deployment
    else:
        if model is None:
            raise InvalidInputError("pass a model to serve, or the name of a deployment")
        spec = DeploymentSpec(
            model=model,
            max_batch_size=max_batch_size,
            max_latency_ms=max_latency_ms,
            log_predictions=log_predictions,
        )
        factory_args.update(model=spec, name=name)
    host = host or spec.host
    port = spec.port if port is None else port
    workers = workers or spec.workers
    if workers < 1:
        raise InvalidInputError("--workers must be at least 1")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        "http": "httptools",
        "loop": "uvloop",
        "timeout_graceful_shutdown": 30,
    }
    stop = threading.Event()
    metrics_dir = None
    target: Callable[[], None]
    try:
        if workers == 1:
            app = create_serving_app(**factory_args)
            config = uvicorn.Config(app, **options)
            sock = config.bind_socket()
            server = uvicorn.Server(config)
            target = functools.partial(server.run, sockets=[sock])
        else:
            # Fail fast in this process (a bad URI, a missing model) before spawning workers.
            _check_loadable(spec, settings)
            metrics_dir = tempfile.mkdtemp(prefix="loopml-metrics-")
            # prometheus_client reads this in each worker to share its metrics through files.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            factory = functools.partial(_make_app, factory_args, metrics_dir)
            config = uvicorn.Config(factory, factory=True, workers=workers, **options)
            sock = config.bind_socket()
            from uvicorn.supervisors import Multiprocess

            target = Multiprocess(config, sockets=[sock]).run
        bound = sock.getsockname()[1]
        url = f"http://{_url_host(host)}:{bound}"
        log.info("serving on %s with %d worker(s)", url, workers)
        if deployment is not None:
            threading.Thread(
                target=_record_endpoint,
                args=(settings, deployment, url, workers, stop),
                name="loopml-endpoint",
                daemon=True,
            ).start()
        target()
    finally:
        stop.set()
        if deployment is not None:
            _clear_endpoint(settings, deployment)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _make_app(factory_args: dict[str, Any], metrics_dir: str) -> Starlette:
    _log_to_console()
    return create_serving_app(**factory_args, metrics_dir=metrics_dir)


def _check_loadable(spec: DeploymentSpec, settings: Settings) -> None:
    from loopml.models import read_manifest
    from loopml.serving.runtime import resolve
    from loopml.tracking.client import TrackingClient

    client = TrackingClient(settings=settings)
    try:
        for ref in spec.routes().values():
            resolved = resolve(ref, client)
            read_manifest(resolved.source, client)
    finally:
        client.close()
