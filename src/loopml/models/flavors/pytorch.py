"""PyTorch: TorchScript modules as a TorchScript file; other modules as a state dict plus
their importable class and the keyword arguments that build it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopml.errors import UnsupportedModelError
from loopml.models.flavors import Flavor, class_path, import_class, imported

_SCRIPT = "model.torchscript.pt"
_STATE = "state_dict.pt"


class PyTorchFlavor(Flavor):
    name = "pytorch"
    modules = ("torch", "numpy")

    def detect(self, model: Any) -> bool:
        torch = imported("torch")
        return torch is not None and isinstance(model, torch.nn.Module)

    def save(self, model: Any, folder: Path, **options: Any) -> dict[str, Any]:
        import torch

        if isinstance(model, torch.jit.ScriptModule):
            torch.jit.save(model, str(folder / _SCRIPT))
            return {"kind": "torchscript", "file": _SCRIPT}
        cls = type(model)
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            raise UnsupportedModelError(
                f"{cls.__qualname__} is defined in a script or a function, so it cannot be "
                "imported when the model is loaded; move it into a module, or save "
                "torch.jit.script(model) instead"
            )
        init_kwargs = dict(options.get("init_kwargs") or {})
        torch.save(model.state_dict(), folder / _STATE)
        return {
            "kind": "state_dict",
            "file": _STATE,
            "class": class_path(cls),
            "init_kwargs": init_kwargs,
        }

    def load(self, folder: Path, options: Mapping[str, Any]) -> Any:
        import torch

        path = folder / str(options["file"])
        if options.get("kind") == "torchscript":
            module = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
        else:
            cls = import_class(str(options["class"]))
            module = cls(**dict(options.get("init_kwargs") or {}))
            state = torch.load(path, map_location="cpu", weights_only=True)
            module.load_state_dict(state)
        module.eval()
        return module

    def predict(self, raw: Any, data: Any, options: Mapping[str, Any]) -> Any:
        import numpy as np
        import torch

        array = data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        with torch.no_grad():
            out = raw(torch.from_numpy(np.ascontiguousarray(array)))
        return out.detach().cpu().numpy() if hasattr(out, "detach") else out
