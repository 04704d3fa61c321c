"""``evaluate``: a model on data — metrics by task, slices, fairness, latency — as a run.

    result = lm.evaluate("models:/pricing/7", data="datasets:/rides@4", target="fare",
                         task="regression", slices=["city"], sensitive=["driver_gender"])
    result.metrics["rmse"], result.by_slice, result.fairness, result.latency

Every input is checked before the work starts: the target, slice and sensitive columns must
be in the data, the model's signature columns too (the model gets only those; the data may
hold more), and the task must fit what the model outputs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.errors import InvalidInputError
from loopml.evaluation.fairness import FairnessResult, SliceResult, fairness, iter_slices
from loopml.evaluation.metrics import (
    TASKS,
    classification_metrics,
    regression_metrics,
)

if TYPE_CHECKING:
    from loopml.entities import DatasetVersion
    from loopml.models import LoadedModel

__all__ = ["EvaluationResult", "evaluate", "load_data", "load_model"]

_KEY_UNSAFE = re.compile(r"[^\w\-. :]")


@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured, and the run it was logged as."""

    model: str
    data: str
    task: str
    target: str
    rows: int
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    by_slice: list[SliceResult] = field(default_factory=list)
    fairness: dict[str, FairnessResult] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None
    residuals: tuple[list[float], list[float]] | None = field(default=None, repr=False)

    def slice_metric(self, column: str, metric: str) -> dict[str, float]:
        """``value -> metric`` over the slices of one column."""
        return {
            s.value: s.metrics[metric]
            for s in self.by_slice
            if s.column == column and metric in s.metrics
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "model": self.model,
            "data": self.data,
            "task": self.task,
            "target": self.target,
            "rows": self.rows,
            "metrics": self.metrics,
            "per_class": self.per_class,
            "confusion": {"labels": self.labels, "matrix": self.confusion},
            "slices": [
                {
                    "column": s.column,
                    "value": s.value,
                    "count": s.count,
                    "gated": s.gated,
                    "metrics": s.metrics,
                }
                for s in self.by_slice
            ],
            "fairness": {
                c: {"metrics": f.metrics, "by_group": f.by_group} for c, f in self.fairness.items()
            },
            "latency": self.latency,
            "run_id": self.run_id,
        }

    def to_html(self) -> str:
        """A self-contained HTML report with plots."""
        from loopml.evaluation.report import render_evaluation

        return render_evaluation(self)

    def save_html(self, path: str | Path) -> None:
        """Write :meth:`to_html` to a file (whole or not at all)."""
        from loopml.storage.artifacts import write_text_atomic

        write_text_atomic(path, self.to_html())


def load_model(model: Any) -> tuple[LoadedModel, str]:
    """A loaded model and its label, from a URI, a folder or a loaded model."""
    from loopml.models import LoadedModel, load

    if isinstance(model, LoadedModel):
        return model, model.source
    if isinstance(model, (str, Path)):
        return load(str(model)), str(model)
    raise InvalidInputError(
        f"model must be a URI (models:/…, runs:/…), a folder or a loaded model, not "
        f"{type(model).__name__}"
    )


def load_data(data: Any) -> tuple[Any, str, DatasetVersion | None]:
    """(pandas DataFrame, label, dataset version or None) from a dataset reference, a
    Parquet/CSV path, or a table object."""
    import loopml.data as lmdata
    from loopml.data.tables import read_table, to_arrow

    if isinstance(data, lmdata.DatasetVersion):
        return lmdata.load(data), data.uri, data
    if isinstance(data, Path) or (isinstance(data, str) and Path(data).is_file()):
        path = Path(data)
        return read_table([(path.name, str(path))]).to_pandas(), str(path), None
    if isinstance(data, str):
        version = lmdata.get_version(data)
        return lmdata.load(version), version.uri, version
    if type(data).__module__.split(".", 1)[0] == "pandas":
        return data, "dataframe", None
    return to_arrow(data).to_pandas(), "dataframe", None


def _check_columns(frame: Any, target: str, extra: Sequence[str]) -> None:
    columns = list(frame.columns)
    for name, kind in [(target, "target"), *((c, "slice/sensitive") for c in extra)]:
        if name not in columns:
            raise InvalidInputError(
                f"the {kind} column {name!r} is not in the data; its columns: "
                f"{', '.join(map(str, columns))}"
            )


def _features(model: LoadedModel, frame: Any, target: str) -> Any:
    from loopml.models.signature import ColumnsSpec

    inputs = None if model.signature is None else model.signature.inputs
    if not isinstance(inputs, ColumnsSpec):
        return frame.drop(columns=[target])
    names = inputs.names
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"the model needs column(s) {', '.join(map(repr, missing))}, which the data lacks"
        )
    return frame[names]


def _outputs(raw: Any) -> np.ndarray:
    if hasattr(raw, "to_numpy"):
        raw = raw.to_numpy()
    array = np.asarray(raw)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidInputError(
            f"the model returns outputs of shape {array.shape}; evaluation needs one value per row"
        )
    return array


def _infer_task(model: LoadedModel, y: Any) -> str:
    if model.has_proba:
        return "classification"
    numeric = y.dtype.kind in "f" or (y.dtype.kind in "iu" and y.nunique() > 20)
    return "regression" if numeric else "classification"


def _check_task(task: str, y: Any, sample: np.ndarray) -> None:
    if task not in TASKS:
        raise InvalidInputError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    numeric_out = sample.dtype.kind in "iuf"
    if task == "regression":
        if not numeric_out:
            raise InvalidInputError(
                f"task 'regression' needs numeric outputs; the model returns {sample.dtype} "
                "values (use task='classification')"
            )
        if y.dtype.kind not in "iuf":
            raise InvalidInputError(
                f"task 'regression' needs a numeric target; {y.name!r} holds {y.dtype} values"
            )
    elif sample.dtype.kind == "f" and not np.all(np.isnan(sample) | (sample == np.round(sample))):
        raise InvalidInputError(
            "task 'classification' needs class labels; the model returns continuous values "
            "(use task='regression')"
        )


def _latency(model: LoadedModel, x: Any, batch: int, repeats: int) -> dict[str, float]:
    sample = x.head(batch)
    model.predict(sample)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(sample)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "latency_p50_ms": float(np.percentile(times, 50)),
        "latency_p99_ms": float(np.percentile(times, 99)),
        "latency_batch_rows": float(len(sample)),
    }


def _key(*parts: str) -> str:
    return "/".join(_KEY_UNSAFE.sub("_", p) for p in parts)[:250]


def evaluate(
    model: Any,
    data: Any,
    target: str,
    task: str | None = None,
    slices: Sequence[str] = (),
    sensitive: Sequence[str] = (),
    *,
    min_slice_count: int = 30,
    pos_label: Any = None,
    log: bool = True,
    run_name: str | None = None,
    latency_batch: int = 100,
    latency_repeats: int = 20,
    prepare: Callable[[str], None] | None = None,
) -> EvaluationResult:
    """Evaluate a model on data and (with ``log``) record it as a run.

    Args:
        model: ``models:/pricing/7``, ``models:/pricing@champion``, ``runs:/…``, a folder,
            or a loaded model.
        data: ``datasets:/rides@4`` (or ``rides@4``), a Parquet/CSV path, or a DataFrame.
        target: the column with the true values.
        task: ``regression`` or ``classification`` (inferred when omitted).
        slices: columns whose values (or quartile buckets) get metrics of their own.
        sensitive: columns for fairness metrics across their groups.
        min_slice_count: slices with fewer rows are reported but not gated.
        pos_label: the positive class for binary fairness metrics (default: the larger of
            the two labels).
        prepare: called with the task once it is known, before the model predicts on the
            whole data (a gate checks its policy's metrics there).

    Raises:
        InvalidInputError: a missing column, a task that does not fit the model's outputs.
        SignatureError: the data does not fit the model's signature.
    """
    frame, data_label, version = load_data(data)
    _check_columns(frame, target, [*slices, *sensitive])
    loaded, model_label = load_model(model)
    x = _features(loaded, frame, target)
    y = frame[target]
    task = task or _infer_task(loaded, y)
    _check_task(task, y, _outputs(loaded.predict(x.head(5))))
    if prepare is not None:
        prepare(task)
    pred = _outputs(loaded.predict(x))
    y_arr = y.to_numpy()
    result = EvaluationResult(model_label, data_label, task, target, len(frame), {})
    proba, classes = None, None
    if task == "classification" and loaded.has_proba:
        proba, classes = np.asarray(loaded.predict_proba(x)), loaded.classes

    def metrics_of(mask: np.ndarray | None = None) -> dict[str, float]:
        if mask is None:
            mask = np.ones(len(y_arr), dtype=bool)
        if task == "regression":
            return regression_metrics(y_arr[mask], pred[mask])
        sub = None if proba is None else proba[mask]
        return classification_metrics(y_arr[mask], pred[mask], sub, classes).metrics

    if task == "regression":
        result.metrics = regression_metrics(y_arr, pred)
        result.residuals = (
            pred[:5000].astype(float).tolist(),
            (y_arr - pred)[:5000].astype(float).tolist(),
        )
    else:
        cm = classification_metrics(y_arr, pred, proba, classes)
        result.metrics, result.per_class = cm.metrics, cm.per_class
        result.labels, result.confusion = cm.labels, cm.confusion
    for column in slices:
        for value, mask in iter_slices(frame, column):
            count = int(mask.sum())
            result.by_slice.append(
                SliceResult(column, value, count, metrics_of(mask), count >= min_slice_count)
            )
    positive = None
    if task == "classification":
        labels = sorted(set(y_arr.tolist()) | set(pred.tolist()), key=str)
        if len(labels) == 2:
            positive = pos_label if pos_label is not None else labels[1]
    for column in sensitive:
        result.fairness[column] = fairness(frame, column, y_arr, pred, metrics_of, positive)
    result.latency = _latency(loaded, x, latency_batch, latency_repeats)
    if log:
        result.run_id = _log(result, version, run_name)
    return result


def _log(result: EvaluationResult, version: DatasetVersion | None, run_name: str | None) -> str:
    from loopml.evaluation import _lm as lm

    metrics = {**result.metrics, **result.latency}
    for s in result.by_slice:
        for name, value in s.metrics.items():
            metrics[_key("slice", s.column, s.value, name)] = value
    for column, f in result.fairness.items():
        for name, value in f.metrics.items():
            metrics[_key("fairness", column, name)] = value
    finite = {k: v for k, v in metrics.items() if np.isfinite(v)}
    nested = lm.active_run() is not None
    with lm.start_run(run_name=run_name or f"evaluate {result.model}"[:250], nested=nested) as run:
        lm.set_tags(
            {
                "loopml.evaluation.model": result.model,
                "loopml.evaluation.data": result.data,
                "loopml.evaluation.task": result.task,
                "loopml.evaluation.target": result.target,
                "loopml.evaluation.sensitive": json.dumps(sorted(result.fairness)),
            }
        )
        lm.log_metrics(finite)
        if version is not None:
            lm.log_input(version, context="evaluation")
        lm.log_dict(result.to_dict(), "evaluation/result.json")
        lm.log_text(result.to_html(), "evaluation/report.html")
        run_id: str = run.info.run_id
        return run_id
