"""Following the control plane: a running server polls its deployment record and the
registry aliases its routes name, loads changed versions in the background, and swaps.

A swap replaces the route table on the event loop's thread in one assignment: requests
already running finish on the old version, new ones go to the new. A version that fails to
load is not swapped in; the old one keeps serving and the error shows in ``/stats`` (and
``loopml deploy status``) until a later check succeeds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from typing import TYPE_CHECKING

from loopml.errors import DeploymentNotFoundError, LoopmlError
from loopml.serving.routing import Route, RouteTable
from loopml.serving.runtime import ModelRuntime, ResolvedModel, load_runtime, resolve
from loopml.serving.spec import DeploymentSpec

if TYPE_CHECKING:
    from loopml.serving.state import ServingState

__all__ = ["Follower"]

log = logging.getLogger("loopml.serving")


def _same(runtime: ModelRuntime, resolved: ResolvedModel) -> bool:
    have = runtime.resolved
    return (have.source, have.version, have.name) == (
        resolved.source,
        resolved.version,
        resolved.name,
    )


class Follower:
    """Polls every ``deployment_poll_interval`` seconds on a background thread."""

    def __init__(self, state: ServingState) -> None:
        self.state = state
        self.interval = state.settings.deployment_poll_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._missing_warned = False

    def needed(self) -> bool:
        """True when there is something that can change: a record, or a registry URI."""
        if self.state.deployment is not None:
            return True
        return any(ref.startswith("models:") for ref in self.state.spec.routes().values())

    def start(self) -> None:
        """Start polling (when there is anything to follow)."""
        if self.needed() and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="loopml-follow", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop polling (a load in progress is finished first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # a store that is down must not stop the server
                if not failing:  # once per outage, not once per poll
                    log.warning(
                        "%s: cannot check for changes; serving on", self.state.name, exc_info=True
                    )
                failing = True
            else:
                if failing:
                    log.info("%s: checking for changes again", self.state.name)
                failing = False

    def _spec(self) -> tuple[DeploymentSpec, int | None]:
        state = self.state
        if state.deployment is None:
            return state.spec, state.revision
        try:
            record = state.client.stores.metadata.get_deployment(state.deployment)
        except DeploymentNotFoundError:
            if not self._missing_warned:
                log.warning("%s: the deployment record is gone; serving on", state.name)
                self._missing_warned = True
            return state.spec, state.revision
        self._missing_warned = False
        if record.revision == state.revision:
            return state.spec, state.revision
        try:
            return DeploymentSpec.from_dict(record.spec), record.revision
        except LoopmlError as exc:
            state.load_errors["spec"] = exc.message
            return state.spec, state.revision

    def check(self) -> bool:
        """One poll: returns True when it swapped a new route table in."""
        state = self.state
        spec, revision = self._spec()
        table = state.table
        current = {r.name: r for r in table.all()}
        loaded = [r.runtime for r in table.all()]
        runtimes: dict[str, ModelRuntime] = {}
        for name, ref in spec.routes().items():
            have = current.get(name)
            try:
                resolved = resolve(ref, state.client)
            except LoopmlError as exc:
                self._failed(name, f"cannot resolve {ref}: {exc.message}")
                if have is not None:
                    runtimes[name] = have.runtime
                continue
            if have is not None and _same(have.runtime, resolved):
                runtimes[name] = have.runtime
                continue
            reuse = next((rt for rt in loaded if _same(rt, resolved)), None)
            if reuse is not None:  # e.g. a promoted canary: already loaded, no reload
                runtimes[name] = dataclasses.replace(reuse, resolved=resolved)
            else:
                try:
                    runtimes[name] = load_runtime(resolved, state.client)
                except Exception as exc:
                    self._failed(name, f"cannot load {resolved.label}: {exc}")
                    if have is not None:
                        runtimes[name] = have.runtime
                    continue
            state.load_errors.pop(name, None)
        if "primary" not in runtimes:
            runtimes["primary"] = table.primary.runtime
        state.load_errors.pop("spec", None)
        new = self._table(spec, runtimes, table)
        if new is None and revision == state.revision:
            return False
        self._install(new or table, spec, revision)
        return new is not None

    def _failed(self, route: str, message: str) -> None:
        state = self.state
        if state.load_errors.get(route) != message:
            log.error("%s: %s; %s keeps its current version", state.name, message, route)
            state.metrics.load_failed(route)
        state.load_errors[route] = message

    def _table(
        self, spec: DeploymentSpec, runtimes: dict[str, ModelRuntime], table: RouteTable
    ) -> RouteTable | None:
        """The new table, or None when nothing that requests see has changed."""
        state = self.state
        old = state.spec
        batching = (spec.max_batch_size, spec.max_latency_ms) != (
            old.max_batch_size,
            old.max_latency_ms,
        )
        current = {r.name: r for r in table.all()}
        routes: dict[str, Route] = {}
        changed = batching or set(runtimes) != set(current)
        for name, runtime in runtimes.items():
            have = current.get(name)
            if have is not None and have.runtime is runtime and not batching:
                routes[name] = have
            else:
                routes[name] = state.make_route(name, runtime, spec)
                changed = True
        weight = spec.canary_weight if "canary" in routes else 0.0
        if not changed and weight == table.canary_weight:
            return None
        return RouteTable(routes["primary"], routes.get("canary"), weight, routes.get("shadow"))

    def _install(self, table: RouteTable, spec: DeploymentSpec, revision: int | None) -> None:
        state = self.state
        loop = state.loop
        if loop is None or loop.is_closed():
            state.install(table, spec, revision)
            return

        async def install() -> None:
            state.install(table, spec, revision)

        asyncio.run_coroutine_threadsafe(install(), loop).result(timeout=30)
