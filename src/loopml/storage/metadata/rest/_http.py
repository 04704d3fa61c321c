"""The HTTP session the REST stores share: base URL, timeouts, and errors mapped back to
the LoopmlError classes the server raised."""

from __future__ import annotations

from typing import Any

import httpx

import loopml.errors as errors
from loopml.errors import LoopmlError, StoreError

__all__ = ["HttpSession"]


def _error_class(name: str | None, status: int) -> type[LoopmlError]:
    cls = getattr(errors, name, None) if name else None
    if isinstance(cls, type) and issubclass(cls, LoopmlError):
        return cls
    if status == 404:
        return errors.NotFoundError
    if status == 409:
        return errors.ConflictError
    if 400 <= status < 500:
        return errors.InvalidInputError
    return StoreError


class HttpSession:
    """A pooled httpx client for one loopml server."""

    def __init__(self, base_url: str, timeout: float = 30.0, token: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)

    def close(self) -> None:
        """Close the pooled connections."""
        self.client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; a 4xx/5xx answer raises the matching LoopmlError."""
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreError(
                f"cannot reach the loopml server at {self.base_url}: {exc}. Check that "
                "`loopml server` is running and the tracking URI is right"
            ) from exc
        if response.status_code >= 400:
            self.raise_for(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and decode the JSON answer."""
        return self.request(method, path, **kwargs).json()

    def raise_for(self, response: httpx.Response) -> None:
        """Raise the LoopmlError a failed response stands for."""
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:500]}
        message = body.get("message") or f"HTTP {response.status_code}"
        raise _error_class(body.get("type"), response.status_code)(message)
