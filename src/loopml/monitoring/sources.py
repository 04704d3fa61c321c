"""Where a drift check reads its two sides from: tables in memory, Parquet and CSV files,
stored dataset versions, and stored column profiles.

A :class:`TableSource` hands out one column at a time, so a check holds at most a few
columns in memory however wide the table is: a Parquet file is read column by column
(and, for the tests that only count, row group by row group); a table already in memory
is used as it is. A :class:`ProfileSource` stands for a reference known only by its
profile: the check then never reads the reference rows.

Column names may reach into struct columns with dots (``output.prediction`` is the field
``prediction`` of the struct column ``output``) when no column has that exact name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from loopml.data.profile import ColumnProfile, TableProfile, column_kind
from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    from loopml.data import DataClient

__all__ = ["ProfileSource", "TableSource", "open_current", "open_reference"]

_TABLE_SUFFIXES = (".parquet", ".pq", ".csv")


class TableSource:
    """Columns of a table in memory or of a Parquet file, read on demand.

    Args:
        label: how reports name this side (a path, a dataset URI, ``dataframe``).
        table: an Arrow table in memory, or None with ``parquet``.
        parquet: a Parquet file to read column by column.
    """

    def __init__(self, label: str, table: pa.Table | None = None, parquet: Path | None = None):
        self.label = label
        self._table = table
        self._parquet = parquet
        if table is not None:
            self.schema: pa.Schema = table.schema
            self.num_rows: int = table.num_rows
        else:
            import pyarrow.parquet as pq

            assert parquet is not None
            try:
                meta = pq.ParquetFile(parquet)
            except (pa.ArrowInvalid, OSError) as exc:
                raise InvalidInputError(f"{parquet} cannot be read as Parquet: {exc}") from exc
            self.schema = meta.schema_arrow
            self.num_rows = meta.metadata.num_rows
        self._names = list(self.schema.names)
        self._known = set(self._names)

    @property
    def names(self) -> list[str]:
        """Top-level column names, in order."""
        return list(self._names)

    def _resolve(self, name: str) -> tuple[str, list[str]] | None:
        if name in self._known:
            return name, []
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            top = ".".join(parts[:cut])
            if top not in self._known:
                continue
            kind: pa.DataType = self.schema.field(top).type
            path = parts[cut:]
            for part in path:
                if not pa.types.is_struct(kind) or kind.get_field_index(part) < 0:
                    break
                kind = kind.field(part).type
            else:
                return top, path
        return None

    def has(self, name: str) -> bool:
        """True when the column (or a struct field by dotted path) exists."""
        return self._resolve(name) is not None

    def type_of(self, name: str) -> pa.DataType:
        """The Arrow type of a column or struct field."""
        resolved = self._resolve(name)
        assert resolved is not None, name
        top, path = resolved
        kind: pa.DataType = self.schema.field(top).type
        for part in path:
            kind = kind.field(part).type
        return kind

    def kind_of(self, name: str) -> str:
        """The profile kind of a column (``integer``, ``float``, ``string``, …), or
        ``null`` for a column of Arrow's null type (all values missing, type unknown)."""
        kind = self.type_of(name)
        return "null" if pa.types.is_null(kind) else column_kind(kind)

    def _extract(self, data: pa.ChunkedArray | pa.Array, path: list[str]) -> Any:
        for part in path:
            data = pc.struct_field(data, part)
        return data

    def column(self, name: str) -> pa.ChunkedArray:
        """The whole column."""
        resolved = self._resolve(name)
        assert resolved is not None, name
        top, path = resolved
        if self._table is not None:
            data: Any = self._table.column(top)
        else:
            import pyarrow.parquet as pq

            data = pq.ParquetFile(self._parquet).read(columns=[top]).column(0)
        data = self._extract(data, path)
        return data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])

    def batches(self, name: str) -> Iterator[pa.Array]:
        """The column in pieces: Parquet row groups one at a time, or the chunks of a table
        in memory."""
        resolved = self._resolve(name)
        assert resolved is not None, name
        top, path = resolved
        if self._table is not None:
            for chunk in self._table.column(top).chunks:
                yield self._extract(chunk, path)
            return
        import pyarrow.parquet as pq

        # text read as dictionaries: counting then touches small integer codes
        text = column_kind(self.schema.field(top).type) == "string"
        reader = pq.ParquetFile(self._parquet, read_dictionary=[top] if text else None)
        for batch in reader.iter_batches(columns=[top]):
            yield self._extract(batch.column(0), path)


class ProfileSource:
    """A reference known by its stored profile only.

    Args:
        label: how reports name it.
        profile: the table profile.
    """

    def __init__(self, label: str, profile: TableProfile) -> None:
        self.label = label
        self.profile = profile
        self._columns = {c.name: c for c in profile.columns}

    @property
    def names(self) -> list[str]:
        """Column names, in order."""
        return self.profile.names

    @property
    def num_rows(self) -> int:
        """Rows of the profiled table."""
        return self.profile.rows

    def has(self, name: str) -> bool:
        """True when the profile has the column."""
        return name in self._columns

    def column_profile(self, name: str) -> ColumnProfile:
        """One column's profile."""
        return self._columns[name]

    def kind_of(self, name: str) -> str:
        """The profile kind of a column (``null`` for Arrow's null type)."""
        column = self._columns[name]
        return "null" if column.type == "null" else column.kind


Source = TableSource | ProfileSource


def _file(path: Path) -> TableSource:
    if not path.is_file():
        raise InvalidInputError(
            f"{path} is not a file; give a Parquet or CSV file, a dataset version "
            "(rides@3, datasets:/rides/3) or a table"
        )
    if path.suffix.lower() == ".csv":
        from loopml.data.tables import read_table

        return TableSource(str(path), table=read_table([(path.name, str(path))]))
    return TableSource(str(path), parquet=path)


def _version(ref: Any, data: DataClient | None, exact: bool) -> Source:
    from loopml.data import DataClient, DatasetKind, DatasetVersion

    client = data or DataClient()
    try:
        version = ref if isinstance(ref, DatasetVersion) else client.get_version(ref)
        if version.kind is not DatasetKind.TABLE:
            raise InvalidInputError(
                f"{version.uri} holds files, not a table; drift needs a table version"
            )
        if version.profile is not None and not exact:
            profile = TableProfile.from_dict(dict(version.profile))
            return ProfileSource(f"{version.uri} (profile)", profile)
        return TableSource(version.uri, table=client.load(version, as_="arrow"))
    finally:
        if data is None:
            client.close()


def _open(side: str, value: Any, data: DataClient | None, exact: bool) -> Source:
    from loopml.data import DatasetVersion
    from loopml.data.tables import to_arrow

    if isinstance(value, TableProfile):
        return ProfileSource("profile", value)
    if isinstance(value, Mapping) and "rows" in value and "columns" in value:
        return ProfileSource("profile", TableProfile.from_dict(value))
    if isinstance(value, DatasetVersion):
        return _version(value, data, exact)
    if isinstance(value, Path):
        return _file(value)
    if isinstance(value, str):
        path = Path(value)
        if path.is_file() or path.suffix.lower() in _TABLE_SUFFIXES:
            return _file(path)
        return _version(value, data, exact)
    try:
        table = to_arrow(value)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"the {side} data: {exc.message}; or pass a Parquet/CSV path, a dataset version "
            "(rides@3) or, for the reference, a TableProfile"
        ) from exc
    return TableSource("dataframe", table=table)


def open_reference(value: Any, data: DataClient | None = None, exact: bool = False) -> Source:
    """The reference side: a table (pandas, polars, Arrow, a dict of columns), a Parquet
    or CSV path, a dataset version (``DatasetVersion``, ``datasets:/rides/3``,
    ``rides@3``; its stored profile unless ``exact``) or a ``TableProfile``.

    Raises:
        InvalidInputError: the value is none of these, or a file cannot be read.
        DatasetNotFoundError, DatasetVersionNotFoundError: no such stored version.
    """
    return _open("reference", value, data, exact)


def open_current(value: Any, data: DataClient | None = None) -> TableSource:
    """The current side: the same forms as the reference but a profile (a dataset
    version's rows are read).

    Raises:
        InvalidInputError: a profile was given, or the value is not a table.
    """
    source = _open("current", value, data, exact=True)
    if isinstance(source, ProfileSource):
        raise InvalidInputError(
            "the current data must be rows, not a profile: drift compares the current "
            "values against the reference"
        )
    return source
