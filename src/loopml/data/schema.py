"""Dataset schemas: inferred from a profile, saved as YAML a person can edit, and pinned.

A schema lists each column with what valid data looks like::

    columns:
    - name: fare
      type: double
      kind: float
      nullable: false
      min: 2.5
      max: 180.0
      max_out_of_range_share: 0.01
      max_distance: 0.2
    - name: city
      type: string
      kind: string
      nullable: false
      categories: [lyon, paris]
      max_unseen_share: 0.01
      max_distance: 0.2
    allow_extra_columns: false

``min``/``max`` bound numbers (``max_out_of_range_share`` of values may fall outside: 1 %
for inferred ranges, none when left out); ``categories`` lists the known values of a text
column, and ``max_unseen_share`` the share of other values tolerated; ``max_null_fraction`` bounds
missing values of a nullable column; ``max_distance`` bounds the Jensen-Shannon distance
(base 2, from 0 to 1) between the data's distribution and the reference profile's. A field
left out is not checked.

Categories are compared as text: booleans as ``true``/``false`` (an unquoted YAML ``true``
in a list of categories means the same), numbers as written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from loopml.errors import DataSchemaError, InvalidInputError

__all__ = [
    "KINDS",
    "ColumnSchema",
    "DataSchema",
    "infer_schema",
    "load_schema",
    "save_schema",
]

KINDS = ("integer", "float", "boolean", "string", "categorical", "datetime", "other")
MAX_CATEGORIES = 50
DEFAULT_UNSEEN_SHARE = 0.01
# An observed range is only a sample's: new data from the same source lands outside it about
# 2/(n+1) of the time, so inferred ranges tolerate a small share out of range.
DEFAULT_OUT_OF_RANGE_SHARE = 0.01
# Jensen-Shannon distance between two samples of a few hundred rows is about 0.1 by chance
# alone, so the default bound sits above that noise.
DEFAULT_DISTANCE = 0.2


@dataclass(frozen=True)
class ColumnSchema:
    """What valid values of one column look like (None: not checked)."""

    name: str
    kind: str
    type: str = ""
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] | None = None
    max_null_fraction: float | None = None
    max_out_of_range_share: float | None = None
    max_unseen_share: float | None = None
    max_distance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """As written to YAML: fields that are None left out."""
        data = asdict(self)
        if self.categories is not None:
            data["categories"] = list(self.categories)
        return {k: v for k, v in data.items() if v is not None and v != ""}


@dataclass(frozen=True)
class DataSchema:
    """The columns of a dataset, and whether columns beyond them are allowed."""

    columns: tuple[ColumnSchema, ...] = field(default_factory=tuple)
    allow_extra_columns: bool = False

    def column(self, name: str) -> ColumnSchema | None:
        """One column's schema, or None."""
        return next((c for c in self.columns if c.name == name), None)

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        """JSON- and YAML-able."""
        return {
            "columns": [c.to_dict() for c in self.columns],
            "allow_extra_columns": self.allow_extra_columns,
        }

    def to_yaml(self) -> str:
        """Readable YAML, one mapping per column."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_dict(cls, data: Any) -> DataSchema:
        """Parse and check a schema.

        Raises:
            DataSchemaError: an unknown key or kind, a bound of the wrong type or range,
                min above max, or a column named twice.
        """
        if not isinstance(data, Mapping):
            raise DataSchemaError("a schema is a mapping with a 'columns' list")
        unknown = set(data) - {"columns", "allow_extra_columns"}
        if unknown:
            raise DataSchemaError(
                f"unknown schema key(s) {sorted(unknown)}; use 'columns' and 'allow_extra_columns'"
            )
        raw = data.get("columns")
        if not isinstance(raw, list):
            raise DataSchemaError("the schema's 'columns' must be a list of column mappings")
        columns = [_column(item, i) for i, item in enumerate(raw)]
        seen: set[str] = set()
        for column in columns:
            if column.name in seen:
                raise DataSchemaError(f"column {column.name!r} is listed twice; keep one entry")
            seen.add(column.name)
        extra = data.get("allow_extra_columns", False)
        if not isinstance(extra, bool):
            raise DataSchemaError("'allow_extra_columns' must be true or false")
        return cls(tuple(columns), extra)

    @classmethod
    def from_yaml(cls, text: str) -> DataSchema:
        """Parse YAML (see :meth:`from_dict`)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DataSchemaError(f"the schema is not valid YAML: {exc}") from exc
        return cls.from_dict(data)


_FIELDS = {f.name for f in fields(ColumnSchema)}


def _fraction(where: str, key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise DataSchemaError(f"{where}: {key} must be a number from 0 to 1, got {value!r}")
    return float(value)


def _bound(where: str, key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise DataSchemaError(
            f"{where}: {key} must be a number, got {value!r}; leave it out to not check it"
        )
    return float(value)


def _category(where: str, value: Any) -> str:
    if isinstance(value, bool):  # YAML reads an unquoted true as a boolean
        return "true" if value else "false"
    if value is None or isinstance(value, (list, dict)):
        raise DataSchemaError(
            f"{where}: categories must be plain values, got {value!r}; nulls are governed by "
            "'nullable' and 'max_null_fraction', not by categories"
        )
    return str(value)


def _column(item: Any, index: int) -> ColumnSchema:
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
        raise DataSchemaError(f"column #{index + 1} needs a 'name' (a non-empty string)")
    where = f"column {item['name']!r}"
    unknown = set(item) - _FIELDS
    if unknown:
        raise DataSchemaError(
            f"{where}: unknown key(s) {sorted(unknown)}; known keys: {', '.join(sorted(_FIELDS))}"
        )
    kind = item.get("kind")
    if kind is None:
        raise DataSchemaError(f"{where} needs a 'kind', one of {', '.join(KINDS)}")
    if kind not in KINDS:
        raise DataSchemaError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    nullable = item.get("nullable", True)
    if not isinstance(nullable, bool):
        raise DataSchemaError(f"{where}: nullable must be true or false")
    low, high = _bound(where, "min", item.get("min")), _bound(where, "max", item.get("max"))
    if low is not None and high is not None and low > high:
        raise DataSchemaError(f"{where}: min {low} is above max {high}; swap or fix them")
    categories = item.get("categories")
    if categories is not None:
        if not isinstance(categories, list):
            raise DataSchemaError(f"{where}: categories must be a list of values")
        categories = tuple(_category(where, c) for c in categories)
    return ColumnSchema(
        name=item["name"],
        kind=kind,
        type=str(item.get("type", "")),
        nullable=nullable,
        min=low,
        max=high,
        categories=categories,
        max_null_fraction=_fraction(where, "max_null_fraction", item.get("max_null_fraction")),
        max_out_of_range_share=_fraction(
            where, "max_out_of_range_share", item.get("max_out_of_range_share")
        ),
        max_unseen_share=_fraction(where, "max_unseen_share", item.get("max_unseen_share")),
        max_distance=_fraction(where, "max_distance", item.get("max_distance")),
    )


def infer_schema(source: Any) -> DataSchema:
    """The schema of a :class:`~loopml.data.profile.TableProfile` (or an Arrow table, which
    is profiled first): types, nullability from the data, observed ranges of numbers, the
    values of text columns with at most 50 of them, and default bounds for values out of
    range (1 %), unseen values (1 %) and distribution distance (0.2). ``max_null_fraction``
    is left out: the observed share of nulls in a sample is too noisy to be a bound, so a
    nullable column accepts any share until one is written in.

    Args:
        source: a profile, or a table (Arrow, pandas, polars, dict of columns).

    Raises:
        InvalidInputError: the source is neither a profile nor a table.
    """
    from loopml.data.profile import TableProfile, profile_table
    from loopml.data.tables import to_arrow

    profile = source if isinstance(source, TableProfile) else profile_table(to_arrow(source))
    columns = []
    for c in profile.columns:
        numeric = c.kind in ("integer", "float")
        categories = None
        text = c.kind in ("string", "categorical", "boolean")
        few = c.distinct is not None and c.distinct <= MAX_CATEGORIES
        if text and c.top and few and not c.other:
            categories = tuple(sorted(v for v, _ in c.top))
        columns.append(
            ColumnSchema(
                name=c.name,
                kind=c.kind,
                type=c.type,
                nullable=c.nulls > 0,
                min=c.min if numeric and isinstance(c.min, float) else None,
                max=c.max if numeric and isinstance(c.max, float) else None,
                categories=categories if categories and len(categories) == c.distinct else None,
                max_out_of_range_share=DEFAULT_OUT_OF_RANGE_SHARE if numeric else None,
                max_unseen_share=DEFAULT_UNSEEN_SHARE if categories else None,
                max_distance=DEFAULT_DISTANCE if numeric or categories else None,
            )
        )
    return DataSchema(tuple(columns))


def load_schema(path: str | Path) -> DataSchema:
    """Read a schema YAML file.

    Raises:
        InvalidInputError: the file cannot be read.
        DataSchemaError: it is not a valid schema.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read the schema file {path}: {exc.strerror}") from exc
    return DataSchema.from_yaml(text)


def save_schema(schema: DataSchema, path: str | Path) -> None:
    """Write a schema as YAML."""
    Path(path).write_text(schema.to_yaml(), encoding="utf-8")
