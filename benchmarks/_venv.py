"""Peer tools live in virtual environments of their own: benchmarks/.venvs/<peer>."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENVS = Path(__file__).resolve().parent / ".venvs"


def peer_python(peer: str, requirement: str, import_name: str | None = None) -> Path:
    """The interpreter of the peer's venv, created and filled on first use."""
    venv = VENVS / peer
    python = venv / "bin" / "python"
    module = import_name or peer
    if python.exists():
        probe = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True)
        if probe.returncode == 0:
            return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-U", "pip"], check=True)
    print(f"installing {requirement} into {venv} …", file=sys.stderr)
    subprocess.run([str(python), "-m", "pip", "install", "-q", requirement], check=True)
    return python


def peer_version(python: Path, distribution: str) -> str:
    """The installed version of a distribution in a venv."""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
