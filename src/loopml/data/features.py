"""Point-in-time joins: the feature values each event could have seen, and no later ones.

::

    training = lm.data.join_features(
        "labels@4",                                   # entities: keys, event time, label
        ["driver_stats@12", "trip_stats@3"],          # feature tables (dataset versions)
        on="driver_id", timestamp="event_time", feature_timestamp="updated_at", ttl="7d",
    )

For every entity row, each feature table contributes its row with the same key whose
feature timestamp is the latest at or before the event's timestamp (and, with ``ttl``, not
older than that). Rows from the future never leak in; an entity row without such a row gets
nulls. The result has the entity rows in their order, their columns, then the feature
columns. Timestamps without a time zone are read as UTC.

Inside an active run the join records its inputs: the feature versions (role
``features``) and, when the entities are a dataset version, that too (``entities``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.entities import DatasetVersion
from loopml.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

    from loopml.data.client import DataClient

__all__ = ["FeatureJoin", "join_features", "save_join"]

log = logging.getLogger("loopml.data")

_ROW = "__loopml_row"
_TS = "__loopml_ts"
_HIT = "__loopml_hit"
FeatureRefs = Sequence[str | DatasetVersion] | Mapping[str | DatasetVersion, Sequence[str] | None]


@dataclass
class FeatureJoin:
    """A join's result and what it matched.

    Attributes:
        frame: the joined table (pandas).
        matched: per feature version URI, how many entity rows found a value.
        duplicates: per feature version URI, rows dropped because another row had the same
            key and timestamp (the last one in the table was kept).
        entities: the entities' dataset version, when they were one.
        features: the feature versions read, in order.
    """

    frame: pd.DataFrame
    matched: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    entities: DatasetVersion | None = None
    features: list[DatasetVersion] = field(default_factory=list)


def _ttl(value: Any) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        from loopml.entities.validation import parse_duration

        seconds = parse_duration(value, "ttl")
    if seconds <= 0:
        raise InvalidInputError(f"ttl must be a positive duration such as 1h or 7d, not {value!r}")
    return timedelta(seconds=seconds)


Duration = str | int | timedelta


def _windows(
    ttl: Duration | Mapping[str, Duration] | None,
) -> timedelta | dict[str, timedelta] | None:
    """The ttl for every table, or per table (by dataset name, or the reference as given)."""
    if ttl is None:
        return None
    if isinstance(ttl, Mapping):
        out = {}
        for key, value in ttl.items():
            if not isinstance(key, str) or not key:
                raise InvalidInputError(f"ttl keys are dataset names, not {key!r}")
            window = _ttl(value)
            if window is not None:
                out[key] = window
        return out
    return _ttl(ttl)


def _window_for(
    windows: timedelta | dict[str, timedelta] | None,
    ref: str | DatasetVersion,
    version: DatasetVersion,
    used: set[str],
) -> timedelta | None:
    if not isinstance(windows, dict):
        return windows
    names = [ref] if isinstance(ref, str) else []
    names += [version.name, version.uri, f"{version.name}@{version.version}"]
    for name in names:
        if name in windows:
            used.add(name)
            return windows[name]
    return None


def _keys(on: str | Sequence[str]) -> list[str]:
    keys = [on] if isinstance(on, str) else list(on)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise InvalidInputError("on must name the key column(s) shared by entities and features")
    if len(set(keys)) != len(keys):
        raise InvalidInputError(f"on names a column twice: {keys}")
    return keys


def _frame(data: Any, data_client: DataClient) -> tuple[pd.DataFrame, DatasetVersion | None]:
    """A pandas frame of the entities: a table object, a Parquet/CSV path, or a version."""
    from loopml.data.tables import convert, read_table, to_arrow

    if isinstance(data, DatasetVersion):
        return data_client.load(data, as_="pandas"), data
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if os.path.isfile(path):
            if not path.lower().endswith((".parquet", ".pq", ".csv")):
                raise InvalidInputError(f"{path} is not a Parquet or CSV file")
            return convert(read_table([(path, path)]), "pandas"), None
        version = data_client.get_version(path)
        return data_client.load(version, as_="pandas"), version
    return convert(to_arrow(data), "pandas"), None


def _timestamps(frame: pd.DataFrame, column: str, where: str) -> pd.Series:
    import pandas as pd

    if column not in frame.columns:
        raise InvalidInputError(
            f"{where} has no timestamp column {column!r}; its columns: "
            f"{', '.join(map(str, frame.columns))}"
        )
    raw = frame[column]
    text = pd.api.types.is_object_dtype(raw) or pd.api.types.is_string_dtype(raw)
    try:  # text must be ISO-8601: other formats are ambiguous (is 03/04 March or April?)
        values = pd.to_datetime(raw, utc=True, format="ISO8601" if text else None)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"{where}: column {column!r} does not hold timestamps (text must be ISO-8601, "
            f"such as 2026-11-01T09:30:00Z): {exc}"
        ) from exc
    missing = int(values.isna().sum())
    if missing:
        raise InvalidInputError(
            f"{where}: {missing:,} row(s) have no {column!r}; a point-in-time join needs a "
            "timestamp on every row (drop or fill them first)"
        )
    return values


def _check_keys(frame: pd.DataFrame, keys: list[str], where: str) -> None:
    absent = [k for k in keys if k not in frame.columns]
    if absent:
        raise InvalidInputError(
            f"{where} has no key column(s) {', '.join(map(repr, absent))}; its columns: "
            f"{', '.join(map(str, frame.columns))}"
        )


def _kind(series: pd.Series) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "timestamp"
    return "text"


def _feature_refs(features: FeatureRefs) -> list[tuple[str | DatasetVersion, list[str] | None]]:
    if isinstance(features, (str, DatasetVersion)):
        features = [features]
    if isinstance(features, Mapping):
        out: list[tuple[str | DatasetVersion, list[str] | None]] = []
        for ref, columns in features.items():
            if columns is not None and (isinstance(columns, str) or not columns):
                raise InvalidInputError(
                    f"the columns of {ref} must be a non-empty list of names (or None for all)"
                )
            out.append((ref, None if columns is None else list(columns)))
        items = out
    else:
        items = [(ref, None) for ref in features]
    if not items:
        raise InvalidInputError("name at least one feature table (a dataset version)")
    return items


def point_in_time_join(
    entities: Any,
    features: FeatureRefs,
    *,
    on: str | Sequence[str],
    timestamp: str = "event_timestamp",
    feature_timestamp: str | None = None,
    ttl: Duration | Mapping[str, Duration] | None = None,
    prefix: bool = False,
    data_client: DataClient,
) -> FeatureJoin:
    """The join with its counts (see :func:`join_features`); inside an active run, the
    versions read are recorded as its inputs."""
    import pandas as pd

    keys = _keys(on)
    refs = _feature_refs(features)
    windows = _windows(ttl)
    used: set[str] = set()
    left, entity_version = _frame(entities, data_client)
    where = entity_version.uri if entity_version else "the entities"
    _check_keys(left, keys, where)
    if _ROW in left.columns or _TS in left.columns:
        raise InvalidInputError(f"the entities use a reserved column name ({_ROW} or {_TS})")
    result = FeatureJoin(left, entities=entity_version)
    left = left.copy()
    left[_ROW] = range(len(left))
    left[_TS] = _timestamps(left, timestamp, where)
    left = left.sort_values(_TS, kind="stable")
    taken = set(left.columns)
    feature_ts = feature_timestamp or timestamp
    for ref, wanted in refs:
        version = data_client.get_version(ref)
        window = _window_for(windows, ref, version, used)
        result.features.append(version)
        right = data_client.load(version, as_="pandas")
        _check_keys(right, keys, version.uri)
        stamps = _timestamps(right, feature_ts, version.uri)
        for key in keys:
            lk, rk = _kind(left[key]), _kind(right[key])
            if lk != rk and {lk, rk} != {"integer", "float"}:
                raise InvalidInputError(
                    f"key {key!r} is {lk} in {where} but {rk} in {version.uri}; cast one so "
                    "they compare"
                )
        available = [c for c in right.columns if c not in keys and c != feature_ts]
        columns = available if wanted is None else wanted
        absent = [c for c in columns if c not in right.columns]
        if absent:
            raise InvalidInputError(
                f"{version.uri} has no column(s) {', '.join(map(repr, absent))}; it has "
                f"{', '.join(map(str, available))}"
            )
        bad = [c for c in columns if c in keys or c == feature_ts]
        if bad:
            raise InvalidInputError(
                f"{', '.join(map(repr, bad))} of {version.uri} is a key or its timestamp, "
                "not a feature"
            )
        names = {c: f"{version.name}__{c}" if prefix else c for c in columns}
        clash = sorted(n for n in names.values() if n in taken)
        if clash:
            raise InvalidInputError(
                f"{version.uri} would add column(s) {', '.join(map(repr, clash))} the result "
                "already has; pick columns, or pass prefix=True (--prefix) to name them "
                "<dataset>__<column>"
            )
        taken.update(names.values())
        right = right[keys + columns].rename(columns=names)
        right[_TS] = stamps
        right[_HIT] = True
        before = len(right)
        right = right.drop_duplicates(subset=[*keys, _TS], keep="last")
        dropped = before - len(right)
        result.duplicates[version.uri] = dropped
        if dropped:
            log.warning(
                "%s: %d row(s) share a key and timestamp with a later row; the last was kept",
                version.uri,
                dropped,
            )
        right = right.sort_values(_TS, kind="stable")
        for key in keys:  # merge_asof needs the same dtype on both sides
            if left[key].dtype != right[key].dtype:
                common = "float64" if _kind(left[key]) != "text" else object
                left[key] = left[key].astype(common)
                right[key] = right[key].astype(common)
        try:
            left = pd.merge_asof(
                left,
                right,
                on=_TS,
                by=keys,
                direction="backward",
                allow_exact_matches=True,
                tolerance=pd.Timedelta(window) if window else None,
            )
        except (ValueError, TypeError) as exc:  # e.g. keys pandas cannot compare
            raise InvalidInputError(f"cannot join {version.uri} on {keys}: {exc}") from exc
        hit = left[_HIT].notna() & left[_HIT].astype("boolean").fillna(False)
        for key in keys:  # a null key matches nothing
            hit &= left[key].notna()
        left.loc[~hit, list(names.values())] = None
        result.matched[version.uri] = int(hit.sum())
        left = left.drop(columns=[_HIT])
    if isinstance(windows, dict) and set(windows) - used:
        raise InvalidInputError(
            f"ttl names {', '.join(sorted(set(windows) - used))}, which is none of the feature "
            f"tables ({', '.join(v.name for v in result.features)}); key it by dataset name"
        )
    left = left.sort_values(_ROW).drop(columns=[_ROW, _TS]).reset_index(drop=True)
    result.frame = left
    _record_inputs(data_client, result)
    return result


def join_features(
    entities: Any,
    features: FeatureRefs,
    *,
    on: str | Sequence[str],
    timestamp: str = "event_timestamp",
    feature_timestamp: str | None = None,
    ttl: Duration | Mapping[str, Duration] | None = None,
    prefix: bool = False,
    data_client: DataClient | None = None,
) -> pd.DataFrame:
    """Point-in-time join of feature tables onto entity rows (no future values leak in).

    Args:
        entities: the rows to add features to: a pandas/polars DataFrame, an Arrow table, a
            Parquet or CSV path, or a table dataset version (``labels@4``). They need the
            key column(s) and ``timestamp``.
        features: table dataset versions (``["driver_stats@12"]``), or a mapping of
            version to the columns to take from it (``{"driver_stats@12": ["conv_rate"]}``;
            None takes every column but the keys and the timestamp).
        on: the key column(s), in the entities and in every feature table.
        timestamp: the entities' event time column.
        feature_timestamp: the feature tables' time column (default: ``timestamp``).
        ttl: how old a feature value may be at the event (``"7d"``, seconds, a timedelta);
            older values count as missing. None: any age. A mapping gives each table its
            own, keyed by dataset name (``{"driver_stats": "7d"}``); tables it does not
            name have none.
        prefix: name feature columns ``<dataset>__<column>`` (for tables sharing names).

    Returns:
        The entities, in their order, with the feature columns added.

    Raises:
        InvalidInputError: a missing key, timestamp or feature column, rows without a
            timestamp, keys of types that do not compare, column names that clash, a bad ttl.
        DatasetVersionNotFoundError: a version that does not exist.
    """
    from loopml.data.client import DataClient

    own = data_client is None
    client = data_client or DataClient()
    try:
        joined = point_in_time_join(
            entities,
            features,
            on=on,
            timestamp=timestamp,
            feature_timestamp=feature_timestamp,
            ttl=ttl,
            prefix=prefix,
            data_client=client,
        )
    finally:
        if own:
            client.close()
    return joined.frame


def _record_inputs(client: DataClient, joined: FeatureJoin) -> None:
    """Lineage of the active run, if there is one: what the join read."""
    from loopml.entities import LineageDirection, LineageEdge
    from loopml.tracking.fluent import active_run_id

    run = active_run_id()
    if run is None:
        return
    roles = [(joined.entities, "entities")] if joined.entities else []
    roles += [(version, "features") for version in joined.features]
    edges = [LineageEdge(run, v.uri, LineageDirection.INPUT, role) for v, role in roles if v]
    client.store.log_lineage(run, edges)


def save_join(
    entities: Any,
    features: FeatureRefs,
    *,
    output: str | os.PathLike[str] | None = None,
    log_as: str | None = None,
    data_client: DataClient,
    **join: Any,
) -> tuple[FeatureJoin, DatasetVersion | None]:
    """The join (``join`` holds :func:`join_features`' keyword arguments), written to a
    Parquet or CSV file and/or versioned as the dataset ``log_as``, in a run of its own that
    records the inputs and the new version as its output (what ``loopml data join`` does).

    Raises:
        InvalidInputError: neither ``output`` nor ``log_as``, an output that is not .parquet
            or .csv or cannot be written (nothing is left under its name), and the join's
            own errors.
    """
    from loopml.storage.metadata.datasets_base import check_dataset_name
    from loopml.tracking.fluent import start_run

    if output is None and log_as is None:
        raise InvalidInputError("say where the result goes: an output file and/or a dataset")
    target = Path(output) if output is not None else None
    if target is not None and target.suffix.lower() not in (".parquet", ".csv"):
        raise InvalidInputError(f"the output must end in .parquet or .csv, not {target.name!r}")
    version = None
    if log_as is not None:
        check_dataset_name(log_as)
        with start_run(run_name=f"join {log_as}"):
            joined = point_in_time_join(entities, features, data_client=data_client, **join)
            version = data_client.log_dataset(log_as, joined.frame)
    else:
        joined = point_in_time_join(entities, features, data_client=data_client, **join)
    if target is not None:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            if target.suffix.lower() == ".csv":
                joined.frame.to_csv(tmp, index=False)
            else:
                joined.frame.to_parquet(tmp, index=False)
            os.replace(tmp, target)
        except OSError as exc:
            raise InvalidInputError(f"cannot write {target}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
    return joined, version
