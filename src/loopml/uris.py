"""Parsing of loopml URIs: ``runs:/<run_id>/<path>`` (later: models:/, datasets:/, blob:)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from loopml.errors import InvalidUriError

__all__ = ["RunArtifactUri", "parse_runs_uri"]

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
