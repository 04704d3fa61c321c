"""`loopml lineage` and `loopml trace`: where a model, run, dataset or prediction came from."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, client_for
from loopml.cli._output import print_json

if TYPE_CHECKING:
    from loopml.registry.lineage import Lineage, LineageNode


def _describe(node: LineageNode) -> str:
    if node.missing:
        return f"{node.uri} (deleted)"
    d = node.details
    extra = []
    if node.kind == "run":
        extra.append(str(d.get("status", "")).lower())
        if d.get("git_commit"):
            dirty = " +changes" if d.get("git_dirty") == "true" else ""
            extra.append(f"commit {str(d['git_commit'])[:12]}{dirty}")
        if d.get("entry_point"):
            extra.append(str(d["entry_point"]))
    elif node.kind == "model":
        extra.append(str(d.get("status", "")).lower())
        if d.get("aliases"):
            extra.append("@" + ", @".join(d["aliases"]))
    elif node.kind == "dataset":
        rows = d.get("rows")
        extra.append(f"{rows:,} rows" if rows is not None else f"{d.get('files', 0):,} files")
        extra.append(f"blake3 {str(d.get('digest', ''))[:12]}")
    detail = ", ".join(e for e in extra if e)
    return f"{node.label}  {node.uri}" + (f"  ({detail})" if detail else "")


def _branch(tree: Any, graph: Lineage, uri: str, up: bool, seen: set[str]) -> None:
    links = graph.upstream_of(uri) if up else graph.downstream_of(uri)
    for link in links:
        other = link.source if up else link.target
        shown = link.role and link.role != link.relation
        how = link.relation + (f": {link.role}" if shown else "")
        node = graph.nodes[other]
        again = other in seen
        child = tree.add(f"[{how}] {_describe(node)}" + (" …" if again else ""))
        if not again:
            seen.add(other)
            _branch(child, graph, other, up, seen)


def render(graph: Lineage) -> None:
    """The graph as two trees: what the root came from, and what came from it."""
    from rich.tree import Tree

    from loopml.cli._output import _console

    console = _console()
    root = graph.nodes[graph.root]
    console.print(_describe(root))
    for up, title in ((True, "came from"), (False, "led to")):
        if not (graph.upstream_of(graph.root) if up else graph.downstream_of(graph.root)):
            continue
        tree = Tree(title)
        _branch(tree, graph, graph.root, up, {graph.root})
        console.print(tree)
    if len(graph.nodes) == 1:
        console.print("no lineage recorded: nothing read or made by it was logged")


def lineage(
    uri: Annotated[
        str,
        typer.Argument(
            help="A run id, runs:/<id>, models:/<name>/<version> (or @alias), or "
            "datasets:/<name>/<version>."
        ),
    ],
    depth: Annotated[int, typer.Option("--depth", help="Links to follow each way.")] = 3,
    up: Annotated[bool, typer.Option("--up", help="Only what it came from.")] = False,
    down: Annotated[bool, typer.Option("--down", help="Only what came from it.")] = False,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """What a model, run or dataset version came from, and what came from it."""
    from loopml.errors import InvalidInputError
    from loopml.registry.lineage import lineage as build

    if up and down:
        raise InvalidInputError("--up and --down exclude each other; give neither for both")
    client = client_for(tracking_uri)
    try:
        graph = build(
            uri, depth=depth, direction="up" if up else "down" if down else "both", client=client
        )
    finally:
        client.close()
    if json_out:
        print_json(graph.to_dict())
        return
    render(graph)


def trace(
    deployment: Annotated[str, typer.Argument(help="The deployment that answered.")],
    request_id: Annotated[
        str, typer.Argument(help="The request's id (the X-Request-ID of its answer).")
    ],
    days: Annotated[
        int | None,
        typer.Option("--days", help="Search only the last N days of the log (default: all)."),
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Trace a served prediction to its model version, run, data versions and code commit."""
    from loopml.errors import InvalidInputError
    from loopml.serving.trace import trace_prediction

    if days is not None and days < 1:
        raise InvalidInputError("--days must be at least 1")
    client = client_for(tracking_uri)
    try:
        since = timedelta(days=days) if days else None
        found = trace_prediction(deployment, request_id, since=since, client=client)
    finally:
        client.close()
    if json_out:
        print_json(found.to_dict())
        return
    from loopml.cli._output import _console

    console = _console()
    first = found.rows[0]
    status = first.get("status")
    console.print(
        f"request {request_id} of {deployment}: {first.get('timestamp')}, route "
        f"{first.get('route')}, status {status}, {len(found.rows)} row(s)"
        + (f", error: {first.get('error')}" if first.get("error") else "")
    )
    for row in found.rows[:5]:
        outputs = {k[len("output.") :]: v for k, v in row.items() if k.startswith("output.")}
        console.print(f"  row {row.get('row')}: {outputs}")
    if len(found.rows) > 5:
        console.print(f"  … {len(found.rows) - 5} more row(s) (--json shows them all)")
    console.print(f"model:   {found.model_uri or first.get('model_name') or 'unregistered'}")
    console.print(f"run:     {found.run_id or 'unknown'}")
    if found.git_commit:
        dirty = " (with uncommitted changes)" if found.git_dirty == "true" else ""
        console.print(f"code:    commit {found.git_commit}{dirty} {found.entry_point}".rstrip())
    for item in found.datasets:
        console.print(
            f"data:    {item['uri']} ({item['role'] or 'input'}, blake3 {item['digest']})"
        )
    if found.params:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(found.params.items()))
        console.print(f"params:  {shown}")
    if found.lineage is not None and len(found.lineage.nodes) > 1:
        console.print("")
        render(found.lineage)
