"""`loopml models …`: the registry from a shell — list, show, register, alias, review, history,
cards, renaming and deletion. A model reference is ``pricing`` (the model, or its latest version),
``pricing/3`` or ``pricing@champion``; ``models:/…`` URIs work too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._common import JsonOption, TrackingUriOption, client_for, parse_assignments
from loopml.cli._output import fmt_time, print_json, print_table, to_jsonable

if TYPE_CHECKING:
    from loopml.entities import AuditEntry, ModelVersion
    from loopml.registry import RegistryClient

app = typer.Typer(
    help="Register, review, alias and inspect models in the registry.", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="Registered model name.")]
VersionArg = Annotated[int, typer.Argument(help="Version number.", min=1)]
RefArg = Annotated[str, typer.Argument(help="pricing, pricing/3, pricing@champion or models:/… .")]
CommentOption = Annotated[
    str, typer.Option("--comment", "-m", help="Why: kept with the decision in the audit log.")
]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who is acting (default: LOOPML_USER, else the login name)."),
]


def _registry(tracking_uri: str | None, actor: str | None = None) -> RegistryClient:
    from loopml.registry import RegistryClient

    return RegistryClient(client_for(tracking_uri), actor=actor)


def _version_rows(versions: list[ModelVersion]) -> list[list[Any]]:
    return [
        [
            v.version,
            v.status.value,
            ", ".join(v.aliases),
            fmt_time(v.creation_time),
            v.created_by,
            v.run_id or "",
            v.source,
        ]
        for v in versions
    ]


_VERSION_COLUMNS = ["version", "status", "aliases", "registered (UTC)", "by", "run", "source"]


@app.command("list")
def list_models(
    name_like: Annotated[
        str | None, typer.Option("--name-like", help="SQL LIKE pattern, case-insensitive.")
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """List registered models with their latest version and aliases."""
    models = _registry(tracking_uri).list_models(name_like)
    if json_out:
        print_json(models)
        return
    print_table(
        ["name", "latest", "aliases", "updated (UTC)", "description"],
        [
            [
                m.name,
                m.latest_version,
                ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items())),
                fmt_time(m.last_update_time),
                m.description,
            ]
            for m in models
        ],
        title=f"Registered models ({len(models)})",
    )


@app.command("show")
def show(ref: RefArg, json_out: JsonOption = False, tracking_uri: TrackingUriOption = None) -> None:
    """Show a model and its versions, or one version with its approvals."""
    reg = _registry(tracking_uri)
    name, version = reg.target(ref)
    if version is None:
        model = reg.get_model(name)
        versions = reg.list_versions(model.name)
        if json_out:
            print_json({"model": model, "versions": versions})
            return
        print_table(
            ["field", "value"],
            [
                ["name", model.name],
                ["description", model.description],
                ["latest version", model.latest_version],
                ["aliases", ", ".join(f"{a}→{v}" for a, v in sorted(model.aliases.items()))],
                ["created (UTC)", fmt_time(model.creation_time)],
                ["updated (UTC)", fmt_time(model.last_update_time)],
                *[[f"tag {k}", v] for k, v in sorted(model.tags.items())],
            ],
            title=f"Model {model.name}",
        )
        print_table(_VERSION_COLUMNS, _version_rows(versions), title="Versions")
        return
    approvals = reg.approvals(version.name, version.version)
    if json_out:
        print_json({"version": version, "approvals": approvals})
        return
    print_table(
        ["field", "value"],
        [
            ["model", version.name],
            ["version", version.version],
            ["status", version.status.value],
            ["aliases", ", ".join(version.aliases)],
            ["source", version.source],
            ["run", version.run_id or ""],
            ["registered (UTC)", fmt_time(version.creation_time)],
            ["registered by", version.created_by],
            ["description", version.description],
            *[[f"tag {k}", v] for k, v in sorted(version.tags.items())],
        ],
        title=f"{version.name} version {version.version}",
    )
    if approvals:
        print_table(
            ["decision", "by", "when (UTC)", "comment"],
            [[a.decision.value, a.actor, fmt_time(a.time), a.comment] for a in approvals],
            title="Review",
        )


@app.command("register")
def register(
    model_uri: Annotated[
        str, typer.Argument(help="runs:/<run_id>/<path> of a logged model (or models:/…).")
    ],
    name: NameArg,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="KEY=VALUE; repeatable.")
    ] = None,
    actor: ActorOption = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Register a logged model as the next version of NAME (created if missing)."""
    version = _registry(tracking_uri, actor).register(
        model_uri, name, description=description, tags=parse_assignments(tag, "tag")
    )
    if json_out:
        print_json(version)
        return
    typer.echo(
        f"registered {version.name} version {version.version} ({version.status.value}) "
        f"from {version.source}"
    )


@app.command("alias")
def alias(
    name: NameArg,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. champion.")],
    version: Annotated[
        int | None, typer.Argument(help="Version to point at (omit with --delete).", min=1)
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    actor: ActorOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Point ALIAS at VERSION (moving it if it pointed elsewhere), or remove it."""
    from loopml.errors import InvalidInputError

    reg = _registry(tracking_uri, actor)
    if delete:
        if version is not None:
            raise InvalidInputError(
                "--delete takes no version: loopml models alias NAME ALIAS --delete"
            )
        reg.delete_alias(name, alias_name)
        typer.echo(f"removed alias {alias_name} of {name}")
        return
    if version is None:
        raise InvalidInputError(
            f"give the version {alias_name!r} should point at, e.g. "
            f"loopml models alias {name} {alias_name} 3"
        )
    before = reg.get_model(name).aliases.get(alias_name)
    reg.set_alias(name, alias_name, version)
    moved = f" (was {before})" if before not in (None, version) else ""
    typer.echo(f"{name}@{alias_name} → version {version}{moved}")


def _review_command(action: str, summary: str) -> Any:
    """A command that moves a version's review status with the RegistryClient method
    ``action``; the four review commands differ only in that."""

    def command(
        name: NameArg,
        version: VersionArg,
        comment: CommentOption = "",
        actor: ActorOption = None,
        tracking_uri: TrackingUriOption = None,
    ) -> None:
        result = getattr(_registry(tracking_uri, actor), action)(name, version, comment)
        typer.echo(f"{name} version {version} is now {result.status.value}")

    command.__doc__ = summary
    return command


for _name, _action, _summary in (
    ("approve", "approve", "Approve a version (records who, when and why)."),
    ("reject", "reject", "Reject a version (records who, when and why)."),
    ("archive", "archive", "Archive a version."),
    ("review", "request_review", "Send a rejected or archived version back to pending review."),
):
    app.command(_name)(_review_command(_action, _summary))


def _change(entry: AuditEntry) -> str:
    before, after = entry.before or {}, entry.after or {}
    keys = sorted(set(before) | set(after))
    parts = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if old == new:
            if key in ("alias", "key"):  # what the change is about: keep it in view
                parts.append(f"{key}={old}")
            continue
        old_s = "" if old is None else json.dumps(old) if not isinstance(old, str) else old
        new_s = "" if new is None else json.dumps(new) if not isinstance(new, str) else new
        if old is None:
            parts.append(f"{key}={new_s}")
        elif new is None:
            parts.append(f"{key}: {old_s} → (none)")
        else:
            parts.append(f"{key}: {old_s} → {new_s}")
    return "; ".join(parts)


@app.command("history")
def history(
    name: Annotated[
        str | None, typer.Argument(help="Registered model name (default: the whole registry).")
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """The audit log: every change with who, when, and before → after."""
    entries = _registry(tracking_uri).history(name)
    if json_out:
        print_json(entries)
        return
    print_table(
        ["#", "time (UTC)", "actor", "action", "model", "version", "change"],
        [
            [e.id, fmt_time(e.time), e.actor, e.action, e.name, e.version, _change(e)]
            for e in entries
        ],
        title=f"Registry history{f' of {name}' if name else ''} ({len(entries)} entries)",
    )


@app.command("card")
def card(
    ref: RefArg,
    html: Annotated[
        bool, typer.Option("--html", help="Self-contained HTML, not Markdown.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """The model card of a version: Markdown (default), --html, or --json."""
    from loopml.registry.cards import build_card

    built = build_card(_registry(tracking_uri), ref)
    if json_out:
        print_json(built.to_dict())
        return
    text = built.to_html() if html else built.to_markdown()
    if output is None:
        typer.echo(text, nl=False)
        return
    from loopml.storage.artifacts import write_text_atomic

    write_text_atomic(output, text)
    typer.echo(f"wrote {output}")


@app.command("tag")
def tag(
    ref: RefArg,
    items: Annotated[list[str], typer.Argument(help="KEY=VALUE pairs.")],
    actor: ActorOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Set tags on a model (pricing) or a version (pricing/3). Card sections are tags
    card.intended_use, card.limitations, …"""
    reg = _registry(tracking_uri, actor)
    tags = parse_assignments(items, "tag")
    name, version = reg.target(ref)
    for key, value in tags.items():
        reg.set_tag(name, key, value, version.version if version else None)
    typer.echo(f"set {len(tags)} tag(s) on {ref}")


@app.command("describe")
def describe(
    ref: RefArg,
    text: Annotated[str, typer.Argument(help="The new description.")],
    actor: ActorOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Replace the description of a model (pricing) or a version (pricing/3)."""
    reg = _registry(tracking_uri, actor)
    name, version = reg.target(ref)
    reg.set_description(name, text, version.version if version else None)
    typer.echo(f"updated the description of {ref}")


@app.command("rename")
def rename(
    name: NameArg,
    new_name: Annotated[str, typer.Argument(metavar="NEW", help="The model's new name.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Also when deployments or monitors name it (they move along)."
        ),
    ] = False,
    actor: ActorOption = None,
    json_out: JsonOption = False,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Rename a model: its versions, tags, aliases, reviews and history move to NEW."""
    reg = _registry(tracking_uri, actor)
    refs = reg.references(name) if force else []
    model = reg.rename(name, new_name, force=force)
    moved = sorted({r.name for r in refs if r.kind == "deployment"})
    monitors = sorted({r.name for r in refs if r.kind == "monitor"})
    if json_out:
        print_json({**to_jsonable(model), "deployments_moved": moved, "monitors_moved": monitors})
        return
    typer.echo(f"renamed model {name} to {model.name} (latest version {model.latest_version})")
    if moved:
        typer.echo(f"deployments now serving {model.name}: {', '.join(moved)}")
    if monitors:
        typer.echo(f"monitors now naming {model.name}: {', '.join(monitors)}")


@app.command("delete")
def delete(
    ref: RefArg,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Also when aliases point at the version / the model has versions."
        ),
    ] = False,
    actor: ActorOption = None,
    tracking_uri: TrackingUriOption = None,
) -> None:
    """Delete a version (pricing/3) or a whole model (pricing). The audit log is kept."""
    reg = _registry(tracking_uri, actor)
    name, version = reg.target(ref)
    if version is None:
        reg.delete_model(name, force=force)
        typer.echo(f"deleted model {name}")
        return
    reg.delete_version(name, version.version, force=force)
    typer.echo(f"deleted {version.name} version {version.version}")
