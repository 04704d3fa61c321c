"""The CLI as a user types it: tables by default, --json for scripts, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import loopml as lm
from loopml.cli.main import main
from loopml.uris import parse_models_uri as lm_uri


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, list[str]]:
    uri = str(tmp_path / "store")
    client = lm.TrackingClient(uri)
    exp = client.create_experiment("pricing")
    ids = []
    for depth, rmse in (("4", 0.4), ("6", 0.25)):
        run = client.create_run(exp, run_name=f"depth-{depth}")
        client.log_params(run.run_id, {"depth": depth, "lr": "0.1"})
        client.log_metric(run.run_id, "rmse", rmse)
        client.log_text(run.run_id, f"depth {depth}", "notes/readme.txt")
        client.set_terminated(run.run_id)
        ids.append(run.run_id)
    client.close()
    return uri, ids


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_experiments_list_table_and_json(store, capsys) -> None:  # type: ignore[no-untyped-def]
    uri, _ = store
    code, out, _ = cli(capsys, "experiments", "list", "--tracking-uri", uri)
    assert code == 0 and "pricing" in out and "Default" in out
    code, out, _ = cli(capsys, "experiments", "list", "--json", "--tracking-uri", uri)
    assert {e["name"] for e in json.loads(out)} == {"pricing", "Default"}


def test_runs_list_filter_and_order(store, capsys) -> None:  # type: ignore[no-untyped-def]
    uri, ids = store
    code, out, _ = cli(
        capsys,
        "runs",
        "list",
        "pricing",
        "--order-by",
        "metrics.rmse ASC",
        "--json",
        "--tracking-uri",
        uri,
    )
    assert code == 0
    assert [r["info"]["run_id"] for r in json.loads(out)] == [ids[1], ids[0]]
    code, out, _ = cli(
        capsys,
        "runs",
        "list",
        "pricing",
        "-f",
        "params.depth = '6'",
        "--json",
        "--tracking-uri",
        uri,
    )
    assert [r["info"]["run_name"] for r in json.loads(out)] == ["depth-6"]
    code, out, _ = cli(capsys, "runs", "list", "pricing", "--tracking-uri", uri)
    assert code == 0 and "depth-4" in out and "rmse" in out


def test_runs_show_and_compare(store, capsys) -> None:  # type: ignore[no-untyped-def]
    uri, ids = store
    code, out, _ = cli(capsys, "runs", "show", ids[0], "--json", "--tracking-uri", uri)
    shown = json.loads(out)
    assert shown["data"]["params"]["depth"] == "4"
    assert [a["path"] for a in shown["artifacts"]] == ["notes/readme.txt"]
    code, out, _ = cli(capsys, "runs", "compare", ids[0], ids[1], "--json", "--tracking-uri", uri)
    rows = {r[0]: r[1:] for r in json.loads(out)["rows"]}
    assert rows["param depth"] == ["4", "6", "≠"]
    assert "param lr" not in rows  # equal values hidden unless --all
    code, out, _ = cli(capsys, "runs", "compare", ids[0], ids[1], "--tracking-uri", uri)
    assert code == 0 and "depth" in out


def test_runs_delete_and_restore(store, capsys) -> None:  # type: ignore[no-untyped-def]
    uri, ids = store
    assert cli(capsys, "runs", "delete", ids[0], "--tracking-uri", uri)[0] == 0
    _, out, _ = cli(capsys, "runs", "list", "pricing", "--json", "--tracking-uri", uri)
    assert [r["info"]["run_id"] for r in json.loads(out)] == [ids[1]]
    assert cli(capsys, "runs", "restore", ids[0], "--tracking-uri", uri)[0] == 0
    _, out, _ = cli(capsys, "runs", "list", "pricing", "--json", "--tracking-uri", uri)
    assert len(json.loads(out)) == 2


def test_artifacts_get(store, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uri, ids = store
    dest = tmp_path / "dl"
    code, out, _ = cli(
        capsys,
        "artifacts",
        "get",
        f"runs:/{ids[0]}/notes",
        "--to",
        str(dest),
        "--tracking-uri",
        uri,
    )
    assert code == 0
    assert (dest / "notes" / "readme.txt").read_text() == "depth 4"
    code, out, _ = cli(
        capsys, "artifacts", "list", f"runs:/{ids[0]}", "--json", "--tracking-uri", uri
    )
    assert [a["path"] for a in json.loads(out)] == ["notes/readme.txt"]


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["runs", "show", "f" * 32], 3, "no run with id"),
        (["runs", "show", "nope"], 2, "not a run id"),
        (["runs", "list", "missing-exp"], 3, "no experiment named"),
        (["runs", "list", "pricing", "-f", "metrics.rmse 0.3"], 2, "expected"),
        (["artifacts", "get", "runs:/abc/x"], 2, "not a run artifact URI"),
        (["runs", "compare", "a" * 32], 2, "at least two"),
    ],
)
def test_errors_are_one_line_with_exit_codes(store, capsys, args, exit_code, message) -> None:  # type: ignore[no-untyped-def]
    uri, _ = store
    code, _, err = cli(capsys, *args, "--tracking-uri", uri)
    assert code == exit_code
    assert message in err and "Traceback" not in err


def test_console_script_help_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("loopml")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    for group in ("experiments", "runs", "artifacts", "demo"):
        assert group in out.stdout


@pytest.mark.slow
@pytest.mark.slow
def test_demo_runs_the_whole_loop(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uri = str(tmp_path / "demo-store")
    code, out, err = cli(capsys, "demo", "--json", "--tracking-uri", uri)
    assert code == 0, err
    result = json.loads(out)
    runs = result["runs"]
    assert len(runs) == 4
    assert all(r["info"]["status"] == "FINISHED" for r in runs)
    best = min(runs, key=lambda r: r["data"]["metrics"]["rmse"])
    assert result["best_run_id"] == best["info"]["run_id"]
    client = lm.TrackingClient(uri)
    assert len(client.get_metric_history(best["info"]["run_id"], "val_rmse")) > 50
    paths = {a.path for a in client.list_artifacts(best["info"]["run_id"])}
    assert {"plots/residuals.png", "features.json", "data/validation_sample.parquet"} <= paths
    # The operations cycle: served, logged, monitored, drift found, retrained, gated.
    ops = result["operations"]
    assert ops["rows_logged"] == 1200 and ops["requests"] == 120
    assert ops["steady_status"] == "ok" and ops["shifted_status"] == "alert"
    assert "surge" in ops["drifted_columns"] and ops["prediction_drift"]
    assert ops["shifted_mae"] > 2 * ops["steady_mae"]  # the labels show the model got worse
    name, version = ops["retrained_version"].split("/")
    assert name == "ride-fares" and int(version) > result["champion_version"]
    assert ops["retrained_gate_passed"] is True
    store = client.stores.metadata
    assert store.get_version_by_uri(lm_uri("models:/ride-fares@challenger")).version == int(version)
    deployment = store.get_deployment("ride-fares")
    assert deployment.spec["canary"] == "models:/ride-fares@challenger"
    assert ops["trace"]["model"] == f"ride-fares/{result['champion_version']}"
    assert ops["trace"]["data"] == [result["dataset"]]
    assert Path(ops["report_path"]).is_file()


def test_error_messages_are_printed_as_written(store, capsys) -> None:  # type: ignore[no-untyped-def]
    uri, _ = store
    # Brackets in a message (a filter, "pip install 'loopml[serving]'") are text, not markup.
    code, _, err = cli(capsys, "runs", "list", "--tracking-uri", uri, "-f", "params.[bold]a < 1")
    assert code == 2
    assert "params.[bold]a < 1" in err


def test_names_in_tables_are_shown_as_written(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    uri = str(tmp_path / "store")
    client = lm.TrackingClient(uri)
    client.create_experiment("data/[raw] :smile:")
    client.close()
    code, out, _ = cli(capsys, "experiments", "list", "--tracking-uri", uri)
    assert code == 0
    assert "data/[raw] :smile:" in out  # not read as a markup tag and an emoji code
