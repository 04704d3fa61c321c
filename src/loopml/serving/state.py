"""The state of one model server: its routes, metrics, prediction log and shadow worker.

Everything a request needs is built once, at load or at a swap; the response path only
reads the current :class:`~loopml.serving.routing.RouteTable`, predicts, and hands a
:class:`~loopml.serving.predlog.LogEntry` to the log writer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.serving.batching import Batcher
from loopml.serving.metrics import ServingMetrics
from loopml.serving.predlog import LogEntry, PredictionLogger
from loopml.serving.routing import Route, RouteTable, ShadowWorker
from loopml.serving.runtime import ModelRuntime, ResolvedModel, load_runtime, resolve
from loopml.serving.validation import Features, Inputs

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.serving.spec import DeploymentSpec
    from loopml.tracking.client import TrackingClient

__all__ = ["ServingState", "idle_memory_mib"]

log = logging.getLogger("loopml.serving")


def idle_memory_mib() -> float:
    """This process's resident memory in MiB."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):  # not Linux: the peak is the best we have
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / 1024, 1)


@dataclass
class _ShadowJob:
    route: Route
    inputs: Inputs
    request_id: str
    timestamp_us: int


class ServingState:
    """The routes and services of one server (one process)."""

    def __init__(
        self,
        name: str,
        spec: DeploymentSpec,
        client: TrackingClient,
        settings: Settings,
        deployment: str | None = None,
        revision: int | None = None,
        metrics_dir: str | None = None,
    ) -> None:
        self.name = name
        self.spec = spec
        self.client = client
        self.settings = settings
        self.deployment = deployment
        self.revision = revision
        self.metrics = ServingMetrics(name, metrics_dir)
        self.executor = ThreadPoolExecutor(settings.serving_threads, "loopml-predict")
        self.predlog: PredictionLogger | None = None
        if spec.log_predictions:
            self.predlog = PredictionLogger(
                client.stores.blobs.bytes,
                name,
                queue_size=settings.prediction_log_queue_size,
                flush_interval=settings.prediction_log_flush_interval,
                max_rows=settings.prediction_log_max_rows,
                on_drop=self.metrics.log_dropped_one,
                on_written=self.metrics.log_written,
            )
        self.shadow_worker: ShadowWorker | None = None
        self.load_errors: dict[str, str] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = False
        started = time.perf_counter()
        self.table = self.build_table(spec, self.load(spec))
        self.startup_seconds = round(time.perf_counter() - started, 3)
        self.idle_memory_mib = idle_memory_mib()
        self.started_ms = int(time.time() * 1000)

    # -- building --------------------------------------------------------------------
    def load(self, spec: DeploymentSpec) -> dict[str, ModelRuntime]:
        """Resolve and load every route of a spec (at start-up: errors are raised)."""
        loaded: dict[str, ModelRuntime] = {}
        by_source: dict[str, ModelRuntime] = {}
        for route, ref in spec.routes().items():
            resolved = resolve(ref, self.client)
            runtime = by_source.get(resolved.source) or load_runtime(resolved, self.client)
            by_source[resolved.source] = loaded[route] = runtime
        return loaded

    def make_route(self, name: str, runtime: ModelRuntime, spec: DeploymentSpec) -> Route:
        """A route to a loaded version, with its own batcher."""
        model = runtime.name or self.name
        version = "" if runtime.version is None else str(runtime.version)

        def on_batch(rows: int) -> None:
            self.metrics.batch(model, version, name, rows)

        batcher = Batcher(
            runtime.predict,
            self.executor,
            spec.batch_rows(runtime.model.rows_independent),
            spec.max_latency_ms,
            on_batch,
        )
        return Route(name, runtime, batcher, model, version)

    def build_table(self, spec: DeploymentSpec, runtimes: dict[str, ModelRuntime]) -> RouteTable:
        """The route table of a spec over loaded versions (routes without one are left out)."""
        routes = {r: self.make_route(r, rt, spec) for r, rt in runtimes.items()}
        return RouteTable(
            routes["primary"],
            routes.get("canary"),
            spec.canary_weight if "canary" in routes else 0.0,
            routes.get("shadow"),
        )

    def install(self, table: RouteTable, spec: DeploymentSpec, revision: int | None) -> None:
        """Make ``table`` the one new requests use (call on the event loop's thread).
        Requests already running finish on the versions they started on."""
        old = self.table
        self.table, self.spec, self.revision = table, spec, revision
        kept = {id(r.batcher) for r in table.all()}
        for route in old.all():
            if id(route.batcher) not in kept:
                route.batcher.close()
        for route in table.all():
            if not any(o.runtime is route.runtime and o.name == route.name for o in old.all()):
                self.metrics.swapped(route.name)
                log.info(
                    "%s: %s now serves %s", self.name, route.name, route.runtime.resolved.label
                )
        if table.shadow is not None:
            self.shadow_worker_started()

    def shadow_worker_started(self) -> ShadowWorker:
        """The shadow worker (started on first need)."""
        if self.shadow_worker is None:
            self.shadow_worker = ShadowWorker(
                self._run_shadow, self.settings.shadow_queue_size, self.metrics.shadow_dropped_one
            )
        return self.shadow_worker

    # -- the response path -------------------------------------------------------------
    def finish(
        self,
        route: Route,
        protocol: str,
        request_id: str,
        timestamp_us: int,
        started: float,
        status: int,
        error: str | None,
        features: Features | None,
        outputs: dict[str, Any] | None,
        start: int = 0,
        stop: int = 0,
        inputs: Inputs | None = None,
    ) -> None:
        """Count, log and shadow one answered request (never blocks)."""
        seconds = time.perf_counter() - started
        self.metrics.observe(
            route.model_label, route.version_label, route.name, protocol, status, seconds
        )
        if self.predlog is not None:
            sliced = None if outputs is None else {k: v[start:stop] for k, v in outputs.items()}
            runtime = route.runtime
            self.predlog.record(
                LogEntry(
                    request_id,
                    timestamp_us,
                    route.name,
                    runtime.name,
                    runtime.version,
                    runtime.resolved.run_id,
                    status,
                    seconds * 1000,
                    error,
                    features.rows if features is not None else 1,
                    None if features is None else features.log_columns(),
                    sliced,
                )
            )
        shadow = self.table.shadow
        if shadow is not None and inputs is not None and self.shadow_worker is not None:
            self.shadow_worker.submit(_ShadowJob(shadow, inputs, request_id, timestamp_us))

    def _run_shadow(self, job: _ShadowJob) -> None:
        started = time.perf_counter()
        route = job.route
        features: Features | None = None
        outputs = None
        status, error = 200, None
        try:
            features = route.runtime.prepare(job.inputs)
            outputs = route.runtime.predict(features)
            self.metrics.batch(route.model_label, route.version_label, route.name, features.rows)
        except Exception as exc:
            from loopml.errors import LoopmlError

            status = exc.http_status if isinstance(exc, LoopmlError) else 500
            error = f"{type(exc).__name__}: {exc}"[:2000]
        rows = 0 if features is None else features.rows
        self.finish(
            route, "shadow", job.request_id, job.timestamp_us, started, status, error,
            features, outputs, 0, rows,
        )  # fmt: skip

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the background services (log writer, shadow worker)."""
        self.loop = loop
        if self.predlog is not None:
            self.predlog.start()
        if self.table.shadow is not None:
            self.shadow_worker_started()
        self.ready = True

    def close(self) -> None:
        """Stop cleanly: finish shadow requests, write the log, stop the threads."""
        self.ready = False
        if self.shadow_worker is not None:
            self.shadow_worker.close()
        if self.predlog is not None:
            self.predlog.close()
        self.executor.shutdown(wait=True)

    def status(self) -> dict[str, Any]:
        """What ``deploy status`` shows of a running server."""
        table = self.table
        routes = []
        for route in table.all():
            weight = None
            if route.name == "canary":
                weight = table.canary_weight
            elif route.name == "primary":
                weight = 100.0 - (table.canary_weight if table.canary else 0.0)
            routes.append(
                {
                    "route": route.name,
                    "ref": route.runtime.resolved.ref,
                    "model": route.model_label,
                    "version": route.version_label,
                    "source": route.runtime.resolved.source,
                    "traffic_percent": weight,
                    "load_seconds": round(route.runtime.load_seconds, 3),
                    "batch_rows": route.batcher.max_rows,
                }
            )
        return {
            "name": self.name,
            "deployment": self.deployment,
            "revision": self.revision,
            "pid": os.getpid(),
            "ready": self.ready,
            "started": self.started_ms,
            "startup_seconds": self.startup_seconds,
            "idle_memory_mib": self.idle_memory_mib,
            "memory_mib": idle_memory_mib(),
            "max_batch_size": self.spec.max_batch_size,
            "max_latency_ms": self.spec.max_latency_ms,
            "log_predictions": self.predlog is not None,
            "routes": routes,
            "load_errors": dict(self.load_errors),
            "stats": self.metrics.snapshot(),
        }


def resolved_versions(runtimes: dict[str, ResolvedModel]) -> dict[str, Any]:
    """Route -> the concrete version, as a deployment record stores it."""
    return {route: r.to_dict() for route, r in runtimes.items()}
