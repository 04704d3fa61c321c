"""Loaded model versions: what a reference resolves to, the model loaded once, and its
``predict`` on prepared features with the output split into named arrays.

A :class:`ModelRuntime` is immutable once built; swapping a version means building a new
one in the background and replacing the route table that points at it (see ``follow``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import PredictionError
from loopml.models import LoadedModel, load, read_manifest, resolve_model_uri
from loopml.models.signature import ColumnsSpec
from loopml.serving.validation import Features, Inputs, prepare
from loopml.uris import parse_models_uri, parse_runs_uri

if TYPE_CHECKING:
    from loopml.tracking.client import TrackingClient

__all__ = ["ModelRuntime", "ResolvedModel", "load_runtime", "resolve"]

log = logging.getLogger("loopml.serving")

SINGLE_OUTPUT = "prediction"  # the name of a model's only, unnamed output


@dataclass(frozen=True)
class ResolvedModel:
    """What a model reference names right now.

    Attributes:
        ref: the reference as the spec has it (``models:/pricing@champion``).
        source: where the files are (``runs:/…`` or a folder).
        name, version: the registered model version, when the reference is ``models:/…``.
    """

    ref: str
    source: str
    name: str | None = None
    version: int | None = None
    run_id: str | None = None

    @property
    def label(self) -> str:
        """``pricing/3`` for a registered version, else the source."""
        if self.name is not None and self.version is not None:
            return f"{self.name}/{self.version}"
        return self.source

    def to_dict(self) -> dict[str, Any]:
        """As JSON (a deployment record's ``versions``)."""
        return {
            "ref": self.ref,
            "source": self.source,
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
        }


def resolve(ref: str, client: TrackingClient) -> ResolvedModel:
    """The concrete version a reference names now (an alias is looked up in the registry).

    Raises:
        NotFoundError: no such registered model, version or alias.
        ModelLoadError: a folder that holds no packaged model.
    """
    if ref.startswith("models:"):
        from loopml.registry import RegistryClient

        version = RegistryClient(client, actor="").resolve(parse_models_uri(ref))
        source = resolve_model_uri(version.source, client)
        return ResolvedModel(ref, source, version.name, version.version, version.run_id)
    if ref.startswith("runs:"):
        return ResolvedModel(ref, ref, run_id=parse_runs_uri(ref).run_id)
    manifest = read_manifest(Path(ref))
    return ResolvedModel(ref, ref, run_id=manifest.run_id)


@dataclass
class ModelRuntime:
    """One loaded model version, ready to check requests and predict.

    Attributes:
        resolved: which version this is.
        load_seconds: how long loading took.
    """

    resolved: ResolvedModel
    model: LoadedModel
    load_seconds: float = 0.0
    schema: Any = field(init=False)
    output_names: list[str] | None = field(init=False)

    def __post_init__(self) -> None:
        signature = self.model.signature
        self.schema = None if signature is None else signature.inputs
        outputs = None if signature is None else signature.outputs
        self.output_names = outputs.names if isinstance(outputs, ColumnsSpec) else None

    @property
    def name(self) -> str | None:
        """The registered model's name (None for a run's or a folder's model)."""
        return self.resolved.name

    @property
    def version(self) -> int | None:
        """The registered version number (None for a run's or a folder's model)."""
        return self.resolved.version

    def prepare(self, inputs: Inputs) -> Features:
        """A request's inputs checked and cast by this model's signature (SignatureError)."""
        return prepare(self.schema, self.model.extra_columns, inputs)

    def predict(self, features: Features) -> dict[str, Any]:
        """Output name -> array with one entry per row.

        Raises:
            PredictionError: the model returned a different number of rows than it got.
            Exception: whatever the model raised.
        """
        raw = self.model.predict(features.model_input(), validate=False)
        return split_outputs(raw, features.rows, self.output_names)

    def metadata(self) -> dict[str, Any]:
        """Inputs and outputs in Open Inference Protocol metadata form."""
        from loopml.serving.protocol_v2 import tensor_metadata

        signature = self.model.signature
        return {
            "inputs": tensor_metadata(self.schema),
            "outputs": tensor_metadata(
                None if signature is None else signature.outputs, SINGLE_OUTPUT
            ),
        }


def split_outputs(raw: Any, rows: int, names: list[str] | None) -> dict[str, Any]:
    """A model's output as name -> array of ``rows`` entries: a DataFrame's columns, a
    dict's entries, an array's columns named by the signature, or one ``prediction``."""
    import numpy as np

    if hasattr(raw, "detach") and hasattr(raw, "numpy"):  # a torch tensor
        raw = raw.detach().cpu().numpy()
    if hasattr(raw, "columns") and hasattr(raw, "to_numpy"):  # a DataFrame
        out = {str(c): raw[c].to_numpy() for c in raw.columns}
    elif hasattr(raw, "to_numpy"):  # a Series
        out = {str(raw.name) if raw.name is not None else SINGLE_OUTPUT: raw.to_numpy()}
    elif isinstance(raw, Mapping):
        out = {str(k): np.asarray(v) for k, v in raw.items()}
    else:
        array = np.asarray(raw)
        if names and array.ndim == 2 and array.shape[1] == len(names):
            out = {n: array[:, i] for i, n in enumerate(names)}
        elif names and len(names) == 1:
            out = {names[0]: array}
        else:
            out = {SINGLE_OUTPUT: array}
    for name, values in out.items():
        got = int(values.shape[0]) if values.ndim else 1
        if got != rows:
            raise PredictionError(
                f"the model returned {got} value(s) for output {name!r} from {rows} input "
                "row(s); a served model must give one output per row"
            )
    return out


def load_runtime(resolved: ResolvedModel, client: TrackingClient) -> ModelRuntime:
    """Load (download, verify) the model a resolved reference names.

    Raises:
        ModelLoadError, ModelIntegrityError, NotFoundError: as ``loopml.models.load``.
    """
    started = time.perf_counter()
    model = load(resolved.source, client=client)
    took = time.perf_counter() - started
    log.info("loaded %s from %s in %.2f s", resolved.label, resolved.source, took)
    return ModelRuntime(resolved, model, took)
