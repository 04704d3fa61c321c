"""Data quality of a window: the data package's validation against the reference schema,
one column at a time (so memory holds one column of the window, not all of them).

Checked per feature the model takes and the schema lists: types, nulls in a non-nullable
column, too many nulls, values out of the schema's range, unseen categories
(:func:`loopml.data.validation.validate`). Features the schema lacks are
``unexpected_column`` warnings; schema columns the model does not take (the target, ids)
are listed as not logged, not as errors. Requests refused as bad input (4xx: the payload
did not fit the signature) are a ``rejected_requests`` warning (a policy can bound the
figure ``rejected_rows``). The
distance to the reference distribution is not repeated here: that is the drift tests' job.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.data.schema import DataSchema

__all__ = ["check_quality"]


def check_quality(
    path: Path, schema: DataSchema, features: list[str], rejected_rows: int
) -> dict[str, Any]:
    """The quality summary of a window file: ``errors``, ``warnings``, counts by anomaly
    kind, the anomalies themselves, and the schema columns not in the log."""
    import pyarrow.parquet as pq

    from loopml.data.schema import ColumnSchema, DataSchema
    from loopml.data.validation import Anomaly, validate

    file = pq.ParquetFile(path)
    anomalies: list[Anomaly] = []
    logged = set(features)
    for spec in schema.columns:
        if spec.name not in logged:
            continue
        one = DataSchema((ColumnSchema(**{**asdict(spec), "max_distance": None}),), True)
        column = file.read(columns=[spec.name])
        anomalies += validate(column, one).anomalies
    if not schema.allow_extra_columns:
        anomalies += [
            Anomaly(name, "unexpected_column", "warning", f"feature {name!r} is not in the schema")
            for name in features
            if schema.column(name) is None
        ]
    if rejected_rows:
        anomalies.append(
            Anomaly(
                None, "rejected_requests", "warning",
                f"{rejected_rows} request(s) were refused as bad input (4xx: missing columns "
                "or values of the wrong type for the model's signature)",
                float(rejected_rows),
            )
        )  # fmt: skip
    kinds = Counter(a.kind for a in anomalies)
    return {
        "errors": sum(1 for a in anomalies if a.severity == "error"),
        "warnings": sum(1 for a in anomalies if a.severity == "warning"),
        "kinds": dict(sorted(kinds.items())),
        "anomalies": [
            {
                "column": a.column,
                "kind": a.kind,
                "severity": a.severity,
                "message": a.message,
                "value": a.value,
                "examples": list(a.examples),
            }
            for a in anomalies
        ],
        "not_logged": [c for c in schema.names if c not in logged],
    }
