"""Creating, reading and deleting monitors.

    lm.monitoring.create_monitor("pricing", reference="rides@3", window="1h",
                                 on_drift=["retrain:pipelines.train:training"],
                                 alerts=["webhook:http://127.0.0.1:9000/hook"])

**The reference for the outputs.** Prediction drift compares the window's ``output.*``
columns with the outputs of the deployment's model (its primary, or ``model=``) on the
reference rows, computed once when the monitor is created and stored as a profile in the
monitor — so checks read neither the reference rows nor the model again, and the
outputs are compared with what the model gave on the data it was trained on. When that
is impossible (no model to load, reference rows not in this store, a model that fails on
them) the monitor is created without it and says why; prediction drift is then not tested.
A monitor made without ``model=`` follows the deployment: after a promotion, its check
profiles the new primary's outputs (:mod:`loopml.monitoring.check`), and
:func:`~loopml.monitoring.update_monitor` re-profiles them on demand.
The model's kind sets the task for performance: a classifier's (one with ``classes_``)
outputs are compared as categories and its labels as classes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError, LoopmlError
from loopml.monitoring.logfiles import check_deployment
from loopml.monitoring.spec import (
    ActionSpec,
    MonitorSpec,
    Policy,
    parse_action,
    parse_duration,
    parse_policy,
)

if TYPE_CHECKING:
    from loopml.entities import Monitor
    from loopml.tracking.client import TrackingClient

__all__ = ["create_monitor", "delete_monitor", "get_monitor", "list_monitors"]

log = logging.getLogger("loopml.monitoring")

_PREDICT_CHUNK = 100_000


def _client(client: TrackingClient | None) -> TrackingClient:
    if client is not None:
        return client
    from loopml.tracking.fluent import get_client

    return get_client()


def _check_tests(tests: Mapping[str, Any] | None) -> dict[str, str]:
    from loopml.monitoring.methods import parse_test

    out = {}
    for column, test in (tests or {}).items():
        parsed = parse_test(test)  # an unknown test or bad threshold fails now
        out[str(column)] = (
            parsed.name if parsed.threshold is None else f"{parsed.name}:{parsed.threshold}"
        )
    return out


def _check_retraining(spec: MonitorSpec) -> None:
    from loopml.pipelines.runner import load_target

    for target in spec.retrain_targets:
        pipeline = load_target(target)
        if spec.retrain_data_param not in pipeline.signature.parameters:
            known = ", ".join(pipeline.signature.parameters) or "none"
            raise InvalidInputError(
                f"pipeline {target} has no parameter {spec.retrain_data_param!r} to take the "
                f"window's data (its parameters: {known}); add one, or name it with "
                "--retrain-data-param"
            )
        # unknown or missing parameters fail now, not when a window drifts
        pipeline.parameters({**spec.retrain_params, spec.retrain_data_param: "datasets:/x/1"})


def _model_ref(client: TrackingClient, deployment: str, model: str | None) -> str | None:
    from loopml.errors import DeploymentNotFoundError
    from loopml.serving.spec import normalize_model_ref

    if model is not None:
        return normalize_model_ref(model)
    try:
        record = client.stores.metadata.get_deployment(deployment)
    except DeploymentNotFoundError:
        return None
    ref = record.spec.get("model")
    return str(ref) if ref else None


def _output_reference(
    client: TrackingClient, version: Any, model_ref: str | None
) -> tuple[dict[str, Any] | None, str, str | None, str]:
    """(outputs' profile, the model version profiled, the task it implies, why none)."""
    import pyarrow as pa

    from loopml.data import DataClient
    from loopml.data.profile import as_text, profile_table
    from loopml.serving.runtime import SINGLE_OUTPUT, load_runtime, resolve, split_outputs

    if model_ref is None:
        return (
            None,
            "",
            None,
            (
                "no model to compute the reference outputs with: the deployment has no record; "
                "pass --model"
            ),
        )
    try:
        runtime = load_runtime(resolve(model_ref, client), client)
        data = DataClient(client)
        try:
            frame = data.load(version, as_="pandas")
        finally:
            data.close()
        schema = runtime.model.signature.inputs if runtime.model.signature else None
        names = getattr(schema, "names", None)
        if names:
            missing = [n for n in names if n not in frame.columns]
            if missing:
                raise InvalidInputError(
                    f"the reference has no column(s) {', '.join(missing)} the model takes"
                )
            frame = frame[list(names)]
        parts: dict[str, list[Any]] = {}
        for start in range(0, len(frame), _PREDICT_CHUNK):
            chunk = frame.iloc[start : start + _PREDICT_CHUNK]
            raw = runtime.model.predict(chunk)
            for name, values in split_outputs(raw, len(chunk), runtime.output_names).items():
                parts.setdefault(name, []).append(values)
        import numpy as np

        classifier = runtime.model.classes is not None
        columns = {}
        for name, values in parts.items():
            array = pa.array(np.concatenate(values), from_pandas=True)
            if classifier and name == SINGLE_OUTPUT:
                # classes are compared as categories: profile them with their counts
                array = as_text(pa.chunked_array([array]))
            columns[f"output.{name}"] = array
        profile = profile_table(pa.table(columns)).to_dict()
    except Exception as exc:  # the monitor is useful without it
        message = exc.message if isinstance(exc, LoopmlError) else f"{type(exc).__name__}: {exc}"
        return None, "", None, f"no reference for the outputs: {message}"
    task = "classification" if runtime.model.classes is not None else None
    return profile, runtime.resolved.label, task, ""


def create_monitor(
    name: str,
    *,
    reference: str,
    deployment: str | None = None,
    window: str | int = "1h",
    delay: str | int = "1m",
    threshold: float | str | None = None,
    drift_share: float = 0.5,
    tests: Mapping[str, Any] | None = None,
    categorical: Sequence[str] = (),
    policies: Sequence[str] = (),
    on_drift: Sequence[str] = (),
    on_quality: Sequence[str] = (),
    alerts: Sequence[str] = (),
    retrain_params: Mapping[str, Any] | None = None,
    retrain_data_param: str = "dataset",
    retrain_dataset: str = "",
    retrain_every: str | int = "24h",
    alert_every: str | int = 0,
    model: str | None = None,
    task: str | None = None,
    prediction: str = "output.prediction",
    target: str = "label",
    routes: Sequence[str] = ("primary", "canary"),
    client: TrackingClient | None = None,
) -> Monitor:
    """Create a monitor of a deployment's prediction log against a reference version.

    Args:
        name: the monitor's name.
        reference: a table dataset version (``rides@3``, ``datasets:/rides/3``; ``@latest``
            is resolved now, so every window compares against the same version).
        deployment: the deployment to watch (default: ``name``).
        window: the window length (``15m``, ``1h``, ``1d`` or seconds).
        delay: how long after a window's end it counts as complete (default 1 minute).
        threshold: significance level of the p-value drift tests (``"default"``/None: 0.05).
        drift_share: share of drifted features that is dataset drift.
        tests: per-column drift tests (``{"fare": "psi:0.2"}``).
        categorical: columns compared as categories whatever their type.
        policies: ``"CONDITION -> ACTION, …"`` (see :mod:`loopml.monitoring.spec`).
        on_drift, on_quality: actions of the built-in policies ``dataset_drift`` and
            ``quality.errors > 0``.
        alerts: targets notified of every fired policy (``webhook:URL``, ``log``).
        retrain_params: parameters of retraining pipelines besides the data.
        retrain_data_param: the pipeline parameter that receives the window's dataset URI.
        retrain_dataset: the dataset the windows are versioned as (default
            ``<name>-window``).
        retrain_every, alert_every: rate limits (at most one retraining per 24 h by
            default; alerts every window).
        model: the model whose outputs on the reference are the prediction reference
            (default: the deployment's primary model).
        task: ``classification`` or ``regression`` (default: from the model or the labels).
        prediction: the output compared with labels.
        target: the label's column name in retraining datasets.
        routes: the routes whose rows are checked.

    Raises:
        InvalidInputError: a reference that is not a table version, a bad window, test,
            policy or action, or a retraining pipeline that cannot take the data.
        DeploymentNotFoundError: no such deployment and no prediction log for it.
        AlreadyExistsError: the name is taken.
    """
    from loopml.tracking.context import current_user

    client = _client(client)
    deployment = check_deployment(client.stores, deployment or name)
    version = _reference_version(client, reference)
    built = [parse_policy(p) for p in policies]
    if on_drift:
        built.append(parse_policy("dataset_drift", on_drift))
    if on_quality:
        built.append(parse_policy("quality.errors > 0", on_quality))
    spec = _build_spec(
        built,
        deployment=deployment,
        reference=version.uri,
        window=window,
        delay=delay,
        threshold=threshold,
        drift_share=drift_share,
        tests=tests,
        categorical=categorical,
        routes=routes,
        alerts=alerts,
        retrain_params=retrain_params,
        retrain_data_param=retrain_data_param,
        retrain_dataset=retrain_dataset,
        retrain_every=retrain_every,
        alert_every=alert_every,
        task=task,
        prediction=prediction,
        target=target,
    )
    final = _with_outputs(client, name, spec, version, model)
    return client.stores.metadata.create_monitor(
        name, deployment, version.uri, final.window, final.to_dict(), current_user()
    )


def _reference_version(client: TrackingClient, reference: str) -> Any:
    """The reference's dataset version; it must be a table with a stored profile."""
    from loopml.data import DataClient, DatasetKind

    data = DataClient(client)
    try:
        version = data.get_version(reference)
    finally:
        data.close()
    if version.kind is not DatasetKind.TABLE or version.profile is None:
        raise InvalidInputError(
            f"{version.uri} holds files, not a table with a profile; a monitor's reference is "
            "a table version (lm.data.log_dataset, or `loopml data add` of a Parquet/CSV file)"
        )
    return version


def _build_spec(
    policies: Sequence[Policy],
    *,
    deployment: str,
    reference: str,
    window: str | int,
    delay: str | int,
    threshold: float | str | None,
    drift_share: float,
    tests: Mapping[str, Any] | None,
    categorical: Sequence[str],
    routes: Sequence[str],
    alerts: Sequence[str | ActionSpec],
    retrain_params: Mapping[str, Any] | None,
    retrain_data_param: str,
    retrain_dataset: str,
    retrain_every: str | int,
    alert_every: str | int,
    task: str | None,
    prediction: str,
    target: str,
) -> MonitorSpec:
    """A spec from what the user gives, with every check a monitor's settings get (both
    create and update come through here)."""
    alpha = 0.05 if threshold is None or threshold == "default" else float(threshold)
    spec = MonitorSpec.build(
        policies,
        deployment=deployment,
        reference=reference,
        window=parse_duration(window, "the window"),
        delay=parse_duration(delay, "the delay"),
        threshold=alpha,
        drift_share=float(drift_share),
        tests=_check_tests(tests),
        categorical=tuple(categorical),
        routes=tuple(routes),
        alerts=tuple(parse_action(a) for a in alerts),
        retrain_params=dict(retrain_params or {}),
        retrain_data_param=retrain_data_param,
        retrain_dataset=retrain_dataset,
        retrain_every=parse_duration(retrain_every, "retrain_every"),
        alert_every=parse_duration(alert_every, "alert_every"),
        task=task,
        prediction=prediction,
        target=target,
    )
    if spec.window < 1:
        raise InvalidInputError("the window must be at least one second")
    if retrain_dataset:
        from loopml.storage.metadata.datasets_base import check_dataset_name

        check_dataset_name(retrain_dataset)
    _check_retraining(spec)
    return spec


def _with_outputs(
    client: TrackingClient,
    name: str,
    spec: MonitorSpec,
    version: Any,
    model: str | None,
    required: bool = False,
) -> MonitorSpec:
    """``spec`` with the outputs' reference: ``model``'s (default: the deployment's primary)
    outputs on the reference rows. Without one the monitor says why, unless ``required``."""
    model_ref = _model_ref(client, spec.deployment, model)
    profile, profiled, model_task, note = _output_reference(client, version, model_ref)
    if note and required:
        raise InvalidInputError(f"{note}; nothing was changed")
    if note:
        log.warning("monitor %s: %s", name, note)
    return _outputs_applied(
        spec,
        {
            "model": profiled or model_ref,
            "output_profile": profile,
            "output_note": note,
            "pinned_model": model or None,
            "model_task": model_task,
        },
    )


def _outputs_applied(spec: MonitorSpec, outputs: Mapping[str, Any]) -> MonitorSpec:
    """``spec`` with an outputs' reference; a classifier's prediction is a category, and
    its task is classification, unless the user said otherwise."""
    model_task = outputs.get("model_task")
    categorical = tuple(spec.categorical)
    if model_task == "classification" and spec.prediction not in categorical:
        categorical += (spec.prediction,)
    return MonitorSpec.from_dict(
        {
            **spec.to_dict(),
            **outputs,
            "task": spec.task or model_task,
            "categorical": list(categorical),
        }
    )


def get_monitor(name: str, client: TrackingClient | None = None) -> Monitor:
    """One monitor (``MonitorNotFoundError`` when there is none)."""
    return _client(client).stores.metadata.get_monitor(name)


def list_monitors(client: TrackingClient | None = None) -> list[Monitor]:
    """Every monitor, by name."""
    return _client(client).stores.metadata.list_monitors()


def delete_monitor(name: str, client: TrackingClient | None = None) -> None:
    """Delete a monitor with its stored results and actions (its check runs stay)."""
    _client(client).stores.metadata.delete_monitor(name)
