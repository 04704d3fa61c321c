"""`loopml experiments …`: list, show, create, rename, delete, restore."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, client_for
from loopml.cli._output import fmt_time, print_json, print_table

app = typer.Typer(
    help="Create, list, rename, delete and restore experiments.", no_args_is_help=True
)

ViewOption = Annotated[
    str, typer.Option("--view", help="Which experiments: active_only, deleted_only or all.")
]


@app.command("list")
def list_experiments(
    view: ViewOption = "active_only",
    name_like: Annotated[
        str | None, typer.Option("--name-like", help="SQL LIKE pattern, case-insensitive.")
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """List experiments, newest first."""
    client = client_for(tracking_uri)
    exps = list(client.search_experiments(view, max_results=50_000, name_like=name_like))
    if json_out:
        print_json(exps)
        return
    print_table(
        ["id", "name", "stage", "created", "tags"],
        [
            [
                e.experiment_id,
                e.name,
                e.lifecycle_stage.value,
                fmt_time(e.creation_time),
                ", ".join(f"{k}={v}" for k, v in e.tags.items()),
            ]
            for e in exps
        ],
        title="Experiments",
    )


@app.command("show")
def show(
    experiment: Annotated[str, typer.Argument(help="Experiment name or id.")],
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Show one experiment."""
    exp = client_for(tracking_uri).resolve_experiment(experiment)
    if json_out:
        print_json(exp)
        return
    print_table(
        ["field", "value"],
        [
            ["id", exp.experiment_id],
            ["name", exp.name],
            ["stage", exp.lifecycle_stage.value],
            ["created", fmt_time(exp.creation_time)],
            ["updated", fmt_time(exp.last_update_time)],
        ]
        + [[f"tag {k}", v] for k, v in exp.tags.items()],
        title=f"Experiment {exp.name}",
    )


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Name of the new experiment.")],
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Create an experiment and print its id."""
    exp_id = client_for(tracking_uri).create_experiment(name)
    print_json({"experiment_id": exp_id, "name": name}) if json_out else typer.echo(exp_id)


@app.command("rename")
def rename(
    experiment: Annotated[str, typer.Argument(help="Experiment name or id.")],
    new_name: Annotated[str, typer.Argument(help="The new name.")],
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Rename an experiment."""
    client = client_for(tracking_uri)
    client.rename_experiment(client.resolve_experiment(experiment).experiment_id, new_name)
    typer.echo(f"renamed to {new_name}")


@app.command("delete")
def delete(
    experiment: Annotated[str, typer.Argument(help="Experiment name or id.")],
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Soft-delete an experiment (restore it with `loopml experiments restore`)."""
    client = client_for(tracking_uri)
    exp = client.resolve_experiment(experiment)
    client.delete_experiment(exp.experiment_id)
    typer.echo(f"deleted experiment {exp.experiment_id} ({exp.name})")


@app.command("restore")
def restore(
    experiment: Annotated[str, typer.Argument(help="Experiment id (or name).")],
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Restore a deleted experiment."""
    client = client_for(tracking_uri)
    exp = client.resolve_experiment(experiment)
    client.restore_experiment(exp.experiment_id)
    typer.echo(f"restored experiment {exp.experiment_id} ({exp.name})")
