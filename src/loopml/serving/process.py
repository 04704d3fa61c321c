"""Server processes of deployments: start one in the foreground or detached, stop one.

A detached server is ``loopml deploy serve NAME`` in a new session, its output appended to
``deployments/<name>.log`` under the store's folder (``./.loopml`` for a database or server
store); :func:`serve_deployment` returns once it answers ready. The endpoint a server
records (address, pid, host) is how :func:`stop_deployment` finds it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.config import DEFAULT_TRACKING_URI
from loopml.errors import InvalidStateError, LoopmlError

if TYPE_CHECKING:
    from loopml.tracking.client import TrackingClient

__all__ = ["log_path", "serve_deployment", "server_alive", "stop_deployment"]

# Servers this process started and left running: held so that dropping the handle is not
# mistaken for losing a child (Python warns about a Popen collected while its process runs);
# ``stop_deployment`` reaps them by pid.
_DETACHED: list[subprocess.Popen[bytes]] = []


def _client(client: TrackingClient | None) -> TrackingClient:
    if client is not None:
        return client
    from loopml.tracking.fluent import get_client

    return get_client()


def log_path(name: str, client: TrackingClient) -> Path:
    """Where a detached server of the deployment writes its log."""
    from loopml.storage.metadata import is_folder_uri

    uri = client.settings.tracking_uri
    folder = uri[len("file://") :] if uri.startswith("file://") else uri
    base = Path(folder) if is_folder_uri(uri) else Path(DEFAULT_TRACKING_URI)
    return base / "deployments" / f"{name}.log"


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def server_alive(endpoint: Mapping[str, Any]) -> bool:
    """True when the server an endpoint names still runs (on this host: by its pid)."""
    pid = endpoint.get("pid")
    if endpoint.get("host") == socket.gethostname() and isinstance(pid, int):
        return _pid_alive(pid)
    import httpx

    try:
        return httpx.get(f"{endpoint.get('url')}/v2/health/live", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def serve_deployment(
    name: str,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    detach: bool = False,
    timeout: float = 120.0,
    client: TrackingClient | None = None,
) -> dict[str, Any] | None:
    """Run a server for a deployment record: in this process until stopped, or detached
    (returns its endpoint once it is ready).

    Raises:
        InvalidStateError: a server for it already runs, or a detached one failed to start
            (the message ends with its log).
    """
    from loopml.serving.server import run_server

    client = _client(client)
    record = client.stores.metadata.get_deployment(name)
    if record.endpoint and server_alive(record.endpoint):
        raise InvalidStateError(
            f"deployment {name!r} is already served at {record.endpoint.get('url')} "
            f"(pid {record.endpoint.get('pid')}); stop it first with `loopml deploy stop {name}`"
        )
    if not detach:
        run_server(deployment=name, host=host, port=port, workers=workers, settings=client.settings)
        return None
    return _detach(name, host, port, workers, timeout, client)


def _detach(
    name: str,
    host: str | None,
    port: int | None,
    workers: int | None,
    timeout: float,
    client: TrackingClient,
) -> dict[str, Any]:
    settings = client.settings
    args = [sys.executable, "-m", "loopml.cli.main", "deploy", "serve", name]
    args += ["--tracking-uri", settings.tracking_uri]
    for flag, value in (("--host", host), ("--port", port), ("--workers", workers)):
        if value is not None:
            args += [flag, str(value)]
    env = dict(os.environ)
    if settings.artifact_uri:
        env["LOOPML_ARTIFACT_URI"] = settings.artifact_uri
    if settings.serving_auth_file:
        env["LOOPML_SERVING_AUTH_FILE"] = settings.serving_auth_file
    log = log_path(name, client)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as sink:
        sink.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(args)}\n".encode())
        sink.flush()
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    store = client.stores.metadata
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise InvalidStateError(
                f"the server for {name!r} exited with code {proc.returncode} before it was "
                f"ready; its log ({log}) ends with:\n{_tail(log)}"
            )
        endpoint = store.get_deployment(name).endpoint
        if endpoint and endpoint.get("pid") == proc.pid:
            _DETACHED.append(proc)
            return dict(endpoint)
        time.sleep(0.2)
    proc.terminate()
    raise InvalidStateError(
        f"the server for {name!r} was not ready within {timeout:.0f} s; its log ({log}) ends "
        f"with:\n{_tail(log)}"
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_deployment(
    name: str, *, timeout: float = 60.0, client: TrackingClient | None = None
) -> bool:
    """Stop the server of a deployment (SIGTERM: in-flight requests finish, the prediction
    log is written). Returns False when none was running (a stale endpoint is cleared).

    Raises:
        InvalidStateError: it runs on another host, or did not stop within ``timeout``.
    """
    client = _client(client)
    store = client.stores.metadata
    endpoint = store.get_deployment(name).endpoint
    if not endpoint:
        return False
    pid = endpoint.get("pid")
    if endpoint.get("host") != socket.gethostname() or not isinstance(pid, int):
        raise InvalidStateError(
            f"the server of {name!r} runs on host {endpoint.get('host')!r} "
            f"({endpoint.get('url')}); stop it there"
        )
    if not _pid_alive(pid):
        store.set_deployment_endpoint(name, None, expected_pid=pid)
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        store.set_deployment_endpoint(name, None, expected_pid=pid)
        return False
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            raise InvalidStateError(
                f"the server of {name!r} (pid {pid}) did not stop within {timeout:.0f} s"
            )
        time.sleep(0.1)
    _forget(pid)
    with contextlib.suppress(LoopmlError):
        store.set_deployment_endpoint(name, None, expected_pid=pid)
    return True


def _forget(pid: int) -> None:
    """Drop the handle of a server this process started, once it has exited."""
    for proc in [p for p in _DETACHED if p.pid == pid]:
        proc.wait()  # reaped already (see _pid_alive): this only records its exit
        _DETACHED.remove(proc)
