"""``loopml data status`` when nothing changed, without opening the tracking stores.

Most of the time ``status`` answers "unchanged" for every pointer, and that answer needs
only the pointer files, one ``stat`` per working file and the state cache: the fingerprint
of a folder's listing (:mod:`loopml.data.listing`, the same code ``add`` records it with)
is looked up there with the manifest digest it had, and compared with the digest in the
pointer. This module does just that, importing nothing but the standard library's
``os``/``sqlite3`` and ``blake3`` (not even YAML: it reads pointer files with a strict
reader of the exact shape loopml writes), so the command-line entry point can answer
before it loads the whole CLI. Whenever the answer is not plainly "unchanged" or
"missing" (a changed file, no state cache yet, a pointer it cannot read or that was edited
by hand into another shape), it returns None and the caller runs the full
:meth:`DataClient.status`, which reports the details and the errors.

What is left of the time is the ``stat`` of every file and, for the command line, loading
the table code (rich). On Linux the two overlap: the folders are listed in a forked child
process that sends back only their fingerprints, while the caller's ``meanwhile`` loads
what its output needs.

    entries = quick_status()          # None: ask DataClient.status()
"""

from __future__ import annotations

import os
import sys

from loopml.data.listing import (
    SKIP_DIRS,
    find_pointer_files,
    find_root,
    folder_fingerprint,
    relative_to_root,
)

TYPE_CHECKING = False  # typing's, without importing typing (10 ms of this path here)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

__all__ = ["QuickEntry", "quick_status", "read_pointer_strictly"]


class QuickEntry:
    """One tracked path that is ``unchanged`` or ``missing``."""

    __slots__ = ("name", "path", "state", "version")

    def __init__(self, path: str, name: str, version: int, state: str) -> None:
        self.path, self.name, self.version, self.state = path, name, version, state

    def __repr__(self) -> str:
        return f"QuickEntry({self.path!r}, {self.name!r}, {self.version}, {self.state!r})"

    def _fields(self) -> tuple[str, str, int, str]:
        return (self.path, self.name, self.version, self.state)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuickEntry):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass with eq


def quick_status(
    project: str | os.PathLike[str] | None = None, meanwhile: Callable[[], object] | None = None
) -> list[QuickEntry] | None:
    """Every pointer's state when each is unchanged or missing; None otherwise.

    Args:
        project: the project folder (default: the one around the working directory).
        meanwhile: called while the tracked folders are listed. Given one, on Linux the
            listing runs in a forked child process, so this can prepare the output (import
            the table code) at the same time on another core. It is called exactly once
            unless there is nothing to look at (no state cache, no pointer).
    """
    try:
        plan = _plan(project)
        if plan is None:
            return None
        root, pointers = plan
        targets = [resolved for *_, resolved in pointers if resolved is not None]
        recorded: list[dict[str, tuple[str, str]] | None] = []

        def prepare() -> None:  # while the folders are listed
            if meanwhile is not None:
                meanwhile()
            recorded.append(_recorded(os.path.join(root, ".loopml", "state.db"), targets))

        prints = _fingerprints(targets, prepare, in_child=meanwhile is not None)
        known = recorded[0] if recorded else None
        if prints is None or known is None:
            return None
        entries = []
        for rel, name, version, digest, resolved in pointers:
            if resolved is None:
                entries.append(QuickEntry(rel, name, version, "missing"))
            elif known.get(resolved) == (prints[resolved], digest):
                entries.append(QuickEntry(rel, name, version, "unchanged"))
            else:
                return None
        return entries
    except (OSError, ValueError):
        return None


# (path relative to the project, name, version, digest, resolved target or None if missing)
_Pointer = tuple[str, str, int, str, str | None]


def _plan(project: str | os.PathLike[str] | None) -> tuple[str, list[_Pointer]] | None:
    if project is None:
        root = find_root(os.path.realpath(os.getcwd()))
    else:
        root = os.path.realpath(project)
    if not os.path.isfile(os.path.join(root, ".loopml", "state.db")):
        return None
    pointers: list[_Pointer] = []
    for file in find_pointer_files(root):
        pointer = read_pointer_strictly(file)
        if pointer is None:
            return None
        name, version, digest, sibling = pointer
        target = os.path.join(os.path.dirname(file), sibling)
        resolved = os.path.realpath(target)
        rel = relative_to_root(resolved, root)
        if rel is None or rel.split("/", 1)[0] in SKIP_DIRS:
            return None  # the full status says why
        pointers.append((rel, name, version, digest, resolved if os.path.exists(target) else None))
    return (root, pointers) if pointers else None


def _recorded(state_db: str, targets: list[str]) -> dict[str, tuple[str, str]] | None:
    """What the state cache recorded for each folder: path -> (fingerprint, digest)."""
    import sqlite3  # here, so that it loads while the folders are listed

    try:
        conn = sqlite3.connect(_read_only_uri(state_db), uri=True, timeout=5)
        try:
            found = {}
            for path in targets:
                row = conn.execute(
                    "SELECT fingerprint, digest FROM trees WHERE path = ?", (path,)
                ).fetchone()
                if row is not None:
                    found[path] = (str(row[0]), str(row[1]))
            return found
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _fingerprints(
    targets: list[str], meanwhile: Callable[[], object], in_child: bool
) -> dict[str, str] | None:
    """The fingerprint of each target, with ``meanwhile`` called once on the way; None
    when one cannot be read."""
    if not in_child or not _can_fork():
        meanwhile()
        return _fingerprints_here(targets)
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no more processes: list the folders here
        os.close(read_end)
        os.close(write_end)
        meanwhile()
        return _fingerprints_here(targets)
    if pid == 0:
        os.close(read_end)
        _report(targets, write_end)
    os.close(write_end)
    chunks = []
    try:
        meanwhile()
    finally:
        try:
            while chunk := os.read(read_end, 1 << 16):
                chunks.append(chunk)
        finally:
            os.close(read_end)
            _, status = os.waitpid(pid, 0)
    prints = b"".join(chunks).decode().split("\n") if targets else []
    if status != 0 or len(prints) != len(targets):
        return None
    return dict(zip(targets, prints, strict=True))


def _fingerprints_here(targets: list[str]) -> dict[str, str] | None:
    try:
        return {t: folder_fingerprint(t) for t in targets}
    except OSError:
        return None


def _report(targets: list[str], pipe: int) -> NoReturn:
    """In the forked child: write the fingerprints to the pipe and leave at once, running
    none of the parent's code (no cleanup, no buffered output flushed twice)."""
    code = 1
    try:
        report = memoryview("\n".join(folder_fingerprint(t) for t in targets).encode())
        while report:
            report = report[os.write(pipe, report) :]
        code = 0
    finally:
        os._exit(code)


def _can_fork() -> bool:
    # Linux only (fork without exec is not dependable on macOS), and only from a process
    # with one thread: a child forked from several threads can inherit a held lock.
    if not sys.platform.startswith("linux"):
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


_INTS = ("version", "files", "size")
_FIELDS = ("name", "version", "digest", "path", *_INTS[1:])
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
# Plain words YAML 1.1 reads as booleans or null rather than as text.
_NOT_TEXT = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})


def read_pointer_strictly(file: str) -> tuple[str, int, str, str] | None:
    """(name, version, digest, path) of a pointer file in exactly the shape
    :func:`loopml.data.workspace.write_pointer` writes; None for anything else.

    Comment lines, and one ``key: value`` line per field, where a value is a decimal
    number, a plain word of letters, digits and ``_.-`` that YAML reads as text, or a
    single-quoted string. Everything YAML could read otherwise (flow or block collections,
    double quotes, comments after a value, a word YAML takes for a boolean, repeated or
    unknown keys) is left to the YAML reader of the full ``status``.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not UTF-8.
    """
    with open(file, encoding="utf-8") as handle:
        text = handle.read()
    values: dict[str, str | int] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, sep, raw = line.partition(": ")
        if not sep or key not in _FIELDS or key in values:
            return None
        value = _scalar(raw, number=key in _INTS)
        if value is None:
            return None
        values[key] = value
    name, version, digest, path = (values.get(k) for k in _FIELDS[:4])
    if not (
        isinstance(name, str)
        and isinstance(version, int)
        and isinstance(digest, str)
        and isinstance(path, str)
    ):
        return None
    if "/" in path or os.sep in path or path in ("", ".", ".."):
        return None
    return name, version, digest, path


def _scalar(raw: str, number: bool) -> str | int | None:
    if number:
        if raw.isascii() and raw.isdigit() and (raw == "0" or raw[0] != "0"):
            return int(raw)
        return None
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return _double_quoted(raw[1:-1])
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        inner = raw[1:-1]
        text = inner.replace("''", "'")
        return text if "'" not in inner.replace("''", "") and text.isprintable() else None
    if not raw or not set(raw) <= _PLAIN:
        return None
    if raw[0].isalpha() or raw[0] == "_":
        return None if raw.lower() in _NOT_TEXT else raw
    # Starting with a digit, YAML reads it as a number or a date unless it holds a letter
    # (other than an exponent's e, or the x and b of 0x and 0b): "2024-rides", a digest.
    if raw[0].isdigit() and raw[:2].lower() not in ("0x", "0b"):
        return raw if any(c.isalpha() and c not in "eE" for c in raw) else None
    return None


# The escapes YAML's emitter writes in a double-quoted scalar (non-ASCII text is written as
# \xHH, \uHHHH or \UHHHHHHHH when Unicode is not allowed, which is how pointers are written).
_ESCAPES = {"\\": "\\", '"': '"', "/": "/", "0": "\0", "a": "\a", "b": "\b", "t": "\t"}
_ESCAPES |= {"n": "\n", "v": "\v", "f": "\f", "r": "\r", "e": "\x1b", " ": " "}
_ESCAPES |= {"N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}
_HEX = {"x": 2, "u": 4, "U": 8}


def _double_quoted(inner: str) -> str | None:
    """The text of a one-line double-quoted YAML scalar, or None if it holds anything but
    plain printable characters and the emitter's escapes."""
    out, i = [], 0
    while i < len(inner):
        c = inner[i]
        if c == '"' or not c.isprintable():
            return None
        if c != "\\":
            out.append(c)
            i += 1
            continue
        kind = inner[i + 1 : i + 2]
        if kind in _HEX:
            digits = inner[i + 2 : i + 2 + _HEX[kind]]
            if len(digits) != _HEX[kind] or not all(d in "0123456789abcdefABCDEF" for d in digits):
                return None
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                return None
            out.append(chr(code))
            i += 2 + _HEX[kind]
        elif kind in _ESCAPES:
            out.append(_ESCAPES[kind])
            i += 2
        else:
            return None
    text = "".join(out)
    return text if text.isprintable() else None


def _read_only_uri(path: str) -> str:
    path = path.replace(os.sep, "/")
    for char, escaped in (("%", "%25"), ("?", "%3F"), ("#", "%23")):
        path = path.replace(char, escaped)
    return f"file:{'' if path.startswith('/') else '/'}{path}?mode=ro"
