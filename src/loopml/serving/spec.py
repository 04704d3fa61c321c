"""What a deployment serves and how: the spec stored in a deployment record.

    spec = DeploymentSpec(model="models:/pricing@champion",
                          canary="models:/pricing@challenger", canary_weight=10,
                          shadow="models:/pricing/7", port=8080)
    spec.to_dict()      # the JSON a deployment record holds

Model references are normalised once, here: the CLI's short forms (``pricing@champion``,
``pricing/3``, ``pricing``) become ``models:/…`` URIs and a model folder an absolute path,
so a server started from another folder finds the same model.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError
from loopml.uris import parse_models_uri, parse_runs_uri

__all__ = [
    "AUTO_BATCH_ROWS",
    "DEFAULT_PORT",
    "DeploymentSpec",
    "default_name",
    "normalize_model_ref",
    "parse_canary",
]

DEFAULT_PORT = 8080
_MAX_BATCH_ROWS = 1_000_000
# Rows per predict call when batching is left to the model's flavor: large enough to take
# every request queued behind a busy predict at the loads one process can serve, small
# enough that one call stays short.
AUTO_BATCH_ROWS = 64
_NAME_CHARS = re.compile(r"[^\w.\-]+")


def normalize_model_ref(ref: str) -> str:
    """A model reference as the server keeps it: ``models:/…``, ``runs:/…`` or an absolute
    folder path.

    Raises:
        InvalidUriError: the text is none of a model URI, a short form or a folder.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError("the model reference is empty; pass e.g. pricing@champion")
    text = ref.strip()
    if text.startswith("runs:"):
        return str(parse_runs_uri(text))
    if text.startswith("models:"):
        return str(parse_models_uri(text))
    folder = Path(text).expanduser()
    if folder.is_dir():
        return str(folder.resolve())
    if text.startswith((".", "/", "~")) or "\\" in text:
        raise InvalidInputError(
            f"{ref!r} is not a model folder (nothing is there); check the path, or pass "
            "models:/<name>@<alias>, <name>/<version> or runs:/<run_id>/<path>"
        )
    return str(parse_models_uri(text, short=True))


def default_name(ref: str) -> str:
    """The deployment name a model reference suggests: the registered model's name, else the
    folder's (or the run artifact's) last path segment, made a valid name."""
    if ref.startswith("models:"):
        name = parse_models_uri(ref).name
    elif ref.startswith("runs:"):
        parsed = parse_runs_uri(ref)
        name = parsed.path.rsplit("/", 1)[-1] or f"run-{parsed.run_id[:8]}"
    else:
        name = Path(ref).name
    name = _NAME_CHARS.sub("-", name).strip("-.") or "model"
    return name[:250]


def parse_canary(text: str) -> tuple[str, float]:
    """``pricing@challenger:10`` as (model reference, percent of traffic).

    Raises:
        InvalidInputError: no ``:PERCENT`` at the end, or a percent outside 0-100.
    """
    ref, sep, weight = str(text).rpartition(":")
    if not sep or not ref:
        raise InvalidInputError(
            f"--canary takes MODEL:PERCENT, e.g. pricing@challenger:10; got {text!r}"
        )
    try:
        percent = float(weight)
    except ValueError as exc:
        raise InvalidInputError(
            f"--canary {text!r}: {weight!r} is not a percent of traffic (0-100)"
        ) from exc
    return normalize_model_ref(ref), _weight(percent)


def _weight(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise InvalidInputError(f"a canary weight is a percent from 0 to 100, got {value!r}")
    return float(value)


def _int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(
            f"{name} must be a whole number from {low} to {high}, got {value!r}"
        )
    return value


@dataclass(frozen=True)
class DeploymentSpec:
    """What a deployment serves and how.

    Attributes:
        model: the primary model (``models:/pricing@champion`` follows the alias).
        canary: a second model that takes ``canary_weight`` percent of the traffic.
        shadow: a model that sees a copy of every request; its answers are logged, never
            returned.
        host, port: where the server listens.
        workers: server processes (for CPU-bound models).
        max_batch_size: rows combined into one ``predict`` call (1: no batching). 0 (the
            default) chooses per model: :data:`AUTO_BATCH_ROWS` for flavors whose rows are predicted
            independently (scikit-learn, XGBoost, LightGBM, PyTorch), 1 for ``python``
            models.
        max_latency_ms: how long a batch may wait for more rows; 0 (the default) batches
            only the requests that queued while the previous batch was predicted, so it
            adds no wait.
        log_predictions: append every request to the prediction log.
    """

    model: str
    canary: str | None = None
    canary_weight: float = 0.0
    shadow: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    max_batch_size: int = 0
    max_latency_ms: float = 0.0
    log_predictions: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalising a frozen dataclass in place
        set_(self, "model", normalize_model_ref(self.model))
        if self.canary is not None:
            set_(self, "canary", normalize_model_ref(self.canary))
        if self.shadow is not None:
            set_(self, "shadow", normalize_model_ref(self.shadow))
        set_(self, "canary_weight", _weight(self.canary_weight))
        if self.canary is None and self.canary_weight:
            raise InvalidInputError("a canary weight needs a canary model (--canary MODEL:PERCENT)")
        if not isinstance(self.host, str) or not self.host.strip():
            raise InvalidInputError(f"host must be an address such as 127.0.0.1, got {self.host!r}")
        _int("port", self.port, 0, 65535)
        _int("workers", self.workers, 1, 64)
        _int("max_batch_size", self.max_batch_size, 0, _MAX_BATCH_ROWS)
        latency = self.max_latency_ms
        if isinstance(latency, bool) or not isinstance(latency, (int, float)):
            raise InvalidInputError(f"max_latency_ms must be a number, got {latency!r}")
        if not 0 <= latency <= 60_000:
            raise InvalidInputError(f"max_latency_ms must be from 0 to 60000, got {latency!r}")
        set_(self, "max_latency_ms", float(latency))
        if not isinstance(self.log_predictions, bool):
            raise InvalidInputError("log_predictions must be true or false")

    def to_dict(self) -> dict[str, Any]:
        """As JSON-able data (what a deployment record stores)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeploymentSpec:
        """The inverse of :meth:`to_dict`; unknown keys are refused.

        Raises:
            InvalidInputError: a missing model, an unknown key or a bad value.
        """
        if not isinstance(data, Mapping) or "model" not in data:
            raise InvalidInputError(f"a deployment spec is an object with a 'model', got {data!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(
                f"unknown deployment spec key(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(known))}"
            )
        return cls(**dict(data))

    def replace(self, **changes: Any) -> DeploymentSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def batch_rows(self, rows_independent: bool) -> int:
        """The rows one ``predict`` call may combine for a model (see ``max_batch_size``)."""
        if self.max_batch_size:
            return self.max_batch_size
        return AUTO_BATCH_ROWS if rows_independent else 1

    def routes(self) -> dict[str, str]:
        """Route name -> model reference, for the routes this spec has."""
        out = {"primary": self.model}
        if self.canary is not None:
            out["canary"] = self.canary
        if self.shadow is not None:
            out["shadow"] = self.shadow
        return out
