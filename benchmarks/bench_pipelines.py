"""Pipelines: loopml vs Metaflow and ZenML, whole process from the shell.

    .venv/bin/python benchmarks/bench_pipelines.py [--repeats 3] [--peers metaflow,zenml]

Workloads, each in a fresh project folder (the tools taking turns):

- a 10-step linear pipeline of trivial steps;
- a 20-item fan-out joined by one step;
- the 10-step pipeline run again, unchanged (loopml and ZenML reuse cached steps; Metaflow
  has no cross-run cache, so it runs the steps again).

Each figure is the wall-clock time of the command a user types (interpreter start-up
included). Set-up is not timed: loopml's store is created first (``loopml experiments
list``), as ZenML's is by ``zenml init``; Metaflow needs none. loopml's bytecode is written
before the first run, as ``pip install`` writes the peers'. Peers run from
benchmarks/.venvs/<peer> (made on first use).
"""

from __future__ import annotations

import argparse
import os
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

STEPS = 10
ITEMS = 20
TIMEOUT_S = 600.0

LOOPML_FLOW = f"""
from loopml import pipeline, step

@step
def inc(x: int) -> int:
    return x + 1

@step
def square(x: int) -> int:
    return x * x

@step
def add(values: list) -> int:
    return sum(values)

@pipeline
def linear(start: int = 0):
    value = start
    for _ in range({STEPS}):
        value = inc(value)

@pipeline
def fan_out(count: int = {ITEMS}):
    add(square.map(list(range(count))))
"""


def _metaflow_linear() -> str:
    names = ["start", *[f"s{i}" for i in range(1, STEPS - 1)], "end"]
    body = []
    for i, name in enumerate(names):
        nxt = f"self.next(self.{names[i + 1]})" if i + 1 < len(names) else "pass"
        value = "self.value = 0" if i == 0 else "self.value = self.value + 1"
        body.append(f"    @step\n    def {name}(self):\n        {value}\n        {nxt}\n")
    return (
        "from metaflow import FlowSpec, step\n\nclass Linear(FlowSpec):\n"
        + "\n".join(body)
        + "\nif __name__ == '__main__':\n    Linear()\n"
    )


METAFLOW_FAN = f"""
from metaflow import FlowSpec, step

class FanOut(FlowSpec):
    @step
    def start(self):
        self.items = list(range({ITEMS}))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    FanOut()
"""

ZENML_FLOW = f"""
import sys
from zenml import pipeline, step

@step
def inc(x: int) -> int:
    return x + 1

@step
def square(x: int) -> int:
    return x * x

@step
def add({", ".join(f"a{i}: int" for i in range(ITEMS))}) -> int:
    return {" + ".join(f"a{i}" for i in range(ITEMS))}

@pipeline
def linear():
    value = inc(0)
    for _ in range({STEPS - 1}):
        value = inc(value)

@pipeline
def fan_out():
    add(*[square(i) for i in range({ITEMS})])

if __name__ == "__main__":
    {{"linear": linear, "fan_out": fan_out}}[sys.argv[1]]()
"""


class CommandFailed(RuntimeError):
    """A command exited non-zero."""


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise CommandFailed(f"{' '.join(command)}: exit {proc.returncode}: {proc.stderr[-1500:]}")
    return elapsed


def _env(root: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "HOME": str(root), "USERNAME": "bench", "USER": "bench", **extra}


def run_loopml(root: Path) -> dict[str, float]:
    (root / "flow.py").write_text(LOOPML_FLOW)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    cli = str(Path(sys.executable).with_name("loopml"))
    env = _env(root, LOOPML_CAPTURE_PACKAGES="0")
    # Set-up, not timed: create and migrate the store (./.loopml).
    subprocess.run([cli, "experiments", "list"], cwd=root, env=env, capture_output=True, check=True)
    out = {"linear": _timed([cli, "pipeline", "run", "flow.py:linear"], root, env)}
    out["cached"] = _timed([cli, "pipeline", "run", "flow.py:linear"], root, env)
    out["fan_out"] = _timed([cli, "pipeline", "run", "flow.py:fan_out"], root, env)
    return out


def run_metaflow(python: Path, root: Path) -> dict[str, float]:
    (root / "linear.py").write_text(_metaflow_linear())
    (root / "fan.py").write_text(METAFLOW_FAN)
    env = _env(
        root,
        METAFLOW_DEFAULT_METADATA="local",
        METAFLOW_DEFAULT_DATASTORE="local",
        METAFLOW_DATASTORE_SYSROOT_LOCAL=str(root / "mf"),
    )
    out = {"linear": _timed([str(python), "linear.py", "run"], root, env)}
    out["cached"] = _timed([str(python), "linear.py", "run"], root, env)
    out["fan_out"] = _timed([str(python), "fan.py", "run", "--max-workers", "4"], root, env)
    return out


def run_zenml(python: Path, root: Path) -> dict[str, float]:
    (root / "flow.py").write_text(ZENML_FLOW)
    env = _env(
        root,
        ZENML_CONFIG_PATH=str(root / "zenml-config"),
        ZENML_ANALYTICS_OPT_IN="false",
        ZENML_LOGGING_VERBOSITY="ERROR",
        ZENML_ENABLE_RICH_TRACEBACK="false",
    )
    subprocess.run(
        [str(python.with_name("zenml")), "init"],
        cwd=root,
        env=env,
        capture_output=True,
        check=True,
        timeout=TIMEOUT_S,
    )
    out = {"linear": _timed([str(python), "flow.py", "linear"], root, env)}
    out["cached"] = _timed([str(python), "flow.py", "linear"], root, env)
    out["fan_out"] = _timed([str(python), "flow.py", "fan_out"], root, env)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peers", default="metaflow,zenml")
    parser.add_argument("--json", help="also write the raw figures here")
    args = parser.parse_args()
    compile_bytecode("loopml")

    peers: dict[str, Path] = {}
    failed: dict[str, dict[str, str]] = {}
    for peer in [p for p in args.peers.split(",") if p]:
        try:
            peers[peer] = peer_python(peer)
        except PeerInstallError as exc:
            failed[peer] = {"peer": str(exc).splitlines()[0]}
    keys = ("linear", "fan_out", "cached")
    figures = {tool: {k: [] for k in keys} for tool in ["loopml", *peers]}
    for rep in range(args.repeats):
        order = ["loopml", *peers]
        if rep % 2:
            order.reverse()
        for tool in order:
            with tempfile.TemporaryDirectory(prefix=f"bench-pipe-{tool}-") as tmp:
                root = Path(tmp)
                try:
                    if tool == "loopml":
                        result = run_loopml(root)
                    elif tool == "metaflow":
                        result = run_metaflow(peers[tool], root)
                    else:
                        result = run_zenml(peers[tool], root)
                except (CommandFailed, subprocess.SubprocessError) as exc:
                    failed.setdefault(tool, {})["loopml" if tool == "loopml" else "peer"] = str(
                        exc
                    ).splitlines()[0]
                    continue
            for key in keys:
                figures[tool][key].append(result[key])
            print(f"repeat {rep + 1} {tool}: {result}", file=sys.stderr)
    labels = {
        "linear": f"{STEPS}-step linear pipeline",
        "fan_out": f"{ITEMS}-item fan-out",
        "cached": f"{STEPS}-step rerun, unchanged",
    }
    for peer, python in [*peers.items(), *((p, None) for p in failed if p not in peers)]:
        rows = []
        for key in keys:
            note = (
                "no cross-run cache: runs again" if peer == "metaflow" and key == "cached" else ""
            )
            row = Row(
                labels[key],
                "s",
                figures["loopml"][key],
                figures.get(peer, {}).get(key, []),
                False,
                note,
            )
            row.failed = {**failed.get("loopml", {}), **failed.get(peer, {})}
            rows.append(row)
        version = peer_version(python, peer) if python else "not installed"
        meta = {"peer": f"{peer} {version}", **machine(), "command": command_line()}
        print_table(f"Pipelines: loopml vs {peer} (whole process, wall-clock)", peer, rows, meta)
        if args.json:
            dump_json(f"{args.json}.{peer}.json", rows, meta)


if __name__ == "__main__":
    main()
