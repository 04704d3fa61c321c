"""Flavors: how one kind of model is saved, loaded and asked to predict.

Flavors are registered by name; ``detect`` picks one for an object by looking at its class
(without importing a library the caller has not imported already). Add one with
:func:`register_flavor`.
"""

from __future__ import annotations

import importlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from loopml.errors import ModelLoadError, UnsupportedModelError

__all__ = [
    "Flavor",
    "available_flavors",
    "class_path",
    "detect_flavor",
    "get_flavor",
    "import_class",
    "register_flavor",
]


class Flavor(ABC):
    """One kind of model.

    Attributes:
        name: the flavor's name in manifests (``sklearn``).
        modules: top-level modules whose versions are pinned in the manifest.
        rows_independent: each row's prediction depends on that row alone, so a server
            may predict the rows of several requests in one call (adaptive batching).
    """

    name: ClassVar[str]
    modules: ClassVar[tuple[str, ...]] = ()
    rows_independent: ClassVar[bool] = True

    @abstractmethod
    def detect(self, model: Any) -> bool:
        """True when this flavor handles the object (only inspect, never import)."""

    @abstractmethod
    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        """Write the model's files into ``folder``; return the loader options to record."""

    @abstractmethod
    def load(self, folder: Path, options: Mapping[str, Any]) -> Any:
        """The native model object from a folder written by :meth:`save`."""

    def predict(self, raw: Any, data: Any, options: Mapping[str, Any]) -> Any:
        """Predictions of the native model on data already checked against the signature."""
        return raw.predict(data)

    def native(self, raw: Any) -> Any:
        """The object users know as the model (what :meth:`load` returned, by default)."""
        return raw

    def classes(self, raw: Any, options: Mapping[str, Any]) -> list[Any] | None:
        """A classifier's class labels, in the order of :meth:`predict_proba`'s columns
        (None for other models); by default the native model's ``classes_``."""
        classes = getattr(self.native(raw), "classes_", None)
        return None if classes is None else list(classes)

    def has_proba(self, raw: Any, options: Mapping[str, Any]) -> bool:
        """True when the model gives class probabilities."""
        return callable(getattr(self.native(raw), "predict_proba", None))

    def predict_proba(self, raw: Any, data: Any, options: Mapping[str, Any]) -> Any:
        """Class probabilities, one column per class, on data already checked."""
        return self.native(raw).predict_proba(data)

    def extra_modules(self, model: Any) -> tuple[str, ...]:
        """More modules to pin for this particular object (e.g. a pipeline's steps)."""
        return ()


_FLAVORS: dict[str, str] = {
    # name -> "module:Class"; checked in this order by detect_flavor
    "python": "loopml.models.flavors.python:PythonFlavor",
    "xgboost": "loopml.models.flavors.xgboost:XGBoostFlavor",
    "lightgbm": "loopml.models.flavors.lightgbm:LightGBMFlavor",
    "pytorch": "loopml.models.flavors.pytorch:PyTorchFlavor",
    "sklearn": "loopml.models.flavors.sklearn:SklearnFlavor",
}
_LOADED: dict[str, Flavor] = {}


def register_flavor(name: str, target: str) -> None:
    """Add a flavor: ``target`` is ``"package.module:FlavorClass"`` (checked before others)."""
    global _FLAVORS
    _FLAVORS = {name: target, **{k: v for k, v in _FLAVORS.items() if k != name}}
    _LOADED.pop(name, None)


def available_flavors() -> list[str]:
    """Names of the registered flavors."""
    return list(_FLAVORS)


def get_flavor(name: str) -> Flavor:
    """The flavor registered under ``name``.

    Raises:
        UnsupportedModelError: no such flavor.
    """
    if name not in _FLAVORS:
        raise UnsupportedModelError(
            f"no model flavor named {name!r}; loopml has {', '.join(_FLAVORS)}"
        )
    if name not in _LOADED:
        module, _, cls = _FLAVORS[name].partition(":")
        _LOADED[name] = getattr(importlib.import_module(module), cls)()
    return _LOADED[name]


def detect_flavor(model: Any) -> Flavor:
    """The flavor for a model object.

    Raises:
        UnsupportedModelError: no flavor recognises it.
    """
    for name in _FLAVORS:
        flavor = get_flavor(name)
        if flavor.detect(model):
            return flavor
    raise UnsupportedModelError(
        f"loopml has no flavor for a {class_path(type(model))} object; flavors: "
        f"{', '.join(_FLAVORS)}. Wrap it in a loopml.models.PythonModel, or choose a flavor "
        "(flavor='sklearn' pickles any object that has a predict method)"
    )


def class_path(cls: type) -> str:
    """``module:QualName`` of a class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class(path: str) -> Any:
    """The class a :func:`class_path` names.

    Raises:
        ModelLoadError: the module or class cannot be imported.
    """
    module, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ModelLoadError(
            f"cannot import {path!r} to rebuild the model: {exc}. Install the package that "
            "defines it, or put its code on the Python path"
        ) from exc
    return obj


def module_of(model: Any) -> str:
    """The top-level module of an object's class."""
    return type(model).__module__.split(".")[0]


def mro_modules(model: Any) -> set[str]:
    """Top-level modules of every class in the object's class hierarchy."""
    return {c.__module__.split(".")[0] for c in type(model).__mro__}


def imported(module: str) -> Any:
    """The module if the program has imported it already, else None."""
    return sys.modules.get(module)
