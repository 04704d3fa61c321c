"""The `loopml` command: a thin shell over the Python API. Each area is its own module,
imported only when one of its commands runs (see ``loopml.cli._lazy``)."""

from __future__ import annotations

import sys

import typer

from loopml.cli._lazy import lazy_group

# name -> "module:attribute": a Typer app (a command group) or a command function. Listed
# in the order `loopml --help` shows them.
COMMANDS = {
    "experiments": "loopml.cli.experiments:app",
    "runs": "loopml.cli.runs:app",
    "artifacts": "loopml.cli.artifacts:app",
    "models": "loopml.cli.models:app",
    "data": "loopml.cli.data:app",
    "pipeline": "loopml.cli.pipeline:app",
    "schedule": "loopml.cli.schedule:app",
    "deploy": "loopml.cli.deploy:app",
    "monitor": "loopml.cli.monitor:app",
    "labels": "loopml.cli.labels:app",
    "demo": "loopml.cli.demo:demo",
    "evaluate": "loopml.cli.evaluation:evaluate",
    "gate": "loopml.cli.evaluation:gate",
    "serve": "loopml.cli.serve:serve",
    "predict": "loopml.cli.predict:predict",
    "lineage": "loopml.cli.lineage:lineage",
    "trace": "loopml.cli.lineage:trace",
    "scheduler": "loopml.cli.schedule:scheduler",
    "server": "loopml.cli.server:server",
    "tokens": "loopml.cli.tokens:app",
}

app = typer.Typer(
    name="loopml",
    help="loopml: track experiments and keep models healthy, from data to production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=lazy_group(COMMANDS),
)


@app.callback()
def _root() -> None:
    # A callback makes the root a command group even with one eager command.
    pass


@app.command("version")
def version() -> None:
    """Print loopml's version."""
    from loopml import __version__

    typer.echo(__version__)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; LoopmlErrors become a one-line message and their exit code."""
    from loopml.errors import LoopmlError

    try:
        # Without standalone mode, click returns the code of a `typer.Exit(code)`.
        code = app(args=argv, standalone_mode=False)
    except LoopmlError as exc:
        from loopml.cli._output import print_error

        print_error(exc.message)
        return exc.exit_code
    except typer.Abort:
        return 130
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        raise
    return code if isinstance(code, int) else 0


def _is_usage_error(exc: Exception) -> bool:
    """A click error (bad option, missing argument): typer 0.26+ ships its own copy of
    click, older versions use click itself; either way the class is ClickException."""
    return any(
        cls.__name__ == "ClickException" and cls.__module__.endswith("exceptions")
        for cls in type(exc).__mro__
    )


if __name__ == "__main__":
    sys.exit(main())
