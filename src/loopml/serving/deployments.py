"""Deployments: named records of what to serve, which running servers follow.

    lm.serving.create_deployment("pricing", "pricing@champion",
                                 canary="pricing@challenger", canary_weight=10,
                                 shadow="pricing/7")
    lm.serving.update_deployment("pricing", canary_weight=50)
    lm.serving.promote("pricing")    # the canary's version takes all traffic (alias moves)
    lm.serving.rollback("pricing")   # back to the previous primary version
    lm.serving.deployment_status("pricing")

Every change is a new revision of the record, with the concrete model versions it resolved
to, in an append-only history. A change made from a revision that is no longer current is
applied again to the current one (a change names only the fields it sets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loopml.entities import Deployment, DeploymentEvent
from loopml.errors import InvalidInputError, InvalidStateError, RevisionConflictError
from loopml.serving.spec import DeploymentSpec
from loopml.uris import parse_models_uri

if TYPE_CHECKING:
    from loopml.tracking.client import TrackingClient

__all__ = [
    "create_deployment",
    "delete_deployment",
    "deployment_history",
    "deployment_status",
    "get_deployment",
    "list_deployments",
    "promote",
    "rollback",
    "update_deployment",
]

_UNSET: Any = object()
_RETRIES = 5


def _client(client: TrackingClient | None) -> TrackingClient:
    if client is not None:
        return client
    from loopml.tracking.fluent import get_client

    return get_client()


def _actor(client: TrackingClient, actor: str | None) -> str:
    from loopml.registry import default_actor

    return default_actor(client.settings.user) if actor is None else actor


def resolve_versions(spec: DeploymentSpec, client: TrackingClient) -> dict[str, Any]:
    """Route -> the concrete version each of the spec's references names now.

    Raises:
        NotFoundError: a reference names no registered model, version or alias.
    """
    from loopml.serving.runtime import resolve

    return {route: resolve(ref, client).to_dict() for route, ref in spec.routes().items()}


def create_deployment(
    name: str,
    model: str,
    *,
    canary: str | None = None,
    canary_weight: float = 0.0,
    shadow: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    max_batch_size: int = 0,
    max_latency_ms: float = 0.0,
    log_predictions: bool = True,
    actor: str | None = None,
    client: TrackingClient | None = None,
) -> Deployment:
    """Record a deployment (revision 1). Every model reference must resolve now.

    Raises:
        AlreadyExistsError: the name is taken.
        NotFoundError: a model, version or alias that does not exist.
    """
    client = _client(client)
    spec = DeploymentSpec(
        model=model,
        canary=canary,
        canary_weight=canary_weight,
        shadow=shadow,
        host=host,
        port=port,
        workers=workers,
        max_batch_size=max_batch_size,
        max_latency_ms=max_latency_ms,
        log_predictions=log_predictions,
    )
    versions = resolve_versions(spec, client)
    return client.stores.metadata.create_deployment(
        name, spec.to_dict(), versions, _actor(client, actor)
    )


def get_deployment(name: str, client: TrackingClient | None = None) -> Deployment:
    """One deployment record (DeploymentNotFoundError when there is none)."""
    return _client(client).stores.metadata.get_deployment(name)


def list_deployments(client: TrackingClient | None = None) -> list[Deployment]:
    """Every deployment, by name."""
    return _client(client).stores.metadata.list_deployments()


def deployment_history(name: str, client: TrackingClient | None = None) -> list[DeploymentEvent]:
    """Every change to a deployment, oldest first."""
    return _client(client).stores.metadata.deployment_history(name)


def _change(
    name: str,
    client: TrackingClient,
    actor: str | None,
    action: str,
    edit: Callable[[Deployment, DeploymentSpec], DeploymentSpec],
) -> Deployment:
    store = client.stores.metadata
    who = _actor(client, actor)
    for attempt in range(_RETRIES):
        record = store.get_deployment(name)
        spec = edit(record, DeploymentSpec.from_dict(record.spec))
        versions = resolve_versions(spec, client)
        try:
            return store.update_deployment(
                name, spec.to_dict(), record.revision, versions, who, action
            )
        except RevisionConflictError:
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def update_deployment(
    name: str,
    *,
    model: str | None = None,
    canary: str | None = _UNSET,
    canary_weight: float | None = None,
    shadow: str | None = _UNSET,
    max_batch_size: int | None = None,
    max_latency_ms: float | None = None,
    log_predictions: bool | None = None,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    actor: str | None = None,
    client: TrackingClient | None = None,
) -> Deployment:
    """Change some fields of a deployment (a new revision). ``canary=None`` or
    ``shadow=None`` removes that route. Running servers pick the change up within about a
    second (host, port, workers and log_predictions at their next start).

    Raises:
        DeploymentNotFoundError: no such deployment.
        NotFoundError: a model reference that does not resolve.
    """
    changes: dict[str, Any] = {}
    for key, value in (
        ("model", model),
        ("canary_weight", canary_weight),
        ("max_batch_size", max_batch_size),
        ("max_latency_ms", max_latency_ms),
        ("log_predictions", log_predictions),
        ("host", host),
        ("port", port),
        ("workers", workers),
    ):
        if value is not None:
            changes[key] = value
    if canary is not _UNSET:
        changes["canary"] = canary
        if canary is None:
            changes["canary_weight"] = 0.0
    if shadow is not _UNSET:
        changes["shadow"] = shadow
    if not changes:
        raise InvalidInputError("nothing to change; pass at least one field")

    def edit(record: Deployment, spec: DeploymentSpec) -> DeploymentSpec:
        return spec.replace(**changes)

    return _change(name, _client(client), actor, "update", edit)


def _alias_of(ref: str) -> tuple[str, str] | None:
    """(model, alias) when a reference follows a registry alias (not ``latest``)."""
    if not ref.startswith("models:"):
        return None
    parsed = parse_models_uri(ref)
    if parsed.alias is None or parsed.is_latest:
        return None
    return parsed.name, parsed.alias


def promote(
    name: str, *, actor: str | None = None, client: TrackingClient | None = None
) -> Deployment:
    """The canary's version takes all traffic and the canary route is removed. When the
    primary follows an alias (``pricing@champion``), the alias moves to the canary's version
    in the registry — the registry's rules apply, so an unapproved version cannot become the
    champion; otherwise the primary is pinned to that version.

    Raises:
        InvalidStateError: the deployment has no canary, or the registry refuses the alias.
    """
    from loopml.registry import RegistryClient
    from loopml.serving.runtime import resolve

    client = _client(client)
    record = client.stores.metadata.get_deployment(name)
    spec = DeploymentSpec.from_dict(record.spec)
    if spec.canary is None:
        raise InvalidStateError(
            f"deployment {name!r} has no canary to promote; add one with "
            "`loopml deploy update --canary MODEL:PERCENT`"
        )
    target = resolve(spec.canary, client)
    follows = _alias_of(spec.model)
    moves_alias = follows is not None and target.name == follows[0] and target.version
    if moves_alias:
        assert follows is not None and target.version is not None
        RegistryClient(client, actor=_actor(client, actor)).set_alias(
            follows[0], follows[1], target.version
        )
    new_model = spec.model if moves_alias else _pin(target.ref, target.name, target.version)

    def edit(record: Deployment, spec: DeploymentSpec) -> DeploymentSpec:
        return spec.replace(model=new_model, canary=None, canary_weight=0.0)

    return _change(name, client, actor, "promote", edit)


def _pin(ref: str, model: str | None, version: int | None) -> str:
    return f"models:/{model}/{version}" if model and version else ref


def rollback(
    name: str, *, actor: str | None = None, client: TrackingClient | None = None
) -> Deployment:
    """Back to the primary version the deployment served before the current one (the
    latest different one in its history); an alias the primary follows moves back.

    Raises:
        InvalidStateError: the history holds no other primary version.
    """
    from loopml.registry import RegistryClient
    from loopml.serving.runtime import resolve

    client = _client(client)
    store = client.stores.metadata
    record = store.get_deployment(name)
    spec = DeploymentSpec.from_dict(record.spec)
    now = resolve(spec.model, client)
    target = None
    for event in reversed(store.deployment_history(name)):
        primary = (event.versions or {}).get("primary") or {}
        if primary.get("source") and (primary.get("source"), primary.get("version")) != (
            now.source,
            now.version,
        ):
            target = primary
            break
    if target is None:
        raise InvalidStateError(
            f"deployment {name!r} has served no other primary version to roll back to "
            f"(it serves {now.label}); see `loopml deploy status {name}`"
        )
    follows = _alias_of(spec.model)
    moves_alias = follows is not None and target.get("name") == follows[0] and target.get("version")
    if moves_alias:
        assert follows is not None
        RegistryClient(client, actor=_actor(client, actor)).set_alias(
            follows[0], follows[1], int(target["version"])
        )
    new_model = (
        spec.model
        if moves_alias
        else _pin(
            str(target.get("ref") or target["source"]), target.get("name"), target.get("version")
        )
    )

    def edit(record: Deployment, spec: DeploymentSpec) -> DeploymentSpec:
        return spec.replace(model=new_model)

    return _change(name, client, actor, "rollback", edit)


def delete_deployment(
    name: str,
    *,
    force: bool = False,
    actor: str | None = None,
    client: TrackingClient | None = None,
) -> None:
    """Delete a deployment record (its history is kept). A deployment whose server is
    running needs ``force`` (the server is stopped first).

    Raises:
        InvalidStateError: a server is running and ``force`` is false.
    """
    from loopml.serving.process import server_alive, stop_deployment

    client = _client(client)
    record = client.stores.metadata.get_deployment(name)
    if record.endpoint and server_alive(record.endpoint):
        if not force:
            raise InvalidStateError(
                f"deployment {name!r} has a server running at {record.endpoint.get('url')}; "
                "stop it first (`loopml deploy stop`) or pass --force"
            )
        stop_deployment(name, client=client)
    client.stores.metadata.delete_deployment(name, _actor(client, actor))


def deployment_status(
    name: str, *, since: Any = None, client: TrackingClient | None = None
) -> dict[str, Any]:
    """The record, and either the running server's live figures (versions, traffic split,
    requests, errors, latency, start-up time, memory) or, with no server up, the same
    figures from the prediction log (since ``since``, default the last 24 hours)."""
    from datetime import timedelta

    import httpx

    from loopml.schemas.serving import deployment_to_json
    from loopml.serving.predictions import summarize_predictions

    client = _client(client)
    record = client.stores.metadata.get_deployment(name)
    out: dict[str, Any] = {**deployment_to_json(record), "running": False, "live": None}
    endpoint = record.endpoint or {}
    if endpoint.get("url"):
        try:
            response = httpx.get(f"{endpoint['url']}/stats", timeout=3)
            if response.status_code == 200:
                out["live"], out["running"] = response.json(), True
        except httpx.HTTPError:
            pass
    if not out["running"]:
        out["log"] = summarize_predictions(
            name, since=timedelta(days=1) if since is None else since, client=client
        )
    return out
