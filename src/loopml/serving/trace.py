"""Trace one served prediction back to the model version, run, data and code behind it.

::

    trace = lm.serving.trace_prediction("pricing", "0f6b1c…")   # the X-Request-ID
    trace.model_uri      # models:/pricing/3
    trace.run_id         # the run that trained it
    trace.git_commit     # the code it was trained from
    trace.datasets       # the dataset versions that run read: [(uri, role, digest)]
    trace.to_dict()

The prediction log row names the deployment, route, model name, version and run; the
registry and the lineage graph (:func:`loopml.registry.lineage`) give the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from loopml.registry.lineage import Lineage
    from loopml.serving.predictions import TimeBound
    from loopml.tracking.client import TrackingClient

__all__ = ["PredictionTrace", "trace_prediction"]

_ID_LENGTH = 128


@dataclass
class PredictionTrace:
    """A logged prediction and where it came from.

    Attributes:
        rows: the logged rows of the request (one per predicted input row): ``row``,
            ``timestamp``, ``route``, ``status``, ``latency_ms``, ``error``, and the
            ``input.*`` / ``output.*`` values.
        model_uri: ``models:/<name>/<version>`` of the version that answered ("" when the
            deployment served a run's or a folder's model).
        run_id: the run that made the model ("" when unknown).
        git_commit, git_dirty, entry_point: the code of that run, from its record.
        params: the run's parameters.
        datasets: the dataset versions the run read, as ``{"uri", "role", "digest"}``.
        lineage: the graph upstream of the model (its run, the data, the runs that made it).
    """

    deployment: str
    request_id: str
    rows: list[dict[str, Any]]
    model_uri: str = ""
    run_id: str = ""
    git_commit: str = ""
    git_dirty: str = ""
    entry_point: str = ""
    params: dict[str, str] = field(default_factory=dict)
    datasets: list[dict[str, str]] = field(default_factory=list)
    lineage: Lineage | None = None

    def to_dict(self) -> dict[str, Any]:
        """The trace as JSON-able data."""
        return {
            "deployment": self.deployment,
            "request_id": self.request_id,
            "rows": self.rows,
            "model_uri": self.model_uri,
            "run_id": self.run_id,
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "entry_point": self.entry_point,
            "params": self.params,
            "datasets": self.datasets,
            "lineage": self.lineage.to_dict() if self.lineage else None,
        }


def _plain(value: Any) -> Any:
    """A log value as JSON-able data (NaN/NaT as None, timestamps as ISO text)."""
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        try:
            return value.isoformat()
        except ValueError:  # NaT
            return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN or infinite: JSON has neither
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return value


def trace_prediction(
    deployment: str,
    request_id: str,
    *,
    since: TimeBound = None,
    depth: int = 4,
    client: TrackingClient | None = None,
) -> PredictionTrace:
    """Find a request in a deployment's prediction log and trace it to its origins.

    Args:
        deployment: the deployment that answered.
        request_id: the request's id (the ``X-Request-ID`` its answer carried).
        since: look only at log partitions from this time on (faster on a long log).
        depth: links of lineage to follow upstream of the model.

    Raises:
        InvalidInputError: a malformed deployment name, request id or time.
        NotFoundError: no logged prediction has this request id (the server may not have
            flushed it yet: it writes every ``prediction_log_flush_interval`` seconds).
    """
    from loopml.registry.lineage import lineage
    from loopml.serving.predictions import _query

    if not isinstance(request_id, str) or not 0 < len(request_id) <= _ID_LENGTH:
        raise InvalidInputError(f"{request_id!r} is not a request id (1-128 characters)")
    if client is None:
        from loopml.tracking.fluent import get_client

        client = get_client()
    df = _query(
        deployment,
        "*",
        since=since,
        until=None,
        route=None,
        model_version=None,
        client=client,
        tail=" ORDER BY timestamp, row",
        request_id=request_id,
    )
    if df is None or df.empty:
        raise NotFoundError(
            f"no prediction of deployment {deployment!r} has request id {request_id!r} in its "
            "log; check the id (the X-Request-ID header of the answer) and the deployment, or "
            "wait for the server to flush its log (prediction_log_flush_interval)"
        )
    rows = [{k: _plain(v) for k, v in record.items()} for record in df.to_dict("records")]
    first = rows[0]
    trace = PredictionTrace(deployment, request_id, rows)
    name, version = first.get("model_name"), first.get("model_version")
    if name and version is not None:
        trace.model_uri = f"models:/{name}/{int(version)}"
    trace.run_id = str(first.get("model_run_id") or "")
    root = trace.model_uri or (f"runs:/{trace.run_id}" if trace.run_id else "")
    if not root:
        return trace
    try:
        trace.lineage = lineage(root, depth=depth, direction="up", client=client)
    except NotFoundError:
        return trace  # the version or run was deleted since: the log row is all there is
    if not trace.run_id and trace.model_uri:
        trace.run_id = str(trace.lineage.nodes[root].details.get("run_id") or "")
    if trace.run_id:
        run = client.stores.metadata.get_run(trace.run_id)
        tags = run.data.tags
        trace.git_commit = tags.get("loopml.source.git.commit", "")
        trace.git_dirty = tags.get("loopml.source.git.dirty", "")
        trace.entry_point = tags.get("loopml.source.entry_point", "")
        trace.params = dict(run.data.params)
        run_uri = f"runs:/{trace.run_id}"
        for link in trace.lineage.upstream_of(run_uri):
            node = trace.lineage.nodes.get(link.source)
            if node is not None and node.kind == "dataset":
                digest = str(node.details.get("digest", ""))
                trace.datasets.append({"uri": node.uri, "role": link.role, "digest": digest})
    return trace
