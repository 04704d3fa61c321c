"""``loopml data status`` when nothing changed, without opening the tracking stores.

Most of the time ``status`` answers "unchanged" for every pointer, and that answer needs
only the pointer files, one ``stat`` per working file and the state cache: the fingerprint
of a folder's listing (path, size, mtime, inode of every file) is looked up there with the
manifest digest it had, and compared with the digest in the pointer. This module does just
that, importing nothing heavy, so the command-line entry point can answer before it loads
the whole CLI. Whenever the answer is not plainly "unchanged" or "missing" (a changed
file, no state cache yet, a pointer it cannot read), it returns None and the caller runs
the full :meth:`DataClient.status`, which reports the details and the errors.

    entries = quick_status()          # None: ask DataClient.status()
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from loopml.data.state import fingerprint
from loopml.data.workspace import (
    find_pointers,
    find_project_root,
    project_relative,
    read_pointer,
    scan,
)
from loopml.errors import LoopmlError

__all__ = ["QuickEntry", "quick_status"]


@dataclass(frozen=True)
class QuickEntry:
    """One tracked path that is ``unchanged`` or ``missing``."""

    path: str
    name: str
    version: int
    state: str


def quick_status(project: Path | None = None) -> list[QuickEntry] | None:
    """Every pointer's state when each is unchanged or missing; None otherwise."""
    try:
        root = (project or find_project_root()).resolve()
        state_db = root / ".loopml" / "state.db"
        if not state_db.is_file():
            return None
        pointers = list(find_pointers(root))
        if not pointers:
            return None
        conn = sqlite3.connect(f"{state_db.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            entries = []
            for file in pointers:
                pointer = read_pointer(file)
                target = pointer.target(file)
                rel = project_relative(target, root)
                if not os.path.exists(target):
                    entries.append(QuickEntry(rel, pointer.name, pointer.version, "missing"))
                    continue
                row = conn.execute(
                    "SELECT digest FROM trees WHERE path = ? AND fingerprint = ?",
                    (str(target.resolve()), fingerprint(scan(target))),
                ).fetchone()
                if row is None or row[0] != pointer.digest:
                    return None
                entries.append(QuickEntry(rel, pointer.name, pointer.version, "unchanged"))
            return entries
        finally:
            conn.close()
    except (LoopmlError, OSError, sqlite3.Error):
        return None
