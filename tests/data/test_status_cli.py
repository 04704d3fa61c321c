"""`loopml data status`: the quick answer from the state cache agrees with the full one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.cli._entry import main as entry_main
from loopml.cli.main import main as full_main
from loopml.data.quick import quick_status, read_pointer_strictly
from loopml.data.workspace import Pointer, read_pointer, write_pointer


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


def test_a_hand_edited_pointer_goes_to_the_full_status(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pointer = project / "rides.loopml"
    text = pointer.read_text()
    # Still a valid pointer for YAML, but not in the shape loopml writes.
    pointer.write_text(text.replace("name: rides", 'name: "rides"  # hand-edited'))
    assert quick_status() is None
    [notes, rides] = _json(capsys, entry_main)
    assert (rides["name"], rides["state"]) == ("rides", "unchanged")
    assert notes["state"] == "unchanged"


@pytest.mark.parametrize(
    "name",
    [
        "rides",
        "r_1.v-2",
        "_x",
        "2024",
        "2024-rides",
        "yes",
        "No",
        "null",
        "on",
        "0b101",
        "a b",
        "it's",
        "x: y",
        "#tag",
        "é",
        "café-données",
        "データ",
        "𝄞 notes",
        "tab\there",
        "~",
        "1e5",
        "0x1f",
        "-",
        "[a]",
        "{a}",
        "a" * 100,
    ],
)
def test_the_strict_pointer_reader_reads_what_yaml_reads_or_nothing(
    tmp_path: Path, name: str
) -> None:
    digest = "0123456789abcdef" * 4
    pointer = Pointer(name, 3, digest, name, 20, 2048)
    file = tmp_path / "p.loopml"
    write_pointer(pointer, file)
    strict = read_pointer_strictly(str(file))
    if strict is not None:
        full = read_pointer(file)
        assert strict == (full.name, full.version, full.digest, full.path)
    if name in ("rides", "r_1.v-2", "_x", "2024", "2024-rides", "3d", "yes", "x: y"):
        assert strict == (name, 3, digest, name)  # what loopml writes for such names
    if name in ("é", "café-données", "データ", "𝄞 notes"):  # written with \x, \u, \U escapes
        assert strict == (name, 3, digest, name)


@pytest.mark.parametrize(
    "edit",
    [
        ("version: 3", "version: 03"),  # YAML 1.1 reads an octal 3
        ("version: 3", "version: 3.0"),
        ("name: rides", "name: true"),
        ("name: rides", "name: rides # note"),
        ("name: rides", "name: [rides]"),
        ("name: rides", "name:  rides"),
        ("name: rides", "name: rides\nname: other"),
        ("name: rides", "name: rides\nextra: 1"),
        ("name: rides", "name: >\n  rides"),
        ("path: rides", "path: ../rides"),
        ("path: rides", "path: '..'"),
        ("digest: " + "ab" * 32, "digest: " + "1" * 64),  # a number for YAML
        ("digest: " + "ab" * 32, "digest: 1.5e-3"),
    ],
)
def test_the_strict_pointer_reader_refuses_other_shapes(
    tmp_path: Path, edit: tuple[str, str]
) -> None:
    file = tmp_path / "p.loopml"
    write_pointer(Pointer("rides", 3, "ab" * 32, "rides", 1, 1), file)
    assert read_pointer_strictly(str(file)) is not None
    file.write_text(file.read_text().replace(*edit, 1))
    assert read_pointer_strictly(str(file)) is None


def test_the_listing_in_a_child_process_gives_the_same_answer(project: Path) -> None:
    calls: list[int] = []
    here = quick_status()
    assert quick_status(meanwhile=lambda: calls.append(1)) == here
    assert calls == [1]
    (project / "notes.txt").unlink()
    os.mkfifo(project / "notes.txt")  # cannot be listed: the child reports a failure
    assert quick_status(meanwhile=lambda: calls.append(2)) is None
    assert calls == [1, 2]


def test_the_quick_answer_loads_no_yaml_sqlalchemy_or_typer(project: Path) -> None:
    probe = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
        "from loopml.cli._entry import main\n"
        "sys.exit(main(['data', 'status']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=project
    )
    assert "unchanged" in done.stdout
    loaded = {m.split(".")[0] for m in json.loads(done.stderr.splitlines()[-1])}
    assert {"yaml", "sqlalchemy", "typer", "click", "pydantic"} & loaded == set()
    modules = set(json.loads(done.stderr.splitlines()[-1]))
    assert not {"loopml.data.workspace", "loopml.data.client", "concurrent.futures"} & modules


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "3d",
        "7f",
        "1.2.3",
        "nan",
        "NaN",
        "Yes",
        "YES",
        "y",
        "n",
        "Null",
        "~",
        ".inf",
        "0xab",
        "0b11",
        "0o17",
        "0777",
        "1e5",
        "1E5",
        "1.5e-3",
        "12e",
        "1_000",
        "2024-01-15",
        "'quoted'",
        "'it''s'",
        "''",
        "'a'b'",
        "'x: y'",
        '"caf\\xE9"',
        '"\\u30C7\\u30FC\\u30BF"',
        '"\\U0001D11E"',
        '"a\\qb"',
        '"a"b"',
        '"\\uD800"',
        '"\\x4"',
        '"tab\\there"',
        '"quote \\" inside"',
        '"back\\\\slash"',
        "'#'",
        "_",
        "a_b-c.d",
    ],
)
def test_a_hand_written_value_is_read_as_yaml_reads_it_or_not_at_all(
    tmp_path: Path, raw: str
) -> None:
    file = tmp_path / "p.loopml"
    file.write_text(f"name: {raw}\nversion: 1\ndigest: {'ab' * 32}\npath: rides\n")
    strict = read_pointer_strictly(str(file))
    if strict is not None:
        assert strict[0] == read_pointer(file).name


def test_non_ascii_pointers_take_the_quick_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tracked folder with a non-ASCII name: YAML writes its pointer with escapes, and the
    quick status still answers it (no fall-through to the full command)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    folder = tmp_path / "données-𝄞"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n")
    assert full_main(["data", "add", folder.name, "--name", "donnees"]) == 0
    pointer = tmp_path / f"{folder.name}.loopml"
    assert '"' in pointer.read_text()  # escaped by YAML
    assert read_pointer_strictly(str(pointer)) == (
        "donnees",
        1,
        read_pointer(pointer).digest,
        folder.name,
    )
    answer = quick_status()
    assert answer is not None  # None would mean: fall through to the full command
    assert [(e.name, e.state) for e in answer] == [("donnees", "unchanged")]
