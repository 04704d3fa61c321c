"""Executors: where step executions run.

- ``inline`` — in this process, one after another, outputs handed over in memory (and
  stored too, for caching and lineage);
- ``process`` — a pool of worker processes: independent steps and map items run in
  parallel; inputs travel through the content-addressed store;
- ``ray`` — each execution is a Ray task (``pip install loopml[ray]``), with the step's
  ``resources`` as Ray resources; inputs travel through the store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from loopml.errors import ConfigurationError, InvalidInputError
from loopml.pipelines.tasks import TaskResult, TaskSpec, run_task

__all__ = ["EXECUTORS", "make_executor"]

EXECUTORS = ("inline", "process", "ray")


def _run_pickled(payload: bytes) -> TaskResult:
    import cloudpickle

    spec: TaskSpec = cloudpickle.loads(payload)
    return run_task(spec)


def _payload(spec: TaskSpec) -> bytes:
    import sys

    import cloudpickle

    import loopml as lm
    from loopml.pipelines.cache import is_project_code

    spec.tracking_uri = lm.get_tracking_uri()
    # Project code travels by value: a worker (or a Ray node) need not be able to import
    # the module the step was defined in (a script, a notebook, a file loaded by path).
    module = sys.modules.get(getattr(spec.fn, "__module__", "") or "")
    if module is not None and module.__name__ != "__main__" and is_project_code(spec.fn):
        cloudpickle.register_pickle_by_value(module)
    return bytes(cloudpickle.dumps(spec))


class InlineExecutor:
    """Runs each execution at once, in this process."""

    in_process = True

    def submit(self, spec: TaskSpec, resources: Mapping[str, float]) -> Future[TaskResult]:
        future: Future[TaskResult] = Future()
        try:
            future.set_result(run_task(spec))
        except BaseException as exc:
            future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        return future

    def close(self) -> None:
        """Nothing to release."""


class ProcessExecutor:
    """A pool of worker processes (started by forkserver: no state inherited by fork)."""

    in_process = False

    def __init__(self, max_workers: int | None) -> None:
        # Imported here: multiprocessing costs an inline run ~15 ms of start-up.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        workers = max_workers or os.cpu_count() or 2
        if workers < 1:
            raise InvalidInputError("max_workers must be at least 1")
        context = multiprocessing.get_context("forkserver")
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def submit(self, spec: TaskSpec, resources: Mapping[str, float]) -> Future[TaskResult]:
        return self.pool.submit(_run_pickled, _payload(spec))

    def close(self) -> None:
        """Stop the workers (a step still running past its timeout is killed)."""
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=5)  # idle workers exit on their own
            if process.is_alive():
                process.kill()  # one still running past its timeout


class RayExecutor:
    """Each execution is a Ray task; ``resources`` ``cpu``/``gpu``/others map to Ray's."""

    in_process = False

    def __init__(self, address: str | None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigurationError(
                "the ray executor needs Ray: pip install 'loopml[ray]'"
            ) from exc
        self.ray = ray
        if not ray.is_initialized():
            ray.init(
                address=address,
                ignore_reinit_error=True,
                include_dashboard=False,
                log_to_driver=True,
            )
        self.remote = ray.remote(_run_pickled)

    def submit(self, spec: TaskSpec, resources: Mapping[str, float]) -> Future[TaskResult]:
        options: dict[str, Any] = {"max_retries": 0}
        extra = {k: float(v) for k, v in resources.items() if k not in ("cpu", "gpu")}
        if "cpu" in resources:
            options["num_cpus"] = float(resources["cpu"])
        if "gpu" in resources:
            options["num_gpus"] = float(resources["gpu"])
        if extra:
            options["resources"] = extra
        future: Future[TaskResult] = self.remote.options(**options).remote(_payload(spec)).future()
        return future

    def close(self) -> None:
        """Ray stays up for the process (starting it again is slow)."""


def make_executor(name: str, max_workers: int | None = None, address: str | None = None) -> Any:
    """The executor named ``inline``, ``process`` or ``ray``.

    Raises:
        InvalidInputError: an unknown name.
        ConfigurationError: Ray is not installed.
    """
    if name == "inline":
        return InlineExecutor()
    if name == "process":
        return ProcessExecutor(max_workers)
    if name == "ray":
        return RayExecutor(address)
    raise InvalidInputError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
