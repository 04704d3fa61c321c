"""Running a pipeline: order the graph, skip what is cached, execute the rest, track it all.

A pipeline run is a parent run (its parameters, the graph, git and environment are
recorded by the tracking context); each step execution is a child run with its
parameters, captured output streams, duration, cache status and output. A cached step
still gets a child run, pointing at the execution it reused (tag
``loopml.step.reused_from``) and holding the same output blobs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError, StepFailedError
from loopml.pipelines.cache import cache_key, code_version
from loopml.pipelines.executors import make_executor
from loopml.pipelines.tasks import OutputRef, TaskSpec, list_ref, load_output
from loopml.tracking.fluent import get_client

if TYPE_CHECKING:
    from loopml.entities import PagedList, Run
    from loopml.pipelines.decorators import Pipeline
    from loopml.pipelines.graph import Graph, Node
    from loopml.tracking.client import TrackingClient

__all__ = [
    "Comparison",
    "PipelineRun",
    "StepRecord",
    "load_target",
    "rerun",
    "resume",
    "run_pipeline",
]

T = "loopml.pipeline."
S = "loopml.step."
# Earlier executions of a step fetched in one search when a run first looks one up; with
# more than this many, each cache key is looked up on its own.
_PREFETCH = 100


@dataclass
class StepRecord:
    """One step execution of a pipeline run (a map step has one per item)."""

    node: str
    step: str
    run_id: str
    state: str  # finished | cached | failed | skipped
    item: int | None = None
    cache_key: str = ""
    reused_from: str | None = None
    duration_ms: int = 0
    attempts: int = 0
    error: str = ""


@dataclass
class PipelineRun:
    """The record of a pipeline run; ``output(node)`` reads a step's output back."""

    run_id: str
    name: str
    status: str
    params: dict[str, Any]
    steps: list[StepRecord] = field(default_factory=list)
    outputs: dict[str, OutputRef | None] = field(default_factory=dict)
    _values: dict[str, Any] = field(default_factory=dict, repr=False)

    def output(self, node: str) -> Any:
        """The output of a step (by node name: the step's name, ``train_2`` for a second
        call); a map step's is the list of its items' outputs."""
        if node in self._values:
            return self._values[node]
        if node not in self.outputs:
            raise InvalidInputError(
                f"no step {node!r} in this run; its steps: {', '.join(self.outputs)}"
            )
        return load_output(self.outputs[node])

    def record(self, node: str) -> list[StepRecord]:
        """The executions of one node."""
        return [r for r in self.steps if r.node == node]


def _target(pipeline: Pipeline) -> str:
    if pipeline.target:
        return pipeline.target
    module = getattr(pipeline.fn, "__module__", "")
    return f"{module}:{pipeline.name}" if module else pipeline.name


def _json_params(params: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in params.items():
        try:
            text = json.dumps(value, sort_keys=True)
        except (TypeError, ValueError):
            text = repr(value)
        out[key] = text[:6000]
    return out


class _Run:
    """The state of one pipeline execution."""

    def __init__(
        self,
        client: TrackingClient,
        graph: Graph,
        name: str,
        parent: str,
        experiment_id: str,
        cache: bool,
        resume: Mapping[str, _Source],
        in_process: bool,
    ) -> None:
        self.client = client
        self.graph = graph
        self.name = name
        self.parent = parent
        self.experiment_id = experiment_id
        self.cache = cache
        self.resume = resume  # cache key -> a finished execution to reuse
        self.in_process = in_process
        self.outputs: dict[str, OutputRef | None] = {}
        self.values: dict[str, Any] = {}
        self.records: list[StepRecord] = []
        self.failed: set[str] = set()
        self._codes: dict[int, str] = {}
        self._experiments: list[str] | None = None
        # step name -> cache key -> its newest original execution; `_complete` holds the
        # step names for which that is every execution (not just the newest _PREFETCH)
        self._sources: dict[str, dict[str, _Source]] = {}
        self._complete: set[str] = set()

    def code(self, node: Node) -> str:
        key = id(node.step)
        if key not in self._codes:
            self._codes[key] = code_version(node.step.fn, node.step.version)
        return self._codes[key]

    def value(self, node: str) -> Any:
        if node not in self.values:
            self.values[node] = load_output(self.outputs[node])
        return self.values[node]

    def find_cached(self, step: str, key: str, use_cache: bool) -> _Source | None:
        """The execution whose outputs a step with this cache key reuses, if any: the newest
        original one (not a run that reused it) that finished, in any experiment."""
        if key in self.resume:
            return self.resume[key]
        if not use_cache:
            return None
        if step not in self._sources:
            # The key names the step, so the step's executions hold every match: one search
            # answers all of a run's lookups of this step (a map step's items too).
            found = self._search(f"tags.`{S}name` = '{_quote(step)}'", _PREFETCH)
            self._sources[step] = {}
            for run in reversed(found):  # oldest first: the newest wins
                if f"{S}cache_key" in run.data.tags:
                    self._sources[step][run.data.tags[f"{S}cache_key"]] = _Source.of(run)
            if found.token is None:
                self._complete.add(step)
        if key in self._sources[step] or step in self._complete:
            return self._sources[step].get(key)
        found = self._search(f"tags.`{S}cache_key` = '{key}'", 1)
        return _Source.of(found[0]) if found else None

    def finished(self, step: str, key: str, run_id: str, output: str | None) -> None:
        """Note an execution of this run that later lookups may reuse (a step not fetched
        yet will find it in the store)."""
        if step in self._sources:
            self._sources[step][key] = _Source(run_id, output)

    def _search(self, condition: str, limit: int) -> PagedList[Run]:
        if self._experiments is None:
            self._experiments = [e.experiment_id for e in self.client.search_experiments()]
        return self.client.search_runs(
            self._experiments,
            f"{condition} and attributes.status = 'FINISHED' and tags.`{S}cache` != 'hit'",
            max_results=limit,
            order_by=["attributes.start_time DESC"],
        )

    def child(
        self,
        node: Node,
        item: int | None,
        key: str,
        params: Mapping[str, Any],
        tags: Mapping[str, str],
    ) -> str:
        """Create the child run of one execution, with all its tags in one write."""
        name = node.name if item is None else f"{node.name}[{item}]"
        all_tags = {
            f"{T}run": self.parent,
            f"{T}name": self.name,
            f"{S}name": node.step.name,
            f"{S}node": node.name,
            f"{S}cache_key": key,
            **tags,
        }
        if item is not None:
            all_tags[f"{S}item"] = str(item)
        run = self.client.create_run(self.experiment_id, name, all_tags, parent_run_id=self.parent)
        run_id: str = run.info.run_id
        if params:
            self.client.log_params(run_id, _json_params(params))
        return run_id


def _tasks(state: _Run, node: Node) -> list[tuple[int | None, dict[str, Any], dict[str, Any]]]:
    """(item index, literals, inputs-as-values-or-refs) for each execution of a node."""
    # Upstream names for now: values (or refs) are fetched only for executions that run.
    inputs: dict[str, Any] = dict(node.inputs)
    if node.map_arg is None:
        return [(None, dict(node.params), inputs)]
    items = node.map_over if isinstance(node.map_over, list) else state.value(str(node.map_over))
    if not isinstance(items, (list, tuple)):
        raise InvalidInputError(
            f"{node.name}.map: the upstream output is a {type(items).__name__}, not a list"
        )
    return [(i, {**node.params, node.map_arg: item}, inputs) for i, item in enumerate(items)]


def _input_digests(state: _Run, node: Node) -> dict[str, str]:
    digests = {}
    for arg, upstream in node.inputs.items():
        ref = state.outputs[upstream]
        digests[arg] = ref.digest if ref is not None else "none"
    return digests


def run_pipeline(
    pipeline: Pipeline,
    params: dict[str, Any],
    *,
    executor: str = "inline",
    max_workers: int | None = None,
    cache: bool = True,
    address: str | None = None,
    resume_from: str | None = None,
) -> PipelineRun:
    """Build the graph, run it, and return the record (see :meth:`Pipeline.run`)."""
    import loopml as lm

    graph = pipeline.build(params)
    client = get_client()
    experiment = client.get_experiment_by_name(pipeline.name)
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment(pipeline.name)
    )
    resume = _finished_children(client, resume_from) if resume_from else {}
    runner = make_executor(executor, max_workers=max_workers, address=address)
    nested = lm.active_run() is not None
    graph_json = {
        n.name: {"step": n.step.name, "upstream": n.upstream, "map": n.map_arg is not None}
        for n in graph.nodes.values()
    }
    parent = lm.start_run(
        run_name=pipeline.name,
        experiment_id=experiment_id,
        nested=nested,
        tags={
            f"{T}name": pipeline.name,
            f"{T}target": _target(pipeline),
            f"{T}executor": executor,
            f"{T}params": json.dumps(_json_params(params), sort_keys=True)[:8000],
            f"{T}graph": json.dumps(graph_json)[:8000],
            **({f"{T}resumed_from": resume_from} if resume_from else {}),
        },
    )
    parent_id = parent.info.run_id
    state = _Run(
        client, graph, pipeline.name, parent_id, experiment_id, cache, resume, runner.in_process
    )
    if params:
        client.log_params(parent_id, _json_params(params))
    status = "FAILED"
    try:
        _execute(state, runner)
        status = "FAILED" if state.failed else "FINISHED"
    except BaseException:
        status = "KILLED"
        raise
    finally:
        runner.close()
        lm.end_run(status)
    position = {name: i for i, name in enumerate(graph.order())}
    state.records.sort(key=lambda r: (position[r.node], -1 if r.item is None else r.item))
    run = PipelineRun(
        parent_id,
        pipeline.name,
        status,
        params,
        state.records,
        state.outputs,
        state.values if runner.in_process else {},
    )
    if state.failed:
        failed = sorted(state.failed)
        errors = [
            r.error.strip().splitlines()[-1]
            for r in state.records
            if r.state == "failed" and r.error
        ]
        raise StepFailedError(
            f"pipeline {pipeline.name!r} failed at step(s) {', '.join(failed)}"
            + (f": {errors[0]}" if errors else "")
            + f". Finished steps are kept: `loopml pipeline resume {parent_id}` continues"
        )
    return run


@dataclass(frozen=True)
class _Source:
    """A finished execution whose output a cached step reuses."""

    run_id: str
    output: str | None  # its output ref as JSON (the loopml.step.output tag)

    @classmethod
    def of(cls, run: Run) -> _Source:
        return cls(run.info.run_id, run.data.tags.get(f"{S}output"))


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _finished_children(client: TrackingClient, parent: str) -> dict[str, _Source]:
    run = client.get_run(parent)
    children = client.search_runs(
        [run.info.experiment_id], f"tags.`{T}run` = '{parent}' and attributes.status = 'FINISHED'"
    )
    return {
        c.data.tags[f"{S}cache_key"]: _Source.of(c)
        for c in children
        if f"{S}cache_key" in c.data.tags
    }


def _reuse_tags(source: _Source) -> dict[str, str]:
    """The tags of a child run that reuses ``source``'s output."""
    return {
        f"{S}cache": "hit",
        f"{S}reused_from": source.run_id,
        **({f"{S}output": source.output} if source.output else {}),
    }


def _reuse(state: _Run, run_id: str, source: _Source) -> OutputRef | None:
    """Give a new child run the output of an earlier execution (same blobs, no copy)."""
    metadata = state.client.stores.metadata
    records = metadata.list_artifacts(source.run_id, "outputs/output")
    metadata.record_artifacts(run_id, records)
    state.client.set_terminated(run_id, "FINISHED")
    if not source.output:
        return None
    ref = OutputRef.from_dict(json.loads(source.output))
    return OutputRef(run_id, ref.digest, ref.materializer)


def _execute(state: _Run, runner: Any) -> None:
    pending = list(state.graph.order())
    running: dict[Future[Any], tuple[str, int | None, str, str]] = {}
    node_items: dict[str, dict[int | None, OutputRef | None]] = {}
    node_values: dict[str, dict[int | None, Any]] = {}
    expected: dict[str, int] = {}

    def finish_node(name: str) -> None:
        node = state.graph.nodes[name]
        refs = node_items.pop(name)
        values = node_values.pop(name, {})
        if node.map_arg is None:
            state.outputs[name] = refs[None]
            if None in values:
                state.values[name] = values[None]
        else:
            ordered = [refs[i] for i in range(expected[name])]
            state.outputs[name] = list_ref(ordered)
            if len(values) == expected[name]:
                state.values[name] = [values[i] for i in range(expected[name])]

    while pending or running:
        waiting = len(pending)
        for name in list(pending):
            node = state.graph.nodes[name]
            if any(u in state.failed for u in node.upstream):
                pending.remove(name)
                state.failed.add(name)  # blocked: recorded as skipped below
                state.records.append(StepRecord(name, node.step.name, "", "skipped"))
                continue
            if not all(u in state.outputs for u in node.upstream):
                continue
            pending.remove(name)
            tasks = _tasks(state, node)
            expected[name] = len(tasks)
            node_items[name] = {}
            digests = _input_digests(state, node)
            code = state.code(node)
            use_cache = state.cache and node.step.cache and node.step.deterministic
            for item, literals, inputs in tasks:
                key = cache_key(node.step.name, code, digests, literals, node.step.environment)
                source = state.find_cached(node.step.name, key, use_cache)
                if source is not None:
                    run_id = state.child(node, item, key, literals, _reuse_tags(source))
                    node_items[name][item] = _reuse(state, run_id, source)
                    state.records.append(
                        StepRecord(
                            name,
                            node.step.name,
                            run_id,
                            "cached",
                            item,
                            key,
                            reused_from=source.run_id,
                        )
                    )
                    continue
                cache_tag = {f"{S}cache": "miss" if use_cache else "off"}
                run_id = state.child(node, item, key, literals, cache_tag)
                inputs = {
                    arg: state.value(up) if state.in_process else state.outputs[up]
                    for arg, up in inputs.items()
                }
                spec = TaskSpec(
                    node.step.fn,
                    node.step.name,
                    run_id,
                    literals,
                    inputs,
                    node.step.retries,
                    node.step.retry_backoff,
                    node.step.timeout,
                    node.step.catch,
                    refs=not state.in_process,
                )
                future = runner.submit(spec, node.step.resources)
                running[future] = (name, item, run_id, key)
                if future.done() and future.exception() is None:
                    # inline: it ran already, so an equal item after it reuses it
                    _note(state, node, key, run_id, future)
            if len(node_items[name]) == expected[name]:
                finish_node(name)
        if not running:
            # Every node comes after its upstream, so each pass starts one at least.
            if pending and len(pending) == waiting:
                raise RuntimeError(f"pipeline steps {pending} cannot start")
            continue
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for future in done:
            name, item, run_id, key = running.pop(future)
            node = state.graph.nodes[name]
            result = future.result()
            record = StepRecord(
                name,
                node.step.name,
                run_id,
                "finished" if result.ok else "failed",
                item,
                key,
                duration_ms=result.duration_ms,
                attempts=result.attempts,
                error=result.error,
            )
            state.records.append(record)
            _note(state, node, key, run_id, future)
            if name in state.failed:
                continue  # another item of this map step failed already
            if result.ok and result.output is not None:
                node_items[name][item] = result.output
                if state.in_process:  # other executors hand back refs only
                    node_values.setdefault(name, {})[item] = result.value
            elif node.step.catch:
                node_items[name][item] = None  # allowed to fail: downstream gets None
                if state.in_process:
                    node_values.setdefault(name, {})[item] = None
            else:
                state.failed.add(name)
                node_items.pop(name, None)
                continue
            if name in node_items and len(node_items[name]) == expected[name]:
                finish_node(name)


def _note(state: _Run, node: Node, key: str, run_id: str, future: Future[Any]) -> None:
    """Make a finished execution reusable by the rest of the run."""
    result = future.result()
    if result.ok and result.output is not None:
        output = json.dumps(result.output.to_dict())
        state.finished(node.step.name, key, run_id, output)


def load_target(target: str) -> Pipeline:
    """The pipeline ``module:attribute`` (or ``path/to/file.py:attribute``) names.

    Raises:
        InvalidInputError: it cannot be imported, or is not a pipeline.
    """
    import importlib
    import importlib.util
    import sys
    from pathlib import Path

    from loopml.pipelines.decorators import Pipeline

    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise InvalidInputError(
            f"{target!r} is not MODULE:PIPELINE (e.g. pipelines.train:training)"
        )
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).resolve()
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None or not path.is_file():
                raise InvalidInputError(f"no Python file at {module_name}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
        else:
            if str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(f"cannot import {module_name!r}: {exc}") from exc
    found = getattr(module, attr, None)
    if not isinstance(found, Pipeline):
        raise InvalidInputError(f"{target!r} is not a @pipeline (found {type(found).__name__})")
    found.target = target
    return found


def resume(run_id: str, executor: str | None = None, max_workers: int | None = None) -> PipelineRun:
    """Run a pipeline run again with its parameters, reusing the outputs of every step that
    finished in it, whatever the steps' cache settings.

    Raises:
        InvalidInputError: the run is not a pipeline run, or its pipeline cannot be imported.
    """
    client = get_client()
    run = client.get_run(run_id)
    tags = run.data.tags
    if f"{T}target" not in tags:
        raise InvalidInputError(f"run {run_id} is not a pipeline run")
    pipeline = load_target(tags[f"{T}target"])
    raw = json.loads(tags.get(f"{T}params", "{}"))
    params = {k: json.loads(v) for k, v in raw.items()}
    return run_pipeline(
        pipeline,
        pipeline.parameters(params),
        executor=executor or tags.get(f"{T}executor", "inline"),
        max_workers=max_workers,
        resume_from=run_id,
    )


@dataclass(frozen=True)
class Comparison:
    """One step execution of a rerun next to the original: were the outputs identical?"""

    node: str
    item: int | None
    original: str | None  # output digest in the original run
    rerun: str | None
    identical: bool


def _digests(client: TrackingClient, parent: str) -> dict[tuple[str, int | None], str | None]:
    run = client.get_run(parent)
    children = client.search_runs(
        [run.info.experiment_id], f"tags.`{T}run` = '{parent}'", max_results=50_000
    )
    found: dict[tuple[str, int | None], str | None] = {}
    for child in children:
        tags = child.data.tags
        item = int(tags[f"{S}item"]) if f"{S}item" in tags else None
        raw = tags.get(f"{S}output")
        found[(tags.get(f"{S}node", ""), item)] = json.loads(raw)["digest"] if raw else None
    return found


def rerun(
    run_id: str, executor: str | None = None, max_workers: int | None = None
) -> tuple[PipelineRun, list[Comparison]]:
    """Execute a pipeline run again — same pipeline, same parameters, no cache — and
    compare every step's output with the original's, byte for byte (by digest).

    Steps that read data by a moving reference (``rides@latest``) read today's version;
    pass versions as parameters to rerun on the same data.
    """
    client = get_client()
    tags = client.get_run(run_id).data.tags
    if f"{T}target" not in tags:
        raise InvalidInputError(f"run {run_id} is not a pipeline run")
    pipeline = load_target(tags[f"{T}target"])
    params = {k: json.loads(v) for k, v in json.loads(tags.get(f"{T}params", "{}")).items()}
    before = _digests(client, run_id)
    again = run_pipeline(
        pipeline,
        pipeline.parameters(params),
        executor=executor or tags.get(f"{T}executor", "inline"),
        max_workers=max_workers,
        cache=False,
    )
    after = _digests(client, again.run_id)
    comparisons = [
        Comparison(
            node,
            item,
            before.get((node, item)),
            digest,
            digest is not None and before.get((node, item)) == digest,
        )
        for (node, item), digest in sorted(after.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1))
    ]
    position = {
        name: i for i, name in enumerate(pipeline.build(pipeline.parameters(params)).order())
    }
    comparisons.sort(key=lambda c: (position.get(c.node, 0), -1 if c.item is None else c.item))
    return again, comparisons
