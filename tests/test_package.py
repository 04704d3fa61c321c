"""House rules that a reviewer would otherwise check by hand."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import loopml
from loopml.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_all_matches_the_public_exports() -> None:
    # every name in __all__ resolves, and every lazily exported name is in __all__
    for name in loopml.__all__:
        assert getattr(loopml, name) is not None, name
    assert sorted(loopml._EXPORTS) == sorted(set(loopml.__all__) - {"__version__"})
    assert len(loopml.__all__) == len(set(loopml.__all__))
    assert set(loopml.__all__) <= set(dir(loopml))


def test_every_public_symbol_has_a_docstring() -> None:
    missing = [n for n in loopml.__all__ if n != "__version__" and not getattr(loopml, n).__doc__]
    assert missing == []


def test_import_is_light() -> None:
    code = (
        "import sys, loopml\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'pandas', 'numpy', 'fsspec', 'typer',"
        " 'rich')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for field in fields(Settings):
        if field.name == "extra":
            continue
        assert f"LOOPML_{field.name.upper()}" in doc, field.name


def _command_paths() -> list[str]:
    import typer.main

    from loopml.cli.main import app

    root = typer.main.get_command(app)
    paths: list[str] = []

    def walk(cmd, prefix: str) -> None:  # type: ignore[no-untyped-def]
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            paths.append(prefix)

    walk(root, "")
    return paths


def test_every_cli_command_is_documented() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    for path in _command_paths():
        assert re.search(rf"`loopml {re.escape(path)}\b", doc), (
            f"`loopml {path}` is not in docs/cli.md"
        )


def test_layers_point_downward() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_migration_head_constant_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from loopml.storage.metadata.sql import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    assert ScriptDirectory.from_config(config).get_current_head() == migrations.HEAD
