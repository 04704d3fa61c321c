"""Options shared by every command, and the client they use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from loopml.tracking.client import TrackingClient

__all__ = ["JsonOption", "TrackingUriOption", "client_for"]

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
