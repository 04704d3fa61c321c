"""Save, log and load packaged models.

info = log_model(model, "model", input_example=X[:5])   # in the active run
m = load("models:/pricing@champion")                     # or runs:/…, models:/name/3, a folder
m.predict(df)                                            # input checked against the signature
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import uuid
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.entities.tags import json_list_tag
from loopml.errors import (
    ArtifactNotFoundError,
    InvalidInputError,
    InvalidUriError,
    ModelLoadError,
)
from loopml.models.flavors import Flavor, detect_flavor, get_flavor
from loopml.models.manifest import (
    MANIFEST_FILE,
    Manifest,
    installed_version,
    scan_files,
    verify_files,
)
from loopml.models.signature import ExtraColumns, Signature, as_frame, enforce, infer_schema
from loopml.uris import parse_models_uri, parse_runs_uri

if TYPE_CHECKING:
    from loopml.tracking.client import TrackingClient

__all__ = [
    "MODELS_TAG",
    "LoadedModel",
    "ModelInfo",
    "ModelVersionWarning",
    "load",
    "log_model",
    "read_manifest",
    "resolve_model_uri",
    "save_model",
]

MODELS_TAG = "loopml.models"
_EXAMPLE_FILE = "input_example.json"
_MAX_RESOLVE_DEPTH = 5


class ModelVersionWarning(UserWarning):
    """An installed library's version differs from the one the model was saved with."""


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`log_model` stored: ``uri`` is ``runs:/<run_id>/<artifact_path>``."""

    uri: str
    run_id: str
    artifact_path: str
    flavor: str
    signature: Signature | None
    manifest: Manifest


def _client(client: TrackingClient | None) -> TrackingClient:
    if client is not None:
        return client
    from loopml.tracking.fluent import get_client

    return get_client()


# -- saving ---------------------------------------------------------------------------
def _example_to_json(example: Any) -> dict[str, Any]:
    import numpy as np

    frame = as_frame(example)
    if frame is not None:
        data = json.loads(frame.head(100).to_json(orient="split", date_format="iso"))
        return {"type": "dataframe", "columns": data["columns"], "data": data["data"]}
    array = np.asarray(example)[:100]
    return {"type": "ndarray", "dtype": array.dtype.name, "data": array.tolist()}


def _example_from_json(data: Mapping[str, Any]) -> Any:
    import numpy as np

    if data.get("type") == "dataframe":
        import pandas as pd

        return pd.DataFrame(data["data"], columns=data["columns"])
    return np.asarray(data["data"], dtype=data.get("dtype"))


def _pick_flavor(model: Any, flavor: str | None) -> Flavor:
    return get_flavor(flavor) if flavor else detect_flavor(model)


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    flavor: str | None = None,
    signature: Signature | None = None,
    input_example: Any = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    init_kwargs: Mapping[str, Any] | None = None,
    extra_columns: ExtraColumns = "error",
    overwrite: bool = False,
    _run: tuple[str, str] | None = None,
) -> Manifest:
    """Package a model into a folder: its flavor's files, an input example, a manifest.

    Args:
        flavor: ``sklearn``, ``xgboost``, ``lightgbm``, ``pytorch`` or ``python``; detected
            from the object when omitted.
        signature: what the model takes and returns; inferred from ``input_example`` (and
            the model's prediction on it) when omitted.
        artifacts, code_paths: files a :class:`PythonModel` needs (copied in).
        init_kwargs: keyword arguments that rebuild a PyTorch module from its class.
        extra_columns: what ``predict`` does with columns the signature does not name:
            ``"error"`` (the default) or ``"drop"``; ``load`` can override it.
        overwrite: replace a non-empty folder at ``path``.

    Returns:
        The manifest written.
    """
    if extra_columns not in ("error", "drop"):
        raise InvalidInputError(f"extra_columns must be 'error' or 'drop', got {extra_columns!r}")
    if signature is not None and not isinstance(signature, Signature):
        raise InvalidInputError(
            f"signature must be a loopml.models.Signature, got {type(signature).__name__}; "
            "build one with infer_signature(...) or Signature.from_dict(...)"
        )
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise InvalidInputError(
            f"{target} exists and is not empty; choose another path or pass overwrite=True"
        )
    chosen = _pick_flavor(model, flavor)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        options = chosen.save(
            model,
            staging,
            artifacts=artifacts,
            code_paths=code_paths,
            init_kwargs=init_kwargs,
        )
        example_file = None
        if input_example is not None:
            (staging / _EXAMPLE_FILE).write_text(json.dumps(_example_to_json(input_example)))
            example_file = _EXAMPLE_FILE
            if signature is None:
                signature = _infer(chosen, staging, options, input_example)
        modules = dict.fromkeys((*chosen.modules, *chosen.extra_modules(model)))
        if input_example is not None and type(input_example).__module__.startswith("pandas"):
            modules["pandas"] = None
        pinned: dict[str, str] = {}
        module_dists: dict[str, str] = {}
        for module in modules:
            found = installed_version(module)
            if found:
                module_dists[module], pinned[found[0]] = found[0], found[1]
        manifest = Manifest(
            flavor=chosen.name,
            loader={"options": options, "modules": module_dists},
            libraries=pinned,
            python_version=platform.python_version(),
            loopml_version=_loopml_version(),
            created=datetime.now(tz=UTC).isoformat(timespec="seconds"),
            files=scan_files(staging),
            signature=signature,
            input_example=example_file,
            extra_columns=extra_columns,
            run_id=_run[0] if _run else None,
            artifact_path=_run[1] if _run else None,
        )
        (staging / MANIFEST_FILE).write_text(manifest.to_yaml())
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _infer(flavor: Flavor, folder: Path, options: Mapping[str, Any], example: Any) -> Signature:
    """The signature of the example, with the output of the *saved* model on it (so the
    package is also proven to load and predict before it is stored)."""
    inputs = infer_schema(example)
    try:
        raw = flavor.load(folder, options)
        outputs = infer_schema(flavor.predict(raw, enforce(inputs, example), options))
    except Exception as exc:  # the example is still useful without an output schema
        warnings.warn(
            f"could not infer the output signature: the saved model failed on the input "
            f"example ({type(exc).__name__}: {exc}); pass signature= to record one",
            UserWarning,
            stacklevel=3,
        )
        outputs = None
    return Signature(inputs, outputs)


def _loopml_version() -> str:
    found = installed_version("loopml")
    return found[1] if found else "unknown"


def log_model(
    model: Any,
    artifact_path: str = "model",
    *,
    run_id: str | None = None,
    flavor: str | None = None,
    signature: Signature | None = None,
    input_example: Any = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    init_kwargs: Mapping[str, Any] | None = None,
    extra_columns: ExtraColumns = "error",
    client: TrackingClient | None = None,
) -> ModelInfo:
    """Package a model and store it among a run's artifacts (the active run by default).

    Returns:
        A :class:`ModelInfo` whose ``uri`` (``runs:/<run_id>/<artifact_path>``) can be
        loaded, or registered with ``lm.registry.register``.

    Raises:
        InvalidInputError: no run is active and no ``run_id`` was given.
    """
    from loopml.entities.validation import normalize_relative_path
    from loopml.tracking.fluent import active_run_id

    tracking = _client(client)
    run_id = run_id or active_run_id()
    if not run_id:
        raise InvalidInputError(
            "log_model needs a run: call it inside `with lm.start_run():` or pass run_id="
        )
    run = tracking.get_run(run_id)  # RunNotFoundError for an unknown run
    path = normalize_relative_path(artifact_path)
    with tempfile.TemporaryDirectory(prefix="loopml-model-") as tmp:
        folder = Path(tmp) / "model"
        manifest = save_model(
            model,
            folder,
            flavor=flavor,
            signature=signature,
            input_example=input_example,
            artifacts=artifacts,
            code_paths=code_paths,
            init_kwargs=init_kwargs,
            extra_columns=extra_columns,
            _run=(run_id, path),
        )
        tracking.log_artifacts(run_id, folder, path)
    logged = [
        m
        for m in json_list_tag(run.data.tags, MODELS_TAG)
        if isinstance(m, dict) and m.get("artifact_path") != path
    ]
    logged.append({"artifact_path": path, "flavor": manifest.flavor})
    tracking.set_tag(run_id, MODELS_TAG, json.dumps(logged))
    return ModelInfo(
        f"runs:/{run_id}/{path}", run_id, path, manifest.flavor, manifest.signature, manifest
    )


# -- resolving and loading ------------------------------------------------------------
def resolve_model_uri(uri: str, client: TrackingClient | None = None) -> str:
    """The concrete source a model URI names: ``models:/…`` becomes the registered
    version's source (``runs:/…``); anything else is returned unchanged.

    Raises:
        NotFoundError: no such registered model, version or alias.
    """
    text = str(uri).strip()
    for _ in range(_MAX_RESOLVE_DEPTH):
        if not text.startswith("models:"):
            return text
        text = _client(client).stores.metadata.get_version_by_uri(parse_models_uri(text)).source
    raise InvalidUriError(f"{uri!r} resolves through more than {_MAX_RESOLVE_DEPTH} model URIs")


def read_manifest(uri: str | os.PathLike[str], client: TrackingClient | None = None) -> Manifest:
    """The manifest of a packaged model, without loading the model.

    Raises:
        ModelLoadError: the URI or folder holds no packaged model.
        NotFoundError: no such run or registered version.
    """
    text = resolve_model_uri(str(uri), client) if isinstance(uri, str) else str(uri)
    if text.startswith("runs:"):
        ref = parse_runs_uri(text)
        member = f"{ref.path}/{MANIFEST_FILE}" if ref.path else MANIFEST_FILE
        try:
            data = _client(client).read_artifact(ref.run_id, member)
        except ArtifactNotFoundError as exc:
            raise ModelLoadError(
                f"{text} holds no packaged model (no {MANIFEST_FILE}); log one with "
                "loopml.models.log_model"
            ) from exc
        return Manifest.from_yaml(data, text)
    return Manifest.read(_local_folder(text))


def _local_folder(location: str) -> Path:
    """A source that is neither runs:/ nor models:/ must be a local folder.

    Raises:
        InvalidUriError: it is a URL or another kind of URI.
    """
    if "://" in location or location.startswith(("models:", "datasets:")):
        raise InvalidUriError(
            f"{location!r} is not a model location; use runs:/<run_id>/<path>, "
            "models:/<name>/<n>, models:/<name>@<alias> or a local folder"
        )
    return Path(location)


@dataclass
class LoadedModel:
    """A loaded, verified model: ``predict`` checks its input against the signature."""

    source: str
    manifest: Manifest
    extra_columns: ExtraColumns
    _flavor: Flavor = field(repr=False)
    _raw: Any = field(repr=False)
    _tmp: str | None = field(default=None, repr=False)  # a download folder it owns
    _folder: Path | None = field(default=None, repr=False)

    @property
    def flavor(self) -> str:
        """The flavor's name."""
        return self.manifest.flavor

    @property
    def signature(self) -> Signature | None:
        """What the model takes and returns (None when none was recorded)."""
        return self.manifest.signature

    @property
    def raw(self) -> Any:
        """The native model object (an estimator, a Booster, a torch module, …)."""
        return self._flavor.native(self._raw)

    @property
    def folder(self) -> Path | None:
        """The local folder the model's files were loaded from (a download folder for
        ``runs:/`` and ``models:/`` sources, kept as long as the model lives)."""
        return self._folder

    @property
    def metadata(self) -> dict[str, Any]:
        """The manifest as data."""
        return self.manifest.to_dict()

    def input_example(self) -> Any:
        """The stored input example (a DataFrame or an array), or None."""
        if not self.manifest.input_example or self._folder is None:
            return None
        path = self._folder / self.manifest.input_example
        return _example_from_json(json.loads(path.read_text()))

    def predict(
        self, data: Any, extra_columns: ExtraColumns | None = None, *, validate: bool = True
    ) -> Any:
        """Predictions for ``data`` (a DataFrame, dict of columns, records, or an array).

        Args:
            validate: check and cast ``data`` against the signature first. Pass False only
                for data already made to fit it (by :func:`~loopml.models.enforce` or
                :func:`~loopml.models.signature.column_from_values`), as a model server does.

        Raises:
            SignatureError: the data does not fit the signature; the message names the column.
        """
        options = self.manifest.loader.get("options", {})
        if validate and self.signature is not None:
            data = enforce(self.signature.inputs, data, extra_columns or self.extra_columns)
        return self._flavor.predict(self._raw, data, options)

    @property
    def rows_independent(self) -> bool:
        """True when each row's prediction depends on that row alone (every flavor but
        ``python``), so a server may batch the rows of several requests."""
        return self._flavor.rows_independent

    @property
    def has_proba(self) -> bool:
        """True when the model gives class probabilities (:meth:`predict_proba`)."""
        return self._flavor.has_proba(self._raw, self._options)

    @property
    def classes(self) -> list[Any] | None:
        """The class labels of a classifier, in the order of :meth:`predict_proba`'s columns."""
        return self._flavor.classes(self._raw, self._options)

    @property
    def _options(self) -> Mapping[str, Any]:
        options: Mapping[str, Any] = self.manifest.loader.get("options", {})
        return options

    def predict_proba(self, data: Any, extra_columns: ExtraColumns | None = None) -> Any:
        """Class probabilities (one column per class in :attr:`classes`), input checked
        against the signature like :meth:`predict`.

        Raises:
            InvalidInputError: the model gives no probabilities.
            SignatureError: the data does not fit the signature.
        """
        if not self.has_proba:
            raise InvalidInputError(
                f"this {self.flavor} model has no predict_proba; it gives labels or values only"
            )
        if self.signature is not None:
            data = enforce(self.signature.inputs, data, extra_columns or self.extra_columns)
        return self._flavor.predict_proba(self._raw, data, self._options)


def _check_libraries(manifest: Manifest) -> None:
    modules: Mapping[str, str] = manifest.loader.get("modules") or {}
    for module, dist in modules.items():
        recorded = manifest.libraries.get(dist)
        found = installed_version(module)
        if found is None:
            pin = f"{dist}=={recorded}" if recorded else dist
            raise ModelLoadError(
                f"this {manifest.flavor} model needs the {module!r} library, which is not "
                f"installed; pip install '{pin}'"
            )
        if recorded and found[1] != recorded:
            warnings.warn(
                f"the model was saved with {dist} {recorded}; {found[0]} {found[1]} is installed. "
                f"Predictions may differ; pip install '{dist}=={recorded}' to match",
                ModelVersionWarning,
                stacklevel=3,
            )


def load(
    uri: str | os.PathLike[str],
    *,
    verify: bool = True,
    dst: str | os.PathLike[str] | None = None,
    extra_columns: ExtraColumns | None = None,
    client: TrackingClient | None = None,
) -> LoadedModel:
    """Load a packaged model by ``runs:/…``, ``models:/name/3``, ``models:/name@alias``,
    ``models:/name/latest`` or a local folder.

    Args:
        verify: check every file against its digest in the manifest first.
        dst: where to download a run's model (default: a temporary folder kept as long as
            the loaded model lives).
        extra_columns: override the saved choice for columns the signature does not name.

    Raises:
        ModelIntegrityError: a file is missing, extra or changed (with ``verify``).
        ModelLoadError: not a packaged model, or a library it needs is missing.
        NotFoundError: no such run, registered model, version or alias.
    """
    text = str(uri)
    source = resolve_model_uri(text, client) if isinstance(uri, str) else text
    tmp = None
    if source.startswith("runs:"):
        ref = parse_runs_uri(source)
        read_manifest(source, client)  # a clear error before downloading anything
        if dst is None:
            tmp = tempfile.mkdtemp(prefix="loopml-load-")
            base = Path(tmp)
        else:
            base = Path(dst) / uuid.uuid4().hex[:8]
        folder = _client(client).download_artifacts(ref.run_id, ref.path, base)
        if not ref.path:
            folder = base
    else:
        folder = _local_folder(source)
        if not folder.is_dir():
            raise ModelLoadError(f"no model folder at {folder}; check the path or URI")
    manifest = Manifest.read(folder)
    if verify:
        verify_files(folder, manifest)
    flavor = get_flavor(manifest.flavor)
    _check_libraries(manifest)
    raw = flavor.load(folder, manifest.loader.get("options", {}))
    wanted = extra_columns or manifest.extra_columns
    chosen: ExtraColumns
    if wanted == "drop":
        chosen = "drop"
    elif wanted == "error":
        chosen = "error"
    else:
        raise InvalidInputError(f"extra_columns must be 'error' or 'drop', got {wanted!r}")
    loaded = LoadedModel(
        source=text,
        manifest=manifest,
        extra_columns=chosen,
        _flavor=flavor,
        _raw=raw,
        _tmp=tmp,
        _folder=folder,
    )
    if tmp is not None:  # the download lives as long as the loaded model
        weakref.finalize(loaded, shutil.rmtree, tmp, ignore_errors=True)
    return loaded
