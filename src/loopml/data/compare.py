"""Comparing two dataset versions: files added, removed and changed; for tables, the
schema, the row count and per-column statistics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loopml.data.manifest import Manifest, ManifestDiff, diff_manifests
from loopml.entities import DatasetVersion

__all__ = ["ColumnChange", "DatasetDiff", "diff_versions"]

_STATS = ("nulls", "distinct", "min", "max", "mean", "std")


@dataclass(frozen=True)
class ColumnChange:
    """A column that was added, removed, or changed type or statistics."""

    column: str
    change: str  # added | removed | type | stats
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class DatasetDiff:
    """What differs between version ``a`` and version ``b``."""

    a: DatasetVersion
    b: DatasetVersion
    files: ManifestDiff
    rows: tuple[int | None, int | None] = (None, None)
    columns: tuple[ColumnChange, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            "a": self.a.uri,
            "b": self.b.uri,
            "files": {
                "added": [f.path for f in self.files.added],
                "removed": [f.path for f in self.files.removed],
                "changed": [new.path for _, new in self.files.changed],
                "unchanged": self.files.unchanged,
            },
            "rows": {"a": self.rows[0], "b": self.rows[1]},
            "columns": [
                {"column": c.column, "change": c.change, "before": c.before, "after": c.after}
                for c in self.columns
            ],
        }


def _columns(profile: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    if not profile:
        return {}
    return {str(c["name"]): c for c in profile.get("columns", [])}


def _column_changes(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[ColumnChange]:
    before, after = _columns(old), _columns(new)
    changes = [
        ColumnChange(c, "added", None, after[c].get("type")) for c in after if c not in before
    ]
    changes += [
        ColumnChange(c, "removed", before[c].get("type"), None) for c in before if c not in after
    ]
    for name in (c for c in before if c in after):
        b, a = before[name], after[name]
        if b.get("type") != a.get("type"):
            changes.append(ColumnChange(name, "type", b.get("type"), a.get("type")))
        stats_b = {k: b.get(k) for k in _STATS if b.get(k) is not None}
        stats_a = {k: a.get(k) for k in _STATS if a.get(k) is not None}
        if stats_b != stats_a:
            changes.append(ColumnChange(name, "stats", stats_b, stats_a))
    return changes


def diff_versions(
    a: DatasetVersion, b: DatasetVersion, files_a: Manifest, files_b: Manifest
) -> DatasetDiff:
    """Compare two versions given their manifests."""
    return DatasetDiff(
        a,
        b,
        diff_manifests(files_a, files_b),
        (a.rows, b.rows),
        tuple(_column_changes(a.profile, b.profile)),
    )
