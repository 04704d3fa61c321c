"""Options shared by every command, and the client they use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from loopml.tracking.client import TrackingClient

__all__ = [
    "JsonOption",
    "TrackingUriOption",
    "client_for",
    "parse_assignments",
    "use_tracking_uri",
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")
]
TrackingUriOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help=(
            "Store to use: a folder, sqlite:///…, postgresql://… or http(s)://host:port "
            "(default: LOOPML_TRACKING_URI, else ./.loopml)."
        ),
        show_default=False,
    ),
]


def client_for(tracking_uri: str | None) -> TrackingClient:
    """A tracking client for the command's store (settings from env and config file)."""
    from loopml.tracking.client import TrackingClient

    return TrackingClient(tracking_uri=tracking_uri)


def use_tracking_uri(tracking_uri: str | None) -> None:
    """Point the fluent API (which the command's library calls use) at ``--tracking-uri``."""
    if tracking_uri:
        from loopml.tracking.fluent import set_tracking_uri

        set_tracking_uri(tracking_uri)


def parse_assignments(items: list[str] | None, what: str, typed: bool = False) -> dict[str, Any]:
    """``KEY=VALUE`` options as a dict; with ``typed``, values are read as YAML scalars
    (``0.05`` a number, ``true`` a boolean), else kept as text.

    Raises:
        InvalidInputError: an item without ``=`` or with an empty key.
    """
    from loopml.errors import InvalidInputError

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"{what} {item!r} is not KEY=VALUE")
        if typed:
            import yaml

            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        else:
            out[key.strip()] = raw
    return out
