"""One step execution — the part that runs where the executor puts it (this process, a
worker process, a Ray task): load inputs, call the function with retries and a timeout,
capture its output streams, store its output through a materializer.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blake3 import blake3

from loopml.tracking.fluent import get_client

__all__ = ["OutputRef", "TaskResult", "TaskSpec", "load_output", "run_task"]


@dataclass(frozen=True)
class OutputRef:
    """Where a step's output is stored: the run whose artifacts hold it under
    ``outputs/output``, its digest and materializer; for a map step, one ref per item."""

    run_id: str
    digest: str
    materializer: str
    items: tuple[OutputRef | None, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "digest": self.digest,
            "materializer": self.materializer,
        }
        if self.items is not None:
            data["items"] = [None if i is None else i.to_dict() for i in self.items]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputRef:
        """The inverse of :meth:`to_dict`."""
        items = data.get("items")
        return cls(
            data["run_id"],
            data["digest"],
            data["materializer"],
            None
            if items is None
            else tuple(None if i is None else cls.from_dict(i) for i in items),
        )


def list_ref(refs: list[OutputRef | None]) -> OutputRef:
    """The output of a map step: its items' refs, with a digest over theirs."""
    digest = blake3(json.dumps([r.digest if r else None for r in refs]).encode()).hexdigest()
    return OutputRef("", digest, "list", tuple(refs))


def load_output(ref: OutputRef | None) -> Any:
    """Read a stored output back (a list for a map step's output)."""
    from loopml.pipelines.materializers import get_materializer

    if ref is None:
        return None
    if ref.items is not None:
        return [load_output(item) for item in ref.items]
    with tempfile.TemporaryDirectory(prefix="loopml-input-") as tmp:
        folder = get_client().download_artifacts(ref.run_id, "outputs/output", tmp)
        return get_materializer(ref.materializer).load(Path(folder))


@dataclass
class TaskSpec:
    """Everything one execution needs; picklable (with cloudpickle) for other processes."""

    fn: Any
    step: str
    run_id: str
    literals: dict[str, Any]
    inputs: dict[str, Any]  # argument -> value (inline) or OutputRef (elsewhere)
    retries: int = 0
    retry_backoff: float = 1.0
    timeout: float | None = None
    catch: bool = False
    tracking_uri: str | None = None  # set in another process
    refs: bool = False  # inputs are OutputRefs to load


@dataclass
class TaskResult:
    """What an execution produced."""

    ok: bool
    output: OutputRef | None = None
    value: Any = None  # the object itself, when the task ran in this process
    error: str = ""
    attempts: int = 1
    duration_ms: int = 0
    logs: dict[str, str] = field(default_factory=dict)


class _Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


class StepTimeoutError(TimeoutError):
    """A step attempt took longer than its timeout."""


def _call(fn: Any, kwargs: dict[str, Any], timeout: float | None) -> Any:
    if timeout is None:
        return fn(**kwargs)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(**kwargs)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise StepTimeoutError(f"the step took longer than its timeout of {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _store(run_id: str, value: Any) -> OutputRef:
    from loopml.pipelines.materializers import materializer_for

    materializer = materializer_for(value)
    with tempfile.TemporaryDirectory(prefix="loopml-output-") as tmp:
        materializer.save(value, Path(tmp))
        records = get_client().log_artifacts(run_id, tmp, "outputs/output")
    files = ((r.path.split("/", 2)[-1], r.digest) for r in records)
    body = [
        materializer.name,
        sorted(f for f in files if f[0] not in materializer.identity_exclude),
    ]
    return OutputRef(run_id, blake3(json.dumps(body).encode()).hexdigest(), materializer.name)


def run_task(spec: TaskSpec) -> TaskResult:
    """Execute one step call as its (already created) run."""
    import loopml as lm

    if spec.tracking_uri and lm.get_tracking_uri() != spec.tracking_uri:
        lm.set_tracking_uri(spec.tracking_uri)
    started = time.perf_counter()
    out, err = io.StringIO(), io.StringIO()
    result = TaskResult(ok=False)
    lm.start_run(run_id=spec.run_id, nested=True)  # lm.log_metric in the step goes here
    status = "FAILED"
    try:
        inputs = {k: load_output(v) for k, v in spec.inputs.items()} if spec.refs else spec.inputs
        kwargs = {**spec.literals, **inputs}
        for attempt in range(spec.retries + 1):
            result.attempts = attempt + 1
            try:
                with (
                    contextlib.redirect_stdout(_Tee(out, sys.stdout)),
                    contextlib.redirect_stderr(_Tee(err, sys.stderr)),
                ):
                    value = _call(spec.fn, kwargs, spec.timeout)
                break
            except Exception:
                if attempt == spec.retries:
                    raise
                time.sleep(spec.retry_backoff * 2**attempt)
        result.output = _store(spec.run_id, value)
        _lineage(spec.run_id, kwargs, value)
        # Before the run is FINISHED: a finished execution always says where its output is.
        lm.set_tag("loopml.step.output", json.dumps(result.output.to_dict()))
        result.value = None if spec.refs else value
        result.ok, status = True, "FINISHED"
    except Exception as exc:
        result.error = "".join(traceback.format_exception(exc))[-4000:]
        lm.set_tag("loopml.step.error", result.error)
    except BaseException:
        status = "KILLED"
        raise
    finally:
        _save_logs(spec.run_id, out, err)
        result.duration_ms = int((time.perf_counter() - started) * 1000)
        lm.end_run(status)
    return result


def _version_uri(value: Any) -> str | None:
    from loopml.entities import DatasetVersion, ModelVersion

    if isinstance(value, DatasetVersion):
        return value.uri
    if isinstance(value, ModelVersion):
        return f"models:/{value.name}/{value.version}"
    return None


def _lineage(run_id: str, kwargs: dict[str, Any], value: Any) -> None:
    """Edges from the step's run to the dataset and model versions it read and made."""
    from loopml.entities import LineageDirection, LineageEdge

    edges = []
    for arg, given in kwargs.items():
        for item in given if isinstance(given, list) else [given]:
            uri = _version_uri(item)
            if uri:
                edges.append(LineageEdge(run_id, uri, LineageDirection.INPUT, arg))
    for item in value if isinstance(value, list) else [value]:
        uri = _version_uri(item)
        if uri:
            edges.append(LineageEdge(run_id, uri, LineageDirection.OUTPUT, "output"))
    if edges:
        get_client().stores.metadata.log_lineage(run_id, edges)


def _save_logs(run_id: str, out: io.StringIO, err: io.StringIO) -> None:

    client = get_client()
    for name, stream in (("stdout", out), ("stderr", err)):
        text = stream.getvalue()
        if text:
            client.log_text(run_id, text, f"logs/{name}.txt")
