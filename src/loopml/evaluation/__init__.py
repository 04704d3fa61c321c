"""Evaluation and release gates: metrics by task, slices, fairness, comparison with the
champion, and a pass/fail verdict a CI job can act on.

    import loopml as lm
    result = lm.evaluate("models:/pricing/7", data="datasets:/rides@4", target="fare",
                         task="regression", slices=["city"], sensitive=["driver_gender"])
    verdict = lm.gate("models:/pricing/7", against="models:/pricing@champion",
                      policy="gates.yaml")
    verdict.passed, verdict.failures
"""

from loopml.evaluation.evaluator import EvaluationResult, evaluate
from loopml.evaluation.fairness import FAIRNESS_METRICS, FairnessResult, SliceResult
from loopml.evaluation.gating import BOUNDS, Check, Policy, Verdict, gate, load_policy
from loopml.evaluation.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    TASKS,
    metric_names,
)

__all__ = [
    "BOUNDS",
    "CLASSIFICATION_METRICS",
    "FAIRNESS_METRICS",
    "REGRESSION_METRICS",
    "TASKS",
    "Check",
    "EvaluationResult",
    "FairnessResult",
    "Policy",
    "SliceResult",
    "Verdict",
    "evaluate",
    "gate",
    "load_policy",
    "metric_names",
]
