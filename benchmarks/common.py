"""Shared helpers for the side-by-side benchmarks: medians, machine info, the result table."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Row:
    """One line of a result table: a workload measured on loopml and on a peer."""

    workload: str
    unit: str
    loopml: list[float]
    peer: list[float]
    higher_is_better: bool

    @property
    def ratio(self) -> float:
        """loopml's advantage: >1 means loopml is better."""
        ours, theirs = statistics.median(self.loopml), statistics.median(self.peer)
        return ours / theirs if self.higher_is_better else theirs / ours


def machine() -> dict[str, str]:
    """nproc, free -h and the platform, for the record."""
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "free -h": free,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def print_table(title: str, peer_name: str, rows: Sequence[Row], meta: dict[str, Any]) -> None:
    """A rich table of medians and ratios, plus the machine and the command."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in (
        "workload",
        "unit",
        "loopml (median)",
        f"{peer_name} (median)",
        "loopml advantage",
        "runs",
    ):
        table.add_column(col, justify="left" if col in ("workload", "unit") else "right")
    for row in rows:
        table.add_row(
            row.workload,
            row.unit,
            f"{statistics.median(row.loopml):,.1f}",
            f"{statistics.median(row.peer):,.1f}",
            f"{row.ratio:,.1f}×",
            str(len(row.loopml)),
        )
    console = Console()
    console.print(table)
    for key, value in meta.items():
        console.print(f"[bold]{key}[/]: {value}")


def dump_json(path: str, rows: Sequence[Row], meta: dict[str, Any]) -> None:
    """Write the raw figures for later comparison."""
    data = {"meta": meta, "rows": [{**row.__dict__, "ratio": row.ratio} for row in rows]}
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2)
