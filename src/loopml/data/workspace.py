"""The working copy side of the data cycle: the project root, scanning folders, and pointer
files that pin a data version in git.

A pointer file sits beside what it tracks (``data/rides/`` -> ``data/rides.loopml``) and is
small YAML meant to be committed::

    # loopml data pointer: commit this file; `loopml data checkout` restores data/rides
    name: rides
    version: 2
    digest: 6f1c…            # BLAKE3 of the version's manifest
    path: rides              # relative to this file's folder
    files: 20000
    size: 20480000

The tracked path itself is added to the ``.gitignore`` beside the pointer.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from loopml.errors import InvalidInputError, InvalidPathError

__all__ = [
    "POINTER_SUFFIX",
    "Pointer",
    "find_pointers",
    "find_project_root",
    "pointer_path_for",
    "project_relative",
    "read_pointer",
    "scan",
    "write_pointer",
]

POINTER_SUFFIX = ".loopml"
_MARKERS = (".git", ".loopml", "loopml.toml")
_SKIP_DIRS = {".git", ".loopml", "__pycache__", ".venv", "node_modules"}
_HEADER = "# loopml data pointer: commit it to git; `loopml data checkout` restores ./{path}\n"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding
    ``.git``, ``.loopml`` or ``loopml.toml``; the working directory when there is none."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in _MARKERS):
            return folder
    return here


def project_relative(path: Path, root: Path) -> str:
    """``path`` relative to the project root, as a POSIX path.

    Raises:
        InvalidPathError: the path is outside the project.
    """
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(root)
    except ValueError as exc:
        raise InvalidPathError(
            f"{path} is outside the project at {root}; move the data inside the project, or "
            "run loopml from a folder that contains it"
        ) from exc
    if relative.parts and relative.parts[0] in _SKIP_DIRS:
        raise InvalidPathError(f"{path} is inside {relative.parts[0]}, which loopml manages")
    return relative.as_posix()


def scan(path: Path) -> list[tuple[str, str, os.stat_result]]:
    """Every regular file under ``path`` as (relative POSIX path, absolute path, stat).

    A file gives one entry named after itself. Pointer files, ``.git`` and ``.loopml``
    folders are skipped; symbolic links are followed only when they point at files.

    Raises:
        InvalidInputError: the path does not exist, or a folder or file cannot be read.
    """
    path = path.resolve()
    try:
        top = path.stat()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if stat.S_ISREG(top.st_mode):
        return [(path.name, str(path), top)]
    if not stat.S_ISDIR(top.st_mode):
        raise InvalidInputError(f"{path} is neither a file nor a folder")
    found: list[tuple[str, str, os.stat_result]] = []
    stack = [(str(path), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise InvalidInputError(f"cannot read the folder {folder}: {exc.strerror}") from exc
        for entry in entries:
            rel = prefix + entry.name
            try:
                if entry.is_dir():
                    if entry.name not in _SKIP_DIRS and not entry.is_symlink():
                        stack.append((entry.path, rel + "/"))
                elif entry.is_file() and not entry.name.endswith(POINTER_SUFFIX):
                    found.append((rel, entry.path, entry.stat()))
            except OSError as exc:
                raise InvalidInputError(f"cannot read {entry.path}: {exc.strerror}") from exc
    found.sort(key=lambda item: item[0])
    return found


@dataclass(frozen=True)
class Pointer:
    """What a pointer file records."""

    name: str
    version: int
    digest: str
    path: str
    files: int
    size: int

    def target(self, pointer_file: Path) -> Path:
        """The tracked file or folder this pointer names."""
        return pointer_file.parent / self.path


def pointer_path_for(target: Path) -> Path:
    """Where the pointer of a tracked file or folder lives: beside it, ``<name>.loopml``."""
    target = target.resolve()
    return target.with_name(target.name + POINTER_SUFFIX)


def read_pointer(path: Path) -> Pointer:
    """Read a pointer file.

    Raises:
        InvalidInputError: the file is missing or is not a loopml pointer.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        pointer = Pointer(
            name=str(data["name"]),
            version=int(data["version"]),
            digest=str(data["digest"]),
            path=str(data["path"]),
            files=int(data.get("files", 0)),
            size=int(data.get("size", 0)),
        )
    except OSError as exc:
        raise InvalidInputError(f"cannot read the pointer {path}: {exc.strerror}") from exc
    except (yaml.YAMLError, TypeError, KeyError, ValueError) as exc:
        raise InvalidInputError(
            f"{path} is not a loopml pointer file (it needs name, version, digest and path); "
            "restore it from git or re-add the data"
        ) from exc
    if "/" in pointer.path or pointer.path in ("", ".", ".."):
        raise InvalidInputError(f"{path}: the path {pointer.path!r} must name a sibling")
    return pointer


def write_pointer(pointer: Pointer, pointer_file: Path) -> None:
    """Write a pointer file atomically and git-ignore the path it tracks."""
    text = _HEADER.format(path=pointer.path) + yaml.safe_dump(asdict(pointer), sort_keys=False)
    tmp = pointer_file.with_name(f".{pointer_file.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, pointer_file)
    _gitignore(pointer_file.parent, pointer.path)


def _gitignore(folder: Path, name: str) -> None:
    entry = f"/{name}"
    ignore = folder / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    if entry not in lines:
        with contextlib.suppress(OSError), open(ignore, "a", encoding="utf-8") as handle:
            if lines and lines[-1] != "":
                handle.write("\n")
            handle.write(entry + "\n")


def find_pointers(root: Path) -> Iterator[Path]:
    """Every pointer file under the project root (skipping ``.git``, ``.loopml``, …)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
        tracked = {f[: -len(POINTER_SUFFIX)] for f in files if f.endswith(POINTER_SUFFIX)}
        # Do not descend into tracked folders: they hold data, not pointers.
        dirs[:] = sorted(d for d in dirs if d not in tracked)
        for name in sorted(files):
            if name.endswith(POINTER_SUFFIX):
                yield Path(folder) / name
