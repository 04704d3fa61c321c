"""The state cache: digests of working files, keyed on path, size, mtime and inode.

Hashing 20,000 files on every ``status`` would be slow, so, as DVC does, loopml remembers the
digest of each file it hashed together with what ``stat`` said about it. A file whose path,
size, modification time (in nanoseconds) and inode are unchanged is not read again. The
cache is a SQLite file under the project's ``.loopml`` folder; deleting it only costs a
re-hash.

    state = StateCache(project / ".loopml" / "state.db")
    hashed = hash_files(state, [(Path("data/a.csv"), os.stat("data/a.csv"))])
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from loopml.data.listing import fingerprint
from loopml.errors import InvalidInputError

if TYPE_CHECKING:  # imported when used: `loopml data status` needs only the cache
    from loopml.storage.artifacts.cas import BlobInfo

__all__ = ["StateCache", "fingerprint", "hash_files", "stat_key"]

_WORKERS = min(32, (os.cpu_count() or 2) * 4)
_Key = tuple[int, int, int]  # size, mtime_ns, inode


def stat_key(st: os.stat_result) -> _Key:
    """What the cache compares: size, modification time (ns) and inode."""
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class StateCache:
    """Digests of local files by (path, size, mtime_ns, inode), in one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, timeout=60, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS state (path TEXT PRIMARY KEY, size INTEGER, "
            "mtime_ns INTEGER, inode INTEGER, digest TEXT)"
        )
        # A whole tracked folder: the fingerprint of its listing -> its manifest digest.
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS trees (path TEXT PRIMARY KEY, fingerprint TEXT, "
            "digest TEXT)"
        )

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    def lookup(self, paths: Sequence[str]) -> dict[str, tuple[_Key, str]]:
        """Known entries for these absolute paths: path -> ((size, mtime_ns, inode), digest)."""
        found: dict[str, tuple[_Key, str]] = {}
        if not paths:
            return found
        # One range scan over the common folder beats thousands of point queries.
        prefix = os.path.commonpath([min(paths), max(paths)])  # sorted: both ends suffice
        wanted = set(paths)
        rows = self._conn.execute(
            "SELECT path, size, mtime_ns, inode, digest FROM state WHERE path >= ? AND path < ?",
            (prefix, prefix + "\U0010ffff"),
        )
        for path, size, mtime_ns, inode, digest in rows:
            if path in wanted:
                found[path] = ((size, mtime_ns, inode), digest)
        return found

    def tree_digest(self, path: str, fingerprint: str) -> str | None:
        """The manifest digest of a folder whose listing had this fingerprint, if known."""
        row = self._conn.execute(
            "SELECT digest FROM trees WHERE path = ? AND fingerprint = ?", (path, fingerprint)
        ).fetchone()
        return None if row is None else str(row[0])

    def save_tree(self, path: str, fingerprint: str, digest: str) -> None:
        """Remember a folder's manifest digest under the fingerprint of its listing."""
        self._conn.execute(
            "INSERT OR REPLACE INTO trees VALUES (?, ?, ?)", (path, fingerprint, digest)
        )

    def save(self, entries: Sequence[tuple[str, _Key, str]]) -> None:
        """Remember digests: (absolute path, (size, mtime_ns, inode), digest)."""
        if not entries:
            return
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?, ?)",
                [(p, k[0], k[1], k[2], d) for p, k, d in entries],
            )


def hash_files(
    state: StateCache | None, files: Sequence[tuple[str, os.stat_result]]
) -> dict[str, BlobInfo]:
    """Digest and size of each absolute path; unchanged files come from the state cache.

    Files not in the cache (or changed since) are hashed in parallel threads, and the cache
    is updated. A file whose ``stat`` changes while it is hashed is hashed again.

    Raises:
        InvalidInputError: a file cannot be read.
    """
    from loopml.storage.artifacts.cas import BlobInfo, hash_file

    known = state.lookup([p for p, _ in files]) if state is not None else {}
    result: dict[str, BlobInfo] = {}
    todo: list[tuple[str, os.stat_result]] = []
    for path, st in files:
        entry = known.get(path)
        if entry is not None and entry[0] == stat_key(st):
            result[path] = BlobInfo(entry[1], st.st_size)
        else:
            todo.append((path, st))

    def one(item: tuple[str, os.stat_result]) -> tuple[str, _Key | None, BlobInfo]:
        path, st = item
        for _ in range(3):
            try:
                info = hash_file(path)
                after = os.stat(path)
            except OSError as exc:
                raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
            if stat_key(after) == stat_key(st):
                return path, stat_key(after), info
            st = after  # written to while we read it: read it again
        return path, None, info  # still changing: use the digest, but do not cache it

    if todo:
        if len(todo) < 8:
            done = [one(item) for item in todo]
        else:
            with ThreadPoolExecutor(_WORKERS) as pool:
                done = list(pool.map(one, todo))
        for path, _, info in done:
            result[path] = info
        if state is not None:
            state.save([(p, k, i.digest) for p, k, i in done if k is not None])
    return result
