"""Metadata stores: the interface and the implementations, chosen by tracking URI.

Plugins per URI scheme are listed in one table and imported only when used, so that
``import loopml`` does not pay for SQLAlchemy or an HTTP client.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from loopml.errors import InvalidUriError, StoreError
from loopml.storage.metadata.base import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    MetadataStore,
)
from loopml.storage.metadata.registry_base import RegistryStore

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "MetadataStore",
    "RegistryStore",
    "is_folder_uri",
    "is_server_uri",
    "open_metadata_store",
]

# scheme -> "module:factory"; a factory takes (uri, settings) and returns a MetadataStore.
STORE_PLUGINS: dict[str, str] = {
    "sqlite": "loopml.storage.metadata.sql:open_sql_store",
    "postgresql": "loopml.storage.metadata.sql:open_sql_store",
    "postgres": "loopml.storage.metadata.sql:open_sql_store",
    "http": "loopml.storage.metadata.rest:open_rest_store",
    "https": "loopml.storage.metadata.rest:open_rest_store",
}


def _scheme(uri: str) -> str:
    head, sep, _ = uri.partition("://")
    if not sep:
        head, sep, _ = uri.partition(":")
        if not sep or len(head) == 1:  # a Windows drive letter is a folder, not a scheme
            return ""
    return head.split("+", 1)[0].lower()


def is_server_uri(uri: str) -> bool:
    """True when a tracking URI names a loopml server (``http(s)://host:port``)."""
    return _scheme(uri) in ("http", "https")


def is_folder_uri(uri: str) -> bool:
    """True when a tracking URI names a folder (``./.loopml``, ``file:///…``)."""
    return _scheme(uri) in ("", "file")


def open_metadata_store(uri: str, settings: Settings) -> MetadataStore:
    """Open the metadata store a tracking URI names.

    Raises:
        InvalidUriError: the URI's scheme is not one loopml knows.
    """
    scheme = _scheme(uri)
    if scheme in ("", "file"):
        folder = Path(uri[len("file://") :] if scheme == "file" else uri)
        _make_store_folder(folder)
        from loopml.storage.metadata.sql.embedded import sqlite_url_for_folder

        uri, scheme = sqlite_url_for_folder(folder), "sqlite"
    target = STORE_PLUGINS.get(scheme)
    if target is None:
        raise InvalidUriError(
            f"tracking URI {uri!r} has the scheme {scheme!r}, which loopml does not know; use "
            "a folder, sqlite:///path.db, postgresql://user@host/db or http(s)://host:port"
        )
    module, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module), attr)
    store: MetadataStore = factory(uri, settings)
    return store


def _make_store_folder(folder: Path) -> None:
    """Create an embedded store's folder, with a ``.gitignore`` so that git ignores it.

    The folder usually sits in a project's work tree; its database and blobs are no
    project source, and listing them made every run look dirty (and every ``git status``
    of the run context slower as blobs accumulate). An existing folder is left as it is.
    """
    if folder.is_dir():
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        tmp = folder / f".gitignore.{os.getpid()}.tmp"
        tmp.write_text("# loopml's store: metadata and blobs, not project source\n*\n")
        os.replace(tmp, ignore)
    except OSError as exc:
        raise StoreError(f"cannot create the store folder {folder}: {exc}") from exc
