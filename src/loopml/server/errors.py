"""One place that turns errors into JSON responses: 4xx for bad input, never a bare 500."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from loopml.errors import LoopmlError

__all__ = ["install_error_handlers"]

log = logging.getLogger("loopml.server")


def _is_mlflow(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/2.0/", "/ajax-api/2.0/"))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error as a JSON body with an error_code."""

    @app.exception_handler(LoopmlError)
    async def _loopml_error(request: Request, exc: LoopmlError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body')}: {err.get('msg')}"
            for err in exc.errors()
        )
        body = {
            "error_code": "INVALID_PARAMETER_VALUE",
            "message": f"invalid request: {problems}",
            "type": "InvalidInputError",
        }
        return JSONResponse(body, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "ENDPOINT_NOT_FOUND", 405: "BAD_REQUEST"}.get(exc.status_code, "BAD_REQUEST")
        body = {"error_code": code, "message": str(exc.detail), "type": "HTTPException"}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = uuid.uuid4().hex
        log.exception("unhandled error (request id %s)", request_id)
        body = {
            "error_code": "INTERNAL_ERROR",
            "message": f"internal server error; quote request id {request_id} when reporting it",
            "request_id": request_id,
        }
        return JSONResponse(body, status_code=500)
