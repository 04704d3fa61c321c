"""Prometheus metrics of a model server, and the figures ``deploy status`` shows from them.

Metrics (labels: ``deployment``, ``model``, ``version``, ``route``; requests also by
``protocol`` and ``status``):

    loopml_serving_requests_total                  requests answered
    loopml_serving_request_duration_seconds        latency histogram (time in the server)
    loopml_serving_batch_rows                      rows per predict call (histogram)
    loopml_serving_prediction_log_rows_total       rows written to the prediction log
    loopml_serving_prediction_log_dropped_total    log entries dropped on a full queue
    loopml_serving_shadow_dropped_total            shadow requests dropped (shadow busy)
    loopml_serving_model_swaps_total               versions swapped in while serving
    loopml_serving_model_load_errors_total         versions that failed to load

With several worker processes, the server runs prometheus_client's multiprocess mode (a
shared folder of per-process files), so ``/metrics`` and the status figures cover all
workers whichever one answers.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["LATENCY_BUCKETS", "ServingMetrics", "quantile"]

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03,
    0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536)
_MODEL = ("deployment", "model", "version", "route")


class ServingMetrics:
    """The metrics of one server (process).

    Args:
        multiprocess_dir: prometheus_client's multiprocess folder when the server runs
            several workers (its ``PROMETHEUS_MULTIPROC_DIR``), else None.
    """

    def __init__(self, deployment: str, multiprocess_dir: str | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.deployment = deployment
        self.multiprocess_dir = multiprocess_dir
        # One registry per server; in multiprocess mode values go to the shared files and
        # are collected from there instead.
        self.registry: Any = None if multiprocess_dir else CollectorRegistry()
        reg = self.registry
        self.requests = Counter(
            "loopml_serving_requests",
            "Requests answered, by model version, route, protocol and HTTP status.",
            [*_MODEL, "protocol", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "loopml_serving_request_duration_seconds",
            "Time a request spent in the server.",
            list(_MODEL),
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.batch_rows = Histogram(
            "loopml_serving_batch_rows",
            "Rows per predict call (a batch of one or more requests).",
            list(_MODEL),
            buckets=_ROW_BUCKETS,
            registry=reg,
        )
        self.log_rows = Counter(
            "loopml_serving_prediction_log_rows",
            "Rows written to the prediction log.",
            ["deployment"],
            registry=reg,
        )
        self.log_dropped = Counter(
            "loopml_serving_prediction_log_dropped",
            "Prediction log entries dropped because the writer's queue was full.",
            ["deployment"],
            registry=reg,
        )
        self.shadow_dropped = Counter(
            "loopml_serving_shadow_dropped",
            "Shadow requests dropped because the shadow model was busy.",
            ["deployment"],
            registry=reg,
        )
        self.swaps = Counter(
            "loopml_serving_model_swaps",
            "Model versions swapped in while serving.",
            ["deployment", "route"],
            registry=reg,
        )
        self.load_errors = Counter(
            "loopml_serving_model_load_errors",
            "Model versions that failed to load (the previous one kept serving).",
            ["deployment", "route"],
            registry=reg,
        )
        self._children: dict[tuple[Any, ...], Any] = {}
        self._log_dropped = self.log_dropped.labels(deployment)
        self._log_rows = self.log_rows.labels(deployment)
        self._shadow_dropped = self.shadow_dropped.labels(deployment)

    def _child(self, metric: Any, labels: tuple[Any, ...]) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(
        self, model: str, version: str, route: str, protocol: str, status: int, seconds: float
    ) -> None:
        """One answered request."""
        labels = (self.deployment, model, version, route)
        self._child(self.requests, (*labels, protocol, str(status))).inc()
        self._child(self.latency, labels).observe(seconds)

    def batch(self, model: str, version: str, route: str, rows: int) -> None:
        """One predict call over ``rows`` rows."""
        self._child(self.batch_rows, (self.deployment, model, version, route)).observe(rows)

    def log_dropped_one(self) -> None:
        """A prediction log entry was dropped."""
        self._log_dropped.inc()

    def log_written(self, rows: int) -> None:
        """Rows reached the prediction log."""
        self._log_rows.inc(rows)

    def shadow_dropped_one(self) -> None:
        """A shadow request was dropped."""
        self._shadow_dropped.inc()

    def swapped(self, route: str) -> None:
        """A new version took over a route."""
        self._child(self.swaps, (self.deployment, route)).inc()

    def load_failed(self, route: str) -> None:
        """A version failed to load."""
        self._child(self.load_errors, (self.deployment, route)).inc()

    # -- reading ---------------------------------------------------------------------
    def _collecting(self) -> Any:
        if self.registry is not None:
            return self.registry
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return registry

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self._collecting()))

    def snapshot(self) -> dict[str, Any]:
        """Per model version and route: requests, client (4xx) and server (5xx) errors,
        latency p50/p99 (ms, from the histogram), mean rows per predict call; and the
        drop counters."""
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        counters: dict[str, float] = {}

        def row(labels: dict[str, str]) -> dict[str, Any]:
            key = (labels["route"], labels["model"], labels["version"])
            return rows.setdefault(
                key,
                {
                    "route": key[0],
                    "model": key[1],
                    "version": key[2],
                    "requests": 0,
                    "client_errors": 0,
                    "server_errors": 0,
                    "_buckets": {},
                    "_batches": 0.0,
                    "_batch_rows": 0.0,
                },
            )

        for family in self._collecting().collect():
            for sample in family.samples:
                labels = sample.labels
                if labels.get("deployment", self.deployment) != self.deployment:
                    continue
                name = sample.name
                if name == "loopml_serving_requests_total":
                    r = row(labels)
                    r["requests"] += int(sample.value)
                    status = int(labels["status"])
                    if 400 <= status < 500:
                        r["client_errors"] += int(sample.value)
                    elif status >= 500:
                        r["server_errors"] += int(sample.value)
                elif name == "loopml_serving_request_duration_seconds_bucket":
                    bound = float(labels["le"])
                    buckets = row(labels)["_buckets"]
                    buckets[bound] = buckets.get(bound, 0.0) + sample.value
                elif name == "loopml_serving_batch_rows_count":
                    row(labels)["_batches"] += sample.value
                elif name == "loopml_serving_batch_rows_sum":
                    row(labels)["_batch_rows"] += sample.value
                elif name.endswith("_total") and family.name in (
                    "loopml_serving_prediction_log_rows",
                    "loopml_serving_prediction_log_dropped",
                    "loopml_serving_shadow_dropped",
                    "loopml_serving_model_swaps",
                    "loopml_serving_model_load_errors",
                ):
                    counters[family.name] = counters.get(family.name, 0.0) + sample.value
        out = []
        for r in rows.values():
            buckets = sorted(r.pop("_buckets").items())
            batches, batch_rows = r.pop("_batches"), r.pop("_batch_rows")
            r["latency_p50_ms"] = _ms(quantile(buckets, 0.5))
            r["latency_p99_ms"] = _ms(quantile(buckets, 0.99))
            r["mean_batch_rows"] = round(batch_rows / batches, 2) if batches else None
            out.append(r)
        out.sort(key=lambda r: (r["route"], r["model"], r["version"]))
        return {
            "routes": out,
            "prediction_log_rows": int(counters.get("loopml_serving_prediction_log_rows", 0)),
            "prediction_log_dropped": int(counters.get("loopml_serving_prediction_log_dropped", 0)),
            "shadow_dropped": int(counters.get("loopml_serving_shadow_dropped", 0)),
            "swaps": int(counters.get("loopml_serving_model_swaps", 0)),
            "load_errors": int(counters.get("loopml_serving_model_load_errors", 0)),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The ``q`` quantile from cumulative histogram buckets ``(upper bound, count)``, by
    linear interpolation inside the bucket it falls in (as PromQL's histogram_quantile)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, count
    return lower
