"""`loopml tokens`: who may call a tracking server started with an auth file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.cli._common import JsonOption
from loopml.cli._output import print_json, print_table

app = typer.Typer(
    help="Tokens for `loopml server --auth-file` (one per user; only digests are stored).",
    no_args_is_help=True,
)


def _file(path: Path | None) -> Path:
    from loopml.config import load_settings
    from loopml.errors import ConfigurationError

    if path is not None:
        return path
    configured = load_settings().server_auth_file
    if not configured:
        raise ConfigurationError("name the token file: --file PATH, or set LOOPML_SERVER_AUTH_FILE")
    return Path(configured)


FileOption = Annotated[
    Path | None,
    typer.Option("--file", help="The token file (default: LOOPML_SERVER_AUTH_FILE)."),
]


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The user the token is for (names their changes).")],
    read_only: Annotated[
        bool, typer.Option("--read-only", help="The token may read, not change anything.")
    ] = False,
    file: FileOption = None,
    json_out: JsonOption = False,
) -> None:
    """Issue a token for a user and print it once (the file keeps only its SHA-256)."""
    from loopml.auth import TokenFile

    tokens = TokenFile(_file(file))
    role = "read" if read_only else "write"
    token = tokens.create(name, role)
    if json_out:
        print_json({"name": name, "role": role, "token": token, "file": str(tokens.path)})
        return
    typer.echo(token)
    typer.echo(
        f"token for {name!r} added to {tokens.path}; it is shown only now. Clients send it as "
        "LOOPML_TRACKING_TOKEN (or MLFLOW_TRACKING_TOKEN).",
        err=True,
    )


@app.command("list")
def list_(file: FileOption = None, json_out: JsonOption = False) -> None:
    """The users who have a token."""
    from loopml.auth import TokenFile

    tokens = TokenFile(_file(file))
    entries = sorted(tokens.entries().values(), key=lambda e: e.name)
    if json_out:
        print_json([{"name": e.name, "role": e.role} for e in entries])
        return
    print_table(["user", "role"], [[e.name, e.role] for e in entries], title=str(tokens.path))


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The user whose token stops working.")],
    file: FileOption = None,
) -> None:
    """Remove a user's token; a running server refuses it within a second."""
    from loopml.auth import TokenFile

    tokens = TokenFile(_file(file))
    tokens.revoke(name)
    typer.echo(f"revoked the token of {name!r} in {tokens.path}")
