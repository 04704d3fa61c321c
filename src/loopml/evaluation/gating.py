"""Release gates: a candidate passes only when it is good enough and no worse than what
it replaces.

A policy maps checks to bounds (YAML file, or a dict)::

    rmse: {max: 3.0, max_relative_increase: 0.02}       # absolute, and vs the baseline
    slices.city.rmse: {max: 4.0}                         # every gated slice of `city`
    fairness.demographic_parity_difference: {max: 0.1}   # every sensitive column
    fairness.driver_gender.equalized_odds_difference: {max: 0.1}
    latency_p99_ms: {max: 20}

Bounds: ``min``, ``max`` (absolute); ``max_relative_increase``,
``max_relative_decrease`` (a fraction of the baseline's value), ``max_absolute_increase``,
``max_absolute_decrease`` (in the metric's unit) — the baseline being the model named by
``against``, evaluated on the same data. Without a baseline, relative checks are skipped
(and say so). A policy naming an unknown metric, bound or column is refused before any
model is loaded.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loopml.entities.tags import GATE_TAG
from loopml.errors import InvalidInputError
from loopml.evaluation.evaluator import EvaluationResult, evaluate
from loopml.evaluation.fairness import FAIRNESS_METRICS
from loopml.evaluation.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    metric_names,
)

__all__ = ["BOUNDS", "Check", "Policy", "Verdict", "gate", "load_policy"]

BOUNDS = (
    "min",
    "max",
    "max_relative_increase",
    "max_relative_decrease",
    "max_absolute_increase",
    "max_absolute_decrease",
)
LATENCY_METRICS = ("latency_p50_ms", "latency_p99_ms")


@dataclass(frozen=True)
class Rule:
    """One policy entry: where the metric is read, and its bounds."""

    key: str
    scope: str  # "overall" | "slices" | "fairness" | "latency"
    metric: str
    column: str | None
    bounds: Mapping[str, float]


@dataclass(frozen=True)
class Policy:
    """Parsed, checked policy rules."""

    rules: tuple[Rule, ...]

    @property
    def slice_columns(self) -> list[str]:
        """Columns the policy slices by."""
        return sorted({r.column for r in self.rules if r.scope == "slices" and r.column})

    @property
    def fairness_columns(self) -> list[str]:
        """Sensitive columns the policy names explicitly."""
        return sorted({r.column for r in self.rules if r.scope == "fairness" and r.column})

    @property
    def has_fairness(self) -> bool:
        """True when any rule is a fairness rule."""
        return any(r.scope == "fairness" for r in self.rules)

    def check_task(self, task: str) -> None:
        """Raise InvalidInputError when a rule names a metric the task does not have."""
        known = metric_names(task)
        for rule in self.rules:
            if rule.scope in ("overall", "slices") and rule.metric not in known:
                raise InvalidInputError(
                    f"policy {rule.key!r}: unknown metric {rule.metric!r} for {task}; "
                    f"known: {', '.join(known)}"
                )


def _bounds(key: str, raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInputError(f"policy {key!r}: give bounds as a mapping, e.g. {{max: 3.0}}")
    out = {}
    for name, value in raw.items():
        if name not in BOUNDS:
            raise InvalidInputError(
                f"policy {key!r}: unknown bound {name!r}; use {', '.join(BOUNDS)}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise InvalidInputError(f"policy {key!r}: {name} must be a number, got {value!r}")
        out[str(name)] = float(value)
    return out


def load_policy(source: str | Path | Mapping[str, Any], task: str | None = None) -> Policy:
    """Parse and check a policy (a YAML file path, YAML text, or a mapping); with a task,
    its metrics are checked against that task's, else against those of any task.

    Raises:
        InvalidInputError: unreadable, an unknown metric or bound, or a malformed key.
    """
    data: Any = source
    if isinstance(source, (str, Path)):
        path = Path(source)
        text: str | None = path.read_text(encoding="utf-8") if path.is_file() else None
        if text is None and (isinstance(source, Path) or source.endswith((".yaml", ".yml"))):
            raise InvalidInputError(f"the policy file {source} does not exist")
        try:
            data = yaml.safe_load(text if text is not None else str(source))
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"the policy is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping) or not data:
        raise InvalidInputError("a policy is a non-empty mapping of metric -> bounds")
    known = (
        metric_names(task)
        if task
        else tuple(dict.fromkeys(REGRESSION_METRICS + CLASSIFICATION_METRICS))
    )
    rules = []
    for key, raw in data.items():
        key = str(key)
        parts = key.split(".")
        column: str | None
        if parts[0] == "slices" and len(parts) == 3:
            scope, column, metric, valid = "slices", parts[1], parts[2], known
        elif parts[0] == "fairness" and len(parts) in (2, 3):
            scope, metric, valid = "fairness", parts[-1], FAIRNESS_METRICS
            column = parts[1] if len(parts) == 3 else None
        elif len(parts) == 1 and key in LATENCY_METRICS:
            scope, column, metric, valid = "latency", None, key, LATENCY_METRICS
        elif len(parts) == 1:
            scope, column, metric, valid = "overall", None, key, known
        else:
            raise InvalidInputError(
                f"policy key {key!r} is not METRIC, slices.COLUMN.METRIC, "
                "fairness[.COLUMN].METRIC or latency_p50_ms/latency_p99_ms"
            )
        if metric not in valid:
            raise InvalidInputError(
                f"policy {key!r}: unknown metric {metric!r} for {task or 'any task'}; "
                f"known: {', '.join(valid)}"
            )
        rules.append(Rule(key, scope, metric, column, _bounds(key, raw)))
    return Policy(tuple(rules))


@dataclass(frozen=True)
class Check:
    """One bound checked: the value, the baseline's, the bound, and why it passed or not."""

    name: str
    value: float | None
    baseline: float | None
    kind: str
    bound: float
    passed: bool
    reason: str


@dataclass
class Verdict:
    """Pass or fail, with every check."""

    candidate: str
    against: str | None
    passed: bool
    checks: list[Check] = field(default_factory=list)
    candidate_run_id: str | None = None
    baseline_run_id: str | None = None

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "candidate": self.candidate,
            "against": self.against,
            "passed": self.passed,
            "candidate_run_id": self.candidate_run_id,
            "baseline_run_id": self.baseline_run_id,
            "checks": [asdict(c) for c in self.checks],
        }

    def to_html(self) -> str:
        """A self-contained HTML page."""
        from loopml.evaluation.report import render_verdict

        return render_verdict(self)


def _values(result: EvaluationResult, rule: Rule, sensitive: Sequence[str]) -> dict[str, float]:
    """name -> value of what a rule reads from one evaluation."""
    if rule.scope == "overall":
        return {rule.key: result.metrics[rule.metric]} if rule.metric in result.metrics else {}
    if rule.scope == "latency":
        return {rule.key: result.latency[rule.metric]}
    if rule.scope == "slices":
        return {
            f"slices.{s.column}={s.value}.{rule.metric}": s.metrics[rule.metric]
            for s in result.by_slice
            if s.column == rule.column and s.gated and rule.metric in s.metrics
        }
    columns = [rule.column] if rule.column else list(sensitive)
    return {
        f"fairness.{c}.{rule.metric}": result.fairness[c].metrics[rule.metric]
        for c in columns
        if c in result.fairness and rule.metric in result.fairness[c].metrics
    }


def _check(name: str, value: float, baseline: float | None, kind: str, bound: float) -> Check:
    if kind == "min":
        ok, reason = value >= bound, f"{value:.4g} {'>=' if value >= bound else '<'} {bound:g}"
    elif kind == "max":
        ok, reason = value <= bound, f"{value:.4g} {'<=' if value <= bound else '>'} {bound:g}"
    elif baseline is None or not math.isfinite(baseline):
        return Check(name, value, None, kind, bound, True, "skipped: no baseline value")
    else:
        change = value - baseline
        if "relative" in kind:
            change = change / abs(baseline) if baseline else (0.0 if change == 0 else math.inf)
        if kind.endswith("decrease"):
            change = -change
        ok = change <= bound
        unit = "" if "absolute" in kind else " (relative)"
        word = "increase" if kind.endswith("increase") else "decrease"
        reason = (
            f"{word} {change:.4g}{unit} {'<=' if ok else '>'} {bound:g} vs baseline {baseline:.4g}"
        )
    if not math.isfinite(value):
        ok, reason = False, "the metric is not a finite number"
    return Check(name, value, baseline, kind, bound, bool(ok), reason)


def gate(
    candidate: str,
    against: str | None = None,
    policy: str | Path | Mapping[str, Any] = "gates.yaml",
    *,
    data: Any = None,
    target: str | None = None,
    task: str | None = None,
    sensitive: Sequence[str] = (),
    min_slice_count: int = 30,
    record: bool = True,
) -> Verdict:
    """Evaluate ``candidate`` (and ``against``, on the same data) and check the policy.

    Without ``data``/``target``, those of the candidate's latest evaluation run are used.
    With ``record``, the verdict is logged as a run and set on the candidate's registered
    version (tag ``loopml.gate``), which the registry's approval can require.

    Raises:
        InvalidInputError: the policy is malformed or names an unknown metric; no data and
            no earlier evaluation of the candidate; fairness rules without sensitive columns.
    """
    data, target, task, sensitive = _defaults(candidate, data, target, task, sensitive)
    parsed = load_policy(policy, task)
    sensitive = list(dict.fromkeys([*sensitive, *parsed.fairness_columns]))
    if parsed.has_fairness and not sensitive:
        raise InvalidInputError(
            "the policy has fairness checks; name the sensitive column(s) (--sensitive)"
        )

    def run(model: str, role: str, task: str | None) -> EvaluationResult:
        return evaluate(
            model,
            data,
            target,
            task,
            parsed.slice_columns,
            sensitive,
            min_slice_count=min_slice_count,
            log=record,
            run_name=f"gate {role} {model}"[:250],
            prepare=parsed.check_task,  # before any prediction beyond a 5-row check
        )

    result = run(candidate, "candidate", task)
    base = run(against, "baseline", result.task) if against is not None else None
    checks = []
    for rule in parsed.rules:
        values = _values(result, rule, sensitive)
        baseline = _values(base, rule, sensitive) if base is not None else {}
        if not values:
            checks.append(
                Check(rule.key, None, None, "present", 0.0, False, "no value was measured")
            )
            continue
        for name, value in values.items():
            for kind, bound in rule.bounds.items():
                checks.append(_check(name, value, baseline.get(name), kind, bound))
    verdict = Verdict(
        candidate,
        against,
        all(c.passed for c in checks),
        checks,
        result.run_id,
        base.run_id if base is not None else None,
    )
    if record:
        _record(verdict)
    return verdict


def _defaults(
    candidate: str, data: Any, target: str | None, task: str | None, sensitive: Sequence[str]
) -> tuple[Any, str, str | None, list[str]]:
    if data is not None and target is not None:
        return data, target, task, list(sensitive)
    from loopml.evaluation import _lm as lm

    experiments = [e.experiment_id for e in lm.search_experiments()]
    quoted = candidate.replace("'", "\\'")
    runs = lm.search_runs(
        experiments,
        filter=f"tags.`loopml.evaluation.model` = '{quoted}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        raise InvalidInputError(
            f"give data and target, or evaluate {candidate} first (lm.evaluate / "
            "`loopml evaluate`) so the gate can reuse that evaluation's data"
        )
    tags = runs[0].data.tags
    sens = json.loads(tags.get("loopml.evaluation.sensitive", "[]"))
    return (
        data if data is not None else tags["loopml.evaluation.data"],
        target or tags["loopml.evaluation.target"],
        task or tags["loopml.evaluation.task"],
        list(sensitive) or list(sens),
    )


def _record(verdict: Verdict) -> None:
    """Log the verdict as a run, and set it on the candidate's registered version."""
    from loopml.errors import InvalidUriError
    from loopml.evaluation import _lm as lm

    nested = lm.active_run() is not None
    with lm.start_run(run_name=f"gate {verdict.candidate}"[:250], nested=nested) as run:
        lm.set_tags(
            {
                "loopml.gate.candidate": verdict.candidate,
                "loopml.gate.against": verdict.against or "",
                "loopml.gate.passed": str(verdict.passed).lower(),
            }
        )
        lm.log_metrics(
            {"gate_passed": float(verdict.passed), "gate_failures": float(len(verdict.failures))}
        )
        lm.log_dict(verdict.to_dict(), "gate/verdict.json")
        lm.log_text(verdict.to_html(), "gate/report.html")
    payload = {
        "passed": verdict.passed,
        "against": verdict.against,
        "time": int(time.time() * 1000),
        "run_id": run.info.run_id,
        "failed": [f"{c.name} {c.kind}" for c in verdict.failures],
    }
    try:
        version = lm.registry.resolve(verdict.candidate)
    except InvalidUriError:
        return  # not a registered version (a run or a folder): the verdict lives in the run
    lm.registry.set_tag(version.name, GATE_TAG, json.dumps(payload), version=version.version)
