"""The inference server: ``create_serving_app(...)`` builds a Starlette app that answers the
Open Inference Protocol v2 (``/v2/...``) and MLflow's ``/invocations``.

The inference routes are plain Starlette endpoints: the body is decoded with orjson, checked
against the signature into typed columns, predicted off the event loop (batched when
configured), and answered; metrics and the prediction log are updated without waiting.
Every answer carries an ``X-Request-ID`` header (the client's, when it sends a valid one).
"""

from __future__ import annotations

import gc
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from loopml.errors import (
    InvalidInputError,
    LoopmlError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from loopml.serving.invocations import encode_predictions, parse_csv, parse_json
from loopml.serving.protocol_v2 import encode_outputs, parse_infer
from loopml.serving.routing import ROUTING_KEY_HEADER, Route

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from loopml.serving.state import ServingState

__all__ = ["REQUEST_ID_HEADER", "build_app"]

log = logging.getLogger("loopml.serving")

REQUEST_ID_HEADER = "x-request-id"
ROUTE_HEADER = "x-loopml-route"  # primary or canary: which route answered
VERSION_HEADER = "x-loopml-model-version"  # the registered version that answered
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_OFFLOAD_BYTES = 256 * 1024  # bodies this large are decoded off the event loop


def _too_large(size: int, limit: int) -> str:
    return (
        f"the request body is {size / 2**20:.1f} MiB or more, over this server's limit of "
        f"{limit / 2**20:.0f} MiB; send fewer rows per request, or raise "
        "LOOPML_SERVING_MAX_BODY_MB"
    )


def _check_request_id(value: str) -> str:
    if not _REQUEST_ID.fullmatch(value):
        raise InvalidInputError(
            f"a request id is 1-128 letters, digits, '.', '_', ':' or '-'; got {value[:140]!r}"
        )
    return value


def build_app(state: ServingState) -> Starlette:
    """The Starlette app over a loaded :class:`ServingState`."""
    import asyncio

    import orjson
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import Response
    from starlette.routing import Route as Path

    from loopml import __version__

    dumps = orjson.dumps
    numpy_option = orjson.OPT_SERIALIZE_NUMPY
    json_type = "application/json"

    def answer(body: Any, status: int = 200, request_id: str | None = None) -> Response:
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        return Response(
            dumps(body, option=numpy_option), status, headers=headers, media_type=json_type
        )

    def error_body(exc: LoopmlError, request_id: str) -> dict[str, Any]:
        return {**exc.to_dict(), "error": exc.message, "request_id": request_id}

    async def decode(body: bytes, parse: Any) -> Any:
        if len(body) < _OFFLOAD_BYTES:
            return parse(body)
        return await asyncio.get_running_loop().run_in_executor(state.executor, parse, body)

    max_body = state.settings.serving_max_body_mb * 2**20

    async def read_body(request: Request) -> bytes:
        """The request's body, refused (413) past the size limit without reading it all."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body:
            raise PayloadTooLargeError(_too_large(int(declared), max_body))
        parts: list[bytes] = []
        size = 0
        async for part in request.stream():
            size += len(part)
            if size > max_body:
                raise PayloadTooLargeError(_too_large(size, max_body))
            parts.append(part)
        return b"".join(parts)

    def loads(body: bytes) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInputError(f"the body is not valid JSON: {exc}") from exc

    async def serve(
        route: Route,
        protocol: str,
        request_id: str,
        stamp: int,
        started: float,
        inputs: Any,
        render: Any,
    ) -> Response:
        """Prepare, predict, answer, and account for one request."""
        features = None
        outputs = None
        try:
            features = route.runtime.prepare(inputs)
            outputs, start, stop = await route.batcher.predict(features)
            body = render(outputs, start, stop)
        except LoopmlError as exc:
            if exc.http_status >= 500:
                log.error("request %s: %s", request_id, exc.message)
            kept = features if exc.http_status >= 500 else None
            state.finish(
                route, protocol, request_id, stamp, started, exc.http_status, exc.message, kept,
                None,
            )  # fmt: skip
            return answer(error_body(exc, request_id), exc.http_status, request_id)
        except Exception as exc:
            if outputs is None:
                log.exception("request %s: the model raised", request_id)
                message = f"the model raised {type(exc).__name__}: {exc}"[:2000]
            else:
                log.exception("request %s: the output cannot be sent as JSON", request_id)
                message = f"the model's output cannot be sent as JSON: {exc}"[:2000]
            state.finish(route, protocol, request_id, stamp, started, 500, message, features, None)
            body_ = {
                "error_code": "PREDICTION_FAILED",
                "message": f"{message} (request id {request_id})",
                "error": message,
                "type": "PredictionError",
                "request_id": request_id,
            }
            return answer(body_, 500, request_id)
        state.finish(
            route, protocol, request_id, stamp, started, 200, None, features, outputs,
            start, stop, inputs,
        )  # fmt: skip
        headers = {
            REQUEST_ID_HEADER: request_id,
            ROUTE_HEADER: route.name,
            VERSION_HEADER: route.version_label,
        }
        return Response(body, 200, headers=headers, media_type=json_type)

    def refuse(
        route: Route, protocol: str, request_id: str, stamp: int, started: float, exc: LoopmlError
    ) -> Response:
        state.finish(
            route, protocol, request_id, stamp, started, exc.http_status, exc.message, None, None
        )
        return answer(error_body(exc, request_id), exc.http_status, request_id)

    # -- MLflow ----------------------------------------------------------------------
    async def invocations(request: Request) -> Response:
        started = time.perf_counter()
        stamp = time.time_ns() // 1000
        route = state.table.choose(request.headers.get(ROUTING_KEY_HEADER))
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        try:
            _check_request_id(request_id)
            kind = request.headers.get("content-type", json_type).split(";")[0].strip().lower()
            body = await read_body(request)
            if kind in ("text/csv", "application/csv"):
                inputs = await decode(body, parse_csv)
            elif kind in (json_type, "", "*/*") or kind.endswith("+json"):
                inputs = await decode(body, lambda b: parse_json(loads(b)))
            else:
                raise UnsupportedMediaTypeError(
                    f"Content-Type {kind!r} is not accepted; send application/json or text/csv"
                )
        except LoopmlError as exc:
            request_id = request_id if _REQUEST_ID.fullmatch(request_id) else uuid.uuid4().hex
            return refuse(route, "invocations", request_id, stamp, started, exc)

        def render(outputs: dict[str, Any], start: int, stop: int) -> bytes:
            return dumps(encode_predictions(outputs, start, stop), option=numpy_option)

        return await serve(route, "invocations", request_id, stamp, started, inputs, render)

    # -- Open Inference Protocol v2 --------------------------------------------------
    def route_for(request: Request) -> Route:
        name = request.path_params["name"]
        table = state.table
        if name not in (state.name, table.primary.model_label):
            raise NotFoundError(
                f"this server serves the model {state.name!r}, not {name!r}; see GET /v2/models"
            )
        version = request.path_params.get("version")
        if version is None:
            return table.choose(request.headers.get(ROUTING_KEY_HEADER))
        found = table.by_version(version)
        if found is None:
            served = [r.version_label for r in table.serving() if r.version_label]
            raise NotFoundError(
                f"model {name!r} has no version {version!r} being served here; it serves {served}"
            )
        return found

    async def infer(request: Request) -> Response:
        started = time.perf_counter()
        stamp = time.time_ns() // 1000
        header_id = request.headers.get(REQUEST_ID_HEADER)
        request_id = uuid.uuid4().hex
        route = state.table.primary
        try:
            if header_id is not None:
                request_id = _check_request_id(header_id)
            route = route_for(request)
            schema = route.runtime.schema
            body = await read_body(request)
            given, inputs, wanted = await decode(body, lambda b: parse_infer(loads(b), schema))
            if given is not None and header_id is None:
                request_id = _check_request_id(given)
        except LoopmlError as exc:
            return refuse(route, "v2", request_id, stamp, started, exc)
        model_name = state.name
        rid = request_id

        def render(outputs: dict[str, Any], start: int, stop: int) -> bytes:
            body: dict[str, Any] = {
                "model_name": model_name,
                "model_version": route.version_label or None,
                "id": rid,
                "parameters": {},
                "outputs": encode_outputs(outputs, start, stop, wanted),
            }
            return dumps(body, option=numpy_option)

        return await serve(route, "v2", request_id, stamp, started, inputs, render)

    async def server_metadata(request: Request) -> Response:
        return answer({"name": "loopml", "version": __version__, "extensions": []})

    async def live(request: Request) -> Response:
        return answer({"live": True})

    async def ready(request: Request) -> Response:
        return answer({"ready": state.ready}, 200 if state.ready else 503)

    async def model_metadata(request: Request) -> Response:
        try:
            route = route_for(request)
        except LoopmlError as exc:
            request_id = uuid.uuid4().hex
            return answer(error_body(exc, request_id), exc.http_status, request_id)
        table = state.table
        versions = [r.version_label for r in table.serving() if r.version_label]
        body = {
            "name": state.name,
            "versions": versions if "version" not in request.path_params else [route.version_label],
            "platform": f"loopml-{route.runtime.model.flavor}",
            **route.runtime.metadata(),
        }
        return answer(body)

    async def model_ready(request: Request) -> Response:
        try:
            route = route_for(request)
        except LoopmlError as exc:
            request_id = uuid.uuid4().hex
            return answer(error_body(exc, request_id), exc.http_status, request_id)
        return answer(
            {"name": state.name, "version": route.version_label or None, "ready": state.ready},
            200 if state.ready else 503,
        )

    async def list_models(request: Request) -> Response:
        return answer({"models": [{"name": state.name, "ready": state.ready}]})

    # -- operations ------------------------------------------------------------------
    async def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def stats(request: Request) -> Response:
        return answer(state.status())

    async def ping(request: Request) -> Response:
        return Response("\n", 200 if state.ready else 503, media_type="text/plain")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "ENDPOINT_NOT_FOUND" if exc.status_code == 404 else "BAD_REQUEST"
        message = f"{request.method} {request.url.path}: {exc.detail}"
        request_id = uuid.uuid4().hex
        body = {"error_code": code, "message": message, "error": message, "request_id": request_id}
        return answer(body, exc.status_code, request_id)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.start(asyncio.get_running_loop())
        from loopml.serving.follow import Follower

        follower = Follower(state)
        follower.start()
        # What is loaded by now (libraries, the models) lives as long as the server; frozen
        # out of the collector's reach, a full collection no longer walks it between requests.
        gc.freeze()
        # The prediction log's writer and the shadow share the interpreter with the event
        # loop; a switch interval shorter than Python's 5 ms keeps a request from waiting
        # behind a whole slice of background work (p99 at 8 clients: 12 ms against 18 ms).
        sys.setswitchinterval(0.001)
        log.info(
            "%s: %s ready in %.2f s (model load to ready), idle memory %.0f MiB, pid %d",
            state.name,
            ", ".join(f"{r.name} {r.runtime.resolved.label}" for r in state.table.all()),
            state.startup_seconds,
            state.idle_memory_mib,
            os.getpid(),
        )
        try:
            yield
        finally:
            follower.stop()
            await asyncio.get_running_loop().run_in_executor(None, state.close)

    name_path = "/v2/models/{name}"
    version_path = "/v2/models/{name}/versions/{version}"
    routes = [
        Path("/invocations", invocations, methods=["POST"]),
        Path("/v2", server_metadata, methods=["GET"]),
        Path("/v2/health/live", live, methods=["GET"]),
        Path("/v2/health/ready", ready, methods=["GET"]),
        Path("/v2/models", list_models, methods=["GET"]),
        Path(name_path, model_metadata, methods=["GET"]),
        Path(f"{name_path}/ready", model_ready, methods=["GET"]),
        Path(f"{name_path}/infer", infer, methods=["POST"]),
        Path(version_path, model_metadata, methods=["GET"]),
        Path(f"{version_path}/ready", model_ready, methods=["GET"]),
        Path(f"{version_path}/infer", infer, methods=["POST"]),
        Path("/metrics", metrics, methods=["GET"]),
        Path("/stats", stats, methods=["GET"]),
        Path("/ping", ping, methods=["GET"]),
        Path("/health", ping, methods=["GET"]),
    ]
    middleware = []
    if state.settings.serving_auth_file:
        from starlette.middleware import Middleware

        from loopml.auth import TokenMiddleware, open_token_file

        middleware.append(
            Middleware(
                TokenMiddleware,
                tokens=open_token_file(state.settings.serving_auth_file),
                is_open=_OPEN_PATHS.__contains__,
                server=f"the model server of {state.name}",
                hint="send `Authorization: Bearer <token>` with a token from its auth file "
                "(`loopml tokens create NAME --file FILE`)",
            )
        )
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
        middleware=middleware,
    )
    app.state.serving = state
    return app


# What a model server answers without a token when it checks them: liveness, readiness, and
# the figures load balancers and Prometheus scrape (no features, no predictions).
_OPEN_PATHS = frozenset(
    {"/ping", "/health", "/v2/health/live", "/v2/health/ready", "/metrics", "/stats"}
)
