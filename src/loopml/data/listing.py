"""What loopml sees of the working copy: the project root, the pointer files, and the
listing of a tracked file or folder with its fingerprint.

This is the one definition that ``add``, ``status`` and ``checkout`` share; the state
cache stores the fingerprint an ``add`` computed and ``status`` compares it with one made
now, so both must come from the same code, byte for byte. The rules:

- a tracked file is listed as one entry named after itself;
- in a folder, every regular file below it is listed, by its POSIX path relative to the
  folder; pointer files (``*.loopml``) and the folders ``.git``, ``.loopml``,
  ``__pycache__``, ``.venv`` and ``node_modules`` are skipped;
- a symbolic link to a file is listed as that file; a link to a folder is not followed
  (nor is anything that is neither a file nor a folder, such as a dangling link);
- the fingerprint is BLAKE3 over the sorted lines ``path NUL size NUL mtime_ns NUL inode``
  joined by newlines (names in UTF-8, undecodable bytes kept as they were).

``loopml data status`` runs this before the CLI is loaded, so the module imports nothing
but ``os`` and ``blake3``, and errors are left as :class:`OSError` (with the path in
``filename``): :func:`loopml.data.workspace.scan` turns them into loopml errors.

    entries = scan("data/rides")          # [(rel, abs, stat)], sorted by rel
    fingerprint(entries) == folder_fingerprint("data/rides")
"""

from __future__ import annotations

import os
import stat

from blake3 import blake3

TYPE_CHECKING = False  # typing's, without importing typing or collections.abc
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "MARKERS",
    "POINTER_SUFFIX",
    "SKIP_DIRS",
    "Entry",
    "NotAFileOrFolderError",
    "find_pointer_files",
    "find_root",
    "fingerprint",
    "folder_fingerprint",
    "relative_to_root",
    "scan",
]

POINTER_SUFFIX = ".loopml"
MARKERS = (".git", ".loopml", "loopml.toml")
SKIP_DIRS = frozenset({".git", ".loopml", "__pycache__", ".venv", "node_modules"})

Entry = tuple[str, str, os.stat_result]  # (relative POSIX path, absolute path, stat)

# A folder is read through a descriptor where the platform allows it: each file's stat is
# then looked up by its name in that folder, not by its whole path (about 10% faster).
_BY_FD = os.scandir in os.supports_fd and os.stat in os.supports_dir_fd
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)


class NotAFileOrFolderError(OSError):
    """The tracked path exists but is neither a regular file nor a folder."""


def find_root(start: str) -> str:
    """The nearest folder at or above ``start`` (an absolute, resolved path) holding
    ``.git``, ``.loopml`` or ``loopml.toml``; ``start`` itself when there is none."""
    folder = start
    while True:
        if any(os.path.exists(os.path.join(folder, marker)) for marker in MARKERS):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return start
        folder = parent


def relative_to_root(resolved: str, root: str) -> str | None:
    """A resolved path relative to the project root, as a POSIX path (``.`` for the root
    itself); None when it is outside the root."""
    if resolved == root:
        return "."
    base = root if root.endswith(os.sep) else root + os.sep
    if not resolved.startswith(base):
        return None
    return resolved[len(base) :].replace(os.sep, "/")


def find_pointer_files(root: str) -> Iterator[str]:
    """Every pointer file under the project root, folder by folder in name order, without
    entering skipped folders or the folders that pointers track."""
    for folder, dirs, files in os.walk(root):
        tracked = {f[: -len(POINTER_SUFFIX)] for f in files if f.endswith(POINTER_SUFFIX)}
        # Tracked folders hold data, not pointers.
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and d not in tracked)
        for name in sorted(files):
            if name.endswith(POINTER_SUFFIX):
                yield os.path.join(folder, name)


def _walk(top: str) -> Iterator[Entry]:
    """The files of the folder ``top`` (resolved), unsorted."""
    stack = [(top if top.endswith(os.sep) else top + os.sep, "")]
    while stack:
        folder, prefix = stack.pop()
        handle: int | str = folder
        try:
            if _BY_FD:
                handle = os.open(folder, _DIR_FLAGS)
            with os.scandir(handle) as found:
                for entry in found:
                    name = entry.name
                    try:
                        if entry.is_dir():
                            if name not in SKIP_DIRS and not entry.is_symlink():
                                stack.append((folder + name + os.sep, prefix + name + "/"))
                        elif entry.is_file() and not name.endswith(POINTER_SUFFIX):
                            yield prefix + name, folder + name, entry.stat()
                    except OSError as exc:
                        exc.filename = folder + name
                        raise
        except OSError as exc:
            named = exc.filename
            if named == folder or not isinstance(named, str) or not os.path.isabs(named):
                exc.filename = folder[:-1] or folder  # the folder itself (not its fd)
            raise
        finally:
            if isinstance(handle, int):
                os.close(handle)


def scan(path: str) -> list[Entry]:
    """Every file of a tracked path, as (relative POSIX path, absolute path, stat), sorted.

    Raises:
        OSError: the path or something under it cannot be read (``filename`` says which);
            :class:`NotAFileOrFolderError` when the path is neither a file nor a folder.
    """
    path = os.path.realpath(path)
    top = os.stat(path)
    if stat.S_ISREG(top.st_mode):
        return [(os.path.basename(path), path, top)]
    if not stat.S_ISDIR(top.st_mode):
        raise NotAFileOrFolderError(0, "neither a file nor a folder", path)
    entries = list(_walk(path))
    entries.sort()  # relative paths are unique, so this orders by them alone
    return entries


def _line(rel: str, st: os.stat_result) -> str:
    return f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}"


def _digest(lines: list[str]) -> str:
    return blake3("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


def fingerprint(entries: Iterable[Entry]) -> str:
    """The fingerprint of a listing made by :func:`scan`.

    When it matches the one recorded with a manifest, no file changed by the test the
    per-file state cache uses (path, size, mtime, inode).
    """
    return _digest([_line(rel, st) for rel, _, st in entries])


def folder_fingerprint(path: str) -> str:
    """``fingerprint(scan(path))``, without keeping the listing (a third less time on a
    folder of many files).

    Raises:
        OSError: as :func:`scan`.
    """
    path = os.path.realpath(path)
    top = os.stat(path)
    if stat.S_ISREG(top.st_mode):
        return _digest([_line(os.path.basename(path), top)])
    if not stat.S_ISDIR(top.st_mode):
        raise NotAFileOrFolderError(0, "neither a file nor a folder", path)
    # "\0" sorts before every character a name can hold, so sorting the lines orders
    # them by path exactly as scan() does.
    lines = [_line(rel, st) for rel, _, st in _walk(path)]
    lines.sort()
    return _digest(lines)
