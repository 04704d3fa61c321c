"""The `loopml` command: a thin shell over the Python API. Each area is its own module."""

from __future__ import annotations

import sys

import typer

from loopml.cli import (
    artifacts,
    data,
    demo,
    deploy,
    evaluation,
    experiments,
    labels,
    models,
    monitor,
    pipeline,
    predict,
    runs,
    schedule,
    serve,
    server,
)

app = typer.Typer(
    name="loopml",
    help="loopml: track experiments and keep models healthy, from data to production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(models.app, name="models")
app.add_typer(data.app, name="data")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(schedule.app, name="schedule")
app.add_typer(monitor.app, name="monitor")
app.add_typer(deploy.app, name="deploy")
app.add_typer(labels.app, name="labels")
app.command("demo")(demo.demo)
app.command("evaluate")(evaluation.evaluate)
app.command("gate")(evaluation.gate)
app.command("predict")(predict.predict)
app.command("scheduler")(schedule.scheduler)
app.command("server")(server.server)
app.command("serve")(serve.serve)


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
        import click

        # typer >= 0.29 raises its own copy of click's exceptions (typer.BadParameter…):
        # a usage error is told to the user either way, never a traceback
        base: type = click.exceptions.ClickException
        vendored = [c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"]
        if isinstance(exc, (base, *vendored)) and hasattr(exc, "show"):
            exc.show()
            return int(getattr(exc, "exit_code", 2))
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
