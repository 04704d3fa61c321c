"""What a monitor checks and what it does about it: the spec stored in a monitor record.

    spec = MonitorSpec(deployment="pricing", reference="datasets:/rides/3", window=3600,
                       policies=(parse_policy("dataset_drift -> retrain:pipelines.train:training"),
                                 parse_policy("performance.rmse > 5 -> log")),
                       alerts=(parse_action("webhook:http://127.0.0.1:9000/hook"),))

A **policy** is a condition on one figure of a window's result and the actions it triggers
(``CONDITION -> ACTION, ACTION``). The figures (see
:func:`loopml.monitoring.check.window_figures`)::

    rows, requests, rejected_rows, error_rate
    dataset_drift, drift_share, drifted, prediction_drift, drift.<column>
    quality.errors, quality.warnings, quality.<anomaly kind>
    performance.<metric>, performance.labeled, performance.coverage
    business.<name> (the window's mean), business.<name>.<mean|sum|count|min|max|last>

A condition is ``FIGURE OP NUMBER`` (``>``, ``>=``, ``<``, ``<=``, ``==``, ``!=``) or a
figure alone, which holds when it is true or above 0. A figure the window does not have
(performance before any label arrives) does not fire.

An **action** is ``webhook:URL`` (``alert:webhook:URL`` too), ``log``, or
``retrain:MODULE:PIPELINE`` (``retrain:MODULE.PIPELINE`` too). **Alerts** (``webhook:URL``
or ``log``) are notified of every policy that fires, with the window's figures.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopml.entities.validation import parse_duration
from loopml.errors import InvalidInputError

__all__ = [
    "BUILTIN_POLICIES",
    "ActionSpec",
    "MonitorSpec",
    "Policy",
    "parse_action",
    "parse_duration",
    "parse_policy",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
    ">": operator.gt, "<": operator.lt,
}  # fmt: skip
_CONDITION = re.compile(r"\s*([A-Za-z_][\w.\-:/]*)\s*(?:(>=|<=|==|!=|>|<)\s*(-?[\d.eE+\-]+))?\s*")
_ROUTES = ("primary", "canary", "shadow")
_TASKS = ("classification", "regression")


@dataclass(frozen=True)
class ActionSpec:
    """One action: ``webhook`` (POST the alert to ``target``), ``log``, or ``retrain``
    (run the pipeline ``target``, ``module:attribute``, on the window's data)."""

    kind: str
    target: str = ""

    @property
    def key(self) -> str:
        """``webhook:URL``, ``log`` or ``retrain:MODULE:PIPELINE``."""
        return self.kind if not self.target else f"{self.kind}:{self.target}"

    def __str__(self) -> str:
        return self.key


def parse_action(text: Any) -> ActionSpec:
    """An :class:`ActionSpec` from ``webhook:URL``, ``alert:webhook:URL``, ``log`` or
    ``retrain:MODULE:PIPELINE``.

    Raises:
        InvalidInputError: anything else (the message lists the forms).
    """
    if isinstance(text, ActionSpec):
        return text
    forms = "webhook:http://host/path, log, or retrain:module:pipeline"
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"an action is one of {forms}; got {text!r}")
    raw = text.strip()
    if raw.startswith(("alert:", "alert ")):
        raw = raw[len("alert:") :].strip()
    kind, _, target = raw.partition(":")
    kind = kind.strip().lower()
    if kind == "log" and not target:
        return ActionSpec("log")
    if kind == "webhook":
        url = target.strip()
        if not re.match(r"https?://[^\s/]+", url):
            raise InvalidInputError(
                f"{text!r}: a webhook needs an http:// or https:// URL, e.g. "
                "webhook:http://127.0.0.1:9000/hook"
            )
        return ActionSpec("webhook", url)
    if kind == "retrain":
        name = target.strip()
        module, sep, attr = name.rpartition(":")
        if not sep and not name.endswith(".py"):  # retrain:pipelines.training
            module, sep, attr = name.rpartition(".")
        if not sep or not module or not attr or not attr.isidentifier():
            raise InvalidInputError(
                f"{text!r}: retrain names a pipeline as retrain:MODULE:PIPELINE or "
                "retrain:MODULE.PIPELINE, e.g. retrain:pipelines.train:training"
            )
        return ActionSpec("retrain", f"{module}:{attr}")
    raise InvalidInputError(f"unknown action {text!r}; an action is one of {forms}")


@dataclass(frozen=True)
class Policy:
    """A condition on one figure of a window's result, and the actions it triggers.

    Attributes:
        name: how results and alerts name it (the condition as written, normalised).
        figure: the figure the condition reads (``drift_share``, ``performance.rmse``).
        op, value: the comparison; None for a figure that holds when true or above 0.
        actions: what to do when it fires (alerts are notified of it too).
    """

    name: str
    figure: str
    op: str | None = None
    value: float | None = None
    actions: tuple[ActionSpec, ...] = ()

    def check(self, figures: Mapping[str, float]) -> bool | None:
        """Whether it fires on these figures; None when the window lacks the figure."""
        found = figures.get(self.figure)
        if found is None or (isinstance(found, float) and math.isnan(found)):
            return None
        if self.op is None or self.value is None:
            return bool(found > 0)
        return bool(_OPS[self.op](float(found), self.value))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "name": self.name,
            "figure": self.figure,
            "op": self.op,
            "value": self.value,
            "actions": [a.key for a in self.actions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """The inverse of :meth:`to_dict`."""
        value = data.get("value")
        return cls(
            str(data["name"]),
            str(data["figure"]),
            data.get("op"),
            None if value is None else float(value),
            tuple(parse_action(a) for a in data.get("actions", ())),
        )


def _condition(text: str) -> tuple[str, str | None, float | None, str]:
    found = _CONDITION.fullmatch(text)
    if not found:
        raise InvalidInputError(
            f"{text!r} is not a policy condition; write FIGURE OP NUMBER (drift_share >= "
            "0.3, performance.rmse > 5, business.revenue.sum < 1000) or a figure alone "
            "(dataset_drift, drift.fare)"
        )
    figure, op, raw = found.group(1), found.group(2), found.group(3)
    if op is None:
        return figure, None, None, figure
    try:
        value = float(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{text!r}: {raw!r} is not a number") from exc
    if not math.isfinite(value):
        raise InvalidInputError(f"{text!r}: the bound must be a finite number")
    return figure, op, value, f"{figure} {op} {raw}"


def parse_policy(text: Any, actions: Sequence[Any] = ()) -> Policy:
    """A :class:`Policy` from ``"CONDITION -> ACTION, ACTION"`` (or a condition alone, which
    only alerts), plus ``actions``.

    Raises:
        InvalidInputError: a malformed condition or action.
    """
    if isinstance(text, Policy):
        return text
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"a policy is 'CONDITION -> ACTIONS', got {text!r}")
    condition, sep, rest = text.partition("->")
    listed = [a for a in rest.split(",") if a.strip()] if sep else []
    if sep and not listed:
        raise InvalidInputError(f"{text!r}: name at least one action after '->'")
    figure, op, value, name = _condition(condition)
    return Policy(name, figure, op, value, tuple(parse_action(a) for a in [*listed, *actions]))


# Every monitor has these two; --on-drift and --on-quality give them actions.
BUILTIN_POLICIES = ("dataset_drift", "quality.errors > 0")


def _merge(policies: Sequence[Policy]) -> tuple[Policy, ...]:
    """One policy per condition (actions of repeats combined), the built-ins first."""
    by_name: dict[str, Policy] = {name: parse_policy(name) for name in BUILTIN_POLICIES}
    for policy in policies:
        seen = by_name.get(policy.name)
        if seen is None:
            by_name[policy.name] = policy
            continue
        keys = {a.key for a in seen.actions}
        extra = tuple(a for a in policy.actions if a.key not in keys)
        by_name[policy.name] = Policy(seen.name, seen.figure, seen.op, seen.value,
                                      seen.actions + extra)  # fmt: skip
    return tuple(by_name.values())


@dataclass(frozen=True)
class MonitorSpec:
    """Everything a monitor's checks need beyond its name (see ``docs/monitoring.md``).

    Attributes:
        deployment: whose prediction log is checked.
        reference: the reference dataset version (``datasets:/rides/3``).
        window: window length in seconds (windows are aligned to the epoch, UTC).
        delay: seconds after a window's end before it counts as complete (the prediction
            log is flushed every few seconds).
        threshold: significance level of the p-value drift tests.
        drift_share: share of drifted features that is dataset drift.
        tests: per-column drift tests (``{"fare": "psi:0.2"}``).
        categorical: columns compared as categories whatever their type.
        routes: routes whose rows are checked (a shadow's rows repeat the primary's inputs).
        policies: conditions and their actions (the built-ins first).
        alerts: notified of every policy that fires (``webhook:URL``, ``log``).
        retrain_params: parameters for a retraining pipeline, besides the data.
        retrain_data_param: the pipeline parameter that receives the window's dataset URI.
        retrain_dataset: the dataset the windows' data is versioned as.
        retrain_every: at most one retraining per this many seconds.
        alert_every: at most one alert per target per this many seconds (0: every window).
        task: ``classification`` or ``regression`` for performance metrics (None: from
            the labels).
        prediction: the output compared with labels.
        target: the label's column name in retraining datasets.
        model: the model whose outputs on the reference rows are the prediction reference.
        output_profile: the profile of those outputs (``output.<name>`` columns).
        output_note: why there is no output profile, when there is none.
        pinned_model: the model named when the monitor was created or changed (None: the
            deployment's primary model at the time the outputs were profiled).
        model_task: the task the profiled model implies (``classification`` for a
            classifier), which ``task`` and ``categorical`` follow unless set.
    """

    deployment: str
    reference: str
    window: int
    delay: int = 60
    threshold: float = 0.05
    drift_share: float = 0.5
    tests: Mapping[str, str] = field(default_factory=dict)
    categorical: tuple[str, ...] = ()
    routes: tuple[str, ...] = ("primary", "canary")
    policies: tuple[Policy, ...] = field(default_factory=lambda: _merge(()))
    alerts: tuple[ActionSpec, ...] = ()
    retrain_params: Mapping[str, Any] = field(default_factory=dict)
    retrain_data_param: str = "dataset"
    retrain_dataset: str = ""
    retrain_every: int = 86400
    alert_every: int = 0
    task: str | None = None
    prediction: str = "output.prediction"
    target: str = "label"
    model: str | None = None
    output_profile: Mapping[str, Any] | None = None
    output_note: str = ""
    pinned_model: str | None = None
    model_task: str | None = None

    def __post_init__(self) -> None:
        if not self.window >= 1:
            raise InvalidInputError(f"the window must be at least 1 second, got {self.window}")
        if not 0 < self.threshold < 1:
            raise InvalidInputError(
                f"the drift threshold is a significance level between 0 and 1, got {self.threshold}"
            )
        if not 0 < self.drift_share <= 1:
            raise InvalidInputError(f"drift_share must lie in (0, 1], got {self.drift_share}")
        unknown = sorted(set(self.routes) - set(_ROUTES))
        if unknown or not self.routes:
            raise InvalidInputError(
                f"routes must be some of {', '.join(_ROUTES)}, got {', '.join(self.routes)}"
            )
        if self.task is not None and self.task not in _TASKS:
            raise InvalidInputError(f"task must be one of {', '.join(_TASKS)}, got {self.task!r}")
        for what, seconds in (("delay", self.delay), ("retrain_every", self.retrain_every),
                              ("alert_every", self.alert_every)):  # fmt: skip
            if seconds < 0:
                raise InvalidInputError(f"{what} must be >= 0 seconds, got {seconds}")
        alerts = [a for a in self.alerts if a.kind == "retrain"]
        if alerts:
            raise InvalidInputError(
                f"{alerts[0].key} is not an alert target; alerts are webhook:URL or log (put "
                "retraining in a policy: --on-drift retrain:module:pipeline)"
            )

    @property
    def retrain_targets(self) -> list[str]:
        """Every pipeline a policy may retrain with."""
        found = {a.target for p in self.policies for a in p.actions if a.kind == "retrain"}
        return sorted(found)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (what a monitor record's spec holds)."""
        return {
            "deployment": self.deployment,
            "reference": self.reference,
            "window": self.window,
            "delay": self.delay,
            "threshold": self.threshold,
            "drift_share": self.drift_share,
            "tests": dict(self.tests),
            "categorical": list(self.categorical),
            "routes": list(self.routes),
            "policies": [p.to_dict() for p in self.policies],
            "alerts": [a.key for a in self.alerts],
            "retrain_params": dict(self.retrain_params),
            "retrain_data_param": self.retrain_data_param,
            "retrain_dataset": self.retrain_dataset,
            "retrain_every": self.retrain_every,
            "alert_every": self.alert_every,
            "task": self.task,
            "prediction": self.prediction,
            "target": self.target,
            "model": self.model,
            "output_profile": None if self.output_profile is None else dict(self.output_profile),
            "output_note": self.output_note,
            "pinned_model": self.pinned_model,
            "model_task": self.model_task,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorSpec:
        """The inverse of :meth:`to_dict` (unknown keys are refused).

        Raises:
            InvalidInputError: a key or value this version of loopml does not know.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(
                f"the monitor spec has unknown field(s) {', '.join(unknown)}; it was made by "
                "a newer loopml (upgrade loopml)"
            )
        values = dict(data)
        values["policies"] = tuple(Policy.from_dict(p) for p in data.get("policies", ()))
        values["alerts"] = tuple(parse_action(a) for a in data.get("alerts", ()))
        for name in ("categorical", "routes"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    @classmethod
    def build(cls, policies: Sequence[Policy] = (), **fields: Any) -> MonitorSpec:
        """A spec whose policies are the built-ins plus ``policies`` (repeats merged)."""
        return cls(policies=_merge(policies), **fields)
