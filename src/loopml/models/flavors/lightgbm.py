"""LightGBM, in its native text model format. A scikit-learn wrapper is stored as its
Booster plus what predict needs (the class labels of a classifier); loaded back, a classifier
predicts labels and gives ``predict_proba`` and ``classes`` as the wrapper did."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopml.models.flavors import Flavor, class_path, imported, mro_modules

_FILE = "model.txt"


class LightGBMFlavor(Flavor):
    name = "lightgbm"
    modules = ("lightgbm", "numpy")

    def detect(self, model: Any) -> bool:
        return imported("lightgbm") is not None and "lightgbm" in mro_modules(model)

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        import lightgbm

        if isinstance(model, lightgbm.Booster):
            model.save_model(str(folder / _FILE))
            return {"file": _FILE, "kind": "booster"}
        model.booster_.save_model(str(folder / _FILE))
        saved: dict[str, Any] = {"file": _FILE, "kind": "sklearn", "class": class_path(type(model))}
        classes = getattr(model, "classes_", None)
        if classes is not None:
            saved["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
        return saved

    def load(self, folder: Path, options: Mapping[str, Any]) -> Any:
        import lightgbm

        return lightgbm.Booster(model_file=str(folder / str(options.get("file", _FILE))))

    def predict(self, raw: Any, data: Any, options: Mapping[str, Any]) -> Any:
        import numpy as np

        classes = options.get("classes")
        if classes is None:
            return raw.predict(data)
        return np.asarray(classes)[np.argmax(self.predict_proba(raw, data, options), axis=1)]

    def classes(self, raw: Any, options: Mapping[str, Any]) -> list[Any] | None:
        classes = options.get("classes")
        return None if classes is None else list(classes)

    def has_proba(self, raw: Any, options: Mapping[str, Any]) -> bool:
        return options.get("classes") is not None

    def predict_proba(self, raw: Any, data: Any, options: Mapping[str, Any]) -> Any:
        import numpy as np

        from loopml.errors import InvalidInputError

        if options.get("classes") is None:
            raise InvalidInputError("this lightgbm model is not a classifier: no predict_proba")
        scores = np.asarray(raw.predict(data), dtype=float)
        if scores.ndim == 1:  # binary: the probability of the second class
            return np.column_stack([1.0 - scores, scores])
        return scores
