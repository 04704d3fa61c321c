"""The demo behind `loopml demo`: the loop, end to end, on a small synthetic dataset.

The data and model cycles: make ride-fare data and version it, train gradient-boosted
models over a small grid, track every run (params, per-iteration validation curve, metrics,
a residual plot, the feature list, a data sample, the packaged model with its signature),
pick the best run by a search, register its model, approve it, make it the ``champion``
(the runner-up becomes the ``challenger``), load the champion back by its alias, evaluate
it by slice and gate the runner-up against it.

The operations cycle (:mod:`loopml.demo.operations`): serve the champion, log every
prediction, monitor two windows of traffic against the training data, detect the drift of
the second, retrain on it, gate the new version and route a canary share to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import ConfigurationError

if TYPE_CHECKING:
    from loopml.demo.operations import OperationsResult

__all__ = ["DEMO_DATASET", "DEMO_EXPERIMENT", "DEMO_MODEL", "DemoResult", "make_rides", "run_demo"]

DEMO_EXPERIMENT = "loopml-demo"
DEMO_MODEL = "ride-fares"
DEMO_DATASET = "rides"
GRID: tuple[dict[str, float | int], ...] = (
    {"learning_rate": 0.3, "max_depth": 2, "n_estimators": 60},
    {"learning_rate": 0.1, "max_depth": 3, "n_estimators": 120},
    {"learning_rate": 0.05, "max_depth": 4, "n_estimators": 200},
    {"learning_rate": 0.1, "max_depth": 6, "n_estimators": 120},
)
FEATURES = ["distance_km", "hour", "passengers", "is_airport", "surge"]


@dataclass
class DemoResult:
    """What the demo did: the experiment, every run id, and the best run by validation RMSE."""

    experiment_id: str
    run_ids: list[str] = field(default_factory=list)
    best_run_id: str = ""
    best_rmse: float = float("nan")
    model_name: str = DEMO_MODEL
    champion_version: int = 0
    challenger_version: int | None = None
    champion_rmse: float = float("nan")  # recomputed from the model loaded by its alias
    dataset_uri: str = ""  # the training data's version
    new_day_errors: int = 0  # anomalies found in a later day of data, against that version
    new_day_warnings: int = 0
    evaluation_run_id: str = ""  # the champion evaluated on the held-out data, by slice
    challenger_gate_passed: bool | None = None  # the runner-up gated against the champion
    operations: OperationsResult | None = None  # serving, monitoring, retraining


def make_rides(n: int = 4000, seed: int = 7) -> Any:
    """A synthetic ride-fare table (pandas): fare depends on distance, hour, airport, surge."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    distance = rng.gamma(2.0, 3.0, n)
    hour = rng.integers(0, 24, n)
    passengers = rng.integers(1, 5, n)
    airport = rng.random(n) < 0.12
    surge = np.round(1 + rng.exponential(0.15, n) * (np.abs(hour - 18) < 3), 2)
    fare = (3.0 + 1.6 * distance + 7.5 * airport + 0.4 * passengers) * surge
    fare += rng.normal(0, 1.5, n) + 2.0 * np.sin(hour / 24 * 2 * np.pi)
    return pd.DataFrame(
        {
            "distance_km": distance.round(2),
            "hour": hour,
            "passengers": passengers,
            "is_airport": airport.astype(int),
            "surge": surge,
            "fare": fare.round(2),
        }
    )


def _require_demo_libraries() -> None:
    import importlib.util

    missing = [
        m
        for m in ("numpy", "pandas", "sklearn", "matplotlib", "pyarrow", "scipy", "orjson")
        if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise ConfigurationError(
            f"the demo needs {', '.join(missing)}: pip install 'loopml[demo]' (or `make demo`)"
        )


def _residual_figure(y_true: Any, y_pred: Any, title: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    ax.scatter(y_pred, y_true - y_pred, s=4, alpha=0.4)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("predicted fare")
    ax.set_ylabel("residual")
    ax.set_title(title)
    return fig


def run_demo(
    tracking_uri: str | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    operations: bool = True,
) -> DemoResult:
    """Run the demo's loop; returns what it made.

    Args:
        tracking_uri: where to track (default: the settings, i.e. ./.loopml).
        on_progress: called as (stage description, done, total) for a progress bar.
        operations: also serve, monitor and retrain (the operations cycle).
    """
    _require_demo_libraries()
    import numpy as np
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import train_test_split

    import loopml as lm

    if tracking_uri:
        lm.set_tracking_uri(tracking_uri)
    lm.seed(7)
    rides = make_rides()
    x_train, x_val, y_train, y_val = train_test_split(
        rides[FEATURES], rides["fare"], test_size=0.25, random_state=7
    )
    exp = lm.set_experiment(DEMO_EXPERIMENT)
    result = DemoResult(exp.experiment_id)
    # The training data becomes a dataset version (Parquet + schema + profile), and every
    # run records that it read it.
    data = lm.data.log_dataset(DEMO_DATASET, rides, description="synthetic ride fares")
    result.dataset_uri = data.uri
    total = len(GRID) + (2 if operations else 1)
    for i, params in enumerate(GRID):
        name = f"gbm-lr{params['learning_rate']}-d{params['max_depth']}"
        if on_progress:
            on_progress(f"training {name}", i, total)
        with lm.start_run(
            run_name=name, tags={"team": "pricing", "model": "GradientBoostingRegressor"}
        ) as run:
            lm.log_params(params)
            lm.log_input(data, context="training")
            lm.log_dict({"features": FEATURES, "target": "fare"}, "features.json")
            model = GradientBoostingRegressor(random_state=7, **params).fit(x_train, y_train)
            for step, pred in enumerate(model.staged_predict(x_val)):
                lm.log_metric("val_rmse", float(np.sqrt(np.mean((y_val - pred) ** 2))), step=step)
            pred = model.predict(x_val)
            rmse = float(np.sqrt(np.mean((y_val - pred) ** 2)))
            lm.log_metrics(
                {
                    "rmse": rmse,
                    "mae": float(mean_absolute_error(y_val, pred)),
                    "r2": float(r2_score(y_val, pred)),
                }
            )
            lm.log_figure(_residual_figure(y_val.to_numpy(), pred, name), "plots/residuals.png")
            lm.log_table(
                x_val.assign(fare=y_val, predicted=pred).head(200), "data/validation_sample.parquet"
            )
            lm.models.log_model(model, "model", input_example=x_train.head(5))
            result.run_ids.append(run.run_id)
    if on_progress:
        on_progress("registering the best model", len(GRID), total)
    ranked = lm.search_runs(
        DEMO_EXPERIMENT,
        filter=f"attributes.run_id IN ({', '.join(repr(r) for r in result.run_ids)})",
        order_by=["metrics.rmse ASC"],
        max_results=2,
    )
    best = ranked[0]
    result.best_run_id = best.info.run_id
    result.best_rmse = best.data.metrics["rmse"]
    _promote(result, ranked, x_val, y_val)
    # The champion evaluated on the held-out rows (a dataset version of their own), by slice;
    # then the runner-up gated against it: it must not be worse, so it fails the gate.
    holdout = lm.data.log_dataset(f"{DEMO_DATASET}-holdout", x_val.assign(fare=y_val))
    champion_uri = f"models:/{result.model_name}@champion"
    evaluation = lm.evaluate(
        champion_uri, holdout, target="fare", task="regression", slices=["is_airport", "passengers"]
    )
    result.evaluation_run_id = evaluation.run_id or ""
    if result.challenger_version is not None:
        verdict = lm.gate(
            f"models:/{result.model_name}/{result.challenger_version}",
            against=champion_uri,
            policy={"rmse": {"max_relative_increase": 0.0}, "slices.is_airport.rmse": {"max": 5.0}},
            data=holdout,
            target="fare",
            task="regression",
        )
        result.challenger_gate_passed = verdict.passed
    # A later day: more airport rides and a surge the training data never saw.
    later = make_rides(800, seed=8)
    later["surge"] = later["surge"] * 1.8
    report = lm.data.validate(later, data)
    result.new_day_errors, result.new_day_warnings = len(report.errors), len(report.warnings)
    if operations:
        from loopml.demo.operations import run_operations

        def stage(text: str) -> None:
            if on_progress:
                on_progress(text, total - 1, total)

        result.operations = run_operations(result.model_name, data.uri, _report_dir(), stage)
    if on_progress:
        on_progress("done", total, total)
    return result


def _report_dir() -> Path:
    """Where the demo writes its HTML report: the store's folder, when it is one."""
    from loopml.storage.metadata import is_folder_uri
    from loopml.tracking.fluent import get_tracking_uri

    uri = get_tracking_uri()
    folder = uri[len("file://") :] if uri.startswith("file://") else uri
    return Path(folder) if is_folder_uri(uri) else Path.cwd()


def _promote(result: DemoResult, ranked: Any, x_val: Any, y_val: Any) -> None:
    """Register the two best models, approve the best as champion, and load it back."""
    import numpy as np

    import loopml as lm

    best, runner_up = ranked[0], ranked[1] if len(ranked) > 1 else None
    if runner_up is not None:
        challenger = lm.registry.register(
            f"runs:/{runner_up.info.run_id}/model",
            result.model_name,
            description="Runner-up of the demo grid.",
        )
        lm.registry.set_alias(result.model_name, "challenger", challenger.version)
        result.challenger_version = challenger.version
    champion = lm.registry.register(
        f"runs:/{best.info.run_id}/model",
        result.model_name,
        description="Best validation RMSE of the demo grid.",
    )
    lm.registry.approve(
        result.model_name,
        champion.version,
        comment=f"lowest validation RMSE in the grid ({result.best_rmse:.3f})",
    )
    lm.registry.set_alias(result.model_name, "champion", champion.version)
    result.champion_version = champion.version
    loaded = lm.models.load(f"models:/{result.model_name}@champion")
    pred = np.asarray(loaded.predict(x_val), dtype=float).reshape(-1)
    result.champion_rmse = float(np.sqrt(np.mean((y_val.to_numpy() - pred) ** 2)))
