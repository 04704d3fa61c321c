"""Traffic between model versions: the route table, the canary split, the shadow worker.

A :class:`RouteTable` is immutable; a swap replaces the whole table at once, so a request
sees either the old routes or the new ones, never a mix. The canary takes ``weight``
percent of requests: at random, or — when the request carries the ``X-Routing-Key``
header — by a hash of the key, so one key always lands on the same side for a given weight.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loopml.serving.batching import Batcher
from loopml.serving.runtime import ModelRuntime

__all__ = ["ROUTING_KEY_HEADER", "Route", "RouteTable", "ShadowWorker", "key_bucket"]

log = logging.getLogger("loopml.serving")

ROUTING_KEY_HEADER = "x-routing-key"
_BUCKETS = 10_000  # weights resolve to 0.01 percent


def key_bucket(key: str) -> int:
    """The stable bucket (0-9999) of a routing key."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % _BUCKETS


@dataclass(frozen=True)
class Route:
    """One route (``primary``, ``canary`` or ``shadow``) to one loaded model version."""

    name: str
    runtime: ModelRuntime
    batcher: Batcher
    model_label: str
    version_label: str


@dataclass(frozen=True)
class RouteTable:
    """Where requests go: the primary, an optional weighted canary, an optional shadow."""

    primary: Route
    canary: Route | None = None
    canary_weight: float = 0.0
    shadow: Route | None = None

    def choose(self, key: str | None = None) -> Route:
        """The route for one request (the primary or the canary)."""
        canary = self.canary
        if canary is None or self.canary_weight <= 0:
            return self.primary
        if self.canary_weight >= 100:
            return canary
        bucket = key_bucket(key) if key else random.randrange(_BUCKETS)
        return canary if bucket < self.canary_weight * (_BUCKETS // 100) else self.primary

    def serving(self) -> list[Route]:
        """The routes that answer requests (primary, then canary)."""
        return [self.primary] if self.canary is None else [self.primary, self.canary]

    def all(self) -> list[Route]:
        """Every route, the shadow included."""
        return [*self.serving(), *([self.shadow] if self.shadow else [])]

    def by_version(self, version: str) -> Route | None:
        """The answering route whose model version is ``version``, if any."""
        for route in self.serving():
            if route.version_label == version:
                return route
        return None


class ShadowWorker:
    """Runs shadow requests on a thread of their own behind a bounded queue.

    A request that finds the queue full is dropped and counted (``on_drop``): the shadow
    never holds up the primary, however slow it is.
    """

    def __init__(
        self, handle: Callable[[Any], None], queue_size: int, on_drop: Callable[[], None]
    ) -> None:
        self._handle = handle
        self._on_drop = on_drop
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="loopml-shadow", daemon=True)
        self._thread.start()

    def submit(self, job: Any) -> bool:
        """Queue a shadow request; False (and counted) when the shadow is busy."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            self._on_drop()
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued shadow requests (up to ``timeout`` seconds), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._handle(job)
            except Exception:  # a shadow failure is logged, never raised to anyone
                log.exception("the shadow model failed")
