"""Checks on names, keys, values and relative paths shared by every store and edge."""

from __future__ import annotations

import math
import re
import unicodedata
from pathlib import PurePosixPath
from typing import Any

from loopml.errors import (
    InvalidInputError,
    InvalidNameError,
    InvalidPathError,
    ValueTooLongError,
)

__all__ = [
    "MAX_ENTITY_KEY_LENGTH",
    "MAX_EXPERIMENT_NAME_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "check_experiment_name",
    "check_key",
    "check_metric_value",
    "check_param_value",
    "check_run_id",
    "check_tag_value",
    "normalize_relative_path",
    "parse_duration",
]

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_ARTIFACT_PATH_LENGTH = 1024

_KEY_RE = re.compile(r"^[\w\-. /:]+$")
_RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# Segments of letters, digits, "_", "-" and "." that do not start with "." (so no "." or
# ".." segments), joined by single slashes: such a path is already normal and safe.
_PLAIN_PATH_RE = re.compile(r"[\w\-][\w\-.]*(?:/[\w\-][\w\-.]*)*", re.ASCII)


def check_key(kind: str, key: object) -> str:
    """Validate a metric, param or tag key.

    Keys are 1-250 characters of letters, digits, ``_ - . / :`` and spaces, and are paths
    inside the run: they may not start with ``/`` or contain a ``..`` segment.

    Raises:
        InvalidNameError: the key is empty, not a string, or has a forbidden character.
        ValueTooLongError: the key is longer than 250 characters.
    """
    if not isinstance(key, str) or not key:
        raise InvalidNameError(f"{kind} key must be a non-empty string, got {key!r}")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise ValueTooLongError(
            f"{kind} key {key[:40]!r}… is {len(key)} characters; the limit is "
            f"{MAX_ENTITY_KEY_LENGTH}"
        )
    if not _KEY_RE.match(key):
        raise InvalidNameError(
            f"{kind} key {key!r} has a character loopml does not accept; use letters, digits, "
            "underscores, dashes, periods, colons, spaces and slashes"
        )
    if key.startswith("/") or ".." in key.split("/"):
        raise InvalidNameError(f"{kind} key {key!r} must not start with '/' or contain '..'")
    return key


def _check_text(kind: str, key: str, value: object, limit: int) -> str:
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise InvalidNameError(f"{kind} {key!r} has a NUL character in its value")
    if len(text) > limit:
        raise ValueTooLongError(
            f"{kind} {key!r} has a value of {len(text)} characters; the limit is {limit}. "
            "Log long values as an artifact (log_text / log_dict) instead"
        )
    return text


def check_param_value(key: str, value: object) -> str:
    """Return the param value as text, refusing values over 6000 characters."""
    return _check_text("param", key, value, MAX_PARAM_VALUE_LENGTH)


def check_tag_value(key: str, value: object) -> str:
    """Return the tag value as text, refusing values over 8000 characters."""
    return _check_text("tag", key, value, MAX_TAG_VALUE_LENGTH)


def check_metric_value(key: str, value: object) -> float:
    """Return the metric value as a float. NaN and infinities are accepted and stored.

    Raises:
        InvalidNameError: the value is not a real number (a string, None, a bool, …).
    """
    if isinstance(value, bool) or value is None:
        raise InvalidNameError(f"metric {key!r} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidNameError(f"metric {key!r} must be a number, got {value!r}") from exc
    if math.isnan(number):
        return math.nan
    return number


def check_experiment_name(name: object) -> str:
    """Validate an experiment name: 1-500 characters, not only whitespace, no NUL."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError(f"experiment name must be a non-empty string, got {name!r}")
    if "\x00" in name:
        raise InvalidNameError("experiment name must not contain NUL characters")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise ValueTooLongError(
            f"experiment name is {len(name)} characters; the limit is {MAX_EXPERIMENT_NAME_LENGTH}"
        )
    return name


def check_run_id(run_id: object) -> str:
    """Validate a run id (32 lowercase hex characters, a UUID4 without dashes)."""
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise InvalidNameError(
            f"{run_id!r} is not a run id; run ids are 32 hexadecimal characters "
            "(see `loopml runs list`)"
        )
    return run_id


def normalize_relative_path(path: object, *, allow_empty: bool = False) -> str:
    """Normalise a path that must stay inside an artifact root.

    Backslashes become slashes, ``.`` segments and repeated slashes are dropped. Refused:
    absolute paths, ``..`` segments, URL schemes, drive letters, NUL and control characters.

    Returns:
        the normalised POSIX path ('' for the root when ``allow_empty``).

    Raises:
        InvalidPathError: the path could point outside its root.
    """
    if not isinstance(path, str):
        raise InvalidPathError(f"artifact path must be a string, got {path!r}")
    if len(path) <= MAX_ARTIFACT_PATH_LENGTH and _PLAIN_PATH_RE.fullmatch(path):
        return path  # the common case, already normal: checked without the slow walk below
    if any(unicodedata.category(c) == "Cc" for c in path):
        raise InvalidPathError(f"artifact path {path!r} has a NUL or control character")
    if _SCHEME_RE.match(path) and not re.match(r"^[A-Za-z]:[\\/]", path):
        raise InvalidPathError(
            f"artifact path {path!r} has a URL scheme; give a path relative to the run"
        )
    text = path.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise InvalidPathError(f"artifact path {path!r} is absolute; give a relative path")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidPathError(f"artifact path {path!r} contains '..'; paths must stay inside")
    clean = str(PurePosixPath(*parts)) if parts else ""
    if not clean and not allow_empty:
        raise InvalidPathError("artifact path must not be empty")
    if len(clean) > MAX_ARTIFACT_PATH_LENGTH:
        raise InvalidPathError(f"artifact path is longer than {MAX_ARTIFACT_PATH_LENGTH}")
    return clean


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", re.IGNORECASE)


def parse_duration(value: Any, what: str = "a duration") -> int:
    """Whole seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"``, ``"2w"``.

    Raises:
        InvalidInputError: not a duration, or below one second.
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"{what} must be a duration such as 15m, 1h or 1d, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        found = _DURATION.fullmatch(str(value))
        if not found:
            raise InvalidInputError(
                f"{what} must be a duration such as 90s, 15m, 1h or 1d, got {value!r}"
            )
        seconds = float(found.group(1)) * _UNITS[(found.group(2) or "s").lower()]
    if not math.isfinite(seconds) or seconds < 0 or seconds != int(seconds):
        raise InvalidInputError(f"{what} must be whole seconds >= 0, got {value!r}")
    return int(seconds)
