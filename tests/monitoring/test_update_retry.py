"""Changing a monitor after it is created (its history kept, its outputs' reference
re-profiled after a promotion), and checking failed or empty windows again — by hand, and
by `monitor serve` a bounded number of times with backoff — over real logged traffic."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import loopml as lm
from loopml.cli.main import main
from loopml.errors import (
    InvalidInputError,
    MonitorNotFoundError,
)
from loopml.tracking.client import TrackingClient
from tests.monitoring.conftest import (
    World,
    _wait_clear_of_an_hour_boundary,
    after,
    in_window,
    past_hour,
    rides,
    write_log,
)

pytestmark = pytest.mark.slow


def _changes(update: lm.monitoring.MonitorUpdate) -> dict[str, tuple[object, object]]:
    return {c.setting: (c.before, c.after) for c in update.changes}


def test_an_update_changes_what_checks_use_and_keeps_the_history(
    world: World, client: TrackingClient
) -> None:
    lm.monitoring.create_monitor("tuned", deployment="moved", reference="rides@1", delay=0)
    first = lm.monitoring.run_check("tuned", window_start=in_window(world), now=after(world))
    assert first.status == "alert" and first.summary["drift"]["drifted_columns"] == ["distance"]
    assert first.summary["checked_with"] == {
        "monitor_revision": 1, "reference": "datasets:/rides/1", "output_model": "pricing/1",
    }  # fmt: skip

    update = lm.monitoring.update_monitor(
        "tuned", threshold=0.001, tests={"distance": "psi:50"}, on_drift=["log"],
        alerts=["log"], delay="2m", retrain_every="12h",
    )  # fmt: skip
    changes = _changes(update)
    assert changes["threshold"] == (0.05, 0.001)
    assert changes["tests"] == ({}, {"distance": "psi:50.0"})
    assert changes["policies"] == (
        ["dataset_drift", "quality.errors > 0"],
        ["dataset_drift -> log", "quality.errors > 0"],
    )
    assert changes["alerts"] == ([], ["log"]) and changes["delay"] == (0, 120)
    assert changes["retrain_every"] == (86400, 43200)
    assert "output_reference" not in changes  # the reference did not move: kept
    monitor = update.monitor
    assert (monitor.revision, update.previous.revision) == (2, 1)
    assert monitor.updated_by and monitor.update_time >= monitor.creation_time
    assert monitor.spec["output_profile"] == update.previous.spec["output_profile"]

    # the window checked before keeps its result; a recompute uses the new settings
    kept = client.stores.metadata.get_monitor_result("tuned", first.window.start)
    assert kept.status == "alert" and kept.summary["checked_with"]["monitor_revision"] == 1
    again = lm.monitoring.run_check(
        "tuned", window_start=in_window(world), now=after(world), recompute=True
    )
    by_name = {c.column: c for c in again.columns}
    assert by_name["distance"].test == "psi" and not by_name["distance"].drifted
    assert again.summary["drift"]["drifted_columns"] == []
    assert again.summary["checked_with"]["monitor_revision"] == 2
    assert again.result.revision == 2

    # the same values again change nothing, and write nothing
    same = lm.monitoring.update_monitor("tuned", threshold=0.001, window="1h")
    assert not same.changed and same.monitor.revision == 2
    # clearing: empty lists and mappings
    cleared = lm.monitoring.update_monitor("tuned", tests={}, alerts=[], on_drift=[])
    assert set(_changes(cleared)) == {"tests", "alerts", "policies"}
    assert cleared.monitor.spec["tests"] == {} and cleared.monitor.revision == 3


def test_a_promotion_reprofiles_the_outputs_of_a_monitor_that_follows_the_deployment(
    world: World, client: TrackingClient
) -> None:
    from sklearn.linear_model import LinearRegression

    features = ["distance", "hour"]
    reference = world.reference
    v1 = lm.registry.register(_logged(world.model, reference), "fares")
    lm.registry.approve("fares", v1.version)
    lm.registry.set_alias("fares", "champion", v1.version)
    lm.serving.create_deployment("fares", "fares@champion", client=client)
    lm.monitoring.create_monitor("fares", reference="rides@1", delay=0)
    assert lm.monitoring.get_monitor("fares").spec["model"] == "fares/1"
    before = past_hour(21)
    write_log(client, "fares", before, rides(400, 50), world.model, "b", version=("fares", 1))

    # a promotion: the champion now doubles the fares, and serves the next hour
    doubled = LinearRegression().fit(reference[features], reference["fare"] * 2)
    v2 = lm.registry.register(_logged(doubled, reference), "fares")
    lm.registry.approve("fares", v2.version)
    lm.registry.set_alias("fares", "champion", v2.version)
    when = past_hour(20)
    write_log(client, "fares", when, rides(400, 51), doubled, "f", version=("fares", 2))

    # the window served by the new primary: its outputs are profiled, then compared
    promoted = lm.monitoring.run_check("fares", window_start=when)
    drift = promoted.summary["drift"]
    assert drift["prediction_drift"] is False and drift["prediction_note"] == ""
    assert promoted.summary["checked_with"] == {
        "monitor_revision": 2, "reference": "datasets:/rides/1", "output_model": "fares/2",
    }  # fmt: skip
    monitor = lm.monitoring.get_monitor("fares")
    assert monitor.revision == 2 and monitor.spec["model"] == "fares/2"
    # a window the old version served is not compared with the new version's outputs
    old = lm.monitoring.run_check("fares", window_start=before)
    drift = old.summary["drift"]
    assert drift["prediction_drift"] is None, drift
    assert "profiles fares/2" in drift["prediction_note"]
    assert "come from fares/1" in drift["prediction_note"]
    assert [c.role for c in old.columns].count("prediction") == 0
    assert lm.monitoring.get_monitor("fares").revision == 2  # not profiled back
    assert lm.monitoring.update_monitor("fares", refresh_outputs=True).changes == []

    # a new reference version: the outputs are profiled on its rows, with the same model
    lm.data.log_dataset("rides", rides(1000, 52))
    moved = lm.monitoring.update_monitor("fares", reference="rides@latest")
    changes = _changes(moved)
    assert changes["reference"] == ("datasets:/rides/1", "datasets:/rides/2")
    assert changes["output_reference"] == (
        "outputs of fares/2 on 3000 rows", "outputs of fares/2 on 1000 rows",
    )  # fmt: skip
    assert moved.monitor.reference == "datasets:/rides/2"

    # pinned to the old model: compared with its outputs on purpose, and said so
    pinned = lm.monitoring.update_monitor("fares", model="fares/1")
    assert _changes(pinned)["model"] == ("fares/2", "fares/1")
    assert pinned.monitor.spec["pinned_model"] == "fares/1"
    against = lm.monitoring.run_check("fares", window_start=when, recompute=True)
    drift = against.summary["drift"]
    assert drift["prediction_drift"] is True  # doubled fares against the old model's
    assert "pinned model fares/1" in drift["prediction_note"]
    assert lm.monitoring.get_monitor("fares").spec["model"] == "fares/1"  # stays pinned
    unpinned = lm.monitoring.update_monitor("fares", model="")
    assert unpinned.monitor.spec["model"] == "fares/2"
    assert unpinned.monitor.spec["pinned_model"] is None


def _logged(model: object, reference: object) -> str:
    with lm.start_run():
        info = lm.models.log_model(
            model, "model", input_example=reference[["distance", "hour"]][:5]
        )  # type: ignore[index]
    return str(info.uri)


def test_bad_updates_are_refused_and_change_nothing(world: World, client: TrackingClient) -> None:
    lm.monitoring.create_monitor("strict", deployment="steady", reference="rides@1")
    before = lm.monitoring.get_monitor("strict")
    with pytest.raises(InvalidInputError, match=r"cannot change.*Create a new monitor"):
        lm.monitoring.update_monitor("strict", window="15m", threshold=0.01)
    with pytest.raises(InvalidInputError, match="significance level"):
        lm.monitoring.update_monitor("strict", threshold=2)
    with pytest.raises(InvalidInputError, match="unknown action"):
        lm.monitoring.update_monitor("strict", on_drift=["email:ops@example.com"])
    with pytest.raises(InvalidInputError, match="not a policy condition"):
        lm.monitoring.update_monitor("strict", policies=["drift_share >>> 1"])
    with pytest.raises(InvalidInputError, match="no parameter 'dataset'"):
        lm.monitoring.update_monitor(
            "strict", on_drift=["retrain:tests.monitoring.flows:no_data_param"]
        )
    with pytest.raises(InvalidInputError, match="unknown drift test 'magic'"):
        lm.monitoring.update_monitor("strict", tests={"distance": "magic"})
    with pytest.raises(InvalidInputError, match="routes must be"):
        lm.monitoring.update_monitor("strict", routes=["sideways"])
    with pytest.raises(InvalidInputError, match="task must be"):
        lm.monitoring.update_monitor("strict", task="ranking")
    with pytest.raises(InvalidInputError, match="delay must be"):
        lm.monitoring.update_monitor("strict", delay="later")
    Path("files").mkdir()
    Path("files/a.txt").write_text("x")
    lm.data.add("files", name="strict-files")
    with pytest.raises(InvalidInputError, match="not a table"):
        lm.monitoring.update_monitor("strict", reference="strict-files@1")
    with pytest.raises(InvalidInputError, match="nothing was changed"):
        lm.monitoring.update_monitor("strict", model="no-such-model/7")
    with pytest.raises(MonitorNotFoundError):
        lm.monitoring.update_monitor("never-made", threshold=0.01)
    assert lm.monitoring.get_monitor("strict") == before


def test_monitor_update_and_show_on_the_command_line(
    world: World, client: TrackingClient, capsys: pytest.CaptureFixture[str]
) -> None:
    lm.monitoring.create_monitor("cli-upd", deployment="steady", reference="rides@1")
    assert main(["monitor", "update", "cli-upd", "--drift-threshold", "0.01", "--alert", "log",
                 "--test", "hour=psi:0.3", "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] and (out["previous_revision"], out["revision"]) == (1, 2)
    by = {c["setting"]: c for c in out["changes"]}
    assert by["threshold"]["after"] == 0.01 and by["alerts"]["after"] == ["log"]
    assert by["tests"]["after"] == {"hour": "psi:0.3"}
    assert main(["monitor", "update", "cli-upd", "--clear", "alerts", "--route", "primary"]) == 0
    text = capsys.readouterr().out
    assert "revision 2 → 3" in text and "alerts" in text and "routes" in text
    assert "windows checked before keep their results" in text
    assert main(["monitor", "update", "cli-upd", "--route", "primary", "--refresh-outputs"]) == 0
    assert "nothing changed (revision 3)" in capsys.readouterr().out  # the same model's
    assert main(["monitor", "show", "cli-upd"]) == 0
    shown = capsys.readouterr().out
    assert "revision 3" in shown and "last changed by" in shown
    assert main(["monitor", "update", "cli-upd", "--window", "2h"]) != 0
    assert "Create a new monitor" in capsys.readouterr().err
    assert main(["monitor", "update", "cli-upd", "--clear", "everything"]) != 0
    assert "a setting to clear is one of" in capsys.readouterr().err
    assert main(["monitor", "update", "cli-upd", "--clear", "alerts", "--alert", "log"]) != 0
    assert "contradicts" in capsys.readouterr().err
    assert lm.monitoring.get_monitor("cli-upd").revision == 3


def test_an_update_through_a_loopml_server(world: World, client: TrackingClient) -> None:
    import httpx

    from loopml.config import Settings
    from loopml.server.app import create_app
    from tests._servers.loopml import serve_in_thread

    lm.monitoring.create_monitor("remote-upd", deployment="steady", reference="rides@1")
    app = create_app(Settings(tracking_uri=world.folder, capture_packages=False))
    with serve_in_thread(app) as url:
        remote = TrackingClient(settings=Settings(tracking_uri=url, capture_packages=False))
        try:
            changed = lm.monitoring.update_monitor("remote-upd", drift_share=0.25, client=remote)
            assert changed.monitor.revision == 2 and changed.monitor.spec["drift_share"] == 0.25
            stale = httpx.put(
                f"{url}/api/v1/monitors/remote-upd",
                json={"reference": "datasets:/rides/1", "spec": {}, "expected_revision": 1},
            )
            assert stale.status_code == 409 and "revision 2" in stale.json()["message"]
            bad = httpx.put(f"{url}/api/v1/monitors/remote-upd", json={"spec": {}})
            assert bad.status_code in (400, 422)
            ghost = httpx.put(
                f"{url}/api/v1/monitors/ghost", json={"reference": "datasets:/r/1", "spec": {}}
            )
            assert ghost.status_code == 404
        finally:
            remote.close()
    assert lm.monitoring.get_monitor("remote-upd").spec["drift_share"] == 0.25


# -- retries ------------------------------------------------------------------------------
def _break_the_log(client: TrackingClient, deployment: str, day: str) -> str:
    """An unreadable file in a day of the log (a disk gone bad, a foreign file)."""
    key = f"predictions/{deployment}/date={day}/0000000000000-1-0.parquet"
    client.stores.blobs.bytes.put_bytes(key, b"this is not a parquet file")
    return key


def test_a_failed_window_is_retried_by_hand(
    world: World, client: TrackingClient, capsys: pytest.CaptureFixture[str]
) -> None:
    when = past_hour(60)
    write_log(client, "flaky", when, rides(200, 61), world.model, "fl")
    lm.monitoring.create_monitor("flaky", reference="rides@1", delay=0)
    key = _break_the_log(client, "flaky", when.strftime("%Y-%m-%d"))
    with pytest.raises(Exception, match=r"(?i)parquet|magic"):
        lm.monitoring.run_check("flaky", window_start=when)
    store = client.stores.metadata
    start = _start(when)
    failed = store.get_monitor_result("flaky", start)
    assert failed.status == "failed" and failed.summary["attempts"] == 1

    # it fails again: one more attempt, and exit code 2
    assert main(["monitor", "run", "flaky", "--retry-failed"]) == 2
    out = capsys.readouterr().out
    assert "FAILED again" in out and "1 failed window(s) checked again" in out
    assert store.get_monitor_result("flaky", start).summary["attempts"] == 2
    assert main(["monitor", "run", "flaky", "--retry-failed", "--window-start", "x"]) != 0
    assert "--since" in capsys.readouterr().err

    # the cause fixed, a retry checks it
    client.stores.blobs.bytes.delete(key)
    later = lm.monitoring.retry_failed("flaky", since=when + timedelta(hours=1))
    assert later == []  # the window starts before `since`
    tried = lm.monitoring.retry_failed("flaky")
    assert [(r.before.status, r.check.status if r.check else None) for r in tried] == [
        ("failed", "ok")
    ]
    fixed = store.get_monitor_result("flaky", start)
    assert fixed.status == "ok" and fixed.rows == 200 and "attempts" not in fixed.summary
    assert lm.monitoring.retry_failed("flaky") == []  # nothing failed any more


def _start(when: datetime) -> int:
    return (int(when.timestamp() * 1000) // 3_600_000) * 3_600_000


def _hour_end(when: datetime) -> datetime:
    """A minute after the end of the hour ``when`` is in: that window is complete."""
    return when.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1, minutes=1)


def test_serve_retries_a_failed_window_a_bounded_number_of_times_with_backoff(
    world: World, client: TrackingClient
) -> None:
    _wait_clear_of_an_hour_boundary()
    when = datetime.now(tz=UTC)
    write_log(client, "flaky-served", when, rides(150, 62), world.model, "fs")
    lm.monitoring.create_monitor("flaky-served", reference="rides@1", delay=0)
    key = _break_the_log(client, "flaky-served", when.strftime("%Y-%m-%d"))
    store = client.stores.metadata
    start, now = _start(when), _hour_end(when)

    def attempts() -> int:
        return int(store.get_monitor_result("flaky-served", start).summary["attempts"])

    lm.monitoring.run_due(now=now, catch_up=1, retries=2, retry_backoff=0)
    assert store.get_monitor_result("flaky-served", start).status == "failed"
    assert attempts() == 1
    # within the backoff, whenever in the hour the test runs (`now` is the hour's end, up
    # to 61 minutes after the check)
    lm.monitoring.run_due(now=now, catch_up=1, retries=2, retry_backoff=4 * 3600)
    assert attempts() == 1  # within the backoff: not yet
    lm.monitoring.run_due(now=now, catch_up=1, retries=2, retry_backoff=0)
    assert attempts() == 2
    lm.monitoring.run_due(now=now, catch_up=1, retries=2, retry_backoff=0)
    assert attempts() == 3
    lm.monitoring.run_due(now=now, catch_up=1, retries=2, retry_backoff=0)
    assert attempts() == 3  # two retries spent: left alone
    client.stores.blobs.bytes.delete(key)
    lm.monitoring.run_due(now=now, catch_up=1, retries=2, retry_backoff=0)
    assert store.get_monitor_result("flaky-served", start).status == "failed"
    lm.monitoring.run_due(now=now, catch_up=1, retries=3, retry_backoff=0)  # one more allowed
    fixed = store.get_monitor_result("flaky-served", start)
    assert fixed.status == "ok" and fixed.rows == 150
    with pytest.raises(InvalidInputError, match="must be >= 0"):
        lm.monitoring.run_due(now=now, retries=-1)


def test_an_empty_window_filled_by_a_late_log_is_checked_again(
    world: World, client: TrackingClient, capsys: pytest.CaptureFixture[str]
) -> None:
    when = past_hour(80)
    write_log(client, "late", when - timedelta(hours=1), rides(40, 71), world.model, "early")
    lm.monitoring.create_monitor("late", reference="rides@1", delay=0)
    empty = lm.monitoring.run_check("late", window_start=when)
    assert empty.status == "no_data" and empty.summary["attempts"] == 1
    # the log of that hour arrives late (shipped from another host)
    write_log(client, "late", when, rides(300, 72), world.model, "late")
    assert lm.monitoring.retry_failed("late") == []  # failed only, by default
    assert main(["monitor", "run", "late", "--retry-no-data", "--json"]) == 0
    (tried,) = json.loads(capsys.readouterr().out)
    assert (tried["before"], tried["status"]) == ("no_data", "ok")
    assert tried["check"]["rows"] == 300
    assert client.stores.metadata.get_monitor_result("late", empty.window.start).rows == 300


def test_serve_checks_an_empty_window_again_when_a_late_log_fills_it(
    world: World, client: TrackingClient
) -> None:
    _wait_clear_of_an_hour_boundary()
    when = datetime.now(tz=UTC)
    write_log(client, "late-served", when - timedelta(hours=2), rides(40, 73), world.model, "e")
    lm.monitoring.create_monitor("late-served", reference="rides@1", delay=0)
    store = client.stores.metadata
    start, now = _start(when), _hour_end(when)
    lm.monitoring.run_due(now=now, catch_up=1, retries=3, retry_backoff=0)
    assert store.get_monitor_result("late-served", start).status == "no_data"
    write_log(client, "late-served", when, rides(120, 74), world.model, "l")
    lm.monitoring.run_due(now=now, catch_up=1, retries=3, retry_backoff=4 * 3600)
    assert store.get_monitor_result("late-served", start).status == "no_data"  # backoff
    lm.monitoring.run_due(now=now, catch_up=1, retries=3, retry_backoff=0)
    served = store.get_monitor_result("late-served", start)
    assert served.status == "ok" and served.rows == 120 and served.revision == 2
    lm.monitoring.run_due(now=now, catch_up=1, retries=3, retry_backoff=0)
    assert store.get_monitor_result("late-served", start).revision == 2  # a result: kept


def test_two_servers_retrying_one_window_check_it_once(
    world: World, client: TrackingClient
) -> None:
    from loopml.monitoring.retry import check_again

    when = past_hour(100)
    write_log(client, "race", when, rides(100, 81), world.model, "race")
    lm.monitoring.create_monitor("race", reference="rides@1", delay=0)
    key = _break_the_log(client, "race", when.strftime("%Y-%m-%d"))
    with pytest.raises(Exception, match=r"(?i)parquet|magic"):
        lm.monitoring.run_check("race", window_start=when)
    client.stores.blobs.bytes.delete(key)
    store = client.stores.metadata
    monitor = store.get_monitor("race")
    spec = lm.monitoring.MonitorSpec.from_dict(monitor.spec)
    (seen,) = store.list_monitor_results("race")
    checked: list[object] = []

    def retry() -> None:
        clone = TrackingClient(settings=world.settings)
        try:
            done = check_again(clone, monitor, spec, seen)
            if done is not None:
                checked.append(done)
        finally:
            clone.close()

    threads = [threading.Thread(target=retry) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checked) == 1
    (result,) = store.list_monitor_results("race")
    assert result.status == "ok" and result.revision == seen.revision + 1
    runs = client.search_runs(
        [client.get_experiment_by_name("loopml-monitoring").experiment_id],  # type: ignore[union-attr]
        "tags.`loopml.monitor.name` = 'race'",
    )
    assert len(runs) == 1


def test_a_monitor_stored_before_pins_were_recorded_is_not_followed(
    world: World, client: TrackingClient
) -> None:
    lm.monitoring.create_monitor("legacy", deployment="steady", reference="rides@1", delay=0)
    store = client.stores.metadata
    made = store.get_monitor("legacy")
    # as an earlier loopml stored it: no record of a pin, outputs of a version since replaced
    old = {k: v for k, v in made.spec.items() if k not in ("pinned_model", "model_task")}
    old["model"] = "pricing/9"
    store.update_monitor("legacy", made.reference, old)
    when = past_hour(22)
    write_log(client, "steady", when, rides(300, 53), world.model, "lg")  # pricing/1 serves
    checked = lm.monitoring.run_check("legacy", window_start=when)
    drift = checked.summary["drift"]
    assert drift["prediction_drift"] is None
    assert "profiles pricing/9" in drift["prediction_note"]
    assert "monitor update legacy --refresh-outputs" in drift["prediction_note"]
    assert store.get_monitor("legacy").spec["model"] == "pricing/9"  # not re-profiled
    refreshed = lm.monitoring.update_monitor("legacy", refresh_outputs=True)
    assert refreshed.monitor.spec["model"] == "pricing/1"
    assert refreshed.monitor.spec["pinned_model"] is None  # followed from now on
