"""A command group whose subcommands are imported and built when they are used.

Building every command (inspecting each function's signature, resolving its annotations)
and importing every CLI module costs more than most commands take to run, so the root
``loopml`` group knows its subcommands only by name until one is asked for: ``loopml
pipeline run`` imports ``loopml.cli.pipeline`` and builds that group alone. ``loopml
--help`` builds them all, to show their help.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

__all__ = ["LazyGroup", "lazy_group"]


def _build(name: str, target: str) -> Any:
    """The click command for ``module:attribute``: a Typer app (a group) or a function."""
    module, _, attribute = target.partition(":")
    found = getattr(importlib.import_module(module), attribute)
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

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            target = self._targets[name]  # KeyError: no such command
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
        self.commands = _Commands(self.commands, self.lazy_commands)


def lazy_group(commands: dict[str, str]) -> type[LazyGroup]:
    """A :class:`LazyGroup` class for ``typer.Typer(cls=...)`` with these lazy commands."""
    return type("LoopmlGroup", (LazyGroup,), {"lazy_commands": dict(commands)})
