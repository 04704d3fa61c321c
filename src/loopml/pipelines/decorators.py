"""``@step`` and ``@pipeline``: plain Python functions become cached, tracked steps.

from loopml import step, pipeline

@step
def load(day: str) -> pd.DataFrame: ...

@step(retries=2, timeout=600)
def train(df: pd.DataFrame, lr: float = 0.1) -> GradientBoostingRegressor: ...

@pipeline
def training(day: str = "2026-11-01", lr: float = 0.1):
    df = load(day)
    train(df, lr=lr)

training.run(lr=0.05)                              # inline; executor="process" too
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from loopml.errors import InvalidInputError, PipelineDefinitionError
from loopml.pipelines.graph import StepOutput, building, current_graph

if TYPE_CHECKING:
    from loopml.pipelines.runner import PipelineRun

__all__ = ["Pipeline", "Step", "pipeline", "step"]


class Step:
    """A step: its function and how it runs (see :func:`step`)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        version: str | None = None,
        cache: bool = True,
        deterministic: bool = True,
        retries: int = 0,
        retry_backoff: float = 1.0,
        timeout: float | None = None,
        catch: bool = False,
        environment: Sequence[str] = (),
        resources: Mapping[str, float] | None = None,
    ) -> None:
        if not callable(fn):
            raise InvalidInputError(f"@step decorates functions, not {fn!r}")
        if retries < 0 or (timeout is not None and timeout <= 0) or retry_backoff < 0:
            raise InvalidInputError("retries and retry_backoff must be >= 0, timeout > 0")
        self.fn = fn
        self.name = name or fn.__name__
        self.version = version
        self.cache = cache
        self.deterministic = deterministic
        self.retries = retries
        self.retry_backoff = retry_backoff
        self.timeout = timeout
        self.catch = catch
        self.environment = tuple(environment)
        self.resources = dict(resources or {})
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<step {self.name}>"

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineDefinitionError(f"step {self.name!r}: {exc}") from exc
        bound.apply_defaults()
        return dict(bound.arguments)

    def __call__(self, *args: Any, **kwargs: Any) -> StepOutput:
        graph = current_graph()
        if graph is None:
            raise PipelineDefinitionError(
                f"step {self.name!r} was called outside a pipeline; call it inside a "
                f"@pipeline function, or call {self.name}.fn(...) to run the plain function"
            )
        return graph.add(self, self._bind(args, kwargs))

    def map(self, items: Any, **kwargs: Any) -> StepOutput:
        """Run the step once per item (its first parameter takes the item); downstream
        steps receive the list of results. ``items`` is a list or an upstream output."""
        graph = current_graph()
        if graph is None:
            raise PipelineDefinitionError(f"{self.name}.map was called outside a pipeline")
        params = list(self.signature.parameters)
        if not params:
            raise PipelineDefinitionError(f"step {self.name!r} takes no argument to map over")
        first = params[0]
        if first in kwargs:
            raise PipelineDefinitionError(
                f"{self.name}.map: {first!r} takes each item; do not pass it as well"
            )
        if not isinstance(items, StepOutput) and not isinstance(items, (list, tuple, range)):
            raise PipelineDefinitionError(
                f"{self.name}.map needs a list (or an upstream output that is one), "
                f"not {type(items).__name__}"
            )
        bound = self._bind((None,), kwargs)
        bound.pop(first)
        return graph.add(self, bound, map_arg=first, map_over=items)


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(
    *,
    name: str | None = None,
    version: str | None = None,
    cache: bool = True,
    deterministic: bool = True,
    retries: int = 0,
    retry_backoff: float = 1.0,
    timeout: float | None = None,
    catch: bool = False,
    environment: Sequence[str] = (),
    resources: Mapping[str, float] | None = None,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a pipeline step.

    Args:
        name: the step's name (default: the function's).
        version: an explicit code version for the cache key (default: the source of the
            function and of the project functions it calls).
        cache: reuse the outputs of an earlier identical execution.
        deterministic: False marks a step whose output changes from run to run; it is
            never skipped.
        retries, retry_backoff: re-run a failing step up to ``retries`` times, waiting
            ``retry_backoff * 2**attempt`` seconds between tries.
        timeout: seconds an attempt may take.
        catch: a failure is recorded and the step's output is None, instead of failing the
            pipeline.
        environment: package names whose installed versions are part of the cache key.
        resources: what the step needs, e.g. ``{"cpu": 2, "gpu": 1}`` (used by the Ray
            executor).
    """
    if fn is not None:
        return Step(fn, **options)
    return lambda f: Step(f, **options)


class Pipeline:
    """A pipeline: a function whose step calls make the graph (see :func:`pipeline`)."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.signature = inspect.signature(fn)
        self.target: str | None = None  # how `loopml pipeline run` named it, for resume
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise PipelineDefinitionError(
            f"run a pipeline with {self.name}.run(...), not by calling it"
        )

    def parameters(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The pipeline's parameters: defaults, then ``overrides``.

        Raises:
            PipelineDefinitionError: an unknown parameter, or a required one missing.
        """
        unknown = set(overrides) - set(self.signature.parameters)
        if unknown:
            known = ", ".join(self.signature.parameters) or "none"
            raise PipelineDefinitionError(
                f"pipeline {self.name!r} has no parameter(s) {sorted(unknown)}; "
                f"its parameters: {known}"
            )
        try:
            bound = self.signature.bind(**overrides)
        except TypeError as exc:
            raise PipelineDefinitionError(f"pipeline {self.name!r}: {exc}") from exc
        bound.apply_defaults()
        return dict(bound.arguments)

    def build(self, params: Mapping[str, Any]) -> Any:
        """The graph the pipeline function makes with these parameters."""
        with building() as graph:
            self.fn(**params)
        if not graph.nodes:
            raise PipelineDefinitionError(f"pipeline {self.name!r} calls no step")
        return graph

    def run(
        self,
        executor: str = "inline",
        *,
        max_workers: int | None = None,
        cache: bool = True,
        address: str | None = None,
        **params: Any,
    ) -> PipelineRun:
        """Run the pipeline and return its record (see :class:`PipelineRun`).

        Args:
            executor: ``inline`` (in this process, in order), ``process`` (independent
                steps and map items in parallel processes) or ``ray``.
            max_workers: parallel processes (``process``).
            cache: False re-runs every step (``--no-cache``).
            address: the Ray cluster (default: a local Ray instance).
            **params: the pipeline function's parameters.

        Raises:
            StepFailedError: a step failed (after its retries); finished steps' outputs are
                kept, and ``resume`` picks up from the failure.
        """
        from loopml.pipelines.runner import run_pipeline

        return run_pipeline(
            self,
            self.parameters(params),
            executor=executor,
            max_workers=max_workers,
            cache=cache,
            address=address,
        )


def pipeline(fn: Callable[..., Any] | None = None, /, *, name: str | None = None) -> Any:
    """Make a function a pipeline; its step calls define the graph."""
    if fn is not None:
        return Pipeline(fn, name)
    return lambda f: Pipeline(f, name)
