"""Parsing of loopml URIs: ``runs:/<run_id>/<path>``, ``models:/<name>/<version|@alias>``
and ``datasets:/<name>/<version|@version|@latest>``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from loopml.errors import InvalidUriError

__all__ = [
    "DatasetUri",
    "ModelUri",
    "RunArtifactUri",
    "parse_datasets_uri",
    "parse_models_uri",
    "parse_runs_uri",
]

_RUNS_RE = re.compile(r"^runs:/+([0-9a-f]{32})(?:/(.*))?$")


@dataclass(frozen=True)
class RunArtifactUri:
    """A file or folder among a run's artifacts."""

    run_id: str
    path: str

    def __str__(self) -> str:
        return f"runs:/{self.run_id}/{self.path}"


def parse_runs_uri(uri: str) -> RunArtifactUri:
    """Parse ``runs:/<run_id>/<path>``; the path may be empty (the run's root).

    Raises:
        InvalidUriError: not a runs:/ URI, or the run id is not 32 hex characters.
    """
    match = _RUNS_RE.match(uri.strip()) if isinstance(uri, str) else None
    if match is None:
        raise InvalidUriError(
            f"{uri!r} is not a run artifact URI; expected runs:/<run_id>/<path> with a "
            "32-character run id"
        )
    return RunArtifactUri(match.group(1), (match.group(2) or "").strip("/"))


# A model name has no "/" or "@" (see registry_base.check_model_name), so both split cleanly.
_MODELS_RE = re.compile(r"^models:/+([^/@]+?)(?:/([^/@]+)|@([^/@]+))/*$")
_SHORT_MODEL_RE = re.compile(r"^([^/@:]+?)(?:/([^/@]+)|@([^/@]+))?$")


@dataclass(frozen=True)
class ModelUri:
    """A registered model version, named by number, by alias, or ``latest``.

    Exactly one of ``version`` and ``alias`` is set; ``alias == "latest"`` means the
    highest version number.
    """

    name: str
    version: int | None = None
    alias: str | None = None

    @property
    def is_latest(self) -> bool:
        """True for ``models:/name/latest`` and ``models:/name@latest``."""
        return self.alias == "latest"

    def __str__(self) -> str:
        if self.version is not None:
            return f"models:/{self.name}/{self.version}"
        return f"models:/{self.name}@{self.alias}"


def _model_uri(uri: str, name: str, version: str | None, alias: str | None) -> ModelUri:
    name = name.strip()
    if not name:
        raise InvalidUriError(f"{uri!r} names no model")
    if alias is not None:
        return ModelUri(name, alias=alias.strip())
    assert version is not None
    if version.strip().lower() == "latest":
        return ModelUri(name, alias="latest")
    if not (version.isascii() and version.isdigit() and int(version) >= 1):
        raise InvalidUriError(
            f"{uri!r}: {version!r} is not a version number; use models:/<name>/<number>, "
            "models:/<name>@<alias> or models:/<name>/latest"
        )
    return ModelUri(name, version=int(version))


def parse_models_uri(uri: str, *, short: bool = False) -> ModelUri:
    """Parse ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or ``.../latest``.

    Args:
        short: also accept the CLI's short forms ``name/3``, ``name@champion`` and a bare
            ``name`` (meaning its latest version).

    Raises:
        InvalidUriError: the text is not a model URI.
    """
    text = uri.strip() if isinstance(uri, str) else ""
    match = _MODELS_RE.match(text)
    if match:
        return _model_uri(uri, *match.groups())
    if short and not text.startswith("models:"):
        match = _SHORT_MODEL_RE.match(text)
        if match and match.group(1).strip():
            name, version, alias = match.groups()
            if version is None and alias is None:
                return ModelUri(name.strip(), alias="latest")
            return _model_uri(uri, name, version, alias)
    forms = "models:/<name>/<version> or models:/<name>@<alias>"
    if short:
        forms += " (or name/3, name@alias)"
    raise InvalidUriError(f"{uri!r} is not a model URI; expected {forms}")


# A dataset name has no "/", "@" or ":" (see data naming rules), so these split cleanly.
_DATASETS_RE = re.compile(r"^datasets:/+([^/@]+?)(?:[/@]([^/@]+))?/*$")
_SHORT_DATASET_RE = re.compile(r"^([^/@:]+?)(?:[/@]([^/@]+))?$")


@dataclass(frozen=True)
class DatasetUri:
    """A dataset version by number, or the latest one (``version is None``)."""

    name: str
    version: int | None = None

    def __str__(self) -> str:
        return f"datasets:/{self.name}@{'latest' if self.version is None else self.version}"


def parse_datasets_uri(uri: str, *, short: bool = False) -> DatasetUri:
    """Parse ``datasets:/<name>/<version>``, ``datasets:/<name>@<version>`` or ``@latest``.

    A bare ``datasets:/<name>`` means the latest version.

    Args:
        short: also accept the CLI's short forms ``rides@2``, ``rides/2``, ``rides``.

    Raises:
        InvalidUriError: the text is not a dataset URI, or the version is not a number.
    """
    text = uri.strip() if isinstance(uri, str) else ""
    match = _DATASETS_RE.match(text)
    if match is None and short and not text.startswith("datasets:"):
        match = _SHORT_DATASET_RE.match(text)
    if match is None or not match.group(1).strip():
        forms = "datasets:/<name>@<version> or datasets:/<name>@latest"
        if short:
            forms += " (or rides@2, rides/2, rides)"
        raise InvalidUriError(f"{uri!r} is not a dataset URI; expected {forms}")
    name, version = match.group(1).strip(), (match.group(2) or "latest").strip()
    if version.lower() == "latest":
        return DatasetUri(name)
    if not (version.isascii() and version.isdigit() and int(version) >= 1):
        raise InvalidUriError(
            f"{uri!r}: {version!r} is not a version number; use <name>@<number> or <name>@latest"
        )
    return DatasetUri(name, int(version))
