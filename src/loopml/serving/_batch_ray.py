"""Batch scoring on Ray: chunks are scored by a pool of actors, each of which loads the
model once.

The packaged model's files go into Ray's object store once (``ray.put``); every actor
writes them to a temporary folder and loads them with their digests verified, so workers
need no access to the tracking store. Chunks are sent round-robin with a bounded number in
flight (two per actor), and results come back in input order.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import ConfigurationError, InvalidInputError, ScoringError
from loopml.serving._batch_score import ChunkFailure, score_table

if TYPE_CHECKING:
    from loopml.models import LoadedModel

__all__ = ["RayPool"]

_IN_FLIGHT_PER_ACTOR = 2


def _pack(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class _ScoringActor:
    """Holds one loaded model; scores the chunks sent to it."""

    def __init__(self, files: dict[str, bytes], proba: bool) -> None:
        from loopml.models import load

        self._tmp = tempfile.TemporaryDirectory(prefix="loopml-ray-model-")
        root = Path(self._tmp.name)
        for name, data in files.items():
            target = root.joinpath(*name.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self._model = load(root, verify=True)
        self._proba = proba

    def score(self, table: Any) -> tuple[str, Any, str]:
        try:
            return ("ok", score_table(self._model, table, self._proba), "")
        except ChunkFailure as exc:
            return ("error", exc.kind, exc.message)


class RayPool:
    """A pool of scoring actors on a Ray cluster (a local one is started when none is).

    Args:
        model: the loaded model (its files are shipped to the actors).
        workers: the number of actors (default: the cluster's CPUs).
        address: a Ray cluster to join (default: ``RAY_ADDRESS``, else a local instance).

    Raises:
        ConfigurationError: Ray is not installed.
        InvalidInputError: the model has no local folder to ship, or ``workers`` < 1.
    """

    def __init__(
        self, model: LoadedModel, proba: bool, workers: int | None, address: str | None
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigurationError(
                "the ray executor needs Ray: pip install 'loopml[ray]'"
            ) from exc
        if workers is not None and workers < 1:
            raise InvalidInputError(f"workers must be at least 1, got {workers}")
        if model.folder is None:
            raise InvalidInputError("the ray executor needs a model loaded from its files")
        self.ray: Any = ray  # typed loosely: Ray's own stubs are partial
        if not self.ray.is_initialized():
            self.ray.init(
                address=address,
                ignore_reinit_error=True,
                include_dashboard=False,
                log_to_driver=True,
            )
        cpus = max(1.0, float(self.ray.cluster_resources().get("CPU", 1.0)))
        self.size = workers or int(cpus)
        # More actors than CPUs share them, rather than waiting for CPUs that never free up.
        per_actor = min(1.0, cpus / self.size)
        files = self.ray.put(_pack(model.folder))
        actor = self.ray.remote(num_cpus=per_actor)(_ScoringActor)
        self.actors: list[Any] = [actor.remote(files, proba) for _ in range(self.size)]

    def map(self, chunks: Iterator[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
        """``(context, prediction table or ChunkFailure)`` for each ``(context, features)``,
        in input order.

        Raises:
            ScoringError: a worker died or could not load the model.
        """
        window: deque[tuple[Any, Any]] = deque()
        limit = self.size * _IN_FLIGHT_PER_ACTOR
        for n, (context, features) in enumerate(chunks):
            window.append((context, self.actors[n % self.size].score.remote(features)))
            if len(window) >= limit:
                yield self._take(*window.popleft())
        while window:
            yield self._take(*window.popleft())

    def _take(self, context: Any, ref: Any) -> tuple[Any, Any]:
        try:
            status, value, message = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None) or exc
            raise ScoringError(
                f"a Ray worker failed: {type(cause).__name__}: {str(cause).strip()[-1500:]}"
            ) from exc
        if status != "ok":
            return context, ChunkFailure(value, message)
        return context, value

    def close(self) -> None:
        """Stop the actors (Ray itself stays up: starting it again is slow)."""
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
