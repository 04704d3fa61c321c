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
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from loopml.data import listing
from loopml.data.listing import POINTER_SUFFIX, SKIP_DIRS, Entry
from loopml.errors import InvalidInputError, InvalidPathError

__all__ = [
    "POINTER_SUFFIX",
    "Pointer",
    "find_pointers",
    "find_project_root",
    "folder_fingerprint",
    "pointer_path_for",
    "project_relative",
    "read_pointer",
    "scan",
    "write_pointer",
]

_HEADER = "# loopml data pointer: commit it to git; `loopml data checkout` restores ./{path}\n"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding
    ``.git``, ``.loopml`` or ``loopml.toml``; the working directory when there is none."""
    return Path(listing.find_root(str((start or Path.cwd()).resolve())))


def project_relative(path: Path, root: Path) -> str:
    """``path`` relative to the project root, as a POSIX path.

    Raises:
        InvalidPathError: the path is outside the project.
    """
    relative = listing.relative_to_root(str(path.resolve()), str(root))
    if relative is None:
        raise InvalidPathError(
            f"{path} is outside the project at {root}; move the data inside the project, or "
            "run loopml from a folder that contains it"
        )
    head = relative.split("/", 1)[0]
    if head in SKIP_DIRS:
        raise InvalidPathError(f"{path} is inside {head}, which loopml manages")
    return relative


def scan(path: Path) -> list[Entry]:
    """Every regular file under ``path`` as (relative POSIX path, absolute path, stat),
    sorted by relative path; the rules are in :mod:`loopml.data.listing`.

    Raises:
        InvalidInputError: the path does not exist, or a folder or file cannot be read.
    """
    try:
        entries = listing.scan(str(path))
    except OSError as exc:
        raise _unreadable(exc, path) from exc
    try:
        "\n".join(rel for rel, _, _ in entries).encode("utf-8")
    except UnicodeEncodeError:
        bad = next(a for rel, a, _ in entries if not _is_utf8(rel))
        raise InvalidInputError(
            f"the name of {bad!r} is not UTF-8, which loopml records names in; rename it"
        ) from None
    return entries


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def folder_fingerprint(path: Path) -> str:
    """``fingerprint(scan(path))``, made without keeping the listing.

    Raises:
        InvalidInputError: as :func:`scan`.
    """
    try:
        return listing.folder_fingerprint(str(path))
    except OSError as exc:
        raise _unreadable(exc, path) from exc


def _unreadable(exc: OSError, path: Path) -> InvalidInputError:
    if isinstance(exc, listing.NotAFileOrFolderError):
        return InvalidInputError(f"{exc.filename} is neither a file nor a folder")
    return InvalidInputError(f"cannot read {exc.filename or path}: {exc.strerror or exc}")


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
    for file in listing.find_pointer_files(str(root)):
        yield Path(file)
