"""Mapping between loopml's entities and MLflow's JSON messages.

Three MLflow conventions are translated here rather than stored as MLflow writes them:

- ``mlflow.parentRunId`` is stored as loopml's ``loopml.parentRunId`` (so loopml sees the
  nesting); responses carry both tags.
- ``mlflow.runName`` is the run's name, not a tag; responses carry it as a tag too, because
  the MLflow client reads the name from there on older paths.
- dataset inputs (``runs/log-inputs``) are kept as JSON in the run tag
  ``loopml.mlflow.inputs`` and come back as ``inputs.dataset_inputs``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from loopml.entities import Experiment, Metric, Run, RunInfo, RunStatus, ViewType
from loopml.entities.tags import DATASET_INPUTS_TAG, json_list_tag
from loopml.entities.validation import normalize_relative_path
from loopml.errors import InvalidInputError, InvalidPathError
from loopml.schemas.tracking import encode_float

__all__ = [
    "INPUTS_TAG",
    "MLFLOW_PARENT_TAG",
    "MLFLOW_RUN_NAME_TAG",
    "PARENT_TAG",
    "artifact_uri",
    "dataset_inputs",
    "experiment_json",
    "filter_terms",
    "loopml_tag_key",
    "metric_json",
    "parse_artifact_path",
    "parse_status",
    "parse_view_type",
    "rewrite_run_search",
    "run_info_json",
    "run_json",
    "tags_match",
]

PARENT_TAG = "loopml.parentRunId"
MLFLOW_PARENT_TAG = "mlflow.parentRunId"
MLFLOW_RUN_NAME_TAG = "mlflow.runName"
INPUTS_TAG = DATASET_INPUTS_TAG

# Proto enum numbers, for clients that send enums as numbers.
_VIEW_NUMBERS = {"1": ViewType.ACTIVE_ONLY, "2": ViewType.DELETED_ONLY, "3": ViewType.ALL}
_STATUS_NUMBERS = {
    "1": RunStatus.RUNNING,
    "2": RunStatus.SCHEDULED,
    "3": RunStatus.FINISHED,
    "4": RunStatus.FAILED,
    "5": RunStatus.KILLED,
}


def artifact_uri(experiment_id: str, run_id: str) -> str:
    """The artifact URI MLflow clients see: uploads then go through the server's proxy."""
    return f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"


def parse_view_type(value: str | None) -> ViewType:
    """MLflow's ``ACTIVE_ONLY`` / ``DELETED_ONLY`` / ``ALL`` (or 1/2/3); default active.

    Raises:
        InvalidInputError: any other value.
    """
    if value is None or value == "":
        return ViewType.ACTIVE_ONLY
    if value in _VIEW_NUMBERS:
        return _VIEW_NUMBERS[value]
    try:
        return ViewType(value.lower())
    except ValueError as exc:
        raise InvalidInputError(
            f"view type {value!r} is not one of ACTIVE_ONLY, DELETED_ONLY, ALL"
        ) from exc


def parse_status(value: str) -> RunStatus:
    """A run status by MLflow name (``FINISHED``) or proto number.

    Raises:
        InvalidInputError: not a run status.
    """
    if value in _STATUS_NUMBERS:
        return _STATUS_NUMBERS[value]
    try:
        return RunStatus(value.upper())
    except ValueError as exc:
        raise InvalidInputError(
            f"run status {value!r} is not one of {', '.join(s.value for s in RunStatus)}"
        ) from exc


def loopml_tag_key(key: str) -> str:
    """The key loopml stores an MLflow run tag under."""
    return PARENT_TAG if key == MLFLOW_PARENT_TAG else key


def experiment_json(exp: Experiment) -> dict[str, Any]:
    """An experiment as MLflow's ``Experiment`` message."""
    return {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": f"mlflow-artifacts:/{exp.experiment_id}",
        "lifecycle_stage": exp.lifecycle_stage.value,
        "last_update_time": exp.last_update_time,
        "creation_time": exp.creation_time,
        "tags": [{"key": k, "value": v} for k, v in sorted(exp.tags.items())],
    }


def run_info_json(info: RunInfo) -> dict[str, Any]:
    """A run's info as MLflow's ``RunInfo`` message."""
    body: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status.value,
        "start_time": info.start_time,
        "artifact_uri": artifact_uri(info.experiment_id, info.run_id),
        "lifecycle_stage": info.lifecycle_stage.value,
    }
    if info.end_time is not None:
        body["end_time"] = info.end_time
    return body


def metric_json(metric: Metric) -> dict[str, Any]:
    """A metric point as MLflow's ``Metric`` message (non-finite values as strings)."""
    return {
        "key": metric.key,
        "value": encode_float(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }


def dataset_inputs(tags: dict[str, str] | Any) -> list[dict[str, Any]]:
    """The dataset inputs kept in a run's ``loopml.mlflow.inputs`` tag ([] when none)."""
    return [i for i in json_list_tag(tags, INPUTS_TAG) if isinstance(i, dict)]


def run_json(run: Run) -> dict[str, Any]:
    """A run as MLflow's ``Run`` message: info, data (metrics, params, tags) and inputs.

    The latest value of each metric is all a run carries, so its timestamp and step are
    reported as 0; ``metrics/get-history`` has the full points.
    """
    tags = {k: v for k, v in run.data.tags.items() if k != INPUTS_TAG}
    if PARENT_TAG in tags:
        tags[MLFLOW_PARENT_TAG] = tags[PARENT_TAG]
    tags[MLFLOW_RUN_NAME_TAG] = run.info.run_name
    return {
        "info": run_info_json(run.info),
        "data": {
            "metrics": [
                {"key": k, "value": encode_float(v), "timestamp": 0, "step": 0}
                for k, v in sorted(run.data.metrics.items())
            ],
            "params": [{"key": k, "value": v} for k, v in sorted(run.data.params.items())],
            "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
        },
        "inputs": {"dataset_inputs": dataset_inputs(run.data.tags)},
    }


# An identifier naming one of the translated tags, in any quoting MLflow accepts.
_TAG_IDENT = re.compile(
    r"\b(?:tags?)\.(?:\"(?P<q1>[^\"]+)\"|`(?P<q2>[^`]+)`|(?P<bare>[\w.]+))", re.IGNORECASE
)
_SINGLE_QUOTED = re.compile(r"('(?:[^']|'')*')")


def _rewrite_identifiers(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group("q1") or match.group("q2") or match.group("bare")
        if key == MLFLOW_PARENT_TAG:
            return f'tags."{PARENT_TAG}"'
        if key == MLFLOW_RUN_NAME_TAG:
            return "attributes.run_name"
        return match.group(0)

    # String literals are left alone: only identifiers outside quotes are translated.
    pieces = _SINGLE_QUOTED.split(text)
    return "".join(p if i % 2 else _TAG_IDENT.sub(replace, p) for i, p in enumerate(pieces))


def rewrite_run_search(filter_string: str, order_by: list[str]) -> tuple[str, list[str]]:
    """Translate ``tags.mlflow.parentRunId`` and ``tags.mlflow.runName`` in a run search.

    ``datasets.*`` comparisons pass as they are: the store matches them against the inputs
    an MLflow client logged (kept in a tag) as well as against ``lm.log_input`` lineage.
    """
    rewritten = _rewrite_identifiers(filter_string)
    return rewritten, [_rewrite_identifiers(o) for o in order_by]


# -- simple filters (logged models, registry) -------------------------------------------
_TERM = re.compile(
    r"^\s*(?P<field>[A-Za-z_]\w*|tags?\.`[^`]+`|tags?\.[\w.\-]+)\s*"
    r"(?P<op>!=|=|I?LIKE)\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*$",
    re.IGNORECASE,
)
TAG_FIELD = "tag:"


def filter_terms(
    filter_string: str | None, allowed: dict[str, frozenset[str]]
) -> list[tuple[str, str, str]]:
    """``(field, op, value)`` of a filter of ``field op 'value'`` terms joined by AND.

    ``allowed`` maps a field to the operators it takes; the key ``"tag:"`` allows
    ``tags.<key>`` terms, which come back with the field ``tag:<key>``.

    Raises:
        InvalidInputError: a term of another shape, field or operator.
    """
    terms: list[tuple[str, str, str]] = []
    for part in re.split(r"\s+and\s+", (filter_string or "").strip(), flags=re.IGNORECASE):
        if not part:
            continue
        match = _TERM.match(part)
        field, op = (match.group("field"), match.group("op").upper()) if match else ("", "")
        key = TAG_FIELD if field.lower().startswith("tag") else field.lower()
        if match is None or op not in allowed.get(key, frozenset()):
            choices = ", ".join(
                f"{'tags.<key>' if f == TAG_FIELD else f} {'/'.join(sorted(ops))} '…'"
                for f, ops in allowed.items()
            )
            raise InvalidInputError(
                f"filter term {part!r} is not supported; use {choices}, joined by AND"
            )
        if key == TAG_FIELD:
            key = TAG_FIELD + field.split(".", 1)[1].strip("`")
        terms.append((key, op, re.sub(r"\\(.)", r"\1", match.group("value"))))
    return terms


def tags_match(tags: Mapping[str, str], terms: list[tuple[str, str, str]]) -> bool:
    """True when the tags satisfy every ``tags.<key> = / != 'value'`` term."""
    for field, op, value in terms:
        if field.startswith(TAG_FIELD):
            have = tags.get(field[len(TAG_FIELD) :])
            if (op == "=" and have != value) or (op == "!=" and have == value):
                return False
    return True


def parse_artifact_path(path: str, *, allow_root: bool = False) -> tuple[str, str, str]:
    """Split ``<experiment_id>/<run_id>/artifacts/<path>`` (the inverse of
    :func:`artifact_uri` plus a path) into its three parts.

    Raises:
        InvalidPathError: the path is not of that shape or could leave the run.
    """
    clean = normalize_relative_path(path)
    parts = clean.split("/", 3)
    if len(parts) < 3 or parts[2] != "artifacts" or not parts[0].isdigit():
        raise InvalidPathError(
            f"artifact path {path!r} is not <experiment_id>/<run_id>/artifacts/<path>"
        )
    rel = parts[3] if len(parts) == 4 else ""
    if not rel and not allow_root:
        raise InvalidPathError(f"artifact path {path!r} names no file inside the run")
    return parts[0], parts[1], rel
