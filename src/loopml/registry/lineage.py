"""The lineage graph: which runs read and made which dataset and model versions.

::

    graph = lm.registry.lineage("models:/fares@champion")
    for node in graph.upstream_of(graph.root):      # the run that made it
        ...
    graph.to_dict()                                  # nodes and links, for scripts

Nodes are runs (``runs:/<id>``), dataset versions (``datasets:/<name>/<n>``) and model
versions (``models:/<name>/<n>``); anything else a lineage edge names (a URI of another
kind) is a node too, without details. Links point the way data flows:

- a dataset or model version a run read → the run (``input``, with the role it was read as);
- a run → a dataset or model version it made (``output``);
- a run → a model version registered from it (``registered``);
- a parent run → its step runs (``step``), for pipelines;
- a dataset an MLflow client logged (``mlflow.log_input``) → the run (``input``, with its
  context as the role); such a node is ``mlflow-dataset:<name>@<digest>``, upstream only
  (MLflow's datasets are not versions loopml stores).

The walk goes ``depth`` links upstream (what the root came from) and downstream (what came
from it), each direction on its own, so siblings of the root (other runs reading the same
data) appear only when they are downstream of it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from loopml.entities import LineageDirection
from loopml.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from loopml.tracking.client import TrackingClient

__all__ = ["Lineage", "LineageLink", "LineageNode", "lineage"]

Direction = Literal["both", "up", "down"]
_RUN_ID_LENGTH = 32
_MAX_DEPTH = 20
_PAGE = 1000


@dataclass(frozen=True)
class LineageNode:
    """One object of the graph: its URI, kind (``run``, ``dataset``, ``model`` or
    ``other``), a short label and details (a run's status, git commit, entry point; a
    version's digest, size, status and aliases)."""

    uri: str
    kind: str
    label: str
    details: dict[str, Any] = field(default_factory=dict)
    missing: bool = False  # named by an edge, but no longer in the store (deleted)


@dataclass(frozen=True)
class LineageLink:
    """``source`` fed or made ``target``; ``relation`` says how, ``role`` in whose words."""

    source: str
    target: str
    relation: str
    role: str = ""


@dataclass
class Lineage:
    """The part of the graph within ``depth`` links of ``root``."""

    root: str
    nodes: dict[str, LineageNode]
    links: list[LineageLink]

    def upstream_of(self, uri: str) -> list[LineageLink]:
        """The links into ``uri`` (what it came from)."""
        return [link for link in self.links if link.target == uri]

    def downstream_of(self, uri: str) -> list[LineageLink]:
        """The links out of ``uri`` (what came from it)."""
        return [link for link in self.links if link.source == uri]

    def to_dict(self) -> dict[str, Any]:
        """The graph as JSON-able data."""
        return {
            "root": self.root,
            "nodes": [
                {
                    "uri": n.uri,
                    "kind": n.kind,
                    "label": n.label,
                    "details": n.details,
                    "missing": n.missing,
                }
                for n in self.nodes.values()
            ],
            "links": [
                {"source": k.source, "target": k.target, "relation": k.relation, "role": k.role}
                for k in self.links
            ],
        }


def _normalize(uri: str, client: TrackingClient) -> str:
    """The canonical URI of what the user named (an alias resolved to its version)."""
    from loopml.uris import parse_datasets_uri, parse_models_uri

    text = uri.strip() if isinstance(uri, str) else ""
    if len(text) == _RUN_ID_LENGTH and all(c in "0123456789abcdef" for c in text):
        return f"runs:/{text}"
    if text.startswith("runs:/"):
        run_id = text[len("runs:/") :].strip("/").split("/", 1)[0]
        return _normalize(run_id, client) if run_id else _bad(uri)
    if text.startswith("models:"):
        version = client.stores.metadata.get_version_by_uri(parse_models_uri(text))
        return f"models:/{version.name}/{version.version}"
    if text.startswith("datasets:"):
        ref = parse_datasets_uri(text)
        return client.stores.metadata.get_dataset_version_by_uri(ref).uri
    return _bad(uri)


def _bad(uri: object) -> str:
    raise InvalidInputError(
        f"{uri!r} names nothing lineage knows; give a run id (or runs:/<id>), "
        "models:/<name>/<version> (or @<alias>), or datasets:/<name>/<version>"
    )


class _Walker:
    def __init__(self, client: TrackingClient) -> None:
        self.client = client
        self.store = client.stores.metadata
        self.nodes: dict[str, LineageNode] = {}
        self.links: dict[tuple[str, str, str], LineageLink] = {}
        self._edges: dict[str, list[Any]] = {}
        self._runs: dict[str, Any] = {}  # the runs described, for their tags and parent

    # -- nodes -----------------------------------------------------------------------------
    def node(self, uri: str) -> LineageNode:
        if uri not in self.nodes:
            self.nodes[uri] = self._describe(uri)
        return self.nodes[uri]

    def _describe(self, uri: str) -> LineageNode:
        from loopml.uris import parse_datasets_uri, parse_models_uri

        details: dict[str, Any]
        try:
            if uri.startswith("runs:/"):
                run = self.store.get_run(uri[len("runs:/") :])
                self._runs[run.run_id] = run
                tags = run.data.tags
                details = {
                    "status": run.info.status.value,
                    "experiment_id": run.info.experiment_id,
                    "start_time": run.info.start_time,
                    "git_commit": tags.get("loopml.source.git.commit", ""),
                    "git_dirty": tags.get("loopml.source.git.dirty", ""),
                    "entry_point": tags.get("loopml.source.entry_point", ""),
                }
                name = run.info.run_name or run.run_id[:8]
                return LineageNode(uri, "run", f"run {name}", details)
            if uri.startswith("models:/"):
                version = self.store.get_version_by_uri(parse_models_uri(uri))
                details = {
                    "status": version.status.value,
                    "aliases": list(version.aliases),
                    "source": version.source,
                    "run_id": version.run_id or "",
                }
                label = f"model {version.name} v{version.version}"
                return LineageNode(uri, "model", label, details)
            if uri.startswith("datasets:/"):
                dv = self.store.get_dataset_version_by_uri(parse_datasets_uri(uri))
                details = {
                    "digest": dv.digest,
                    "kind": dv.kind.value,
                    "files": dv.file_count,
                    "bytes": dv.size,
                    "rows": dv.rows,
                }
                return LineageNode(uri, "dataset", f"dataset {dv.name} v{dv.version}", details)
        except NotFoundError:
            return LineageNode(uri, _kind(uri), uri, {}, missing=True)
        return LineageNode(uri, "other", uri)

    # -- links -----------------------------------------------------------------------------
    def _lineage_of(self, key: str, **query: str) -> list[Any]:
        if key not in self._edges:
            self._edges[key] = list(self.store.list_lineage(**query))
        return self._edges[key]

    def _link(self, source: str, target: str, relation: str, role: str = "") -> None:
        self.links.setdefault(
            (source, target, relation), LineageLink(source, target, relation, role)
        )

    def _flow(self, uri: str, node: LineageNode, up: bool) -> list[str]:
        """The lineage edges of ``uri`` that point the way asked: into a run the versions it
        read (out of it, those it made); into a version the runs that made it (out of it,
        the runs that read it). Each becomes a link; returns the other ends."""
        found = []
        if node.kind == "run":
            run_id = uri[len("runs:/") :]
            wanted = LineageDirection.INPUT if up else LineageDirection.OUTPUT
            edges = [(e, e.uri) for e in self._lineage_of(f"run:{run_id}", run_id=run_id)]
        else:
            wanted = LineageDirection.OUTPUT if up else LineageDirection.INPUT
            edges = [(e, f"runs:/{e.run_id}") for e in self._lineage_of(f"uri:{uri}", uri=uri)]
        for edge, other in edges:
            if edge.direction is wanted:
                self._connect(uri, other, up, edge.direction.value, edge.role)
                found.append(other)
        return found

    def _connect(self, uri: str, other: str, up: bool, relation: str, role: str = "") -> None:
        """A link between ``uri`` and ``other``, from ``other`` when walking upstream."""
        if up:
            self._link(other, uri, relation, role)
        else:
            self._link(uri, other, relation, role)

    def upstream(self, uri: str) -> list[str]:
        node = self.node(uri)
        if node.kind == "run" and node.missing:
            return []
        found = self._flow(uri, node, up=True)
        if node.kind == "run":
            run = self._runs[uri[len("runs:/") :]]
            for other, role in _mlflow_inputs(run.data.tags):
                self.nodes.setdefault(other, _mlflow_node(other))
                self._connect(uri, other, True, "input", role)
                found.append(other)
            if run.parent_run_id:
                found.append(f"runs:/{run.parent_run_id}")
                self._connect(uri, found[-1], True, "step")
        elif node.kind == "model" and node.details.get("run_id"):
            found.append(f"runs:/{node.details['run_id']}")
            self._connect(uri, found[-1], True, "registered")
        return found

    def downstream(self, uri: str) -> list[str]:
        node = self.node(uri)
        if node.kind == "run" and node.missing:
            return []
        found = self._flow(uri, node, up=False)
        if node.kind == "run":
            run_id = uri[len("runs:/") :]
            for version in _all_versions(self.store, run_id):
                found.append(f"models:/{version.name}/{version.version}")
                self._connect(uri, found[-1], False, "registered")
            for child in self._children(run_id, node.details.get("experiment_id", "")):
                found.append(f"runs:/{child}")
                self._connect(uri, found[-1], False, "step")
        return found

    def _children(self, run_id: str, experiment_id: str) -> list[str]:
        if not experiment_id:
            return []
        runs = self.store.search_runs(
            [experiment_id],
            filter_string=f"tags.`loopml.parentRunId` = '{run_id}'",
            max_results=_PAGE,
        )
        return [r.run_id for r in runs]

    def walk(self, root: str, depth: int, step: str) -> None:
        seen = {root}
        queue: deque[tuple[str, int]] = deque([(root, 0)])
        while queue:
            uri, hops = queue.popleft()
            if hops >= depth:
                continue
            nexts = self.upstream(uri) if step == "up" else self.downstream(uri)
            for other in nexts:
                self.node(other)
                if other not in seen:
                    seen.add(other)
                    queue.append((other, hops + 1))


_MLFLOW = "mlflow-dataset:"


def _mlflow_inputs(tags: Any) -> list[tuple[str, str]]:
    """(node URI, role) of the dataset inputs an MLflow client logged on a run."""
    from loopml.entities.tags import DATASET_INPUTS_TAG, json_list_tag, mlflow_input_fields

    found = []
    for item in json_list_tag(tags, DATASET_INPUTS_TAG):
        fields = mlflow_input_fields(item)
        if fields["name"]:
            uri = f"{_MLFLOW}{fields['name']}@{fields['digest'] or ''}"
            found.append((uri, fields["context"] or ""))
    return found


def _mlflow_node(uri: str) -> LineageNode:
    name, _, digest = uri[len(_MLFLOW) :].rpartition("@")
    details = {"digest": digest, "logged_by": "mlflow"}
    return LineageNode(uri, "mlflow-dataset", f"MLflow dataset {name}", details)


def _all_versions(store: Any, run_id: str) -> Iterable[Any]:
    token = None
    while True:
        page = store.search_model_versions(run_id=run_id, max_results=_PAGE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _kind(uri: str) -> str:
    for prefix, kind in (("runs:/", "run"), ("models:/", "model"), ("datasets:/", "dataset")):
        if uri.startswith(prefix):
            return kind
    return "other"


def lineage(
    uri: str,
    *,
    depth: int = 3,
    direction: Direction = "both",
    client: TrackingClient | None = None,
) -> Lineage:
    """The lineage graph around a run, dataset version or model version.

    Args:
        uri: a run id or ``runs:/<id>``, ``models:/<name>/<version>`` (or ``@alias``,
            resolved to its version now), or ``datasets:/<name>/<version>`` (or ``@latest``).
        depth: links to follow each way (1-20).
        direction: ``up`` (what it came from), ``down`` (what came from it) or ``both``.

    Raises:
        InvalidInputError: a URI of another kind, a bad depth or direction.
        NotFoundError: the run or version does not exist.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= _MAX_DEPTH:
        raise InvalidInputError(
            f"depth must be a whole number from 1 to {_MAX_DEPTH}, not {depth!r}"
        )
    if direction not in ("both", "up", "down"):
        raise InvalidInputError(f"direction must be both, up or down, not {direction!r}")
    if client is None:
        from loopml.tracking.fluent import get_client

        client = get_client()
    root = _normalize(uri, client)
    walker = _Walker(client)
    if walker.node(root).missing:
        raise NotFoundError(f"{root} does not exist (it may have been deleted)")
    if direction in ("both", "up"):
        walker.walk(root, depth, "up")
    if direction in ("both", "down"):
        walker.walk(root, depth, "down")
    return Lineage(root, walker.nodes, list(walker.links.values()))
