"""Building a pipeline's graph: calling steps inside a pipeline function records nodes.

Inside ``@pipeline`` a step call does not run the step: it records a :class:`Node` and
returns a :class:`StepOutput`, a symbolic handle passed to later steps. The graph is
therefore acyclic by construction (a node can only use outputs made before it), and a
handle from another pipeline, or a step called outside any pipeline, is a clear error.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.errors import PipelineDefinitionError

if TYPE_CHECKING:
    from loopml.pipelines.decorators import Step

__all__ = ["Graph", "Node", "StepOutput", "building", "current_graph"]

_GRAPH: contextvars.ContextVar[Graph | None] = contextvars.ContextVar("loopml_graph", default=None)


@dataclass(frozen=True)
class StepOutput:
    """The (future) output of a node; pass it to other steps of the same pipeline."""

    graph_id: int
    node: str

    def __repr__(self) -> str:
        return f"<output of step {self.node!r}>"

    def __bool__(self) -> bool:
        raise PipelineDefinitionError(
            f"the output of step {self.node!r} has no value while the pipeline is being built; "
            "branch inside a step, not in the pipeline function"
        )

    def __iter__(self) -> Iterator[Any]:
        raise PipelineDefinitionError(
            f"the output of step {self.node!r} cannot be iterated while the pipeline is being "
            f"built; use {self.node.split('[')[0]}.map(...) or a step that takes the whole list"
        )


@dataclass
class Node:
    """One step call: the step, its inputs (outputs of other nodes) and its parameters.

    A map node (``step.map(items)``) runs the step once per item of ``map_over`` (a literal
    list, or an upstream output that is a list); downstream steps receive the list of
    results.
    """

    name: str
    step: Step
    inputs: dict[str, str] = field(default_factory=dict)  # argument -> upstream node
    params: dict[str, Any] = field(default_factory=dict)  # argument -> literal value
    map_arg: str | None = None
    map_over: str | list[Any] | None = None  # an upstream node, or the items

    @property
    def upstream(self) -> list[str]:
        """Nodes this one needs."""
        found = list(self.inputs.values())
        if isinstance(self.map_over, str):
            found.append(self.map_over)
        return list(dict.fromkeys(found))


@dataclass
class Graph:
    """The nodes of one pipeline build, in the order they were called."""

    nodes: dict[str, Node] = field(default_factory=dict)

    def add(
        self, step: Step, bound: Mapping[str, Any], map_arg: str | None = None, map_over: Any = None
    ) -> StepOutput:
        """Record a call of ``step`` with its bound arguments; return its output handle."""
        base = step.name
        name, n = base, 1
        while name in self.nodes:
            n += 1
            name = f"{base}_{n}"
        node = Node(name, step, map_arg=map_arg)
        for arg, value in bound.items():
            if isinstance(value, StepOutput):
                node.inputs[arg] = self._own(value, step.name, arg)
            elif _contains_output(value):
                raise PipelineDefinitionError(
                    f"step {step.name!r}, argument {arg!r}: outputs of other steps must be "
                    "passed directly, not inside a list or dict"
                )
            else:
                node.params[arg] = value
        if map_arg is not None:
            if isinstance(map_over, StepOutput):
                node.map_over = self._own(map_over, step.name, map_arg)
            else:
                node.map_over = list(map_over)
        self.nodes[name] = node
        return StepOutput(id(self), name)

    def _own(self, value: StepOutput, step: str, arg: str) -> str:
        if value.graph_id != id(self) or value.node not in self.nodes:
            raise PipelineDefinitionError(
                f"step {step!r}, argument {arg!r}: {value!r} comes from another pipeline run; "
                "pass outputs only between steps of the same pipeline"
            )
        return value.node

    def order(self) -> list[str]:
        """Nodes in an order where every node comes after what it needs (call order)."""
        return list(self.nodes)


def _contains_output(value: Any) -> bool:
    if isinstance(value, StepOutput):
        return True
    if isinstance(value, (list, tuple, set)):
        return any(_contains_output(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_output(v) for v in value.values())
    return False


def current_graph() -> Graph | None:
    """The graph being built, or None outside a pipeline function."""
    return _GRAPH.get()


@contextmanager
def building() -> Iterator[Graph]:
    """Make step calls inside the block record nodes of a new graph."""
    graph = Graph()
    token = _GRAPH.set(graph)
    try:
        yield graph
    finally:
        _GRAPH.reset(token)
