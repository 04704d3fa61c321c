"""The fluent tracking API: ``lm.start_run()``, ``lm.log_metric()`` and friends.

One default :class:`TrackingClient` per process (made on first use from the settings, or by
:func:`set_tracking_uri`), an active experiment, and a stack of active runs per execution
context (``contextvars``), so threads and asyncio tasks keep their own runs.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from loopml.config import load_settings
from loopml.entities import Experiment, Metric, PagedList, Run, RunStatus, ViewType
from loopml.errors import InvalidInputError, InvalidStateError, LoopmlError
from loopml.storage.metadata import DEFAULT_EXPERIMENT_ID
from loopml.tracking.client import TrackingClient, now_ms
from loopml.tracking.context import current_user

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "get_client",
    "get_tracking_uri",
    "last_active_run",
    "set_experiment",
    "set_tracking_uri",
    "start_run",
]

_lock = threading.RLock()
_client: TrackingClient | None = None
_experiment_id: str | None = None
_last_run_id: str | None = None
_run_stack: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "loopml_run_stack", default=()
)
_pending_seed: int | None = None
_hook_installed = False


def get_client() -> TrackingClient:
    """The process's default client (created from the settings on first use)."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = TrackingClient(settings=load_settings())
    return _client


def set_tracking_uri(uri: str) -> None:
    """Point the fluent API at another store: a folder, a database URL or a server URL."""
    global _client, _experiment_id
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInputError("tracking URI must be a non-empty string")
    with _lock:
        if _client is not None:
            _client.close()
        _client = TrackingClient(tracking_uri=str(uri))
        _experiment_id = None


def get_tracking_uri() -> str:
    """The tracking URI the fluent API writes to."""
    return get_client().tracking_uri


def set_experiment(name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment the active one, creating it (by name) when it does not exist."""
    global _experiment_id
    client = get_client()
    if (name is None) == (experiment_id is None):
        raise InvalidInputError("give exactly one of name or experiment_id")
    if name is None:
        exp = client.get_experiment(str(experiment_id))
    else:
        found = client.get_experiment_by_name(name)
        if found is None:
            from loopml.errors import AlreadyExistsError

            with contextlib.suppress(AlreadyExistsError):  # another process made it first
                client.create_experiment(name)
            found = client.get_experiment_by_name(name)
        if found is None:
            raise InvalidStateError(f"experiment {name!r} vanished while it was being created")
        exp = found
    if exp.lifecycle_stage != "active":
        raise InvalidStateError(
            f"experiment {exp.name!r} is deleted; restore it with "
            f"`loopml experiments restore {exp.experiment_id}`"
        )
    _experiment_id = exp.experiment_id
    return exp


class ActiveRun:
    """The run a ``with lm.start_run()`` block logs to; ends it on exit.

    A block that ends normally leaves the run FINISHED, an exception leaves it FAILED, and
    Ctrl-C (KeyboardInterrupt) leaves it KILLED.
    """

    def __init__(self, run: Run, token: contextvars.Token[tuple[str, ...]] | None = None) -> None:
        self._run = run
        self._token = token

    @property
    def info(self) -> Any:
        """The run's info (id, name, experiment, status, times)."""
        return self._run.info

    @property
    def data(self) -> Any:
        """The run's data as it was when the run started."""
        return self._run.data

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self._run.info.run_id

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        end_run(status, _run_id=self.run_id)

    def __repr__(self) -> str:
        return f"ActiveRun(run_id={self.run_id!r}, name={self._run.info.run_name!r})"


def _capture_tags(client: TrackingClient) -> tuple[dict[str, str], dict[str, object] | None]:
    if not client.settings.capture_context:
        return {}, None
    from loopml.tracking.context import capture_run_context

    ctx = capture_run_context(packages=client.settings.capture_packages)
    return dict(ctx.tags), ctx.environment


def start_run(
    run_name: str | None = None,
    *,
    run_id: str | None = None,
    experiment_id: str | None = None,
    experiment_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> ActiveRun:
    """Start a new run (or resume ``run_id``) and make it the active one.

    Args:
        run_name: a readable name; generated when omitted.
        run_id: resume this existing run instead of creating one.
        experiment_id / experiment_name: where the run goes; defaults to the active
            experiment (``set_experiment``), else the ``experiment_name`` setting
            (``LOOPML_EXPERIMENT_NAME``), else "Default".
        nested: start a child of the active run; without it, starting a run while one is
            active is an error.
        tags: tags to set on the new run.
        description: stored as the ``loopml.note.content`` tag.

    Raises:
        InvalidStateError: a run is already active and ``nested`` is False.
    """
    client = get_client()
    stack = _run_stack.get()
    if stack and not nested:
        raise InvalidStateError(
            f"run {stack[-1]} is already active; end it first, or pass nested=True for a child run"
        )
    if run_id is not None:
        run = client.get_run(run_id)
        if run.info.lifecycle_stage != "active":
            raise InvalidStateError(f"run {run_id} is deleted; restore it before resuming")
        if run.info.status != RunStatus.RUNNING:  # a pipeline's step runs are made RUNNING
            client.update_run(run_id, status=RunStatus.RUNNING)
    else:
        if experiment_name is not None:
            exp_id = set_experiment(experiment_name).experiment_id
        else:
            exp_id = experiment_id or _experiment_id or _default_experiment(client)
        tag_map: dict[str, str] = {}
        context_tags, environment = _capture_tags(client)
        tag_map.update(context_tags)
        if _pending_seed is not None:
            tag_map["loopml.seed"] = str(_pending_seed)
        if description:
            tag_map["loopml.note.content"] = description
        if client.settings.run_tags:
            from loopml.config import parse_run_tags

            tag_map.update(parse_run_tags(client.settings.run_tags))
        tag_map.update({k: str(v) for k, v in (tags or {}).items()})
        run = client.create_run(
            exp_id,
            run_name=run_name,
            tags=tag_map,
            parent_run_id=stack[-1] if stack else None,
            user_id=current_user(),
        )
        if environment is not None:
            client.log_dict(run.info.run_id, environment, "_loopml/environment.json")
    token = _run_stack.set((*stack, run.info.run_id))
    _install_exit_hook()
    global _last_run_id
    _last_run_id = run.info.run_id
    return ActiveRun(run, token)


def _default_experiment(client: TrackingClient) -> str:
    name = client.settings.experiment_name
    return set_experiment(name).experiment_id if name else DEFAULT_EXPERIMENT_ID


def end_run(status: RunStatus | str = RunStatus.FINISHED, *, _run_id: str | None = None) -> None:
    """End the active run (flushing its metrics) with a status; no-op without one."""
    stack = _run_stack.get()
    if not stack:
        return
    target = _run_id or stack[-1]
    if target in stack:
        # Ending a parent also ends its still-open children (innermost first).
        index = stack.index(target)
        for child in reversed(stack[index + 1 :]):
            _terminate(child, status)
        _run_stack.set(stack[:index])
    _terminate(target, status)


def _terminate(run_id: str, status: RunStatus | str) -> None:
    get_client().set_terminated(run_id, status)


def active_run() -> Run | None:
    """The active run (fresh from the store), or None."""
    stack = _run_stack.get()
    return get_client().get_run(stack[-1]) if stack else None


def active_run_id() -> str | None:
    """The id of the active run, or None (no store access)."""
    stack = _run_stack.get()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The run started most recently in this process, even if it has ended."""
    return get_client().get_run(_last_run_id) if _last_run_id else None


def require_run_id() -> str:
    """The active run's id; starts a run when none is active (as MLflow does)."""
    stack = _run_stack.get()
    if stack:
        return stack[-1]
    return start_run().run_id


def remember_seed(seed: int) -> None:
    """Record a seed on the active run, and on runs started later in this process."""
    global _pending_seed
    _pending_seed = seed
    stack = _run_stack.get()
    if stack:
        get_client().set_tag(stack[-1], "loopml.seed", str(seed))


def _install_exit_hook() -> None:
    """Mark runs still open when an uncaught exception ends the program FAILED (Ctrl-C: KILLED)."""
    global _hook_installed
    if _hook_installed:
        return
    _hook_installed = True
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        status = RunStatus.KILLED if issubclass(exc_type, KeyboardInterrupt) else RunStatus.FAILED
        _end_all(status)
        previous(exc_type, exc, tb)

    sys.excepthook = hook
    import atexit

    atexit.register(_end_all, RunStatus.FINISHED)


def _end_all(status: RunStatus) -> None:
    while _run_stack.get():
        try:
            end_run(status)
        except LoopmlError as exc:
            print(f"loopml: could not end run: {exc}", file=sys.stderr)
            _run_stack.set(_run_stack.get()[:-1])


def search_runs(
    experiments: str | Sequence[str] | None = None,
    filter: str = "",
    order_by: Sequence[str] | None = None,
    max_results: int = 1000,
    view: ViewType | str = ViewType.ACTIVE_ONLY,
    page_token: str | None = None,
) -> PagedList[Run]:
    """Runs of one or more experiments (names or ids) matching an MLflow-style filter.

    Example: ``search_runs("pricing", filter="metrics.rmse < 0.3 and params.depth = '6'",
    order_by=["metrics.rmse ASC"])``. Without experiments, the active experiment is searched.
    """
    client = get_client()
    if experiments is None:
        ids = [_experiment_id or _default_experiment(client)]
    else:
        names = [experiments] if isinstance(experiments, str) else list(experiments)
        ids = [client.resolve_experiment(n).experiment_id for n in names]
    return client.search_runs(ids, filter, view, max_results, order_by, page_token)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """Every (step, timestamp, value) point of a metric of a run."""
    return get_client().get_metric_history(run_id, key)


def now() -> int:
    """Milliseconds since the epoch (the unit of every loopml timestamp)."""
    return now_ms()
