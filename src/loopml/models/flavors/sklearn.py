"""scikit-learn (estimators and pipelines), and any picklable object with ``predict`` when
chosen explicitly: saved with joblib, which stores NumPy arrays efficiently."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopml.errors import UnsupportedModelError
from loopml.models.flavors import Flavor, module_of

_FILE = "model.joblib"


class SklearnFlavor(Flavor):
    name = "sklearn"
    modules = ("sklearn", "joblib", "numpy")

    def detect(self, model: Any) -> bool:
        return module_of(model) == "sklearn" and hasattr(model, "predict")

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        import joblib

        if not callable(getattr(model, "predict", None)):
            raise UnsupportedModelError(
                f"the sklearn flavor needs an object with a predict method; "
                f"{type(model).__name__} has none"
            )
        joblib.dump(model, folder / _FILE)
        return {"file": _FILE}

    def load(self, folder: Path, options: Mapping[str, Any]) -> Any:
        import joblib

        return joblib.load(folder / str(options.get("file", _FILE)))

    def extra_modules(self, model: Any) -> tuple[str, ...]:
        # A pipeline may hold estimators of other libraries (xgboost, lightgbm, ...).
        steps = getattr(model, "steps", None) or []
        return tuple(sorted({module_of(step) for _, step in steps if hasattr(step, "fit")}))
