"""Rendering for the CLI: rich tables for people, JSON for scripts, errors on stderr."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "fmt_duration",
    "fmt_time",
    "fmt_value",
    "print_error",
    "print_json",
    "print_table",
    "to_jsonable",
]


def to_jsonable(obj: Any) -> Any:
    """Entities (dataclasses), enums, mappings and sequences as plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) or (isinstance(obj, Sequence) and not isinstance(obj, str)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # JSON has no NaN/Infinity
    return obj


def print_json(obj: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2) + "\n")


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped into a file or a log, rows should not fold at 80 columns.
    width = None if stream.isatty() else 240
    # Cells and titles hold names and paths: "data/[raw]" and ":memory:" are text, not
    # markup or emoji codes (print_error turns markup on for its own prefix).
    return Console(stderr=stderr, soft_wrap=False, width=width, markup=False, emoji=False)


def print_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> None:
    """A rich table on stdout; numbers right-aligned."""
    from rich.table import Table

    table = Table(title=title, header_style="bold", show_lines=False)
    numeric = [
        bool(rows) and all(isinstance(r[i], (int, float)) or r[i] in ("", None) for r in rows)
        for i in range(len(columns))
    ]
    for name, is_num in zip(columns, numeric, strict=True):
        table.add_column(name, justify="right" if is_num else "left", overflow="fold")
    for row in rows:
        table.add_row(*(fmt_value(v) for v in row))
    _console().print(table)


def print_error(message: str) -> None:
    """An error line on stderr."""
    from rich.markup import escape

    # The message is plain text: "pip install 'loopml[serving]'" must not read as markup.
    _console(stderr=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True
    )


def fmt_value(value: Any) -> str:
    """A cell: floats to 6 significant digits, None as empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def fmt_time(ms: int | None) -> str:
    """Milliseconds since the epoch as a UTC time."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(ms: int | None) -> str:
    """A duration in ms as 1.2s / 3m04s / 2h05m."""
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def stderr_progress(*columns: Any) -> Any:
    """A transient rich progress bar on stderr, silent when stderr is not a terminal (drawn
    to a pipe or a log it would leave only an empty line behind)."""
    from rich.progress import Progress

    console = _console(stderr=True)
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)
