"""A command group whose subcommands are imported and built when they are used.

Building every command (inspecting each function's signature, resolving its annotations)
and importing every CLI module costs more than most commands take to run, so the root
``loopml`` group knows its subcommands only by name until one is asked for: ``loopml
pipeline run`` imports ``loopml.cli.pipeline`` and builds that group alone. ``loopml
--help`` lists each one by its help text, read from its module without building it.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
import typer.main
import typer.models
from typer.core import TyperCommand, TyperGroup

__all__ = ["LazyGroup", "lazy_group"]


def _target(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _summary(name: str, target: str) -> TyperCommand:
    """A stand-in that only describes the command, for a help listing: the help text the
    built command would have, without inspecting its parameters."""
    found = _target(target)
    if isinstance(found, typer.Typer):
        text = typer.main.solve_typer_info_help(typer.models.TyperInfo(found))
    else:
        text = inspect.getdoc(found) or ""
    return TyperCommand(name=name, help=text)


def _build(name: str, target: str) -> Any:
    """The click command for ``module:attribute``: a Typer app (a group) or a function."""
    found = _target(target)
    command: Any
    if isinstance(found, typer.Typer):
        command = typer.main.get_group(found)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(found)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _Commands(MutableMapping[str, Any]):
    """Name -> command; an entry given as a ``module:attribute`` is built on first access."""

    def __init__(self, built: MutableMapping[str, Any], lazy: dict[str, str]) -> None:
        self._targets = {name: target for name, target in lazy.items() if name not in built}
        self._built: dict[str, Any] = dict(built)
        # The order `--help` lists them in: the lazy table's, then those registered eagerly.
        self._order = [*self._targets, *built]
        self._summaries: dict[str, TyperCommand] | None = None

    @contextlib.contextmanager
    def summaries(self) -> Iterator[None]:
        """While in this block, commands not built yet are looked up as stand-ins that
        carry only their help text (a help listing needs no more)."""
        self._summaries = {}
        try:
            yield
        finally:
            self._summaries = None

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            target = self._targets[name]  # KeyError: no such command
            if self._summaries is not None:
                if name not in self._summaries:
                    self._summaries[name] = _summary(name, target)
                return self._summaries[name]
            self._built[name] = _build(name, target)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._targets.pop(name, None)
        if name not in self._order:
            self._order.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._order:
            raise KeyError(name)
        self._order.remove(name)
        self._targets.pop(name, None)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._targets or name in self._built


class LazyGroup(TyperGroup):
    """A TyperGroup whose :attr:`lazy_commands` (name -> ``module:attribute``) are built
    on first use; subclass it with the table set (see :func:`lazy_group`)."""

    lazy_commands: dict[str, str] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = self._lazy = _Commands(self.commands, self.lazy_commands)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self._lazy)  # the names, nothing built

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with self._lazy.summaries():
            super().format_help(ctx, formatter)


def lazy_group(commands: dict[str, str]) -> type[LazyGroup]:
    """A :class:`LazyGroup` class for ``typer.Typer(cls=...)`` with these lazy commands."""
    return type("LoopmlGroup", (LazyGroup,), {"lazy_commands": dict(commands)})
