"""LightGBM, in its native text model format. A scikit-learn wrapper is stored as its
Booster plus what predict needs (the class labels of a classifier)."""

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

        scores = raw.predict(data)
        classes = options.get("classes")
        if classes is None:
            return scores
        labels = np.asarray(classes)
        if scores.ndim == 1:  # binary: the probability of the second class
            return labels[(scores > 0.5).astype(int)]
        return labels[np.argmax(scores, axis=1)]
