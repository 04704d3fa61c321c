"""The manifest of a packaged model (``loopml-model.yaml`` at the root of its folder).

It says how to load the model (flavor and loader options), what it was built with (pinned
library versions, Python, loopml), what it takes (signature, input example) and what the
folder holds: the BLAKE3 digest and size of every other file, checked on load.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.errors import ModelIntegrityError, ModelLoadError
from loopml.models.signature import Signature

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "Manifest",
    "digest_file",
    "installed_version",
    "scan_files",
    "verify_files",
]

MANIFEST_FILE = "loopml-model.yaml"
FORMAT_VERSION = 1


@dataclass
class Manifest:
    """Everything loopml records about a packaged model."""

    flavor: str
    loader: dict[str, Any]
    libraries: dict[str, str]
    python_version: str
    loopml_version: str
    created: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: Signature | None = None
    input_example: str | None = None
    extra_columns: str = "error"
    run_id: str | None = None
    artifact_path: str | None = None
    format: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """As YAML/JSON-able data (the keys of ``loopml-model.yaml``)."""
        return {
            "format": self.format,
            "flavor": self.flavor,
            "loader": self.loader,
            "libraries": dict(self.libraries),
            "python_version": self.python_version,
            "loopml_version": self.loopml_version,
            "created": self.created,
            "signature": None if self.signature is None else self.signature.to_dict(),
            "input_example": self.input_example,
            "extra_columns": self.extra_columns,
            "run_id": self.run_id,
            "artifact_path": self.artifact_path,
            "files": {k: dict(v) for k, v in sorted(self.files.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "the manifest") -> Manifest:
        """Parse a manifest.

        Raises:
            ModelLoadError: not a manifest, or written by a newer loopml.
        """
        if not isinstance(data, Mapping) or "flavor" not in data:
            raise ModelLoadError(f"{where} is not a loopml model manifest")
        version = data.get("format", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ModelLoadError(
                f"{where} has format {version!r}; this loopml reads up to {FORMAT_VERSION}. "
                "Upgrade loopml"
            )
        try:
            signature = data.get("signature")
            return cls(
                flavor=str(data["flavor"]),
                loader=dict(data.get("loader") or {}),
                libraries={str(k): str(v) for k, v in (data.get("libraries") or {}).items()},
                python_version=str(data.get("python_version", "")),
                loopml_version=str(data.get("loopml_version", "")),
                created=str(data.get("created", "")),
                files={str(k): dict(v) for k, v in (data.get("files") or {}).items()},
                signature=Signature.from_dict(signature) if signature else None,
                input_example=data.get("input_example"),
                extra_columns=str(data.get("extra_columns", "error")),
                run_id=data.get("run_id"),
                artifact_path=data.get("artifact_path"),
                format=version,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelLoadError(f"{where} is malformed: {exc}") from exc

    def to_yaml(self) -> str:
        """The manifest as YAML text."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str | bytes, where: str = "the manifest") -> Manifest:
        """Parse YAML text written by :meth:`to_yaml`."""
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ModelLoadError(f"{where} is not valid YAML: {exc}") from exc
        return cls.from_dict(data, where)

    @classmethod
    def read(cls, folder: str | os.PathLike[str]) -> Manifest:
        """Read the manifest of a model folder.

        Raises:
            ModelLoadError: the folder holds no packaged model.
        """
        path = Path(folder) / MANIFEST_FILE
        if not path.is_file():
            raise ModelLoadError(
                f"{folder} holds no packaged model (no {MANIFEST_FILE}); save one with "
                "loopml.models.save_model or log_model"
            )
        return cls.from_yaml(path.read_bytes(), str(path))


def digest_file(path: Path) -> str:
    """The BLAKE3 hex digest of a file, read through a memory map with several threads."""
    import blake3

    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    if path.stat().st_size:
        hasher.update_mmap(str(path))
    return str(hasher.hexdigest())


def _files(folder: Path) -> Iterable[tuple[str, Path]]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != MANIFEST_FILE:
            yield rel, path


def scan_files(folder: Path) -> dict[str, dict[str, Any]]:
    """``relative path -> {digest, size}`` for every file but the manifest."""
    return {
        rel: {"digest": digest_file(path), "size": path.stat().st_size}
        for rel, path in _files(folder)
    }


def verify_files(folder: Path, manifest: Manifest) -> None:
    """Check that the folder holds exactly the manifest's files, with their digests.

    Raises:
        ModelIntegrityError: a file is missing, extra, or its bytes changed.
    """
    found = dict(_files(folder))
    missing = sorted(set(manifest.files) - set(found))
    extra = sorted(set(found) - set(manifest.files))
    if missing:
        raise ModelIntegrityError(
            f"model file(s) {', '.join(missing)} are missing from {folder}; the package is "
            "incomplete — log or save the model again"
        )
    if extra:
        raise ModelIntegrityError(
            f"{folder} holds file(s) the manifest does not list: {', '.join(extra)}; someone "
            "changed the package. Remove them or load with verify=False if you trust it"
        )
    for rel, expected in manifest.files.items():
        path = found[rel]
        if path.stat().st_size != expected.get("size") or digest_file(path) != expected.get(
            "digest"
        ):
            raise ModelIntegrityError(
                f"model file {rel!r} does not match its recorded digest: it was changed after "
                "the model was saved. Refusing to load it (verify=False skips this check)"
            )


@functools.lru_cache(maxsize=1)
def _module_distributions() -> Mapping[str, list[str]]:
    # Scanning every installed distribution takes ~0.2 s; do it once per process.
    try:
        return importlib.metadata.packages_distributions()
    except Exception:  # pragma: no cover - broken metadata of an unrelated package
        return {}


def installed_version(module: str) -> tuple[str, str] | None:
    """``(distribution, version)`` that provides an importable top-level module, or None."""
    dists = _module_distributions().get(module, [])
    for dist in dists:
        try:
            return dist, importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None
