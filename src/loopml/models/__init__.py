"""Packaged models: flavors, signatures, manifests, and loading by URI.

    import loopml as lm
    with lm.start_run():
        info = lm.models.log_model(model, "model", input_example=X[:5])   # flavor detected
    m = lm.models.load(info.uri)          # or models:/pricing@champion, models:/pricing/3, a folder
    m.predict(df)                         # checked against the signature first

Importing this package imports no machine-learning library; each flavor imports its own
when it saves or loads.
"""

from __future__ import annotations

from loopml.models.api import (
    MODELS_TAG,
    LoadedModel,
    ModelInfo,
    ModelVersionWarning,
    load,
    log_model,
    read_manifest,
    resolve_model_uri,
    save_model,
)
from loopml.models.flavors import Flavor, available_flavors, register_flavor
from loopml.models.flavors.python import PythonModel, PythonModelContext
from loopml.models.manifest import MANIFEST_FILE, Manifest
from loopml.models.signature import (
    ColumnSpec,
    ColumnsSpec,
    Signature,
    TensorSpec,
    enforce,
    infer_signature,
)

__all__ = [
    "MANIFEST_FILE",
    "MODELS_TAG",
    "ColumnSpec",
    "ColumnsSpec",
    "Flavor",
    "LoadedModel",
    "Manifest",
    "ModelInfo",
    "ModelVersionWarning",
    "PythonModel",
    "PythonModelContext",
    "Signature",
    "TensorSpec",
    "available_flavors",
    "enforce",
    "infer_signature",
    "load",
    "log_model",
    "read_manifest",
    "register_flavor",
    "resolve_model_uri",
    "save_model",
]
