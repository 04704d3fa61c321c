"""XGBoost, in its native UBJSON format: a Booster, or a scikit-learn wrapper re-created
from the same file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopml.models.flavors import Flavor, class_path, import_class, imported, mro_modules

_FILE = "model.ubj"


class XGBoostFlavor(Flavor):
    name = "xgboost"
    modules = ("xgboost", "numpy")

    def detect(self, model: Any) -> bool:
        return imported("xgboost") is not None and "xgboost" in mro_modules(model)

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        import xgboost

        model.save_model(str(folder / _FILE))
        if isinstance(model, xgboost.Booster):
            return {"file": _FILE, "kind": "booster"}
        return {"file": _FILE, "kind": "sklearn", "class": class_path(type(model))}

    def load(self, folder: Path, options: Mapping[str, Any]) -> Any:
        import xgboost

        path = str(folder / str(options.get("file", _FILE)))
        if options.get("kind") == "booster":
            booster = xgboost.Booster()
            booster.load_model(path)
            return booster
        model = import_class(str(options["class"]))()
        model.load_model(path)
        return model

    def predict(self, raw: Any, data: Any, options: Mapping[str, Any]) -> Any:
        import xgboost

        if isinstance(raw, xgboost.Booster):
            return raw.predict(xgboost.DMatrix(data))
        return raw.predict(data)
