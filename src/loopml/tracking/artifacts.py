"""Logging and fetching run artifacts: files, folders, bytes, text, JSON/YAML, figures, tables.

Every file is stored once in the content-addressed store; the metadata store records
``(run, path) -> (digest, size)``. A folder's files are hashed in parallel and recorded in
one transaction, so a failed upload records nothing.
"""

from __future__ import annotations

import io
import json
import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from loopml.entities import ArtifactRecord
from loopml.entities.validation import normalize_relative_path
from loopml.errors import ArtifactNotFoundError, InvalidInputError, InvalidPathError

if TYPE_CHECKING:
    from loopml.storage import Stores

__all__ = ["ArtifactsMixin"]


def _join(artifact_path: str | None, name: str) -> str:
    base = normalize_relative_path(artifact_path or "", allow_empty=True)
    return normalize_relative_path(f"{base}/{name}" if base else name)


class ArtifactsMixin(ABC):
    """Artifact methods of :class:`~loopml.tracking.client.TrackingClient`."""

    @property
    @abstractmethod
    def stores(self) -> Stores:
        """The stores to read and write (provided by the client)."""

    def _record(self, run_id: str, records: list[ArtifactRecord]) -> list[ArtifactRecord]:
        self.stores.metadata.record_artifacts(run_id, records)
        return records

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> ArtifactRecord:
        """Store one local file as ``<artifact_path>/<file name>`` of the run."""
        path = Path(local_path)
        if path.is_dir():
            raise InvalidInputError(f"{path} is a folder; use log_artifacts() for folders")
        if not path.is_file():
            raise ArtifactNotFoundError(f"no file at {path}; check the path")
        dest = _join(artifact_path, path.name)
        with self.stores.blobs.guard():  # no garbage collection between blob and record
            info = self.stores.blobs.put_file(path)
            return self._record(run_id, [ArtifactRecord(dest, info.digest, info.size)])[0]

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[ArtifactRecord]:
        """Store every file under a local folder, keeping its relative layout."""
        root = Path(local_dir)
        if not root.is_dir():
            raise ArtifactNotFoundError(f"no folder at {root}; check the path")
        files = sorted(p for p in root.rglob("*") if p.is_file())
        blobs = self.stores.blobs

        def upload(p: Path) -> ArtifactRecord:
            info = blobs.put_file(p)
            return ArtifactRecord(
                _join(artifact_path, p.relative_to(root).as_posix()), info.digest, info.size
            )

        with blobs.guard():  # no garbage collection between the blobs and the record
            if len(files) <= 1:  # a step's single output file: no pool to start and stop
                return self._record(run_id, [upload(p) for p in files])
            workers = min(8, (os.cpu_count() or 2) * 2)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                records = list(pool.map(upload, files))
            return self._record(run_id, records)

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> ArtifactRecord:
        """Store bytes as a file of the run."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInputError(f"log_bytes needs bytes, got {type(data).__name__}")
        dest = normalize_relative_path(artifact_file)
        with self.stores.blobs.guard():  # no garbage collection between blob and record
            info = self.stores.blobs.put_bytes(bytes(data))
            return self._record(run_id, [ArtifactRecord(dest, info.digest, info.size)])[0]

    def log_text(self, run_id: str, text: str, artifact_file: str) -> ArtifactRecord:
        """Store text (UTF-8) as a file of the run."""
        if not isinstance(text, str):
            raise InvalidInputError(f"log_text needs a str, got {type(text).__name__}")
        return self.log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> ArtifactRecord:
        """Store a dict as JSON, or as YAML when the file name ends in .yaml/.yml."""
        suffix = PurePosixPath(artifact_file).suffix.lower()
        try:
            if suffix in (".yaml", ".yml"):
                import yaml

                text = yaml.safe_dump(dictionary, sort_keys=False)
            else:
                text = json.dumps(dictionary, indent=2, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"cannot serialise the object for {artifact_file}: {exc}"
            ) from exc
        return self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> ArtifactRecord:
        """Store a matplotlib figure as an image; the format comes from the file name."""
        if not hasattr(figure, "savefig"):
            raise InvalidInputError(
                f"log_figure needs a matplotlib Figure, got {type(figure).__name__}"
            )
        suffix = PurePosixPath(artifact_file).suffix.lstrip(".").lower() or "png"
        buf = io.BytesIO()
        figure.savefig(buf, format=suffix, bbox_inches="tight")
        return self.log_bytes(run_id, buf.getvalue(), artifact_file)

    def log_table(self, run_id: str, table: Any, artifact_file: str) -> ArtifactRecord:
        """Store a pandas DataFrame, a polars DataFrame or an Arrow table as Parquet."""
        if not artifact_file.lower().endswith(".parquet"):
            raise InvalidPathError(f"{artifact_file!r}: tables are stored as .parquet files")
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise InvalidInputError(
                "log_table needs pyarrow: pip install 'loopml[tables]'"
            ) from exc
        arrow = _to_arrow(table, pa)
        buf = io.BytesIO()
        pq.write_table(arrow, buf)
        return self.log_bytes(run_id, buf.getvalue(), artifact_file)

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactRecord]:
        """Every file of a run under a path (the file itself when the path is a file)."""
        return self.stores.metadata.list_artifacts(run_id, path)

    def _records_or_fail(self, run_id: str, path: str) -> list[ArtifactRecord]:
        records = self.list_artifacts(run_id, path)
        if not records:
            where = f"at {path!r}" if path else "at all"
            raise ArtifactNotFoundError(
                f"run {run_id} has no artifact {where} (see `loopml artifacts list runs:/{run_id}`)"
            )
        return records

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] = "."
    ) -> Path:
        """Copy a run's file or folder to ``dst_path``; returns the local path written.

        A file lands at ``dst_path/<file name>``; a folder keeps its layout under
        ``dst_path/<folder name>`` (the whole run lands in ``dst_path``). Every blob is
        verified against its digest.
        """
        clean = normalize_relative_path(path, allow_empty=True)
        records = self._records_or_fail(run_id, clean)
        dest_root = Path(dst_path)
        # Records are written relative to the parent of the requested path, so that
        # "model" lands as dst/model/… and "model/weights.bin" as dst/weights.bin.
        parent = PurePosixPath(clean).parent.as_posix() if clean else "."
        skip = 0 if parent == "." else len(parent) + 1
        for rec in records:
            target = dest_root.joinpath(*rec.path[skip:].split("/"))
            self.stores.blobs.get_file(rec.digest, target)
        return dest_root / PurePosixPath(clean).name if clean else dest_root

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact file (verified)."""
        clean = normalize_relative_path(path)
        for rec in self._records_or_fail(run_id, clean):
            if rec.path == clean:
                data: bytes = self.stores.blobs.read_bytes(rec.digest)
                return data
        raise ArtifactNotFoundError(f"{path!r} of run {run_id} is a folder, not a file")

    def load_text(self, run_id: str, path: str) -> str:
        """An artifact file decoded as UTF-8."""
        return self.read_artifact(run_id, path).decode("utf-8")

    def load_dict(self, run_id: str, path: str) -> Any:
        """An artifact logged with log_dict, parsed back (JSON or YAML by extension)."""
        text = self.load_text(run_id, path)
        if PurePosixPath(path).suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays are common in logged dicts
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _to_arrow(table: Any, pa: Any) -> Any:
    if isinstance(table, pa.Table):
        return table
    module = type(table).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(table, preserve_index=False)
    if module == "polars":
        return table.to_arrow()
    raise InvalidInputError(
        "log_table takes a pandas or polars DataFrame or an Arrow table, "
        f"got {type(table).__name__}"
    )
