"""One point-in-time join in a fresh process; prints one JSON line.

    python _features_worker.py loopml STORE DATA_DIR OUT.parquet
    python _features_worker.py feast --apply REPO DATA_DIR
    python _features_worker.py feast REPO DATA_DIR OUT.parquet

loopml runs in the project's .venv; Feast in its own venv (benchmarks/.venvs/feast).
DATA_DIR holds ``entities.parquet``, ``driver_stats.parquet`` and ``driver_activity.parquet``
and ``spec.json`` (the column names and the ttl). The clock runs from reading the entities'
Parquet file to the joined pandas DataFrame in memory; the feature tables are read inside
it too (loopml: its two table versions out of the store; Feast: its two ``FileSource``
files). Modules are imported and the stores opened before the clock starts. The result is
written to OUT.parquet after the clock stops, for the driver to compare. ``--apply`` is
Feast's set-up (``feast apply`` of the entity and the two feature views), run once per size.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ENTITIES = "entities.parquet"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _spec(data: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((data / "spec.json").read_text())
    return spec


def loopml_join(store: str, data: Path, out: str) -> dict[str, Any]:
    import pandas  # noqa: F401

    import loopml as lm
    import loopml.data.features

    lm.set_tracking_uri(store)
    spec = _spec(data)
    lm.data.get_version("driver_stats@1")  # opens the store before the clock starts
    started, cpu = time.perf_counter(), time.process_time()
    # one ttl per call: the table with a ttl first, then the one without onto its result
    keys = {"on": "driver_id", "timestamp": "event_timestamp", "feature_timestamp": "updated_at"}
    frame = lm.data.join_features(
        str(data / ENTITIES), {"driver_stats@1": spec["stats"]}, ttl=spec["ttl_s"], **keys
    )
    frame = lm.data.join_features(frame, {"driver_activity@1": spec["activity"]}, **keys)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _peak_mb()
    frame.to_parquet(out)
    return {"seconds": seconds, "cpu_s": cpu, "peak_mb": peak, "rows": len(frame)}


def _feast_objects(data: Path) -> list[Any]:
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    spec = _spec(data)
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)

    def view(name: str, columns: list[str], ttl: timedelta) -> Any:
        source = FileSource(
            name=f"{name}_source", path=str(data / f"{name}.parquet"), timestamp_field="updated_at"
        )
        kinds = spec["kinds"]
        schema = [Field(name=c, dtype=Float64 if kinds[c] == "float" else Int64) for c in columns]
        return FeatureView(
            name=name, entities=[driver], ttl=ttl, schema=schema, source=source, online=False
        )

    # ttl=0 is Feast's "no limit", loopml's ttl=None
    stats = view("driver_stats", spec["stats"], timedelta(seconds=spec["ttl_s"]))
    activity = view("driver_activity", spec["activity"], timedelta(0))
    return [driver, stats, activity]


def feast_apply(repo: Path, data: Path) -> dict[str, Any]:
    from feast import FeatureStore

    repo.mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        "project: bench\n"
        f"registry: {repo / 'registry.db'}\n"
        "provider: local\n"
        "offline_store:\n  type: file\n"
        f"online_store:\n  type: sqlite\n  path: {repo / 'online.db'}\n"
        "entity_key_serialization_version: 3\n"
    )
    store = FeatureStore(repo_path=str(repo))
    store.apply(_feast_objects(data))
    return {"applied": [v.name for v in store.list_feature_views()]}


def feast_join(repo: Path, data: Path, out: str) -> dict[str, Any]:
    import pandas as pd
    from feast import FeatureStore

    spec = _spec(data)
    store = FeatureStore(repo_path=str(repo))
    features = [f"driver_stats:{c}" for c in spec["stats"]]
    features += [f"driver_activity:{c}" for c in spec["activity"]]
    store.list_feature_views()  # the registry read before the clock starts
    started, cpu = time.perf_counter(), time.process_time()
    entities = pd.read_parquet(data / ENTITIES)
    frame = store.get_historical_features(entity_df=entities, features=features).to_df()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _peak_mb()
    frame.to_parquet(out)
    return {"seconds": seconds, "cpu_s": cpu, "peak_mb": peak, "rows": len(frame)}


def main() -> None:
    tool = sys.argv[1]
    if tool == "feast" and sys.argv[2] == "--apply":
        print(json.dumps(feast_apply(Path(sys.argv[3]), Path(sys.argv[4]))))
        return
    where, data, out = sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    result = (
        loopml_join(where, data, out) if tool == "loopml" else feast_join(Path(where), data, out)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
