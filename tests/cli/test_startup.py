"""Start-up stays cheap: a command imports its own module and what its work needs, no more.

Each case runs a real ``loopml`` command in a fresh interpreter and reports which modules
were imported by the time it finished (the time itself is a benchmark, not a test).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import loopml as lm
from loopml.cli.main import COMMANDS, main

_PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
from loopml.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _modules(tmp_path: Path, *args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LOOPML_CAPTURE_PACKAGES": "0"},
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line[len("MODULES ") :]))


def _cli_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith("loopml.cli.") and not m.startswith("loopml.cli._")}


@pytest.fixture
def store(tmp_path: Path) -> str:
    uri = str(tmp_path / "store")
    client = lm.TrackingClient(uri)
    client.create_experiment("kept")  # the store is made and migrated
    client.close()
    return uri


def test_a_command_imports_only_its_own_cli_module(tmp_path: Path, store: str) -> None:
    modules = _modules(tmp_path, "runs", "list", "--tracking-uri", store)
    assert _cli_modules(modules) == {"loopml.cli.main", "loopml.cli.runs"}


def test_tracking_commands_on_the_embedded_store_import_no_sqlalchemy(
    tmp_path: Path, store: str
) -> None:
    modules = _modules(tmp_path, "runs", "list", "--tracking-uri", store)
    assert "loopml.storage.metadata.sql.embedded" in modules  # the store was opened
    assert "sqlalchemy" not in modules
    assert "alembic" not in modules


def test_a_pipeline_run_imports_no_sqlalchemy(tmp_path: Path, store: str) -> None:
    (tmp_path / "flow.py").write_text(
        "from loopml import pipeline, step\n\n"
        "@step\ndef inc(x: int) -> int:\n    return x + 1\n\n"
        "@pipeline\ndef linear(start: int = 0):\n    inc(inc(start))\n"
    )
    for _ in range(2):  # the second run reuses both steps from the cache
        modules = _modules(tmp_path, "pipeline", "run", "flow.py:linear", "--tracking-uri", store)
        assert "loopml.pipelines.runner" in modules
        assert "sqlalchemy" not in modules


def test_the_registry_opens_the_sqlalchemy_store_when_it_is_used(
    tmp_path: Path, store: str
) -> None:
    modules = _modules(tmp_path, "models", "list", "--tracking-uri", store)
    assert "sqlalchemy.engine" in modules
    assert "sqlalchemy.orm" not in modules
    assert "alembic" not in modules  # the schema is current: no migration tool


def test_a_query_loads_no_library_it_does_not_use(tmp_path: Path, store: str) -> None:
    modules = _modules(tmp_path, "runs", "list", "--tracking-uri", store)
    # pydantic: typer 0.29 validates every parameter with it (pyproject keeps typer below)
    unused = {"pydantic", "fsspec", "httpx", "numpy", "pandas", "yaml", "multiprocessing"}
    assert unused & {m.split(".")[0] for m in modules} == set()


def test_help_lists_every_command_of_the_lazy_table() -> None:
    exe = Path(sys.executable).with_name("loopml")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    for name in COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_lazy_command_builds_with_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A wrong "module:attribute" in the table would only show when the command is used.
    assert main([name, "--help"]) == 0
    assert re.search(rf"Usage: .* {name} ", capsys.readouterr().out)


def test_a_bad_option_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("loopml")
    done = subprocess.run(
        [str(exe), "pipeline", "run", "--no-such-option"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "No such option" in done.stderr and "Traceback" not in done.stderr


def test_the_help_listing_shows_what_each_built_command_says() -> None:
    import typer.main

    from loopml.cli._lazy import _summary
    from loopml.cli.main import app

    root = typer.main.get_command(app)
    for name, target in COMMANDS.items():
        built = root.get_command(None, name)  # type: ignore[arg-type]
        assert built is not None
        assert _summary(name, target).help == built.help, name


def test_a_mistyped_command_gets_a_suggestion(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("loopml")
    done = subprocess.run([str(exe), "pipelin"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and "Did you mean 'pipeline'" in done.stderr
