"""Behaviour across processes: nothing buffered is lost at exit; concurrent writers lose nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import loopml as lm


def run_script(code: str, store: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    script = f"import loopml as lm\nlm.set_tracking_uri({str(store)!r})\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=check
    )


def only_run(store: Path) -> lm.Run:
    client = lm.TrackingClient(str(store))
    (run,) = client.search_runs(["0"])
    client.close()
    return run


def test_buffered_points_survive_normal_exit_without_end_run(tmp_path: Path) -> None:
    store = tmp_path / "s"
    run_script(
        """
        lm.start_run(run_name="no-with")
        for i in range(2500):
            lm.log_metric("loss", i, step=i)
        """,
        store,
    )
    run = only_run(store)
    assert run.info.status == lm.RunStatus.FINISHED
    history = lm.TrackingClient(str(store)).get_metric_history(run.info.run_id, "loss")
    assert len(history) == 2500


def test_uncaught_exception_fails_the_run_and_keeps_points(tmp_path: Path) -> None:
    store = tmp_path / "s"
    proc = run_script(
        """
        lm.start_run()
        for i in range(300):
            lm.log_metric("loss", i, step=i)
        raise RuntimeError("boom in user code")
        """,
        store,
        check=False,
    )
    assert proc.returncode == 1 and "boom in user code" in proc.stderr
    run = only_run(store)
    assert run.info.status == lm.RunStatus.FAILED
    assert run.data.metrics["loss"] == 299


@pytest.mark.slow
def test_four_processes_log_concurrently_without_loss(tmp_path: Path) -> None:
    store = tmp_path / "s"
    lm.TrackingClient(str(store)).create_experiment("concurrent")  # make the schema once
    code = textwrap.dedent(
        f"""
        import sys
        import loopml as lm
        lm.set_tracking_uri({str(store)!r})
        lm.set_experiment("concurrent")
        with lm.start_run(run_name="w" + sys.argv[1]):
            for i in range(10_000):
                lm.log_metric("m", i, step=i)
                if i % 2000 == 0:
                    lm.flush()
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(n)], stderr=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    client = lm.TrackingClient(str(store))
    runs = lm.TrackingClient(str(store)).search_runs(
        [client.get_experiment_by_name("concurrent").experiment_id]  # type: ignore[union-attr]
    )
    assert len(runs) == 4
    for run in runs:
        history = client.get_metric_history(run.info.run_id, "m")
        assert [m.step for m in history] == list(range(10_000))
        assert run.info.status == lm.RunStatus.FINISHED
