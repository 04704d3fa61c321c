"""Materializers: how a step's output is written to files, and read back, by type.

Built in, tried in this order: pandas, polars and Arrow tables -> Parquet; NumPy arrays ->
``.npy``; models (any object a loopml model flavor detects: scikit-learn, XGBoost,
LightGBM, PyTorch, PythonModel) -> the models package's format; JSON values that survive
a round trip exactly (dicts, lists, strings, numbers, booleans, None) -> JSON; dataset and
model versions -> their URI; anything else -> cloudpickle, with a
:class:`PickledOutputWarning` naming the type.

Register your own (it is tried before the built-ins)::

    class ImageMaterializer(Materializer):
        name = "pil-image"
        def can_handle(self, obj): return isinstance(obj, PIL.Image.Image)
        def save(self, obj, folder): obj.save(folder / "image.png")
        def load(self, folder): return PIL.Image.open(folder / "image.png")

    register_materializer(ImageMaterializer())
"""

from __future__ import annotations

import json
import math
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError

__all__ = [
    "Materializer",
    "PickledOutputWarning",
    "get_materializer",
    "materializer_for",
    "register_materializer",
]


class PickledOutputWarning(UserWarning):
    """A step output had no materializer of its own and was stored with cloudpickle."""


class Materializer(ABC):
    """Writes objects of some types to a folder, and reads them back."""

    name: str = ""
    # Files written but left out of the output's identity (its digest): metadata such as a
    # creation time, so that the same object stored twice has the same digest.
    identity_exclude: tuple[str, ...] = ()

    @abstractmethod
    def can_handle(self, obj: Any) -> bool:
        """True when this materializer stores ``obj``."""

    @abstractmethod
    def save(self, obj: Any, folder: Path) -> None:
        """Write ``obj`` as files in the (empty) folder."""

    @abstractmethod
    def load(self, folder: Path) -> Any:
        """Read back what :meth:`save` wrote."""


def _module(obj: Any) -> str:
    return type(obj).__module__.split(".", 1)[0]


class PandasMaterializer(Materializer):
    name = "pandas"

    def can_handle(self, obj: Any) -> bool:
        return _module(obj) == "pandas" and type(obj).__name__ == "DataFrame"

    def save(self, obj: Any, folder: Path) -> None:
        obj.to_parquet(folder / "data.parquet")

    def load(self, folder: Path) -> Any:
        import pandas as pd

        return pd.read_parquet(folder / "data.parquet")


class PolarsMaterializer(Materializer):
    name = "polars"

    def can_handle(self, obj: Any) -> bool:
        return _module(obj) == "polars" and type(obj).__name__ == "DataFrame"

    def save(self, obj: Any, folder: Path) -> None:
        obj.write_parquet(folder / "data.parquet")

    def load(self, folder: Path) -> Any:
        import polars

        return polars.read_parquet(folder / "data.parquet")


class ArrowMaterializer(Materializer):
    name = "arrow"

    def can_handle(self, obj: Any) -> bool:
        return _module(obj) == "pyarrow" and type(obj).__name__ == "Table"

    def save(self, obj: Any, folder: Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(obj, folder / "data.parquet")

    def load(self, folder: Path) -> Any:
        import pyarrow.parquet as pq

        return pq.read_table(folder / "data.parquet")


class NumpyMaterializer(Materializer):
    name = "numpy"

    def can_handle(self, obj: Any) -> bool:
        return _module(obj) == "numpy" and type(obj).__name__ == "ndarray" and obj.dtype != object

    def save(self, obj: Any, folder: Path) -> None:
        import numpy as np

        np.save(folder / "array.npy", obj, allow_pickle=False)

    def load(self, folder: Path) -> Any:
        import numpy as np

        return np.load(folder / "array.npy", allow_pickle=False)


class ModelMaterializer(Materializer):
    name = "model"
    identity_exclude = ("model/loopml-model.yaml",)  # records when it was saved

    def can_handle(self, obj: Any) -> bool:
        if _module(obj) in ("builtins", "numpy", "pandas"):
            return False
        from loopml.errors import UnsupportedModelError
        from loopml.models.flavors import detect_flavor

        try:
            detect_flavor(obj)
        except UnsupportedModelError:
            return False
        return True

    def save(self, obj: Any, folder: Path) -> None:
        from loopml.models import save_model

        save_model(obj, folder / "model")

    def load(self, folder: Path) -> Any:
        from loopml.models import load

        return load(str(folder / "model")).raw


def _json_exact(obj: Any) -> bool:
    def finite(value: Any) -> bool:
        if isinstance(value, float):
            return math.isfinite(value)
        if isinstance(value, dict):
            return all(isinstance(k, str) and finite(v) for k, v in value.items())
        if isinstance(value, list):
            return all(finite(v) for v in value)
        return value is None or isinstance(value, (str, int, bool))

    if not finite(obj):
        return False
    try:
        return bool(json.loads(json.dumps(obj)) == obj)
    except (TypeError, ValueError):
        return False


class JsonMaterializer(Materializer):
    name = "json"

    def can_handle(self, obj: Any) -> bool:
        return _json_exact(obj)

    def save(self, obj: Any, folder: Path) -> None:
        (folder / "value.json").write_text(json.dumps(obj, sort_keys=True), encoding="utf-8")

    def load(self, folder: Path) -> Any:
        return json.loads((folder / "value.json").read_text(encoding="utf-8"))


class VersionMaterializer(Materializer):
    """A dataset version or a registered model version: stored as its URI, read back from
    the store (so the step's lineage points at the version itself)."""

    name = "version"

    def can_handle(self, obj: Any) -> bool:
        from loopml.entities import DatasetVersion, ModelVersion

        return isinstance(obj, (DatasetVersion, ModelVersion))

    def save(self, obj: Any, folder: Path) -> None:
        from loopml.entities import DatasetVersion

        uri = obj.uri if isinstance(obj, DatasetVersion) else f"models:/{obj.name}/{obj.version}"
        (folder / "version.json").write_text(json.dumps({"uri": uri}), encoding="utf-8")

    def load(self, folder: Path) -> Any:
        uri = json.loads((folder / "version.json").read_text(encoding="utf-8"))["uri"]
        if uri.startswith("datasets:"):
            from loopml.data import get_version

            return get_version(uri)
        from loopml.registry import resolve

        return resolve(uri)


class PickleMaterializer(Materializer):
    name = "cloudpickle"

    def can_handle(self, obj: Any) -> bool:
        return True

    def save(self, obj: Any, folder: Path) -> None:
        import cloudpickle

        warnings.warn(
            f"a step output of type {type(obj).__module__}.{type(obj).__qualname__} has no "
            "materializer and is stored with cloudpickle (readable only with compatible "
            "library versions); register_materializer() one for it",
            PickledOutputWarning,
            stacklevel=2,
        )
        (folder / "object.pkl").write_bytes(cloudpickle.dumps(obj))

    def load(self, folder: Path) -> Any:
        import cloudpickle

        return cloudpickle.loads((folder / "object.pkl").read_bytes())


_BUILTIN: list[Materializer] = [
    PandasMaterializer(),
    PolarsMaterializer(),
    ArrowMaterializer(),
    NumpyMaterializer(),
    JsonMaterializer(),
    VersionMaterializer(),
    ModelMaterializer(),
    PickleMaterializer(),
]
_USER: list[Materializer] = []


def register_materializer(materializer: Materializer) -> None:
    """Add a materializer; it is tried before the built-ins (and earlier user ones)."""
    if not isinstance(materializer, Materializer) or not materializer.name:
        raise InvalidInputError("register a Materializer subclass instance with a name")
    _USER[:] = [m for m in _USER if m.name != materializer.name]
    _USER.insert(0, materializer)


def materializer_for(obj: Any) -> Materializer:
    """The first materializer that handles ``obj``."""
    return next(m for m in (*_USER, *_BUILTIN) if m.can_handle(obj))


def get_materializer(name: str) -> Materializer:
    """The materializer registered under ``name``.

    Raises:
        InvalidInputError: none is (a user materializer not registered in this process).
    """
    for materializer in (*_USER, *_BUILTIN):
        if materializer.name == name:
            return materializer
    raise InvalidInputError(
        f"no materializer named {name!r} is registered; register_materializer() it before "
        "loading this output"
    )
