"""Batch scoring: a model over a Parquet or CSV file (or a folder of Parquet files, or a
table dataset version), chunk by chunk, into a Parquet or CSV file of predictions.

    from loopml.serving import predict_file
    result = predict_file("models:/pricing@champion", "day.parquet", "preds.parquet",
                          id_columns=["ride_id"], chunk_size=50_000)
    result.rows, result.rows_per_second, result.model_version

Memory stays bounded by a chunk, whatever the size of the input: the input is streamed
(``ParquetFile.iter_batches``, ``pyarrow.csv.open_csv``), each chunk checked against the
model's signature and predicted, and appended to one writer. The output is written under a
temporary name in its folder and renamed when complete, so a failed or interrupted run
leaves no output file behind. With ``executor="ray"`` chunks are scored by Ray actors.

When the input is a dataset version (or with ``log_run=True``), the scoring is a run that
records the dataset version as its input (role ``scoring``), the model version (role
``model``), and the output's path and digest; the output file names the model and the run
in its metadata.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError, LoopmlError, ScoringError, SignatureError
from loopml.serving._batch_input import InputSource, open_source, rechunk
from loopml.serving._batch_score import ChunkFailure, empty_prediction_fields, score_table

if TYPE_CHECKING:
    from loopml.entities import DatasetVersion
    from loopml.models import LoadedModel

__all__ = ["EXECUTORS", "METADATA_KEY", "BatchResult", "predict_file"]

EXECUTORS = ("inline", "ray")
METADATA_KEY = b"loopml.predict"
_FLOAT_TYPES = ("float16", "float32", "float64")
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class BatchResult:
    """What :func:`predict_file` wrote.

    Attributes:
        output: the output file.
        rows, chunks: rows scored, and the chunks they were scored in.
        seconds: wall time from opening the input to the renamed output.
        model: the model reference given; ``model_name`` / ``model_version`` the
            registered version it resolved to (None for a run's model or a folder).
        input: the input's path, or the dataset version's URI.
        columns: the output's columns, in order.
        run_id: the scoring run, when one was logged.
    """

    output: str
    rows: int
    chunks: int
    seconds: float
    model: str
    model_name: str | None
    model_version: int | None
    input: str
    columns: list[str]
    executor: str
    run_id: str | None = None

    @property
    def rows_per_second(self) -> float:
        """Throughput over the whole call."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, with ``rows_per_second``."""
        return {**asdict(self), "rows_per_second": round(self.rows_per_second, 1)}


@dataclass
class _Model:
    loaded: LoadedModel
    label: str
    name: str | None = None
    version: int | None = None
    lineage_uri: str | None = None  # what the scoring run records as its model input


def _load_model(model: Any) -> _Model:
    """The model, with a registered alias resolved once: an alias that moves while a long
    run scores does not change the model mid-file."""
    from loopml.models import LoadedModel, load

    if isinstance(model, LoadedModel):
        return _Model(model, model.source)
    if not isinstance(model, (str, Path)):
        raise InvalidInputError(
            f"model must be a URI (models:/…, runs:/…), a folder or a loaded model, not "
            f"{type(model).__name__}"
        )
    text = str(model)
    if isinstance(model, str) and text.startswith("models:"):
        from loopml.registry import RegistryClient

        version = RegistryClient().resolve(text)
        exact = f"models:/{version.name}/{version.version}"
        return _Model(load(exact), text, version.name, version.version, exact)
    loaded = load(model)
    return _Model(loaded, text, lineage_uri=text if text.startswith("runs:") else None)


@dataclass
class _Plan:
    features: list[str]
    keep: list[str]
    read: list[str]
    as_float: list[str] = field(default_factory=list)


def _names(values: Sequence[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return list(dict.fromkeys(str(v) for v in values))


def _plan(
    model: LoadedModel,
    source: InputSource,
    id_columns: list[str],
    columns: list[str],
    all_columns: bool,
) -> _Plan:
    from loopml.models import ColumnsSpec

    have = list(source.schema.names)
    keep = list(dict.fromkeys([*id_columns, *(have if all_columns else columns)]))
    absent = [c for c in keep if c not in have]
    if absent:
        raise InvalidInputError(
            f"{source.label} has no column(s) {', '.join(map(repr, absent))} to copy into the "
            f"output; its columns: {', '.join(have)}"
        )
    inputs = None if model.signature is None else model.signature.inputs
    as_float: list[str] = []
    if isinstance(inputs, ColumnsSpec):
        features = inputs.names
        missing = [c for c in features if c not in have]
        if missing:
            raise SignatureError(
                f"{source.label} lacks column(s) {', '.join(map(repr, missing))} that the model "
                f"takes (every row, from row 1); the model takes {features}, the input has "
                f"{have}"
            )
        as_float = [c.name for c in inputs.columns if c.type in _FLOAT_TYPES]
    else:  # a tensor model (or none recorded): every column but the ids, in file order
        features = [c for c in have if c not in id_columns]
    wanted = set(features) | set(keep)
    return _Plan(features, keep, [c for c in have if c in wanted], as_float)


def _check_output(path: Path, overwrite: bool) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        kind = "parquet"
    elif name.endswith(".csv"):
        kind = "csv"
    else:
        raise InvalidInputError(
            f"the output {path} should end in .parquet or .csv (the format is taken from it)"
        )
    if not path.parent.is_dir():
        raise InvalidInputError(
            f"the output's folder {path.parent} does not exist; create it first "
            f"(mkdir -p {path.parent})"
        )
    if path.is_dir():
        raise InvalidInputError(f"the output {path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise InvalidInputError(
            f"the output {path} exists; choose another name, or pass --overwrite (overwrite=True)"
        )
    return kind


class _Writer:
    """One Parquet (or CSV) writer on a temporary name; ``commit`` renames it into place."""

    def __init__(self, path: Path, kind: str, overwrite: bool, metadata: dict[str, Any]) -> None:
        self.path, self.kind, self.overwrite = path, kind, overwrite
        self.tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        self.metadata = metadata
        self.schema: Any = None
        self._writer: Any = None

    def _open(self, schema: Any) -> None:
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        self.schema = schema
        if self.kind == "parquet":
            tagged = schema.with_metadata({METADATA_KEY: json.dumps(self.metadata)})
            self._writer = pq.ParquetWriter(self.tmp, tagged, compression="zstd")
        else:
            self._writer = pcsv.CSVWriter(str(self.tmp), schema)

    def write(self, table: Any, where: str) -> None:
        import pyarrow as pa

        if self._writer is None:
            self._open(table.schema)
        elif not table.schema.equals(self.schema):
            try:
                table = table.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ScoringError(
                    f"{where}: the columns changed type from the first chunk's ({exc}); the "
                    "model must return the same kind of values for every chunk"
                ) from exc
        self._writer.write_table(table)

    def commit(self, empty_schema: Callable[[], Any]) -> str:
        """Close, flush to disk and rename; returns the file's BLAKE3 digest."""
        from loopml.storage.artifacts import hash_file

        if self._writer is None:
            self._open(empty_schema())
        self._writer.close()
        self._writer = None
        with open(self.tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        digest = hash_file(self.tmp).digest
        if self.path.exists() and not self.overwrite:  # made by someone else meanwhile
            raise InvalidInputError(
                f"the output {self.path} appeared while scoring; pass --overwrite to replace it"
            )
        os.replace(self.tmp, self.path)
        return digest

    def abort(self) -> None:
        """Drop the temporary file."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


def _where(index: int, start: int, rows: int) -> str:
    return f"chunk {index + 1} (rows {start + 1:,}–{start + rows:,})"


def _raise_failure(failure: ChunkFailure, where: str) -> None:
    import loopml.errors as errors

    kind = getattr(errors, failure.kind, None)
    if isinstance(kind, type) and issubclass(kind, LoopmlError) and kind is not ScoringError:
        raise kind(f"{where}: {failure.message}") from failure
    raise ScoringError(f"{where}: {failure.message}") from failure


@contextlib.contextmanager
def _scoring_run(
    enabled: bool, model: _Model, source: InputSource, output: Path
) -> Iterator[str | None]:
    if not enabled:
        yield None
        return
    from loopml.data import log_input
    from loopml.entities import LineageDirection, LineageEdge
    from loopml.tracking.fluent import active_run, get_client, start_run

    tags = {
        "loopml.predict.model": model.label,
        "loopml.predict.input": source.label,
        "loopml.predict.output": str(output.resolve()),
    }
    if model.name is not None:
        tags["loopml.predict.model_version"] = f"{model.name}/{model.version}"
    name = f"predict {model.label}"[:250]
    with start_run(run_name=name, nested=active_run() is not None, tags=tags) as run:
        run_id: str = run.info.run_id
        if source.version is not None:
            log_input(source.version, context="scoring", run_id=run_id)
        if model.lineage_uri is not None:
            edge = LineageEdge(run_id, model.lineage_uri, LineageDirection.INPUT, "model")
            get_client().stores.metadata.log_lineage(run_id, [edge])
        yield run_id


def _record(run_id: str, result: BatchResult, digest: str) -> None:
    from loopml.tracking.fluent import get_client

    client = get_client()
    client.log_metrics(
        run_id,
        {
            "rows": float(result.rows),
            "chunks": float(result.chunks),
            "seconds": result.seconds,
            "rows_per_second": result.rows_per_second,
        },
    )
    client.set_tags(run_id, {"loopml.predict.output_digest": digest})


def _chunks(
    source: InputSource, plan: _Plan, chunk_size: int
) -> Iterator[tuple[tuple[int, int, Any], Any]]:
    """``((index, first row, chunk), features)`` for every chunk of the input."""
    start = 0
    for index, table in enumerate(rechunk(source.batches(plan.read, plan.as_float), chunk_size)):
        yield (index, start, table), table.select(plan.features)
        start += table.num_rows


def _inline(
    model: LoadedModel, proba: bool, chunks: Iterator[tuple[Any, Any]]
) -> Iterator[tuple[Any, Any]]:
    for context, features in chunks:
        try:
            yield context, score_table(model, features, proba)
        except ChunkFailure as failure:
            yield context, failure


def predict_file(
    model: Any,
    input: str | Path | DatasetVersion,
    output: str | Path,
    *,
    chunk_size: int = 10_000,
    id_columns: Sequence[str] | str | None = None,
    columns: Sequence[str] | str | None = None,
    all_columns: bool = False,
    proba: bool = False,
    executor: str = "inline",
    workers: int | None = None,
    ray_address: str | None = None,
    overwrite: bool = False,
    log_run: bool | None = None,
    progress: Progress | None = None,
) -> BatchResult:
    """Score a file (or a folder of Parquet files, or a table dataset version) with a model,
    chunk by chunk, into a Parquet or CSV file of predictions.

    Args:
        model: ``models:/pricing@champion``, ``models:/pricing/3``, ``runs:/…``, a model
            folder, or a loaded model. An alias is resolved once, before the first chunk.
        input: a ``.parquet`` or ``.csv`` (also ``.csv.gz``) file, a folder of Parquet
            files (read in name order), or a dataset version (``datasets:/rides/3``,
            ``datasets:/rides@latest``, ``rides@3``, or a :class:`DatasetVersion`).
        output: a ``.parquet`` or ``.csv`` path in an existing folder.
        chunk_size: rows scored at a time (memory is bounded by a chunk).
        id_columns: input columns that identify a row, written first in the output.
        columns: other input columns to copy into the output; ``all_columns`` copies all.
        proba: add ``proba_<class>`` columns (classifiers only).
        executor: ``inline`` (this process) or ``ray`` (a pool of Ray actors).
        workers: Ray actors (default: the cluster's CPUs).
        ray_address: the Ray cluster to join (default: ``RAY_ADDRESS``, else a local one).
        overwrite: replace an existing output file.
        log_run: record the scoring as a run with lineage; ``None`` (the default) logs one
            when the input is a dataset version.
        progress: called after each chunk with (rows done, total rows or None).

    Returns:
        A :class:`BatchResult`.

    Raises:
        InvalidInputError: a missing or unreadable input, a column to copy that is not in
            it, an output that exists (without ``overwrite``) or whose folder does not, a bad
            option.
        SignatureError: a column the model takes is missing, or a chunk does not fit the
            signature (the message names the chunk and its rows).
        ScoringError: the model raised on a chunk.
        NotFoundError: no such model, version or dataset.
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidInputError(f"chunk_size must be a whole number >= 1, got {chunk_size!r}")
    if executor not in EXECUTORS:
        raise InvalidInputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if (workers is not None or ray_address) and executor != "ray":
        raise InvalidInputError("workers and ray_address apply to the ray executor only")
    target = Path(output).expanduser()
    kind = _check_output(target, overwrite)
    started = time.perf_counter()
    loaded = _load_model(model)
    if proba and not loaded.loaded.has_proba:
        raise InvalidInputError(
            f"{loaded.label} gives no class probabilities (no predict_proba); drop --proba"
        )
    source = open_source(input)
    try:
        if _same(source, target):
            raise InvalidInputError(f"the output {target} is the input; write somewhere else")
        plan = _plan(loaded.loaded, source, _names(id_columns), _names(columns), all_columns)
        enabled = source.version is not None if log_run is None else log_run
        with _scoring_run(enabled, loaded, source, target) as run_id:
            metadata = {
                "model": loaded.label,
                "model_name": loaded.name,
                "model_version": loaded.version,
                "input": source.label,
                "run_id": run_id,
                "id_columns": _names(id_columns),
            }
            writer = _Writer(target, kind, overwrite, metadata)
            try:
                rows, chunks = _score(
                    loaded.loaded,
                    source,
                    plan,
                    writer,
                    chunk_size=chunk_size,
                    proba=proba,
                    executor=executor,
                    workers=workers,
                    ray_address=ray_address,
                    progress=progress,
                )

                def empty() -> Any:
                    import pyarrow as pa

                    kept = [source.schema.field(c) for c in plan.keep]
                    made = empty_prediction_fields(loaded.loaded, proba)
                    _check_clash(plan.keep, [f.name for f in made])
                    return pa.schema(kept + made)

                digest = writer.commit(empty)
            except BaseException:
                writer.abort()
                raise
            result = BatchResult(
                output=str(target),
                rows=rows,
                chunks=chunks,
                seconds=time.perf_counter() - started,
                model=loaded.label,
                model_name=loaded.name,
                model_version=loaded.version,
                input=source.label,
                columns=list(writer.schema.names),
                executor=executor,
                run_id=run_id,
            )
            if run_id is not None:
                _record(run_id, result, digest)
            return result
    finally:
        source.close()


def _check_clash(keep: list[str], predicted: list[str]) -> None:
    taken = [c for c in predicted if c in keep]
    if taken:
        raise InvalidInputError(
            f"the input column(s) {', '.join(map(repr, taken))} to copy have the name of a "
            "prediction column; leave them out of the columns to copy, or rename them"
        )


def _same(source: InputSource, target: Path) -> bool:
    if not target.exists():
        return False
    return any(p.path.resolve() == target.resolve() for p in source.parts)


def _score(
    model: LoadedModel,
    source: InputSource,
    plan: _Plan,
    writer: _Writer,
    *,
    chunk_size: int,
    proba: bool,
    executor: str,
    workers: int | None,
    ray_address: str | None,
    progress: Progress | None,
) -> tuple[int, int]:
    import pyarrow as pa

    pool = None
    if executor == "ray":
        from loopml.serving._batch_ray import RayPool

        pool = RayPool(model, proba, workers, ray_address)
    rows = chunks = 0
    try:
        chunk_iter = _chunks(source, plan, chunk_size)
        scored = pool.map(chunk_iter) if pool else _inline(model, proba, chunk_iter)
        for (index, start, table), result in scored:
            where = _where(index, start, table.num_rows)
            if isinstance(result, ChunkFailure):
                _raise_failure(result, where)
            if index == 0:
                _check_clash(plan.keep, result.column_names)
            out = pa.Table.from_arrays(
                [table.column(c) for c in plan.keep] + list(result.columns),
                names=[*plan.keep, *result.column_names],
            )
            writer.write(out, where)
            rows += table.num_rows
            chunks += 1
            if progress is not None:
                progress(rows, source.total_rows)
    finally:
        if pool is not None:
            pool.close()
    return rows, chunks
