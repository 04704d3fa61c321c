"""`loopml data status`: the quick answer from the state cache agrees with the full one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.cli._entry import main as entry_main
from loopml.cli.main import main as full_main
from loopml.data.quick import quick_status


@pytest.fixture
def project() -> Path:
    root = Path.cwd()
    (root / ".git").mkdir()
    (root / "rides").mkdir()
    for i in range(30):
        (root / "rides" / f"part-{i}.csv").write_text(f"a,b\n{i},{i * 2}\n")
    (root / "notes.txt").write_text("kept apart")
    assert full_main(["data", "add", "rides"]) == 0
    assert full_main(["data", "add", "notes.txt"]) == 0
    return root


def _json(capsys: pytest.CaptureFixture[str], run: object) -> list[dict[str, object]]:
    capsys.readouterr()
    assert run(["data", "status", "--json"]) == 0  # type: ignore[operator]
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_unchanged_and_missing_are_answered_quickly_and_alike(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "notes.txt").unlink()
    quick = quick_status()
    assert quick is not None  # answered without the tracking stores
    assert [(e.path, e.state) for e in quick] == [("notes.txt", "missing"), ("rides", "unchanged")]
    assert _json(capsys, entry_main) == _json(capsys, full_main)
    assert entry_main(["data", "status"]) == 0
    table = capsys.readouterr().out
    assert "rides@1" in table and "unchanged" in table and "missing" in table


def test_a_change_goes_to_the_full_status_with_its_diff(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "rides" / "part-3.csv").write_text("a,b\n3,7\n")
    (project / "rides" / "part-30.csv").write_text("a,b\n30,60\n")
    assert quick_status() is None
    [notes, rides] = _json(capsys, entry_main)
    assert notes["state"] == "unchanged"
    assert rides["state"] == "modified"
    assert rides["changed"] == ["part-3.csv"] and rides["added"] == ["part-30.csv"]


def test_a_broken_pointer_still_gets_the_full_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "bad.loopml").write_text("not: [a pointer")
    assert quick_status() is None
    assert entry_main(["data", "status"]) != 0
    assert "not a loopml pointer" in capsys.readouterr().err


def test_the_console_script_answers_status(project: Path) -> None:
    exe = Path(sys.executable).with_name("loopml")
    out = subprocess.run(
        [str(exe), "data", "status"], capture_output=True, text=True, check=True, cwd=project
    )
    assert "rides@1" in out.stdout and "unchanged" in out.stdout
