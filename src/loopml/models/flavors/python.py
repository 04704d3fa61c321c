"""Generic Python models: a :class:`loopml.models.PythonModel` subclass, pickled with
cloudpickle, with its declared artifacts and code copied into the package."""

from __future__ import annotations

import shutil
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInputError, ModelLoadError
from loopml.models.flavors import Flavor

_FILE = "python_model.pkl"


@dataclass
class PythonModelContext:
    """What a :class:`PythonModel` gets at load and predict time.

    Attributes:
        artifacts: artifact name -> local path of its copy inside the loaded package.
    """

    artifacts: dict[str, str] = field(default_factory=dict)


class PythonModel(ABC):
    """Base class of a model written in plain Python (``predict`` must be overridden).

    Override :meth:`predict` (and :meth:`load_context` to read artifacts once)::

        class Fares(PythonModel):
            def load_context(self, context):
                self.table = json.loads(Path(context.artifacts["rates"]).read_text())
            def predict(self, context, inputs):
                return inputs["distance_km"] * self.table["per_km"]

        lm.models.log_model(Fares(), "model", artifacts={"rates": "rates.json"})
    """

    def load_context(self, context: PythonModelContext) -> None:  # noqa: B027 - optional hook
        """Called once after loading; read artifacts here (optional: does nothing)."""

    @abstractmethod
    def predict(self, context: PythonModelContext, inputs: Any) -> Any:
        """Predictions for ``inputs`` (already checked against the signature)."""


@dataclass
class _Loaded:
    model: PythonModel
    context: PythonModelContext


class PythonFlavor(Flavor):
    name = "python"
    modules = ("cloudpickle",)
    rows_independent = False  # a user's predict may look across the rows it is given

    def detect(self, model: Any) -> bool:
        return isinstance(model, PythonModel)

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        import cloudpickle

        if not isinstance(model, PythonModel):
            raise InvalidInputError(
                f"the python flavor saves loopml.models.PythonModel subclasses, not "
                f"{type(model).__name__}"
            )
        artifacts: dict[str, str] = {}
        for name, local in (options.get("artifacts") or {}).items():
            source = Path(local)
            if not source.exists():
                raise InvalidInputError(f"artifact {name!r}: no file or folder at {source}")
            target = Path("artifacts") / str(name) / source.name
            _copy(source, folder / target)
            artifacts[str(name)] = target.as_posix()
        code: list[str] = []
        for local in options.get("code_paths") or []:
            source = Path(local)
            if not source.exists():
                raise InvalidInputError(f"code path {source} does not exist")
            _copy(source, folder / "code" / source.name)
            code.append("code")
        with open(folder / _FILE, "wb") as handle:
            cloudpickle.dump(model, handle)
        return {"file": _FILE, "artifacts": artifacts, "code": sorted(set(code))}

    def load(self, folder: Path, options: Mapping[str, Any]) -> Any:
        import cloudpickle

        for rel in options.get("code") or []:
            path = str(folder / rel)
            if path not in sys.path:
                sys.path.insert(0, path)
        try:
            with open(folder / str(options.get("file", _FILE)), "rb") as handle:
                model = cloudpickle.load(handle)
        except (ImportError, AttributeError) as exc:
            raise ModelLoadError(
                f"cannot unpickle the Python model: {exc}; ship its code with code_paths=[...] "
                "or install the package it lives in"
            ) from exc
        context = PythonModelContext(
            {name: str(folder / rel) for name, rel in (options.get("artifacts") or {}).items()}
        )
        model.load_context(context)
        return _Loaded(model, context)

    def native(self, raw: Any) -> Any:
        return raw.model

    def predict(self, raw: Any, data: Any, options: Mapping[str, Any]) -> Any:
        loaded: _Loaded = raw
        return loaded.model.predict(loaded.context, data)


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)
