"""Tables in the data cycle: anything tabular becomes canonical Parquet, and back.

Accepted: a pyarrow Table or RecordBatch, a pandas DataFrame, a polars DataFrame, or a dict
of equal-length columns. Canonical Parquet is written with fixed options (zstd, statistics,
no pandas index unless it carries information), so the same data gives the same bytes and
the same digest.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from loopml.errors import InvalidInputError

__all__ = [
    "TABLE_FILE",
    "convert",
    "is_table_files",
    "read_table",
    "to_arrow",
    "to_parquet",
]

TABLE_FILE = "data.parquet"
FORMATS = ("pandas", "arrow", "polars")


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidInputError(
            "tables need pyarrow; install it with `pip install loopml[tables]`"
        ) from exc
    return pyarrow


def to_arrow(data: Any) -> Any:
    """A ``pyarrow.Table`` of a table-like object.

    Raises:
        InvalidInputError: the object is not one loopml can read as a table.
    """
    pa = _pyarrow()
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "to_arrow") and callable(data.to_arrow):  # polars
        return data.to_arrow()
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas" and hasattr(data, "columns"):
        try:
            return pa.Table.from_pandas(data, preserve_index=None)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInputError(f"this DataFrame cannot be stored as Parquet: {exc}") from exc
    if isinstance(data, dict):
        try:
            return pa.table(data)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise InvalidInputError(f"these columns do not form a table: {exc}") from exc
    raise InvalidInputError(
        f"cannot store a {type(data).__name__} as a table; pass a pandas or polars DataFrame, "
        "a pyarrow Table, or a dict of columns"
    )


def to_parquet(table: Any) -> bytes:
    """The canonical Parquet bytes of an Arrow table."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    return sink.getvalue()


def _suffix(path: str) -> str:
    """What ``PurePosixPath(path).suffix.lower()`` gives, without building a path object."""
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


def is_table_files(paths: Sequence[str]) -> bool:
    """True when files form one table: all Parquet, or a single CSV file."""
    if not paths:
        return False
    if len(paths) == 1 and _suffix(paths[0]) == ".csv":
        return True
    return all(_suffix(p) in (".parquet", ".pq") for p in paths)  # stops at the first other


def read_table(sources: Sequence[tuple[str, Any]]) -> Any:
    """One Arrow table from (name, binary file-like or path) pairs of Parquet or one CSV.

    Raises:
        InvalidInputError: a file is not readable as a table, or the parts' schemas differ.
    """
    pa = _pyarrow()
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    parts = []
    for name, source in sources:
        try:
            if name.lower().endswith(".csv"):
                parts.append(pcsv.read_csv(source))
            else:
                parts.append(pq.read_table(source))
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInputError(f"{name} cannot be read as a table: {exc}") from exc
    if not parts:
        raise InvalidInputError("there are no table files to read")
    try:
        return pa.concat_tables(parts, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInputError(f"the table's files have different schemas: {exc}") from exc


def convert(table: Any, as_: str) -> Any:
    """An Arrow table as ``pandas``, ``arrow`` or ``polars``."""
    if as_ == "arrow":
        return table
    if as_ == "pandas":
        return table.to_pandas()
    if as_ == "polars":
        try:
            import polars
        except ImportError as exc:
            raise InvalidInputError("as_='polars' needs polars: `pip install polars`") from exc
        return polars.from_arrow(table)
    raise InvalidInputError(f"as_ must be one of {', '.join(FORMATS)}, got {as_!r}")
