"""Metrics by task, computed with scikit-learn.

Regression: ``mae``, ``rmse``, ``mape``, ``r2``, ``count``. Classification: ``accuracy``,
``precision``/``recall``/``f1`` macro- and weighted-averaged, ``roc_auc`` and ``pr_auc``
(binary, or one-vs-rest macro for several classes), ``log_loss``, ``calibration_error``
(expected calibration error over 10 confidence bins) — the last four only when the model
gives probabilities — and ``count``; per class ``precision``, ``recall``, ``f1`` and
``support``; and the confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "TASKS",
    "ClassificationMetrics",
    "classification_metrics",
    "metric_names",
    "regression_metrics",
]

TASKS = ("classification", "regression")
REGRESSION_METRICS = ("mae", "rmse", "mape", "r2", "count")
CLASSIFICATION_METRICS = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "calibration_error",
    "count",
)


def metric_names(task: str) -> tuple[str, ...]:
    """The metrics computed for a task."""
    return REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS


def regression_metrics(y: Any, pred: Any) -> dict[str, float]:
    """MAE, RMSE, MAPE, R² and the row count."""
    from sklearn.metrics import (
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_error,
        r2_score,
    )

    y_arr, p_arr = np.asarray(y, dtype=float), np.asarray(pred, dtype=float).reshape(-1)
    if y_arr.size == 0:
        return {"count": 0.0}
    out = {
        "mae": float(mean_absolute_error(y_arr, p_arr)),
        "rmse": float(np.sqrt(mean_squared_error(y_arr, p_arr))),
        "mape": float(mean_absolute_percentage_error(y_arr, p_arr)),
        "count": float(y_arr.size),
    }
    if y_arr.size >= 2:
        out["r2"] = float(r2_score(y_arr, p_arr))
    return out


@dataclass
class ClassificationMetrics:
    """Averaged metrics, per-class metrics and the confusion matrix."""

    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)


def _calibration_error(y: np.ndarray, proba: np.ndarray, classes: Sequence[Any]) -> float:
    confidence = proba.max(axis=1)
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    correct = (predicted == y).astype(float)
    bins = np.minimum((confidence * 10).astype(int), 9)
    error = 0.0
    for b in range(10):
        mask = bins == b
        if mask.any():
            error += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(error)


def classification_metrics(
    y: Any, pred: Any, proba: Any | None = None, classes: Sequence[Any] | None = None
) -> ClassificationMetrics:
    """Classification metrics; the probability-based ones need ``proba`` and ``classes``
    (the label of each probability column)."""
    from sklearn import metrics as skm

    y_arr = np.asarray(y)
    p_arr = np.asarray(pred).reshape(-1)
    if y_arr.dtype.kind != p_arr.dtype.kind and "O" in (y_arr.dtype.kind, p_arr.dtype.kind):
        y_arr, p_arr = y_arr.astype(str), p_arr.astype(str)  # mixed label types: compare as text
    if y_arr.size == 0:
        return ClassificationMetrics({"count": 0.0})
    labels = sorted(set(y_arr.tolist()) | set(p_arr.tolist()), key=str)
    out: dict[str, float] = {
        "accuracy": float(skm.accuracy_score(y_arr, p_arr)),
        "count": float(y_arr.size),
    }
    for avg in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_arr, p_arr, labels=labels, average=avg, zero_division=0
        )
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = (
            float(p),
            float(r),
            float(f),
        )
    p, r, f, support = skm.precision_recall_fscore_support(
        y_arr, p_arr, labels=labels, zero_division=0
    )
    per_class = {
        str(label): {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": float(support[i]),
        }
        for i, label in enumerate(labels)
    }
    if proba is not None and classes is not None:
        proba_arr = np.asarray(proba, dtype=float)
        cls = list(classes)
        present = set(y_arr.tolist())
        if len(present) >= 2 and present <= set(cls):
            if len(cls) == 2:
                positive = (y_arr == cls[1]).astype(int)
                out["roc_auc"] = float(skm.roc_auc_score(positive, proba_arr[:, 1]))
                out["pr_auc"] = float(skm.average_precision_score(positive, proba_arr[:, 1]))
            else:
                onehot = np.stack([(y_arr == c).astype(int) for c in cls], axis=1)
                out["roc_auc"] = float(
                    skm.roc_auc_score(onehot, proba_arr, average="macro", multi_class="ovr")
                )
                out["pr_auc"] = float(
                    skm.average_precision_score(onehot, proba_arr, average="macro")
                )
        if present <= set(cls):
            out["log_loss"] = float(skm.log_loss(y_arr, proba_arr, labels=cls))
        out["calibration_error"] = _calibration_error(y_arr, proba_arr, cls)
    matrix = skm.confusion_matrix(y_arr, p_arr, labels=labels)
    return ClassificationMetrics(out, per_class, [str(x) for x in labels], matrix.tolist())
