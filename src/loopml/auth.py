"""Tokens: who may call a loopml server (the tracking server, a model server), as whom.

A token file holds one line per user, ``name:sha256-of-the-token`` or
``name:sha256-of-the-token:read`` for a read-only user (``#`` starts a comment); the tokens
themselves are never stored. :class:`TokenFile` creates, lists and revokes entries (each
change written to a temporary file and renamed over the old one) and checks a presented
token. :class:`TokenMiddleware` makes requests carry one, as ``Authorization: Bearer
<token>`` or HTTP basic auth with the user name and the token as password; which paths are
open and what each role may do are the server's to say (:mod:`loopml.server.auth` for the
tracking server, :mod:`loopml.serving.app` for model servers). A server re-reads the file
when it changes, so a revoked token stops working without a restart; a file that cannot be
read or parsed refuses every request (fail closed).

An authenticated request is recorded under its user: the middleware replaces any
``X-Loopml-Actor`` header with the user's name and puts it in the request's state.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.errors import AlreadyExistsError, ConfigurationError, NotFoundError

__all__ = [
    "ROLES",
    "USER_KEY",
    "TokenEntry",
    "TokenFile",
    "TokenMiddleware",
    "check_user_name",
    "open_token_file",
    "request_user",
]

log = logging.getLogger("loopml.server")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_PREFIX = "lml_"
USER_KEY = "loopml_user"  # where the middleware puts the user in the request state
_RECHECK = 1.0  # seconds between checks of the file for changes

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_user_name(name: object) -> str:
    """A token's user name: letters, digits and ``._@+-``, up to 100 characters."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(
            f"{name!r} is not a usable user name: use letters, digits and . _ @ + - "
            "(up to 100 characters, starting with a letter or digit)"
        )
    return name


ROLES = ("write", "read")


@dataclass(frozen=True)
class TokenEntry:
    """One user of the server, the SHA-256 digest of their token, and their role
    (``write``: everything; ``read``: reads only)."""

    name: str
    digest: str
    role: str = "write"

    def line(self) -> str:
        """The entry as a line of the token file."""
        return f"{self.name}:{self.digest}" + (":read" if self.role == "read" else "")


def _parse(text: str, path: Path) -> dict[str, TokenEntry]:
    entries: dict[str, TokenEntry] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, rest = line.partition(":")
        digest, _, role = rest.partition(":")
        if not sep or not _NAME.match(name) or not _HASH.match(digest) or role not in ("", "read"):
            raise ConfigurationError(
                f"{path}, line {number}: expected `name:sha256-hex` or `name:sha256-hex:read`, "
                f"got {line[:80]!r}; fix the line or manage the file with `loopml tokens`"
            )
        if name in entries:
            raise ConfigurationError(f"{path}, line {number}: {name!r} is listed twice")
        entries[name] = TokenEntry(name, digest, role or "write")
    return entries


class TokenFile:
    """The token file at ``path``: read, checked against, and changed atomically."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries: dict[str, TokenEntry] | None = None
        self._error = ""
        self._stamp: tuple[int, int, int] | None = None
        self._checked = 0.0

    # -- reading ---------------------------------------------------------------------------
    def entries(self) -> dict[str, TokenEntry]:
        """The users, by name (ConfigurationError when the file cannot be read or parsed;
        an absent file has none)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read the token file {self.path}: {exc}") from exc
        return _parse(text, self.path)

    def _current(self) -> dict[str, TokenEntry]:
        now = time.monotonic()
        with self._lock:
            if self._entries is not None and now - self._checked < _RECHECK:
                return self._entries
            self._checked = now
            try:
                st = self.path.stat()
                stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError as exc:
                self._entries, self._error = {}, f"cannot read the token file: {exc}"
                self._stamp = None
                log.error("%s", self._error)
                return {}
            if stamp != self._stamp:
                try:
                    self._entries, self._error = self.entries(), ""
                except ConfigurationError as exc:
                    self._entries, self._error = {}, exc.message
                    log.error("refusing every request: %s", exc.message)
                self._stamp = stamp
            return self._entries or {}

    @property
    def problem(self) -> str:
        """Why every request is refused (the file could not be read), or ``""``."""
        self._current()
        return self._error

    def user_for(self, token: str, name: str | None = None) -> TokenEntry | None:
        """The user whose token this is (and, when given, whose name matches), or None."""
        digest = _digest(token)
        found = None
        for entry in self._current().values():
            # compare every entry, in constant time each, so timing tells nothing
            if hmac.compare_digest(entry.digest, digest) and (name is None or name == entry.name):
                found = entry
        return found

    # -- changing --------------------------------------------------------------------------
    def create(self, name: str, role: str = "write") -> str:
        """Add a user; returns their new token (shown once: only its digest is kept)."""
        check_user_name(name)
        if role not in ROLES:
            raise ConfigurationError(f"a token's role is write or read, not {role!r}")
        entries = self.entries()
        if name in entries:
            raise AlreadyExistsError(
                f"{name!r} already has a token in {self.path}; revoke it first "
                f"(`loopml tokens revoke {name}`) to issue a new one"
            )
        token = _PREFIX + secrets.token_urlsafe(32)
        entries[name] = TokenEntry(name, _digest(token), role)
        self._write(entries)
        return token

    def revoke(self, name: str) -> None:
        """Remove a user (their token stops working within a second on a running server)."""
        entries = self.entries()
        if name not in entries:
            raise NotFoundError(f"{self.path} has no token for {name!r}")
        del entries[name]
        self._write(entries)

    def _write(self, entries: dict[str, TokenEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["# loopml server tokens: name:sha256(token)[:read]; manage with `loopml tokens`"]
        lines += [e.line() for e in sorted(entries.values(), key=lambda e: e.name)]
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ConfigurationError(f"cannot write the token file {self.path}: {exc}") from exc


def open_token_file(path: str | os.PathLike[str]) -> TokenFile:
    """The token file a server checks requests against, read once to fail early.

    Raises:
        ConfigurationError: the file does not exist, cannot be read or is malformed.
    """
    tokens = TokenFile(path)
    if not tokens.path.is_file():
        raise ConfigurationError(
            f"the token file {tokens.path} does not exist; make it with "
            f"`loopml tokens create NAME --file {tokens.path}`"
        )
    if not tokens.entries():
        log.warning("the token file %s lists no users: every request is refused", tokens.path)
    return tokens


def _presented(headers: list[tuple[bytes, bytes]]) -> tuple[str, str | None] | None:
    """(token, user name or None) from the Authorization header, or None."""
    for key, value in headers:
        if key.lower() != b"authorization":
            continue
        try:
            text = value.decode("latin-1").strip()
        except UnicodeDecodeError:
            return None
        scheme, _, credentials = text.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip(), None
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            user, sep, password = decoded.partition(":")
            return (password, user) if sep and password else None
        return None
    return None


Allows = Callable[[TokenEntry, Scope], bool]


class TokenMiddleware:
    """ASGI middleware: a request to a path that is not open and without a known token gets
    401 JSON (503 when the token file cannot be read), one the user's role does not allow
    gets 403, before any route runs.

    Args:
        is_open: the paths anyone may call.
        allows: whether a user may make this request (default: every user, every request).
        server: how the 401 message names the server ("this loopml server").
        hint: what the 401 message tells the caller to do.
    """

    def __init__(
        self,
        app: App,
        tokens: TokenFile,
        is_open: Callable[[str], bool],
        allows: Allows | None = None,
        server: str = "this loopml server",
        hint: str = "send a token its administrator issued with `loopml tokens create NAME`",
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.is_open = is_open
        self.allows = allows
        self.server = server
        self.hint = hint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_open(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers") or [])
        presented = _presented(headers)
        user = self.tokens.user_for(*presented) if presented else None
        if user is None:
            problem = self.tokens.problem
            if problem:
                await _answer(send, 503, "TEMPORARILY_UNAVAILABLE", "StoreError", problem)
            else:
                why = "a token it does not know" if presented else "no token"
                await _answer(
                    send,
                    401,
                    "UNAUTHENTICATED",
                    "AuthenticationError",
                    f"{self.server} needs a token and got {why}: {self.hint}",
                    basic=not _from_script(headers),
                )
            return
        if self.allows is not None and not self.allows(user, scope):
            await _answer(
                send,
                403,
                "PERMISSION_DENIED",
                "PermissionDeniedError",
                f"{user.name}'s token is read-only: it cannot {scope.get('method')} "
                f"{scope.get('path')}; ask for a token that may write",
            )
            return
        headers = [(k, v) for k, v in headers if k.lower() != b"x-loopml-actor"]
        headers.append((b"x-loopml-actor", user.name.encode("utf-8")))
        scope = dict(scope, headers=headers)
        scope.setdefault("state", {})
        scope["state"] = {**scope["state"], USER_KEY: user.name}
        await self.app(scope, receive, send)


def _from_script(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a page's script sent the request (``X-Requested-With``, as the web UI does)."""
    return any(key.lower() == b"x-requested-with" for key, _ in headers)


async def _answer(
    send: Send, status: int, code: str, kind: str, message: str, *, basic: bool = True
) -> None:
    body = json.dumps({"error_code": code, "message": message, "type": kind}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        # a Basic challenge makes browsers show their own login box; the web UI asks for the
        # token itself, so its requests get the Bearer challenge only
        challenge = b'Bearer realm="loopml"' + (b', Basic realm="loopml"' if basic else b"")
        headers.append((b"www-authenticate", challenge))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def request_user(request: Any, claimed: str = "") -> str:
    """The name a change is recorded under: the authenticated user when the server checks
    tokens (a client cannot claim another name), else what the client sent."""
    user = getattr(request.state, USER_KEY, None)
    return str(user) if user else claimed
