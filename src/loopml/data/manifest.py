"""Manifests: what a dataset version holds (relative path -> BLAKE3 digest, size).

A manifest has one canonical byte form (compact JSON, files sorted by path); the version's
digest is the BLAKE3 digest of those bytes, and the bytes are stored as a blob under it. So
a version can be rebuilt from any store or remote that holds its blobs, even one whose
metadata database never saw it, and two adds of identical data get the same digest.

    m = Manifest.of([DatasetFile("a.csv", d1, 10), DatasetFile("b.csv", d2, 20)])
    m.digest, m.size, m.to_bytes()
    diff_manifests(old, new).changed            # paths whose digest differs
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from blake3 import blake3

from loopml.entities import DatasetFile
from loopml.errors import IntegrityError

__all__ = ["Manifest", "ManifestDiff", "diff_manifests"]

_FORMAT = "loopml-manifest/1"


@dataclass(frozen=True)
class Manifest:
    """The files of a version, sorted by path."""

    files: tuple[DatasetFile, ...]

    @classmethod
    def of(cls, files: Iterable[DatasetFile]) -> Manifest:
        """A manifest of these files (sorted by path)."""
        return cls(tuple(sorted(files, key=lambda f: f.path)))

    def to_bytes(self) -> bytes:
        """The canonical byte form (what the digest is computed over)."""
        body = {"format": _FORMAT, "files": [[f.path, f.digest, f.size] for f in self.files]}
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse the canonical form.

        Raises:
            IntegrityError: the bytes are not a loopml manifest.
        """
        try:
            body = json.loads(data)
            if body.get("format") != _FORMAT:
                raise ValueError(f"format {body.get('format')!r}")
            return cls(tuple(DatasetFile(str(p), str(d), int(s)) for p, d, s in body["files"]))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise IntegrityError(f"a stored manifest cannot be read ({exc})") from exc

    @cached_property
    def digest(self) -> str:
        """BLAKE3 of the canonical bytes: the version's identity."""
        return blake3(self.to_bytes()).hexdigest()

    @property
    def size(self) -> int:
        """Total bytes of the files."""
        return sum(f.size for f in self.files)

    def by_path(self) -> dict[str, DatasetFile]:
        """Files keyed by path."""
        return {f.path: f for f in self.files}


@dataclass(frozen=True)
class ManifestDiff:
    """Paths added, removed and changed between two manifests (each sorted)."""

    added: tuple[DatasetFile, ...]
    removed: tuple[DatasetFile, ...]
    changed: tuple[tuple[DatasetFile, DatasetFile], ...]
    unchanged: int

    @property
    def is_empty(self) -> bool:
        """True when the two manifests hold the same files."""
        return not (self.added or self.removed or self.changed)


def diff_manifests(old: Manifest, new: Manifest) -> ManifestDiff:
    """What changed from ``old`` to ``new``."""
    before, after = old.by_path(), new.by_path()
    added = tuple(after[p] for p in sorted(after.keys() - before.keys()))
    removed = tuple(before[p] for p in sorted(before.keys() - after.keys()))
    changed = tuple(
        (before[p], after[p])
        for p in sorted(before.keys() & after.keys())
        if before[p].digest != after[p].digest
    )
    unchanged = len(before.keys() & after.keys()) - len(changed)
    return ManifestDiff(added, removed, changed, unchanged)
