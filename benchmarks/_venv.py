"""Peer tools live in virtual environments of their own: benchmarks/.venvs/<peer>.

A peer's dependencies never meet loopml's, and every benchmark of the same peer shares one
venv. Each peer is pinned in ``PINS`` to the release the recorded results were measured on;
bump the pin, rerun, and record the new figures together.

    python = peer_python("mlflow")             # create or fill the venv on first use
    peer_version(python, "mlflow")             # "3.17.2"
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VENVS = Path(__file__).resolve().parent / ".venvs"

# peer -> pip requirement. A pin is `name==version`; the venv is refilled when it differs.
PINS: dict[str, str] = {
    "mlflow": "mlflow==3.17.2",
    "dvc": "dvc==3.67.1",
    "metaflow": "metaflow==2.19.39",
    "zenml": "zenml[local]==0.98.0",
    "bentoml": "bentoml==1.4.40",
    "py-spy": "py-spy==0.4.3",
    "evidently": "evidently==0.7.23",
    "nannyml": "nannyml==0.13.1",
    "feast": "feast==0.67.0",
}
# peer -> further requirements installed with the pin (constraints the peer itself lacks)
WITH: dict[str, list[str]] = {
    "evidently": ["pandas<3"],
    "nannyml": ["statsmodels"],  # nannyml 0.13.1 imports it without declaring it
}


class PeerInstallError(RuntimeError):
    """A peer's venv could not be created or filled (no network, a broken wheel, ...)."""


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True)


def peer_version(python: Path, distribution: str) -> str:
    """The installed version of a distribution in a venv, or "" when it is not installed."""
    code = (
        "import importlib.metadata as m\n"
        "try:\n"
        f"    print(m.version({distribution!r}))\n"
        "except m.PackageNotFoundError:\n"
        "    print('')\n"
    )
    return _run([str(python), "-c", code]).stdout.strip()


def _satisfied(python: Path, requirement: str, module: str) -> bool:
    name, _, pinned = requirement.partition("==")
    name = name.split("[", 1)[0]  # "zenml[local]" is the distribution "zenml"
    if pinned and peer_version(python, name.strip()) != pinned.strip():
        return False
    return _run([str(python), "-c", f"import {module}"]).returncode == 0


def peer_python(peer: str, requirement: str | None = None, import_name: str | None = None) -> Path:
    """The interpreter of the peer's venv, created and filled when missing or out of date.

    Args:
        peer: the venv's folder name under benchmarks/.venvs.
        requirement: what to pip-install; defaults to ``PINS[peer]``.
        import_name: the module that proves the install worked; defaults to ``peer``.

    Raises:
        PeerInstallError: the venv could not be created or the requirement not installed.
    """
    requirement = requirement or PINS[peer]
    venv = VENVS / peer
    python = venv / "bin" / "python"
    module = import_name or peer
    marker = venv / "loopml-benchmark-pin.txt"  # extras are not visible in the version
    pinned_before = marker.read_text() if marker.exists() else ""
    if python.exists() and pinned_before == requirement and _satisfied(python, requirement, module):
        return python
    steps = []
    if not python.exists():
        steps.append([sys.executable, "-m", "venv", str(venv)])
        steps.append([str(python), "-m", "pip", "install", "-q", "-U", "pip"])
    steps.append([str(python), "-m", "pip", "install", "-q", requirement, *WITH.get(peer, [])])
    print(f"installing {requirement} into {venv} ...", file=sys.stderr)
    for step in steps:
        done = _run(step)
        if done.returncode != 0:
            raise PeerInstallError(
                f"could not install {requirement} into {venv}: `{' '.join(step)}` failed\n"
                f"{done.stderr[-2000:]}\nFix the cause, or delete {venv} and run again."
            )
    if not _satisfied(python, requirement, module):
        raise PeerInstallError(f"{requirement} installed into {venv} but `import {module}` fails")
    marker.write_text(requirement)
    return python
