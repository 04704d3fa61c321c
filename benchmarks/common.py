"""Shared pieces of the side-by-side benchmarks: workers, medians, machine info, the table.

A benchmark runs each measurement as a worker process that prints one JSON line
(``run_worker``), collects the figures per workload into ``Row``s, then calls ``report``.
A tool that fails is reported as failed in the table; it never stops the other tool.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class WorkerError(RuntimeError):
    """A worker process exited non-zero or printed no JSON line."""


def run_worker(
    command: Sequence[str], cwd: str | Path, timeout: float | None = None
) -> dict[str, Any]:
    """Run one measurement and return the JSON object on the last line of its stdout.

    Raises:
        WorkerError: the worker failed, timed out, or printed no JSON; the message holds
            the tail of its stderr.
    """
    try:
        proc = subprocess.run(
            list(command), capture_output=True, text=True, cwd=cwd, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkerError(f"timed out after {timeout:.0f} s") from exc
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip()[-2000:] or "(no stderr)"
        raise WorkerError(f"exit code {proc.returncode}\n{tail}")
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise WorkerError(f"last line of stdout is not JSON: {lines[-1][:200]!r}") from exc
    if not isinstance(result, dict):
        raise WorkerError(f"expected a JSON object, got {lines[-1][:200]!r}")
    return result


def median(values: Sequence[float]) -> float:
    """The median, or NaN when there is nothing to take it of."""
    return statistics.median(values) if values else math.nan


@dataclass
class Row:
    """One line of a result table: a workload measured on loopml and on a peer."""

    workload: str
    unit: str
    loopml: list[float]
    peer: list[float]
    higher_is_better: bool
    note: str = ""
    failed: dict[str, str] = field(default_factory=dict)  # tool -> first line of its error

    @property
    def ratio(self) -> float:
        """loopml's advantage: >1 means loopml is better; NaN when a side has no figure."""
        ours, theirs = median(self.loopml), median(self.peer)
        if math.isnan(ours) or math.isnan(theirs) or min(ours, theirs) <= 0:
            return math.nan
        return ours / theirs if self.higher_is_better else theirs / ours


def _fmt(values: Sequence[float], failed: bool) -> str:
    if not values:
        return "[red]failed[/]" if failed else "-"
    value = median(values)
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value < 1 else f"{value:,.1f}"  # 0.45 s, not 0.5 s


def machine() -> dict[str, str]:
    """`nproc`, `free -h`, the platform and Python, for the record."""
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.rstrip()
    return {
        "nproc": nproc or str(os.cpu_count()),
        "free -h": free,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def compile_bytecode(package: str) -> None:
    """Write the bytecode of an installed package's modules, as ``pip install`` does.

    An editable install (or ``PYTHONDONTWRITEBYTECODE``) leaves a package without it, and
    then every process compiles each module it imports from source: whole-process timings
    would measure the compiler, not the tool. Peers installed by pip have theirs.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def command_line() -> str:
    """The command that started this benchmark, as someone would type it in the repo."""

    def short(path: str) -> str:
        rel = os.path.relpath(path)
        return rel if not rel.startswith("..") else path

    return shlex.join([short(sys.executable), *sys.argv])


def print_table(title: str, peer_name: str, rows: Sequence[Row], meta: dict[str, Any]) -> None:
    """A rich table of medians and ratios, then the failures, the machine and the command."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    table.add_column("workload")
    table.add_column("unit")
    for name in ("loopml (median)", f"{peer_name} (median)", "loopml advantage", "repeats"):
        table.add_column(name, justify="right")
    table.add_column("note")
    for row in rows:
        ratio = "-" if math.isnan(row.ratio) else f"{row.ratio:,.1f}x"
        table.add_row(
            row.workload,
            row.unit,
            _fmt(row.loopml, "loopml" in row.failed),
            _fmt(row.peer, "peer" in row.failed),
            ratio,
            f"{len(row.loopml)}/{len(row.peer)}",
            row.note,
        )
    # Piped output (a log, a file) gets a wide table rather than rich's 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(table)
    for row in rows:
        for tool, error in row.failed.items():
            name = "loopml" if tool == "loopml" else peer_name
            console.print(f"[red]{name} failed on {row.workload}[/]: {escape(error)}")
    for key, value in meta.items():
        sep = "\n" if "\n" in str(value) else " "
        console.print(f"[bold]{key}[/]:{sep}{escape(str(value))}", highlight=False)


def dump_json(path: str, rows: Sequence[Row], meta: dict[str, Any]) -> None:
    """Write the raw figures, medians and ratios for later comparison."""

    def clean(value: float) -> float | None:
        return None if math.isnan(value) else value

    data = {
        "meta": meta,
        "rows": [
            {
                **asdict(row),
                "loopml_median": clean(median(row.loopml)),
                "peer_median": clean(median(row.peer)),
                "ratio": clean(row.ratio),
            }
            for row in rows
        ],
    }
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
