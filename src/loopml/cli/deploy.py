"""`loopml deploy …`: deployments (what to serve, the traffic split) and their servers."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, use_tracking_uri
from loopml.cli._output import fmt_time, print_json, print_table
from loopml.cli.serve import HostOption, LatencyOption, PortOption, WorkersOption

app = typer.Typer(help="Deployments: canary, shadow, promote, rollback.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="Deployment name.")]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who makes the change (default: LOOPML_USER, else login)."),
]
CanaryOption = Annotated[
    str | None,
    typer.Option("--canary", help="MODEL:PERCENT — a model that takes PERCENT of the traffic."),
]
ShadowOption = Annotated[
    str | None,
    typer.Option("--shadow", help="A model that sees every request; logged, never returned."),
]
DetachOption = Annotated[
    bool, typer.Option("--detach", help="Start the server in the background; return when ready.")
]


def _canary(text: str | None) -> tuple[str | None, float]:
    from loopml.serving import parse_canary

    if text is None:
        return None, 0.0
    return parse_canary(text)


def _serve(name: str, detach: bool, **where: Any) -> None:
    from loopml.serving import serve_deployment

    if detach:
        endpoint = serve_deployment(name, detach=True, **where) or {}
        typer.echo(
            f"serving {name} at {endpoint.get('url')} (pid {endpoint.get('pid')}); ready in "
            f"{endpoint.get('startup_seconds')} s, {endpoint.get('idle_memory_mib')} MiB"
        )
        return
    serve_deployment(name, **where)


@app.command("create")
def create(
    name: Name,
    model: Annotated[str, typer.Option("--model", help="The primary model: NAME@ALIAS, NAME/3…")],
    canary: CanaryOption = None,
    shadow: ShadowOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    workers: WorkersOption = 1,
    max_batch_size: Annotated[
        int,
        typer.Option(
            "--max-batch-size", min=0, help="Rows per predict call (1: none; 0: by flavor)."
        ),
    ] = 0,
    max_latency_ms: LatencyOption = 0.0,
    no_log_predictions: Annotated[
        bool, typer.Option("--no-log-predictions", help="Do not write the prediction log.")
    ] = False,
    detach: DetachOption = False,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Only record the deployment; start no server.")
    ] = False,
    actor: ActorOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Record a deployment and serve it (foreground, or --detach)."""
    from loopml.serving import create_deployment

    use_tracking_uri(tracking_uri)
    canary_ref, weight = _canary(canary)
    made = create_deployment(
        name,
        model,
        canary=canary_ref,
        canary_weight=weight,
        shadow=shadow,
        host=host,
        port=port,
        workers=workers,
        max_batch_size=max_batch_size,
        max_latency_ms=max_latency_ms,
        log_predictions=not no_log_predictions,
        actor=actor,
    )
    typer.echo(f"created deployment {made.name} (revision {made.revision}): {_routes(made)}")
    if not no_serve:
        _serve(name, detach)


def _batching(live: dict[str, Any]) -> str:
    """The rows per predict call of the running server's routes (``64``, or ``64/1``)."""
    rows = dict.fromkeys(str(r.get("batch_rows", live["max_batch_size"])) for r in live["routes"])
    return "/".join(rows) or str(live["max_batch_size"])


def _routes(record: Any) -> str:
    parts = []
    for route, v in sorted(record.versions.items()):
        label = f"{v['name']}/{v['version']}" if v.get("name") else v.get("source", "")
        parts.append(f"{route} {label}")
    return ", ".join(parts)


@app.command("list")
def list_(json_out: JsonOption = False, tracking_uri: TrackingUriOption = None) -> None:
    """Deployments with their models, traffic split and endpoint."""
    from loopml.serving import list_deployments

    use_tracking_uri(tracking_uri)
    found = list_deployments()
    if json_out:
        print_json(found)
        return
    print_table(
        ["name", "rev", "primary", "canary", "canary %", "shadow", "endpoint", "updated (UTC)"],
        [
            [
                d.name,
                d.revision,
                d.spec.get("model"),
                d.spec.get("canary") or "",
                d.spec.get("canary_weight") if d.spec.get("canary") else "",
                d.spec.get("shadow") or "",
                (d.endpoint or {}).get("url", ""),
                fmt_time(d.last_update_time),
            ]
            for d in found
        ],
    )


@app.command("status")
def status(
    name: Name,
    since: Annotated[
        str | None,
        typer.Option("--since", help="With no server up: log rows since (ISO date/time)."),
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Versions, traffic split, requests, errors and latency per version and route."""
    from loopml.serving import deployment_status

    use_tracking_uri(tracking_uri)
    got = deployment_status(name, since=since)
    if json_out:
        print_json(got)
        return
    spec = got["spec"]
    typer.echo(f"deployment {name}, revision {got['revision']}: {spec['model']}")
    live = got["live"]
    if live is None:
        endpoint = got.get("endpoint") or {}
        where = f" (recorded at {endpoint['url']}, not answering)" if endpoint.get("url") else ""
        typer.echo(f"no server running{where}; figures from the prediction log")
        rows = [
            [r["route"], r["model"], r["version"], "", r["requests"], r["client_errors"],
             r["server_errors"], r["latency_p50_ms"], r["latency_p99_ms"], ""]
            for r in got.get("log", [])
        ]  # fmt: skip
    else:
        typer.echo(
            f"running at {got['endpoint']['url']} (pid {live['pid']}), ready in "
            f"{live['startup_seconds']} s, idle memory {live['idle_memory_mib']} MiB, now "
            f"{live['memory_mib']} MiB; batching {_batching(live)} rows / "
            f"{live['max_latency_ms']} ms"
        )
        stats = {(s["route"], s["version"]): s for s in live["stats"]["routes"]}
        rows = []
        for r in live["routes"]:
            s = stats.get((r["route"], r["version"]), {})
            rows.append(
                [r["route"], r["model"], r["version"], r["traffic_percent"] if r["route"] !=
                 "shadow" else "copy", s.get("requests", 0), s.get("client_errors", 0),
                 s.get("server_errors", 0), s.get("latency_p50_ms"), s.get("latency_p99_ms"),
                 s.get("mean_batch_rows")]
            )  # fmt: skip
        extra = live["stats"]
        typer.echo(
            f"prediction log: {extra['prediction_log_rows']} rows written, "
            f"{extra['prediction_log_dropped']} dropped; shadow dropped: "
            f"{extra['shadow_dropped']}; swaps: {extra['swaps']}"
        )
        for route, error in live.get("load_errors", {}).items():
            typer.echo(f"load error ({route}): {error}")
    print_table(
        ["route", "model", "version", "traffic %", "requests", "4xx", "5xx", "p50 ms", "p99 ms",
         "rows/batch"],
        rows,
    )  # fmt: skip


@app.command("update")
def update(
    name: Name,
    model: Annotated[str | None, typer.Option("--model", help="A new primary model.")] = None,
    canary: CanaryOption = None,
    canary_weight: Annotated[
        float | None,
        typer.Option("--canary-weight", min=0.0, max=100.0, help="The canary's percent."),
    ] = None,
    no_canary: Annotated[bool, typer.Option("--no-canary", help="Remove the canary.")] = False,
    shadow: ShadowOption = None,
    no_shadow: Annotated[bool, typer.Option("--no-shadow", help="Remove the shadow.")] = False,
    max_batch_size: Annotated[
        int | None,
        typer.Option(
            "--max-batch-size", min=0, help="Rows per predict call (1: none; 0: by flavor)."
        ),
    ] = None,
    max_latency_ms: Annotated[
        float | None, typer.Option("--max-latency-ms", min=0.0, help="Batch wait (ms).")
    ] = None,
    log_predictions: Annotated[
        bool | None,
        typer.Option("--log-predictions/--no-log-predictions", help="Write the prediction log."),
    ] = None,
    actor: ActorOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Change the model, canary, weight, shadow or batching (running servers follow)."""
    from loopml.errors import InvalidInputError
    from loopml.serving import update_deployment

    use_tracking_uri(tracking_uri)
    if (canary and no_canary) or (shadow and no_shadow):
        raise InvalidInputError("pass a route or its --no- option, not both")
    changes: dict[str, Any] = {}
    if canary is not None:
        changes["canary"], changes["canary_weight"] = _canary(canary)
    if no_canary:
        changes["canary"] = None
    if canary_weight is not None:
        changes["canary_weight"] = canary_weight
    if shadow is not None or no_shadow:
        changes["shadow"] = None if no_shadow else shadow
    changed = update_deployment(
        name,
        model=model,
        max_batch_size=max_batch_size,
        max_latency_ms=max_latency_ms,
        log_predictions=log_predictions,
        actor=actor,
        **changes,
    )
    typer.echo(f"updated {name} to revision {changed.revision}: {_routes(changed)}")


@app.command("promote")
def promote(name: Name, actor: ActorOption = None, tracking_uri: TrackingUriOption = None) -> None:
    """The canary's version takes all traffic; the alias the primary follows moves to it."""
    from loopml.serving import promote as promote_

    use_tracking_uri(tracking_uri)
    changed = promote_(name, actor=actor)
    typer.echo(f"promoted: {name} revision {changed.revision} serves {_routes(changed)}")


@app.command("rollback")
def rollback(name: Name, actor: ActorOption = None, tracking_uri: TrackingUriOption = None) -> None:
    """Back to the previous primary version (the alias it follows moves back)."""
    from loopml.serving import rollback as rollback_

    use_tracking_uri(tracking_uri)
    changed = rollback_(name, actor=actor)
    typer.echo(f"rolled back: {name} revision {changed.revision} serves {_routes(changed)}")


@app.command("serve")
def serve(
    name: Name,
    host: Annotated[str | None, typer.Option("--host", help="Override the record's host.")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="Override the record's port.")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes.")] = None,
    detach: DetachOption = False,
    auth_file: Annotated[
        str | None,
        typer.Option(
            "--auth-file", help="Require a token from this file (`loopml tokens create`)."
        ),
    ] = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Start a server for an existing deployment (it follows the record's changes)."""
    if auth_file:
        import os

        os.environ["LOOPML_SERVING_AUTH_FILE"] = auth_file  # read by this command's settings
    use_tracking_uri(tracking_uri)
    _serve(name, detach, host=host, port=port, workers=workers)


@app.command("stop")
def stop(name: Name, tracking_uri: TrackingUriOption = None) -> None:
    """Stop the deployment's server (in-flight requests finish, the log is written)."""
    from loopml.serving import stop_deployment

    use_tracking_uri(tracking_uri)
    typer.echo(f"stopped {name}" if stop_deployment(name) else f"{name} had no server running")


@app.command("delete")
def delete(
    name: Name,
    force: Annotated[bool, typer.Option("--force", help="Stop a running server first.")] = False,
    actor: ActorOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Delete a deployment record (its history is kept)."""
    from loopml.serving import delete_deployment

    use_tracking_uri(tracking_uri)
    delete_deployment(name, force=force, actor=actor)
    typer.echo(f"deleted {name}")


@app.command("history")
def history(
    name: Name, json_out: JsonOption = False, tracking_uri: TrackingUriOption = None
) -> None:
    """Every change to a deployment: revision, time, actor, action, versions."""
    from loopml.serving import deployment_history

    use_tracking_uri(tracking_uri)
    events = deployment_history(name)
    if json_out:
        print_json(events)
        return
    print_table(
        ["rev", "time (UTC)", "actor", "action", "versions"],
        [[e.revision, fmt_time(e.time), e.actor, e.action, _routes(e)] for e in events],
    )
