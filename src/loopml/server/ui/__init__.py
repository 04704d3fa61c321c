"""The web UI: static pages under ``/ui`` that read the JSON API under ``/api/v1``.

The page, its JavaScript modules and its stylesheet ship inside the package (``static/``)
and are served as they are: no build step, nothing fetched from outside the server. The
pages hold no data of their own, so :mod:`loopml.server.auth` lets them load without a
token; every API call they make carries the token the user typed (kept in the browser's
``sessionStorage``) as ``Authorization: Bearer``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

__all__ = ["STATIC", "include"]

#: The folder of the UI's files.
STATIC = Path(__file__).parent / "static"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# Only the server's own scripts, styles and API: a name that slipped past the escaping
# could still not load or run anything; no other site may frame the UI.
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def include(app: FastAPI) -> None:
    """Serve the UI at ``/ui/`` and send ``/`` and ``/ui`` there."""
    from starlette.responses import Response
    from starlette.staticfiles import StaticFiles
    from starlette.types import Scope

    class UiFiles(StaticFiles):
        async def get_response(self, path: str, scope: Scope) -> Response:
            response = await super().get_response(path, scope)
            kind = _TYPES.get(Path(path).suffix)
            if kind and response.status_code == 200:
                # not the platform's guess: a module script served as text/plain never runs
                response.headers["Content-Type"] = kind
            # revalidate every time (cheap: ETag), so an upgraded server's UI is what runs
            response.headers["Cache-Control"] = "no-cache"
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Content-Security-Policy"] = _POLICY
            response.headers["Referrer-Policy"] = "no-referrer"
            return response

    # relative ("ui/" from both "/" and "/ui"), so it holds behind a proxy that serves the
    # app under a path prefix; so do the page's own links and API calls
    def to_ui() -> RedirectResponse:
        return RedirectResponse("ui/", status_code=307)

    app.add_api_route("/", to_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route("/ui", to_ui, methods=["GET"], include_in_schema=False)
    app.mount("/ui", UiFiles(directory=STATIC, html=True), name="ui")
