"""Dataset versioning: loopml vs DVC, on the same files, from the command line.

    .venv/bin/python benchmarks/bench_data.py [--repeats 3] [--files 20000] [--big-mib 1024]
    .venv/bin/python benchmarks/bench_data.py --status-only 15 [--files 20000]

Each repeat makes a fresh project per tool (git init; `dvc init` for DVC, and for loopml
one command that creates its store — set-up, not timed, for both), the tools taking turns,
and times the commands a user types:

- add of N files of 1 KiB, and `status` with nothing changed;
- re-add after one small file changed;
- add of one large file; then one byte of it is changed in place and it is added again:
  the growth of each tool's store (DVC's cache, loopml's artifact store) is reported;
- for loopml, the add of another large file with ``LOOPML_DATA_SYNC=false`` (no flush to
  disk before the version is recorded, as DVC does not flush), against DVC's add.

With ``--status-only N`` it times just ``status`` with nothing changed: one project per tool
(set up and added, not timed), then N runs of each tool's ``status``, taking turns.

Times include each CLI's start-up, as a user sees it (loopml's bytecode is written first,
as pip writes the peer's). DVC runs from benchmarks/.venvs/dvc
(made on first use); its cache type is left at its default (reflink, else copy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _venv import PeerInstallError, peer_python, peer_version  # noqa: E402
from common import (  # noqa: E402
    Row,
    command_line,
    compile_bytecode,
    dump_json,
    machine,
    print_table,
)

TIMEOUT_S = 1800.0


class CommandFailed(RuntimeError):
    """A CLI exited non-zero."""


def _run(command: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> float:
    env = {**os.environ, "LOOPML_CAPTURE_PACKAGES": "0", "DVC_NO_ANALYTICS": "1"}
    env.update(extra_env or {})
    start = time.perf_counter()
    proc = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise CommandFailed(f"{' '.join(command)}: exit {proc.returncode}: {proc.stderr[-1500:]}")
    return elapsed


def _du(path: Path) -> int:
    """Bytes on disk under a folder (hard links counted once)."""
    seen: set[int] = set()
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


def _make_many(folder: Path, count: int, seed: int) -> None:
    folder.mkdir(parents=True)
    rng = __import__("random").Random(seed)
    for i in range(count):
        sub = folder / f"d{i % 100:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"f{i:05d}.bin").write_bytes(rng.randbytes(1024))


def _make_big(path: Path, mib: int, salt: int = 0) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for i in range(mib):
            handle.write(block[:-8] + (i + (salt << 32)).to_bytes(8, "little"))


class Tool:
    def __init__(self, name: str, cli: list[str], store: str) -> None:
        self.name, self.cli, self.store = name, cli, store

    def init(self, project: Path) -> None:
        """Set-up, not timed: a git project and the tool's store in it (`dvc init`; for
        loopml the first command creates and migrates ./.loopml, so one is run here)."""
        subprocess.run(["git", "init", "-q"], cwd=project, check=True)
        if self.name == "dvc":
            _run([*self.cli, "init", "-q"], project)
        else:
            _run([*self.cli, "data", "list"], project)

    def add(self, project: Path, target: str, extra_env: dict[str, str] | None = None) -> float:
        if self.name == "dvc":
            return _run([*self.cli, "add", "-q", target], project)
        return _run([*self.cli, "data", "add", target], project, extra_env)

    def status(self, project: Path) -> float:
        if self.name == "dvc":
            return _run([*self.cli, "status", "-q"], project)
        return _run([*self.cli, "data", "status"], project)


def measure(tool: Tool, root: Path, files: int, big_mib: int, seed: int) -> dict[str, float]:
    project = root / tool.name
    project.mkdir()
    tool.init(project)
    _make_many(project / "many", files, seed)
    out: dict[str, float] = {}
    out["add_many"] = tool.add(project, "many")
    out["status"] = tool.status(project)
    (project / "many" / "d07" / "f00007.bin").write_bytes(b"changed" * 100)
    out["readd_one"] = tool.add(project, "many")
    _make_big(project / "big.bin", big_mib)
    out["add_big"] = tool.add(project, "big.bin")
    before = _du(project / tool.store)
    with open(project / "big.bin", "r+b") as handle:
        handle.seek((big_mib << 20) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    tool.add(project, "big.bin")
    out["growth_mib"] = (_du(project / tool.store) - before) / (1 << 20)
    if tool.name == "loopml":
        _make_big(project / "big2.bin", big_mib, salt=1)
        out["add_big_nosync"] = tool.add(project, "big2.bin", {"LOOPML_DATA_SYNC": "false"})
    else:
        out["add_big_nosync"] = out["add_big"]  # DVC does not flush in any case
    shutil.rmtree(project)
    return out


def measure_status(tools: list[Tool], root: Path, files: int, runs: int) -> dict[str, list[float]]:
    """``status`` with nothing changed, ``runs`` times per tool, the tools taking turns."""
    projects = {}
    for tool in tools:
        project = root / tool.name
        project.mkdir()
        tool.init(project)
        _make_many(project / "many", files, seed=0)
        tool.add(project, "many")
        tool.status(project)  # a first run, as after any add (caches warm for both)
        projects[tool.name] = project
    times: dict[str, list[float]] = {t.name: [] for t in tools}
    for run in range(runs):
        for tool in tools if run % 2 == 0 else list(reversed(tools)):
            times[tool.name].append(tool.status(projects[tool.name]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--json", help="also write the raw figures here")
    parser.add_argument(
        "--status-only", type=int, metavar="N", default=0, help="time only status, N runs"
    )
    args = parser.parse_args()
    compile_bytecode("loopml")

    tools = [Tool("loopml", [str(Path(sys.executable).with_name("loopml"))], ".loopml/artifacts")]
    failed: dict[str, str] = {}
    try:
        dvc_python = peer_python("dvc")
        tools.append(Tool("dvc", [str(dvc_python), "-m", "dvc"], ".dvc/cache"))
        dvc_version = peer_version(dvc_python, "dvc")
    except PeerInstallError as exc:
        failed["peer"], dvc_version = str(exc).splitlines()[0], "not installed"

    meta = {"command": command_line()}
    if args.status_only:
        with tempfile.TemporaryDirectory(prefix="bench-data-") as root:
            times = measure_status(tools, Path(root), args.files, args.status_only)
        row = Row(
            f"status, {args.files:,} files unchanged ({args.status_only} runs)",
            "s",
            times["loopml"],
            times.get("dvc", []),
            False,
            failed=failed,
        )
        meta = {"peer": f"dvc {dvc_version}", **machine(), **meta}
        print_table("Dataset status: loopml vs DVC (CLI, wall-clock)", "DVC", [row], meta)
        if args.json:
            dump_json(args.json, [row], meta)
        return

    keys = ["add_many", "status", "readd_one", "add_big", "growth_mib", "add_big_nosync"]
    figures: dict[str, dict[str, list[float]]] = {t.name: {k: [] for k in keys} for t in tools}
    for rep in range(args.repeats):
        order = tools if rep % 2 == 0 else list(reversed(tools))
        for tool in order:
            with tempfile.TemporaryDirectory(prefix="bench-data-") as root:
                try:
                    result = measure(tool, Path(root), args.files, args.big_mib, seed=rep)
                except (CommandFailed, subprocess.TimeoutExpired) as exc:
                    failed["loopml" if tool.name == "loopml" else "peer"] = str(exc).splitlines()[0]
                    continue
            for key in keys:
                figures[tool.name][key].append(result[key])
            print(f"repeat {rep + 1} {tool.name}: {result}", file=sys.stderr)

    peer = figures.get("dvc", {k: [] for k in keys})
    ours = figures["loopml"]
    n = f"{args.files:,}"
    rows = [
        Row(f"add {n} files of 1 KiB", "s", ours["add_many"], peer["add_many"], False),
        Row(f"status, {n} files unchanged", "s", ours["status"], peer["status"], False),
        Row(
            "re-add after one small file changed", "s", ours["readd_one"], peer["readd_one"], False
        ),
        Row(f"add one {args.big_mib} MiB file", "s", ours["add_big"], peer["add_big"], False),
        Row(
            "store growth after a 1-byte change in it",
            "MiB",
            ours["growth_mib"],
            peer["growth_mib"],
            False,
        ),
        Row(
            f"add one {args.big_mib} MiB file, loopml data_sync off",
            "s",
            ours["add_big_nosync"],
            peer["add_big_nosync"],
            False,
        ),
    ]
    for row in rows:
        row.failed = failed
    meta = {"peer": f"dvc {dvc_version}", **machine(), **meta}
    print_table("Dataset versioning: loopml vs DVC (CLI, wall-clock)", "DVC", rows, meta)
    if args.json:
        dump_json(args.json, rows, meta)


if __name__ == "__main__":
    main()
