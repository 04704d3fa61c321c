"""`loopml monitor drift` as a user types it: a table, --json, --html, and exit codes
0 (no dataset drift), 1 (dataset drift), 2 (bad input)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml as lm
from loopml.cli.main import main


def _rides(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "fare": rng.gamma(2.0, 6.0, n) + shift,
            "distance": rng.normal(8, 3, n) + shift,
            "city": rng.choice(["paris", "lyon", "lille"], n),
            "zone": rng.integers(1, 4, n),
            "score": rng.normal(20 + shift, 1, n),
        }
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"ref": tmp_path / "ref.parquet", "same": tmp_path / "same.parquet",
             "moved": tmp_path / "moved.csv"}  # fmt: skip
    _rides(3000, 1).to_parquet(paths["ref"])
    _rides(3000, 2).to_parquet(paths["same"])
    _rides(3000, 3, shift=3.0).to_csv(paths["moved"], index=False)
    return paths


def test_exit_codes_table_and_summary(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["monitor", "drift", str(files["ref"]), str(files["same"])]) == 0
    out = capsys.readouterr().out
    assert "ks+wasserstein" in out and "0 of 5 tested features drifted" in out
    assert main(["monitor", "drift", str(files["ref"]), str(files["moved"])]) == 1
    out = capsys.readouterr().out
    assert "DRIFT" in out and "dataset drift" in out


def test_json_html_and_options(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "drift.html"
    code = main(
        [
            "monitor", "drift", str(files["ref"]), str(files["moved"]),
            "--columns", "fare,city", "-c", "zone", "--test", "fare=psi:0.2",
            "--categorical", "zone", "--prediction", "score", "--drift-share", "0.9",
            "--html", str(html), "--json",
        ]
    )  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert code == 0  # fare drifted, city and zone did not: 1 of 3 is under 90 %
    columns = {c["column"]: c for c in document["columns"]}
    assert list(columns) == ["fare", "city", "zone", "score"]
    assert (columns["fare"]["test"], columns["fare"]["threshold"]) == ("psi", 0.2)
    assert columns["zone"]["kind"] == "categorical"
    assert columns["score"]["role"] == "prediction" and document["prediction_drift"] is True
    assert document["drifted_columns"] == ["fare"]
    assert html.read_text().count("<svg") == 4


def test_a_dataset_version_as_reference(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lm.data.log_dataset("rides", _rides(3000, 1))
    assert main(["monitor", "drift", "rides@1", str(files["same"])]) == 0
    assert "datasets:/rides/1 (profile)" in capsys.readouterr().out
    assert main(["monitor", "drift", "rides@1", str(files["moved"]), "--exact", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["reference"] == "datasets:/rides/1"
    assert main(["monitor", "drift", str(files["same"]), "rides@1"]) == 0  # rows as current


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.parquet", "{same}"], "is not a file"),
        (["{ref}", "{same}", "--test", "fare=chi2"], "does not apply"),
        (["{ref}", "{same}", "--test", "fare"], "is not KEY=VALUE"),
        (["{ref}", "{same}", "--columns", "tip"], "'tip' are not in the reference"),
        (["{ref}", "{same}", "--threshold", "2"], "between 0 and 1"),
        (["nosuch@1", "{same}"], "nosuch"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = [a.format(ref=files["ref"], same=files["same"]) for a in args]
    code = main(["monitor", "drift", *argv])
    err = capsys.readouterr().err
    assert code in (2, 3) and message in err  # 3: an unknown dataset is "not found"
    assert code == (3 if args[0] == "nosuch@1" else 2)
