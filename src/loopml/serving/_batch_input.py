"""What batch scoring reads: Parquet files, a folder of them, CSV, or a table dataset version,
streamed as Arrow record batches so memory stays bounded by one chunk (and, for Parquet,
one row group), whatever the size of the input.

    source = open_source("day.parquet")            # or a folder, data.csv, datasets:/rides@3
    source.schema.names, source.total_rows          # known before any row is read
    for table in rechunk(source.batches(["a", "b"]), 10_000): ...
    source.close()
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import (
    CorruptBlobError,
    DatasetVersionNotFoundError,
    InvalidInputError,
    InvalidUriError,
)

if TYPE_CHECKING:
    from loopml.entities import DatasetVersion

__all__ = ["InputSource", "open_source", "rechunk"]

_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4", ".br")
_CSV_BLOCK = 4 << 20  # bytes the CSV reader parses at a time


def _is_csv(name: str) -> bool:
    lower = name.lower()
    for suffix in _COMPRESSED:
        lower = lower.removesuffix(suffix)
    return lower.endswith(".csv")


def _is_parquet(path: Path, name: str) -> bool:
    if name.lower().endswith(_PARQUET_SUFFIXES):
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"PAR1"
    except OSError:
        return False


@dataclass
class _Part:
    """One file of the input: where it is, and the name errors call it by."""

    path: Path
    name: str


@dataclass
class InputSource:
    """An opened input: its columns, its row count when known, and its batches.

    Attributes:
        label: how the input is named in messages and in the scoring run (a path, or the
            dataset version's URI).
        schema: the input's columns and their Arrow types (of its first file).
        total_rows: the number of rows, or None when it is only known at the end (CSV).
        version: the dataset version read, when the input is one.
    """

    label: str
    schema: Any
    total_rows: int | None
    kind: str  # "parquet" or "csv"
    parts: list[_Part]
    version: DatasetVersion | None = None
    _cleanup: list[Path] = field(default_factory=list, repr=False)

    def batches(self, columns: Sequence[str], as_float: Sequence[str] = ()) -> Iterator[Any]:
        """The input's rows, ``columns`` only (in the input's order), as Arrow batches.

        ``as_float`` names columns a CSV file's integers are read into as floats (a model's
        float features), so a column whose first rows hold whole numbers does not fail on
        its first fraction.

        Raises:
            InvalidInputError: a file cannot be read, or its columns do not fit the first
                file's.
        """
        start = 0
        for part in self.parts:
            if self.kind == "parquet":
                batches = self._parquet(part, columns, start)
            else:
                batches = self._csv(part, columns, set(as_float), start)
            for batch in batches:
                start += batch.num_rows
                yield batch

    def _parquet(self, part: _Part, columns: Sequence[str], start: int) -> Iterator[Any]:
        import pyarrow as pa

        handle = _open_parquet(part)
        _check_part_columns(part, handle.schema_arrow, columns, self.label, start)
        wanted = pa.schema([self.schema.field(c) for c in columns])
        done = 0
        try:
            for batch in handle.iter_batches(batch_size=65_536, columns=list(columns)):
                if not batch.schema.equals(wanted):
                    batch = _cast(batch, wanted, part)
                done += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInputError(
                f"{part.name} cannot be read past row {start + done:,}: {exc}; the file is "
                "damaged or truncated, write it again"
            ) from exc
        finally:
            with contextlib.suppress(Exception):
                handle.close()

    def _csv(
        self, part: _Part, columns: Sequence[str], as_float: set[str], start: int
    ) -> Iterator[Any]:
        import pyarrow as pa

        reader = _open_csv(part, self.schema, columns, as_float)
        done = 0
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                done += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInputError(
                f"{part.name}: a value after row {start + done:,} does not fit its column's "
                f"type (read from the first rows): {exc}"
            ) from exc
        finally:
            with contextlib.suppress(Exception):
                reader.close()

    def close(self) -> None:
        """Remove the files this source downloaded (a dataset version from a remote store)."""
        for folder in self._cleanup:
            shutil.rmtree(folder, ignore_errors=True)
        self._cleanup.clear()


def _cast(batch: Any, schema: Any, part: _Part) -> Any:
    import pyarrow as pa

    try:
        return pa.Table.from_batches([batch]).cast(schema).to_batches()[0]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInputError(
            f"{part.name}: its columns have other types than the first file's ({exc}); "
            "every file of the input must have the same columns and types"
        ) from exc


def _check_part_columns(
    part: _Part, schema: Any, columns: Sequence[str], label: str, start: int
) -> None:
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise InvalidInputError(
            f"{part.name} lacks column(s) {', '.join(map(repr, missing))} that the first file "
            f"of {label} has (its rows would start at row {start + 1:,}); every file of the "
            "input must have the same columns"
        )


def _open_parquet(part: _Part) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(part.path)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInputError(
            f"{part.name} cannot be read as Parquet: {exc}; check that the file is complete"
        ) from exc


def _csv_stream(part: _Part) -> Any:
    import pyarrow as pa

    try:
        return pa.input_stream(str(part.path), compression="detect")
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInputError(f"{part.name} cannot be opened: {exc}") from exc


def _open_csv(
    part: _Part,
    schema: Any | None,
    columns: Sequence[str] | None,
    as_float: set[str] | None = None,
) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    convert = pcsv.ConvertOptions()
    if columns is not None and schema is not None:
        # Types are inferred from the first block of rows; later blocks are read with the
        # same types, so every chunk of the output has the same schema.
        types = {}
        for name in columns:
            kind = schema.field(name).type
            if name in (as_float or ()) and pa.types.is_integer(kind):
                kind = pa.float64()
            types[name] = kind
        convert = pcsv.ConvertOptions(include_columns=list(columns), column_types=types)
    try:
        return pcsv.open_csv(
            _csv_stream(part),
            read_options=pcsv.ReadOptions(block_size=_CSV_BLOCK),
            convert_options=convert,
        )
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInputError(f"{part.name} cannot be read as CSV: {exc}") from exc


def _from_parts(label: str, parts: list[_Part], version: DatasetVersion | None) -> InputSource:
    if all(_is_csv(p.name) for p in parts):
        if len(parts) != 1:
            raise InvalidInputError(
                f"{label} holds {len(parts)} CSV files; score one CSV file at a time, or "
                "convert them to Parquet"
            )
        reader = _open_csv(parts[0], None, None)
        schema = reader.schema
        with contextlib.suppress(Exception):
            reader.close()
        return InputSource(label, schema, None, "csv", parts, version)
    not_parquet = [p.name for p in parts if not _is_parquet(p.path, p.name)]
    if not_parquet:
        raise InvalidInputError(
            f"{', '.join(not_parquet[:3])} is not a Parquet or CSV file; loopml predict reads "
            ".parquet and .csv (also .csv.gz) files"
        )
    total = 0
    schema = None
    for part in parts:
        handle = _open_parquet(part)
        total += handle.metadata.num_rows
        if schema is None:
            schema = handle.schema_arrow
        with contextlib.suppress(Exception):
            handle.close()
    return InputSource(label, schema, total, "parquet", parts, version)


def _folder_parts(folder: Path) -> list[_Part]:
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(s.startswith((".", "_")) for s in p.relative_to(folder).parts)
        and p.name.lower().endswith(_PARQUET_SUFFIXES)
    )
    if not files:
        raise InvalidInputError(
            f"the folder {folder} holds no Parquet files (*.parquet); give a file or a folder "
            "of Parquet files"
        )
    return [_Part(p, str(p)) for p in files]


def _dataset_source(ref: str) -> InputSource:
    from loopml.data import DataClient
    from loopml.data.tables import is_table_files
    from loopml.storage.artifacts import LocalByteStore, hash_file

    data = DataClient()
    try:
        version = data.get_version(ref)
        files = data.manifest(version).files
        if not is_table_files([f.path for f in files]):
            raise InvalidInputError(
                f"{version.uri} holds files, not a table; loopml predict reads table versions "
                "(Parquet files, or one CSV file)"
            )
        missing = data.blobs.missing(f.digest for f in files)
        if missing:
            raise DatasetVersionNotFoundError(
                f"{len(missing)} file(s) of {version.uri} are not in the store; fetch them with "
                f"`loopml data pull {version.name}@{version.version} --remote URL`"
            )
        store = data.blobs.bytes
        parts, cleanup = [], []
        if isinstance(store, LocalByteStore):
            for item in files:  # read in place, after checking the bytes are the recorded ones
                blob = store.path_for(data.blobs.key_for(item.digest))
                if hash_file(blob).digest != item.digest:
                    raise CorruptBlobError(
                        f"{version.uri}: the stored file {item.path} does not match its digest; "
                        "restore it with `loopml data pull --remote URL`"
                    )
                parts.append(_Part(blob, f"{version.uri}:{item.path}"))
        else:  # a remote store: each file downloaded (verified) to a temporary folder
            tmp = Path(tempfile.mkdtemp(prefix="loopml-predict-"))
            cleanup.append(tmp)
            for n, item in enumerate(files):
                target = tmp / f"{n}-{Path(item.path).name}"
                data.blobs.get_file(item.digest, target)
                parts.append(_Part(target, f"{version.uri}:{item.path}"))
        source = _from_parts(version.uri, parts, version)
        source._cleanup = cleanup
        return source
    finally:
        data.close()


def _looks_like_dataset(text: str) -> bool:
    return text.startswith("datasets:") or ("@" in text and not Path(text).suffix)


def open_source(ref: str | Path | DatasetVersion) -> InputSource:
    """Open an input: a Parquet or CSV file, a folder of Parquet files, or a table dataset
    version (``datasets:/rides/3``, ``datasets:/rides@latest``, ``rides@3``, or a
    :class:`DatasetVersion`).

    Raises:
        InvalidInputError: no such file or folder, or not a readable table.
        NotFoundError: no such dataset or version.
    """
    from loopml.entities import DatasetVersion

    if isinstance(ref, DatasetVersion):
        return _dataset_source(ref.uri)
    text = str(ref)
    path = Path(text).expanduser()
    if path.is_dir():
        return _from_parts(str(path), _folder_parts(path), None)
    if path.is_file():
        return _from_parts(str(path), [_Part(path, str(path))], None)
    if isinstance(ref, str) and _looks_like_dataset(text):
        try:
            return _dataset_source(text)
        except InvalidUriError as exc:
            raise InvalidInputError(
                f"{text!r} is neither a file nor a dataset version ({exc.message})"
            ) from exc
    raise InvalidInputError(
        f"no file or folder at {text}; give a Parquet or CSV file, a folder of Parquet files, "
        "or a dataset version such as datasets:/rides@3"
    )


def rechunk(batches: Iterator[Any], size: int) -> Iterator[Any]:
    """Arrow tables of exactly ``size`` rows (the last one shorter) from batches of any size."""
    import pyarrow as pa

    pending: list[Any] = []
    held = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        held += batch.num_rows
        while held >= size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, size).combine_chunks()
            rest = table.slice(size)
            pending = rest.to_batches() if rest.num_rows else []
            held = rest.num_rows
    if held:
        yield pa.Table.from_batches(pending).combine_chunks()
