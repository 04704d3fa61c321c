"""Point-in-time joins: the values each event could have seen, never later ones; checked
against a plain-Python reference, with keys, time zones, ttl, bad input, lineage, the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml as lm
from loopml.cli.main import main
from loopml.errors import DatasetNotFoundError, InvalidInputError

T0 = pd.Timestamp("2026-11-01", tz="UTC")


def _stats(n: int, seed: int, drivers: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    minutes = rng.integers(0, 10_000, n)
    return pd.DataFrame(
        {
            "driver_id": rng.integers(0, drivers, n),
            "updated_at": T0 + pd.to_timedelta(minutes, unit="min"),
            "conv_rate": rng.random(n).round(4),
            "trips": rng.integers(0, 100, n),
        }
    )


def _events(n: int, seed: int, drivers: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    minutes = rng.integers(-500, 10_500, n)
    return pd.DataFrame(
        {
            "driver_id": rng.integers(0, drivers, n),  # ids 8, 9 have no stats at all
            "event_time": T0 + pd.to_timedelta(minutes, unit="min"),
            "label": rng.integers(0, 2, n),
        }
    )


def _reference(
    events: pd.DataFrame, stats: pd.DataFrame, ttl: timedelta | None
) -> list[tuple[float | None, float | None]]:
    """For each event, by brute force: the last stats row of its driver at or before it."""
    out: list[tuple[float | None, float | None]] = []
    rows = list(stats.itertuples(index=False))
    for event in events.itertuples(index=False):
        best = None
        for row in rows:  # later rows win ties: the last one in the table is kept
            if row.driver_id != event.driver_id or row.updated_at > event.event_time:
                continue
            if ttl is not None and event.event_time - row.updated_at > ttl:
                continue
            if best is None or row.updated_at >= best.updated_at:
                best = row
        out.append((None, None) if best is None else (best.conv_rate, float(best.trips)))
    return out


@pytest.mark.parametrize(("seed", "ttl"), [(1, None), (2, timedelta(hours=12)), (3, "2d")])
def test_the_join_matches_a_brute_force_reference(seed: int, ttl: timedelta | str | None) -> None:
    stats = _stats(400, seed)
    stats = pd.concat([stats, stats.iloc[:5].assign(conv_rate=0.5)])  # same key and time
    events = _events(300, seed + 10)
    version = lm.data.log_dataset("driver_stats", stats)

    joined = lm.data.join_features(
        events, [version], on="driver_id", timestamp="event_time",
        feature_timestamp="updated_at", ttl=ttl,
    )  # fmt: skip

    window = timedelta(days=2) if ttl == "2d" else ttl  # type: ignore[assignment]
    expected = _reference(events, stats, window)
    assert list(joined.columns) == ["driver_id", "event_time", "label", "conv_rate", "trips"]
    pd.testing.assert_frame_equal(joined[["driver_id", "event_time", "label"]], events)
    got = [
        (None if pd.isna(c) else c, None if pd.isna(t) else float(t))
        for c, t in zip(joined["conv_rate"], joined["trips"], strict=True)
    ]
    assert got == expected
    assert sum(c is not None for c, _ in expected) > 100  # the case is not trivial


def test_no_value_from_the_future_and_exact_times_count() -> None:
    stats = pd.DataFrame(
        {
            "driver_id": [1, 1, 1],
            "updated_at": [T0, T0 + pd.Timedelta(hours=1), T0 + pd.Timedelta(hours=2)],
            "conv_rate": [0.1, 0.2, 0.3],
        }
    )
    lm.data.log_dataset("stats", stats)
    just_before = T0 + pd.Timedelta(hours=2) - pd.Timedelta(microseconds=1)
    events = pd.DataFrame(
        {
            "driver_id": [1, 1, 1, 1],
            "event_timestamp": [T0 - pd.Timedelta(seconds=1), T0 + pd.Timedelta(hours=1),
                                just_before, T0 + pd.Timedelta(days=9)],
            "updated_at": ["kept", "as", "it", "was"],  # an entity column named like theirs
        }
    )  # fmt: skip
    joined = lm.data.join_features(
        events, {"stats@1": ["conv_rate"]}, on="driver_id", feature_timestamp="updated_at"
    )
    assert joined["conv_rate"].tolist()[1:] == [0.2, 0.2, 0.3]
    assert pd.isna(joined["conv_rate"].iloc[0])  # before any value existed
    assert joined["updated_at"].tolist() == ["kept", "as", "it", "was"]
    late = lm.data.join_features(
        events, ["stats@1"], on="driver_id", feature_timestamp="updated_at", ttl="1d"
    )
    assert pd.isna(late["conv_rate"].iloc[3])  # nine days old is past the ttl


def test_rows_at_one_time_are_dropped_only_when_they_share_the_key_too() -> None:
    from loopml.data.client import DataClient
    from loopml.data.features import point_in_time_join

    at = T0 + pd.Timedelta(hours=1)
    stats = pd.DataFrame(
        {
            "driver_id": [2, 1, 2, 3, 1, 2],
            "updated_at": [at, at, T0, at, T0, at],  # driver 2 twice at `at`: the last wins
            "conv_rate": [0.21, 0.1, 0.2, 0.3, 0.0, 0.22],
        }
    )
    lm.data.log_dataset("stats", stats)
    events = pd.DataFrame(
        {"driver_id": [3, 2, 1, 2], "event_timestamp": [at, at, at, T0]},
        index=[10, 7, 5, 1],  # not a range: the result's rows follow the frame's order
    )
    before = events.copy()
    client = DataClient()
    try:
        joined = point_in_time_join(
            events, ["stats@1"], on="driver_id", feature_timestamp="updated_at", data_client=client
        )
    finally:
        client.close()
    assert joined.frame["conv_rate"].tolist() == [0.3, 0.22, 0.1, 0.2]
    assert joined.frame["driver_id"].tolist() == [3, 2, 1, 2]
    assert next(iter(joined.duplicates.values())) == 1
    assert next(iter(joined.matched.values())) == 4
    pd.testing.assert_frame_equal(events, before)  # the caller's frame is left alone


def test_several_keys_tables_time_zones_and_prefixes() -> None:
    paris = "Europe/Paris"
    zones = pd.DataFrame(
        {
            "city": ["paris", "paris", "lyon"],
            "zone": [1, 2, 1],
            "ts": pd.to_datetime(
                ["2026-11-01 10:00", "2026-11-01 10:00", "2026-11-01 10:00"]
            ).tz_localize(paris),  # 09:00 UTC
            "demand": [5.0, 7.0, 3.0],
        }
    )
    weather = pd.DataFrame(
        {
            "city": ["paris", "lyon"],
            "zone": [1, 1],
            "ts": pd.to_datetime(["2026-11-01 08:30", "2026-11-01 08:30"]),  # naive: UTC
            "demand": [0.0, 1.0],  # the same name as the other table's column
        }
    )
    lm.data.log_dataset("zones", zones)
    lm.data.log_dataset("weather", weather)
    events = pd.DataFrame(
        {
            "city": ["paris", "paris", "lyon", "paris"],
            "zone": [1, 2, 1, 1],
            "ts": pd.to_datetime(
                ["2026-11-01 09:00", "2026-11-01 08:59", "2026-11-01 12:00", "2026-11-01 08:45"]
            ),
        }
    )
    with pytest.raises(InvalidInputError, match=r"'demand'.*prefix=True"):
        lm.data.join_features(events, ["zones@1", "weather@1"], on=["city", "zone"], timestamp="ts")
    joined = lm.data.join_features(
        events, ["zones@1", "weather@1"], on=["city", "zone"], timestamp="ts", prefix=True
    )
    assert joined["zones__demand"].tolist()[:1] == [5.0]
    assert pd.isna(joined["zones__demand"].iloc[1])  # 08:59 UTC is before 10:00 in Paris
    assert joined["zones__demand"].iloc[2] == 3.0 and pd.isna(joined["zones__demand"].iloc[3])
    assert joined["weather__demand"].tolist()[0] == 0.0 and pd.isna(joined["weather__demand"][1])


def test_bad_input_is_named(tmp_path: Path) -> None:
    lm.data.log_dataset("stats", _stats(50, 1))
    events = _events(20, 2)
    join = lm.data.join_features
    kw = {"on": "driver_id", "timestamp": "event_time", "feature_timestamp": "updated_at"}
    with pytest.raises(InvalidInputError, match=r"no key column.*'rider_id'"):
        join(events, ["stats@1"], **{**kw, "on": "rider_id"})
    with pytest.raises(InvalidInputError, match="no timestamp column 'when'"):
        join(events, ["stats@1"], **{**kw, "timestamp": "when"})
    with pytest.raises(InvalidInputError, match=r"1 row.* have no 'event_time'"):
        join(
            events.assign(event_time=events.event_time.where(events.index != 3)), ["stats@1"], **kw
        )
    with pytest.raises(InvalidInputError, match=r"key 'driver_id' is text.*but integer"):
        join(events.assign(driver_id=events.driver_id.astype(str)), ["stats@1"], **kw)
    with pytest.raises(InvalidInputError, match=r"has no column.*'speed'"):
        join(events, {"stats@1": ["speed"]}, **kw)
    with pytest.raises(InvalidInputError, match="ttl"):
        join(events, ["stats@1"], **kw, ttl="soon")
    with pytest.raises(InvalidInputError, match="does not hold timestamps"):
        join(events.assign(event_time="yesterday-ish"), ["stats@1"], **kw)
    with pytest.raises(DatasetNotFoundError):
        join(events, ["nope@1"], **kw)
    with pytest.raises(InvalidInputError, match="at least one feature table"):
        join(events, [], **kw)


def test_a_join_in_a_run_records_its_inputs_and_the_cli_writes_and_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stats = lm.data.log_dataset("stats", _stats(200, 4))
    labels = lm.data.log_dataset("labels", _events(100, 5))
    with lm.start_run() as run:
        lm.data.join_features(
            "labels@1", ["stats@1"], on="driver_id", timestamp="event_time",
            feature_timestamp="updated_at",
        )  # fmt: skip
    edges = {(e.uri, e.role) for e in lm.data.lineage(stats)} | {
        (e.uri, e.role) for e in lm.data.lineage(labels)
    }
    assert edges == {(stats.uri, "features"), (labels.uri, "entities")}
    assert {e.run_id for e in lm.data.lineage(stats)} == {run.info.run_id}

    out = tmp_path / "train.parquet"
    args = ["data", "join", "labels@1", "stats@1", "--on", "driver_id", "--timestamp",
            "event_time", "--feature-timestamp", "updated_at", "--ttl", "3d"]  # fmt: skip
    assert main([*args, "--output", str(out), "--log", "training-set", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    written = pd.read_parquet(out)
    assert (
        summary["rows"] == len(written) == 100 and summary["version"] == "datasets:/training-set/1"
    )
    assert 0 < summary["matched"][stats.uri] < 100
    assert written["conv_rate"].notna().sum() == summary["matched"][stats.uri]
    made = lm.data.lineage("training-set@1")
    assert [e.direction.value for e in made] == ["output"]
    graph = lm.registry.lineage("datasets:/training-set/1", direction="up")
    assert {stats.uri, labels.uri} <= set(graph.nodes)

    assert main([*args]) == 2  # no --output and no --log
    assert main([*args, "--output", str(tmp_path / "x.txt")]) == 2
    assert not list(tmp_path.glob(".*.tmp"))


def test_each_table_may_have_its_own_ttl(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    day = pd.Timedelta(days=1)
    lm.data.log_dataset("fresh", pd.DataFrame({"driver_id": [1], "ts": [T0], "speed": [50.0]}))
    lm.data.log_dataset("slow", pd.DataFrame({"driver_id": [1], "ts": [T0], "rating": [4.5]}))
    events = pd.DataFrame({"driver_id": [1, 1], "ts": [T0 + day / 2, T0 + 3 * day]})
    joined = lm.data.join_features(
        events, ["fresh@1", "slow@1"], on="driver_id", timestamp="ts", ttl={"fresh": "1d"}
    )
    assert joined["speed"].iloc[0] == 50.0 and pd.isna(joined["speed"].iloc[1])  # 3 d > 1 d
    assert joined["rating"].tolist() == [4.5, 4.5]  # no ttl for this table
    with pytest.raises(InvalidInputError, match=r"ttl names stale"):
        lm.data.join_features(events, ["fresh@1"], on="driver_id", timestamp="ts",
                              ttl={"stale": "1d"})  # fmt: skip
    events.to_parquet(tmp_path / "events.parquet")
    args = ["data", "join", str(tmp_path / "events.parquet"), "fresh@1", "slow@1",
            "--on", "driver_id", "--timestamp", "ts", "-o", str(tmp_path / "out.csv")]  # fmt: skip
    assert main([*args, "--ttl", "fresh=1d", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["matched"] == {
        "datasets:/fresh/1": 1,
        "datasets:/slow/1": 2,
    }
    assert main([*args, "--ttl", "fresh=1d", "--ttl", "2d"]) == 2
    assert main([*args, "--ttl", "1d", "--ttl", "2d"]) == 2
