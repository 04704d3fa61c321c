"""Changing a monitor after it is created, keeping its history.

    change = lm.monitoring.update_monitor("pricing", threshold=0.01, on_drift=["log"])
    change = lm.monitoring.update_monitor("pricing", refresh_outputs=True)  # after a promotion
    change.changes        # [Change("threshold", 0.05, 0.01), …]
    change.monitor        # the monitor at its new revision

What can change is everything a window's check reads except the window length and the
deployment: thresholds, drift share, per-column tests, categorical columns, policies and
their actions, alerts, retraining settings and rate limits, routes, delay, task, the
prediction and target columns, the reference version and the outputs' reference. The
window length sets how windows align and what the stored results mean, so changing it is
an error that says to create a new monitor. Every value is checked exactly as
:func:`~loopml.monitoring.create_monitor` checks it.

A setting given replaces the current one (a list of policies replaces the list); an empty
list clears it. ``policies`` are the conditions besides the two built-in ones, whose actions
``on_drift`` and ``on_quality`` set. The outputs' reference (the model's outputs on the
reference rows) is profiled again when the reference changes, when ``model`` is given, or
with ``refresh_outputs``: on the pinned model, else on the deployment's primary model now.

The change is one write of the monitor record, made only from the revision it was read at
(:class:`~loopml.errors.RevisionConflictError` when someone changed it in between). Windows
checked before keep their results; each result records the monitor revision, reference
and output model it was checked with (``summary["checked_with"]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.monitoring.monitors import (
    _build_spec,
    _client,
    _outputs_applied,
    _reference_version,
    _with_outputs,
)
from loopml.monitoring.spec import BUILTIN_POLICIES, MonitorSpec, Policy, parse_duration

if TYPE_CHECKING:
    from loopml.entities import Monitor
    from loopml.tracking.client import TrackingClient

__all__ = ["Change", "MonitorUpdate", "update_monitor"]

# the spec's fields a change shows, in this order (the outputs' profile is summarised)
_SHOWN = (
    "reference", "delay", "threshold", "drift_share", "tests", "categorical", "routes",
    "policies", "alerts", "retrain_params", "retrain_data_param", "retrain_dataset",
    "retrain_every", "alert_every", "task", "prediction", "target", "model", "pinned_model",
    "output_reference",
)  # fmt: skip
_OUTPUTS = ("model", "output_profile", "output_note", "pinned_model", "model_task")


@dataclass(frozen=True)
class Change:
    """One setting that changed: its name, and its value before and after."""

    setting: str
    before: Any
    after: Any


@dataclass(frozen=True)
class MonitorUpdate:
    """What :func:`update_monitor` did.

    Attributes:
        monitor: the monitor as stored now (its previous record when nothing changed).
        previous: the monitor before the change.
        changes: the settings that changed; empty when nothing did (nothing is written).
    """

    monitor: Monitor
    previous: Monitor
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything changed (and a new revision was written)."""
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the monitor's name, revisions, who changed it, and the changes."""
        return {
            "name": self.monitor.name,
            "changed": self.changed,
            "revision": self.monitor.revision,
            "previous_revision": self.previous.revision,
            "updated_by": self.monitor.updated_by,
            "update_time": self.monitor.update_time,
            "changes": [
                {"setting": c.setting, "before": c.before, "after": c.after} for c in self.changes
            ],
        }


def _shown(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec's settings as a change shows them (policies as text, the outputs' profile as
    which model it profiles and how many rows)."""
    out = {k: spec.get(k) for k in _SHOWN if k != "output_reference"}
    out["policies"] = [
        p["name"] + (f" -> {', '.join(p['actions'])}" if p.get("actions") else "")
        for p in spec.get("policies", [])
    ]
    profile = spec.get("output_profile")
    if profile:
        out["output_reference"] = f"outputs of {spec.get('model')} on {profile.get('rows')} rows"
    else:
        out["output_reference"] = f"none ({spec.get('output_note') or 'not profiled'})"
    return out


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    old, new = _shown(before), _shown(after)
    changes = [Change(k, old[k], new[k]) for k in _SHOWN if old[k] != new[k]]
    if before.get("output_profile") != after.get("output_profile") and not any(
        c.setting == "output_reference" for c in changes
    ):  # the same model profiled again: its outputs moved
        changes.append(Change("output_reference", old["output_reference"] + " (before)",
                              new["output_reference"] + " (profiled again)"))  # fmt: skip
    return changes


def _user_settings(spec: MonitorSpec) -> dict[str, Any]:
    """What the user set, from a stored spec: the arguments that rebuild it."""
    classifier = spec.model_task == "classification"
    return {
        "delay": spec.delay,
        "threshold": spec.threshold,
        "drift_share": spec.drift_share,
        "tests": dict(spec.tests),
        # a classifier's prediction is added to the categories; it follows the model
        "categorical": [c for c in spec.categorical if not (classifier and c == spec.prediction)],
        "routes": list(spec.routes),
        "alerts": list(spec.alerts),
        "retrain_params": dict(spec.retrain_params),
        "retrain_data_param": spec.retrain_data_param,
        "retrain_dataset": spec.retrain_dataset,
        "retrain_every": spec.retrain_every,
        "alert_every": spec.alert_every,
        "task": None if spec.model_task is not None and spec.task == spec.model_task else spec.task,
        "prediction": spec.prediction,
        "target": spec.target,
    }


def _policies(
    spec: MonitorSpec,
    policies: Sequence[str] | None,
    on_drift: Sequence[str] | None,
    on_quality: Sequence[str] | None,
) -> list[Policy]:
    from loopml.monitoring.spec import parse_policy

    drift_name, quality_name = BUILTIN_POLICIES
    by_name = {p.name: p for p in spec.policies}
    built = (
        [p for p in spec.policies if p.name not in BUILTIN_POLICIES]
        if policies is None
        else [parse_policy(p) for p in policies]
    )
    built.append(
        by_name[drift_name] if on_drift is None else parse_policy(drift_name, list(on_drift))
    )
    built.append(
        by_name[quality_name]
        if on_quality is None
        else parse_policy(quality_name, list(on_quality))
    )
    return built


def update_monitor(
    name: str,
    *,
    reference: str | None = None,
    window: str | int | None = None,
    delay: str | int | None = None,
    threshold: float | str | None = None,
    drift_share: float | None = None,
    tests: Mapping[str, Any] | None = None,
    categorical: Sequence[str] | None = None,
    policies: Sequence[str] | None = None,
    on_drift: Sequence[str] | None = None,
    on_quality: Sequence[str] | None = None,
    alerts: Sequence[str] | None = None,
    retrain_params: Mapping[str, Any] | None = None,
    retrain_data_param: str | None = None,
    retrain_dataset: str | None = None,
    retrain_every: str | int | None = None,
    alert_every: str | int | None = None,
    model: str | None = None,
    refresh_outputs: bool = False,
    task: str | None = None,
    prediction: str | None = None,
    target: str | None = None,
    routes: Sequence[str] | None = None,
    client: TrackingClient | None = None,
) -> MonitorUpdate:
    """Change a monitor's settings (see the module); None leaves a setting as it is.

    Args:
        name: the monitor.
        reference: a new reference version (``rides@4``; ``@latest`` is resolved now).
        window: only the current length is accepted (a new length needs a new monitor).
        threshold: the p-value tests' significance level (``"default"``: 0.05).
        tests, categorical, policies, on_drift, on_quality, alerts, routes: replace the
            current ones (an empty list or mapping clears them; routes cannot be empty).
        model: profile the outputs of this model on the reference and pin it; ``""``
            unpins, so the deployment's primary model is profiled now and on later
            refreshes.
        refresh_outputs: profile the outputs again (the pinned model, else the
            deployment's primary model now), e.g. after a promotion.
        task: ``classification``, ``regression``, or ``auto`` (from the model or labels).
        The others are as in :func:`~loopml.monitoring.create_monitor`.

    Returns:
        A :class:`MonitorUpdate` with the stored monitor and what changed.

    Raises:
        MonitorNotFoundError: no such monitor.
        InvalidInputError: a changed window, or a value ``create_monitor`` would refuse, or
            outputs that could not be profiled when ``model``/``refresh_outputs`` asked.
        RevisionConflictError: someone else changed the monitor at the same time.
    """
    from loopml.tracking.context import current_user

    client = _client(client)
    store = client.stores.metadata
    current = store.get_monitor(name)
    spec = MonitorSpec.from_dict(current.spec)
    if window is not None and parse_duration(window, "the window") != current.window:
        raise InvalidInputError(
            f"monitor {name!r} has windows of {current.window} s, and a window's length "
            "cannot change: it sets how windows align and what the stored results mean. "
            f"Create a new monitor with the new window (`loopml monitor create NEW "
            f"--reference {current.reference} --window {window}`)"
        )
    if task == "auto":
        task = ""
    settings = _user_settings(spec)
    given = {
        "delay": delay, "threshold": threshold, "drift_share": drift_share, "tests": tests,
        "categorical": categorical, "routes": routes, "alerts": alerts,
        "retrain_params": retrain_params, "retrain_data_param": retrain_data_param,
        "retrain_dataset": retrain_dataset, "retrain_every": retrain_every,
        "alert_every": alert_every, "task": task, "prediction": prediction, "target": target,
    }  # fmt: skip
    settings.update({k: v for k, v in given.items() if v is not None})
    settings["task"] = settings["task"] or None
    version = _reference_version(client, reference) if reference is not None else None
    built = _build_spec(
        _policies(spec, policies, on_drift, on_quality),
        deployment=current.deployment,
        reference=version.uri if version is not None else current.reference,
        window=current.window,
        **settings,
    )
    moved = version is not None and version.uri != current.reference
    if model is not None or refresh_outputs or moved:
        pinned = spec.pinned_model if model is None else model
        asked = model is not None or refresh_outputs
        source = version if version is not None else _reference_version(client, built.reference)
        final = _with_outputs(client, name, built, source, pinned or None, required=asked)
    else:
        final = _outputs_applied(built, {k: spec.to_dict()[k] for k in _OUTPUTS})
    after = final.to_dict()
    changes = _diff(spec.to_dict(), after)
    if not changes:
        return MonitorUpdate(current, current, [])
    stored = store.update_monitor(
        name, final.reference, after, current_user(), expected_revision=current.revision
    )
    return MonitorUpdate(stored, current, changes)
