"""Run tags that hold JSON, as several parts of loopml keep structured facts in them.

Readers are forgiving: a missing, hand-edited or malformed tag reads as empty, so one bad
tag never breaks reading a run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DATASET_INPUTS_TAG",
    "GATE_TAG",
    "json_list_tag",
    "json_object_tag",
    "mlflow_input_fields",
]

# Dataset inputs a run recorded (through MLflow's log-inputs), as a JSON list.
DATASET_INPUTS_TAG = "loopml.mlflow.inputs"
# The latest release-gate verdict of a model version, as a JSON object with "passed".
GATE_TAG = "loopml.gate"


def _loads(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def json_list_tag(tags: Mapping[str, str], key: str) -> list[Any]:
    """The JSON list a tag holds ([] when the tag is missing or not a JSON list)."""
    value = _loads(tags.get(key))
    return list(value) if isinstance(value, list) else []


def json_object_tag(tags: Mapping[str, str], key: str) -> dict[str, Any] | None:
    """The JSON object a tag holds (None when the tag is missing or not a JSON object)."""
    value = _loads(tags.get(key))
    return dict(value) if isinstance(value, dict) else None


def mlflow_input_fields(item: Any) -> dict[str, str | None]:
    """name, digest and context of one MLflow dataset input as the tag keeps it."""
    dataset = item.get("dataset") if isinstance(item, dict) else None
    dataset = dataset if isinstance(dataset, dict) else {}
    tags = item.get("tags") if isinstance(item, dict) else None
    context = next(
        (
            t.get("value")
            for t in (tags if isinstance(tags, list) else [])
            if isinstance(t, dict) and t.get("key") == "mlflow.data.context"
        ),
        None,
    )
    fields = {"name": dataset.get("name"), "digest": dataset.get("digest"), "context": context}
    return {k: v if isinstance(v, str) else None for k, v in fields.items()}
