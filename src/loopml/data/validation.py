"""Validating data against a schema and a reference profile, as TFX's ExampleValidator does.

``validate(data, schema, reference=None)`` returns a :class:`ValidationReport` listing
anomalies, each with a severity:

=====================  ========  ==========================================================
kind                   severity  when
=====================  ========  ==========================================================
missing_column         error     a schema column is absent
unexpected_column      warning   a column the schema lacks (unless extra columns allowed)
type_mismatch          error     a column's kind differs (integers in a float column, and
                                 other widths of the same kind, are fine)
null_in_non_nullable   error     nulls in a column the schema marks not nullable
null_fraction          error     more nulls than ``max_null_fraction``
out_of_range           error     numbers below ``min`` or above ``max`` (beyond
                                 ``max_out_of_range_share`` of the values)
unseen_categories      error     values outside ``categories`` above ``max_unseen_share``
distribution_distance  warning   Jensen-Shannon distance (base 2) to the reference profile
                                 above ``max_distance`` (only with a reference, and only
                                 on 100 or more values: fewer say little)
=====================  ========  ==========================================================

Every check is vectorised with Arrow compute and NumPy.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopml.data.profile import ColumnProfile, TableProfile, as_text, bin_counts, column_kind
from loopml.data.schema import ColumnSchema, DataSchema
from loopml.errors import InvalidInputError

__all__ = ["Anomaly", "ValidationReport", "js_distance", "validate"]

_EXAMPLES = 5
_NUMERIC = ("integer", "float")
_MIN_FOR_DISTANCE = 100


@dataclass(frozen=True)
class Anomaly:
    """One problem found in the data."""

    column: str | None
    kind: str
    severity: str  # "error" | "warning"
    message: str
    value: float | None = None
    bound: float | None = None
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationReport:
    """The anomalies found in ``rows`` rows; ``ok`` when none is an error."""

    rows: int
    anomalies: tuple[Anomaly, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> list[Anomaly]:
        """Anomalies of severity ``error``."""
        return [a for a in self.anomalies if a.severity == "error"]

    @property
    def warnings(self) -> list[Anomaly]:
        """Anomalies of severity ``warning``."""
        return [a for a in self.anomalies if a.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "rows": self.rows,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "anomalies": [{**asdict(a), "examples": list(a.examples)} for a in self.anomalies],
        }

    def to_json(self) -> str:
        """The report as a JSON document."""
        return json.dumps(self.to_dict(), indent=2)

    def to_frame(self) -> Any:
        """The anomalies as a pandas DataFrame (one row each)."""
        import pandas as pd

        columns = ["column", "kind", "severity", "message", "value", "bound", "examples"]
        return pd.DataFrame([asdict(a) for a in self.anomalies], columns=columns)

    def to_html(self, title: str = "Data validation") -> str:
        """A self-contained HTML page."""
        from loopml.data.report import render_html

        return render_html(self, title)

    def save_html(self, path: str | Path, title: str = "Data validation") -> None:
        """Write :meth:`to_html` to a file (whole or not at all)."""
        from loopml.storage.artifacts import write_text_atomic

        write_text_atomic(path, self.to_html(title))


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, 0 to 1) between two count or frequency vectors."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return float(np.sqrt(max(0.0, (kl(p) + kl(q)) / 2)))


def _as_table(data: Any) -> pa.Table:
    from loopml.data.tables import to_arrow

    table: pa.Table = to_arrow(data)
    return table


def _compatible(expected: ColumnSchema, actual: str) -> bool:
    if expected.kind == actual:
        return True
    if expected.kind == "float" and actual == "integer":
        return True
    return {expected.kind, actual} <= {"string", "categorical"}


def _examples(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values[:_EXAMPLES])


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _range(name: str, spec: ColumnSchema, column: pa.ChunkedArray) -> list[Anomaly]:
    # unsafe: integers beyond 2**53 round instead of raising
    array = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    array = array[np.isfinite(array)]
    values = max(1, len(column) - column.null_count)
    allowed = spec.max_out_of_range_share or 0.0
    found = []
    for bound, word in ((spec.min, "below"), (spec.max, "above")):
        if bound is None:
            continue
        bad = array < bound if word == "below" else array > bound
        count = int(np.count_nonzero(bad))
        share = count / values
        if count and share > allowed:
            outside = np.unique(array[bad])  # ascending: show the most extreme first
            extreme = outside if word == "below" else outside[::-1]
            tolerance = f" (allowed: {allowed:.1%})" if allowed else ""
            found.append(
                Anomaly(
                    name,
                    "out_of_range",
                    "error",
                    f"{count} of {values} value(s) ({share:.1%}) are {word} the schema's "
                    f"{'min' if word == 'below' else 'max'} {bound:g}{tolerance}",
                    share,
                    bound,
                    tuple(_number(float(v)) for v in extreme[:_EXAMPLES]),
                )
            )
    return found


def _categories(name: str, spec: ColumnSchema, column: pa.ChunkedArray) -> list[Anomaly]:
    assert spec.categories is not None
    text = as_text(column).drop_null()
    if len(text) == 0:
        return []
    known = pa.array(spec.categories, type=pa.string())
    unseen = text.filter(pc.invert(pc.is_in(text, value_set=known)))
    share = len(unseen) / len(text)
    bound = spec.max_unseen_share or 0.0
    if share <= bound:
        return []
    values = pc.value_counts(unseen)
    order = np.argsort(-values.field("counts").to_numpy(), kind="stable")
    examples = [values.field("values")[int(i)].as_py() for i in order[:_EXAMPLES]]
    return [
        Anomaly(
            name,
            "unseen_categories",
            "error",
            f"{share:.1%} of values are not among the {len(spec.categories)} known categories "
            f"(allowed: {bound:.1%})",
            share,
            bound,
            _examples(examples),
        )
    ]


def _distance(name: str, ref: ColumnProfile, column: pa.ChunkedArray) -> float | None:
    if ref.histogram is not None and column_kind(column.type) in _NUMERIC:
        counts, below, above = bin_counts(column, ref.histogram["edges"])
        current = np.concatenate([[below], counts, [above]])
        reference = np.concatenate([[0], ref.histogram["counts"], [0]])
        return js_distance(reference, current)
    if ref.top is not None:
        text = as_text(column).drop_null()
        if len(text) == 0:
            return None
        labels = pa.array([v for v, _ in ref.top], type=pa.string())
        reference = np.array([c for _, c in ref.top] + [ref.other or 0])
        # position of each value among the reference's top values; the rest go to "other"
        index = pc.index_in(text, value_set=labels).to_numpy(zero_copy_only=False)
        slots = np.where(np.isnan(index), len(labels), index).astype(np.int64)
        current = np.bincount(slots, minlength=len(labels) + 1)
        return js_distance(reference, current)
    return None


def _check_column(
    spec: ColumnSchema, column: pa.ChunkedArray, ref: ColumnProfile | None
) -> list[Anomaly]:
    name = spec.name
    actual = column_kind(column.type)
    if not _compatible(spec, actual):
        return [
            Anomaly(
                name,
                "type_mismatch",
                "error",
                f"expected {spec.kind} values ({spec.type or spec.kind}), got {actual} "
                f"({column.type}); cast the column, or change the schema's kind if the "
                "data is right",
            )
        ]
    found: list[Anomaly] = []
    nulls, rows = column.null_count, len(column)
    if nulls and not spec.nullable:
        found.append(
            Anomaly(
                name,
                "null_in_non_nullable",
                "error",
                f"{nulls} null value(s) in a column that must not have any",
                nulls / rows,
                0.0,
            )
        )
    elif spec.max_null_fraction is not None and rows and nulls / rows > spec.max_null_fraction:
        found.append(
            Anomaly(
                name,
                "null_fraction",
                "error",
                f"{nulls / rows:.1%} of values are null (allowed: {spec.max_null_fraction:.1%})",
                nulls / rows,
                spec.max_null_fraction,
            )
        )
    if actual in _NUMERIC and (spec.min is not None or spec.max is not None):
        found += _range(name, spec, column)
    if spec.categories is not None and actual in ("string", "categorical", "boolean"):
        found += _categories(name, spec, column)
    if ref is not None and spec.max_distance is not None and rows - nulls >= _MIN_FOR_DISTANCE:
        distance = _distance(name, ref, column)
        if distance is not None and distance > spec.max_distance:
            found.append(
                Anomaly(
                    name,
                    "distribution_distance",
                    "warning",
                    f"the distribution moved from the reference: Jensen-Shannon distance "
                    f"{distance:.3f} (allowed: {spec.max_distance:.3f})",
                    distance,
                    spec.max_distance,
                )
            )
    return found


def validate(
    data: Any, schema: DataSchema, reference: TableProfile | None = None
) -> ValidationReport:
    """Check a table against a schema, and with a reference profile also against the
    reference distributions (see the module's table of anomalies).

    Args:
        data: a pyarrow Table or RecordBatch, a pandas or polars DataFrame, or a dict of
            equal-length columns.
        schema: what valid data looks like.
        reference: the profile of the data the schema was made from; without it, no
            distribution distance is checked.

    Raises:
        InvalidInputError: ``data`` is not a table, or two of its columns share a name.
    """
    table = _as_table(data)
    twice = sorted(n for n, k in Counter(table.column_names).items() if k > 1)
    if twice:
        raise InvalidInputError(
            f"the table has columns named more than once ({', '.join(twice)}); rename them "
            "so each can be checked against its schema"
        )
    anomalies: list[Anomaly] = []
    present = set(table.column_names)
    for spec in schema.columns:
        if spec.name not in present:
            anomalies.append(
                Anomaly(
                    spec.name,
                    "missing_column",
                    "error",
                    f"column {spec.name!r} is missing; the schema expects it",
                )
            )
            continue
        ref = None
        if reference is not None and spec.name in reference.names:
            ref = reference.column(spec.name)
        anomalies += _check_column(spec, table.column(spec.name), ref)
    if not schema.allow_extra_columns:
        for name in table.column_names:
            if schema.column(name) is None:
                anomalies.append(
                    Anomaly(
                        name,
                        "unexpected_column",
                        "warning",
                        f"column {name!r} is not in the schema",
                    )
                )
    return ValidationReport(table.num_rows, tuple(anomalies))
