"""Authentication of the tracking server (see :mod:`loopml.auth` for token files).

With ``server_auth_file`` set, every request needs a token from the file except
``/health``, the API docs and the web UI's static files (``/ui/``, which hold no data).
Clients send it as ``Authorization: Bearer <token>`` (loopml's client, the web UI, MLflow's
client with ``MLFLOW_TRACKING_TOKEN``) or with HTTP basic auth (MLflow's
``MLFLOW_TRACKING_USERNAME``/``PASSWORD``). A read-only token may read — every GET, and the
searches MLflow and loopml send as POST — and is refused (403) any change. Changes are
recorded under the token's user (:func:`request_user`).
"""

from __future__ import annotations

from typing import Any

from loopml.auth import (
    ROLES,
    TokenEntry,
    TokenFile,
    TokenMiddleware,
    check_user_name,
    open_token_file,
    request_user,
)

__all__ = [
    "OPEN_PATHS",
    "ROLES",
    "AuthMiddleware",
    "TokenEntry",
    "TokenFile",
    "check_user_name",
    "open_token_file",
    "request_user",
]

#: Paths anyone may call: liveness, and the API's description (no data in either).
OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
#: The web UI's page and static files (they hold no data: the page asks for a token itself).
UI_PATHS = frozenset({"/", "/ui"})
UI_PREFIX = "/ui/"
# POST routes that only read (MLflow's searches take their filters in a body).
_READING_POSTS = ("/search", "/get-latest-versions")
_HINT = (
    "set LOOPML_TRACKING_TOKEN (loopml) or MLFLOW_TRACKING_TOKEN (MLflow) to a token its "
    "administrator issued with `loopml tokens create NAME`"
)


def _is_open(path: str) -> bool:
    if path in OPEN_PATHS or path in UI_PATHS:
        return True
    # only the UI's own files: a path that climbs out of /ui/ is not one of them
    return path.startswith(UI_PREFIX) and ".." not in path.split("/")


def _allows(user: TokenEntry, scope: Any) -> bool:
    """Write tokens may do anything; read-only ones what changes nothing."""
    if user.role != "read":
        return True
    method = scope.get("method", "GET")
    if method in ("GET", "HEAD", "OPTIONS"):
        return True
    return method == "POST" and str(scope.get("path", "")).endswith(_READING_POSTS)


class AuthMiddleware(TokenMiddleware):
    """The tracking server's token check (open paths, roles, the message of a 401)."""

    def __init__(self, app: Any, tokens: TokenFile) -> None:
        super().__init__(app, tokens, _is_open, _allows, "this loopml server", _HINT)
