"""loopml server vs `mlflow server` over HTTP on 127.0.0.1, same SQLite kind of backend.

    .venv/bin/python benchmarks/bench_server.py [--repeats 3] [--quick] [--workers default|1]
                                                [--client own|mlflow]

Each measurement starts a fresh server on a fresh store, waits for it to settle, reads its
idle memory (RSS of the whole process tree), then runs one workload from a client process
(each project's own client, or with --client mlflow the MLflow client for both) and stops
the server. Tools alternate.
  per_call  log_metric one call per point (loopml buffers and batches; MLflow sends each)
  batched   log_batch of 50,000 points in batches of 1,000
  search    search_runs over 2,000 runs (median of 5)
  idle      memory of the server's process tree after start-up
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _venv import peer_python, peer_version  # noqa: E402
from common import Row, command_line, dump_json, machine, print_table  # noqa: E402

WORKLOADS = {
    "per_call": (2_000, 200, "points/s", True),
    "batched": (50_000, 5_000, "points/s", True),
    "search": (2_000, 200, "ms", False),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def count_processes(pid: int) -> int:
    count, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
            count += 1
        except FileNotFoundError:
            continue
    return count


def start_server(
    tool: str, python: Path, folder: str, workers: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    bindir = python.parent
    if tool == "loopml":
        cmd = [
            str(bindir / "loopml"),
            "server",
            "--backend-uri",
            folder,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        if workers != "default":
            cmd += ["--workers", workers]
    else:
        cmd = [
            str(bindir / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder}/mlflow.db",
            "--default-artifact-root",
            f"{folder}/artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        if workers != "default":
            cmd += ["--workers", workers]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    health = "/health"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + health, timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{tool} server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


def measure(
    tool: str,
    python: Path,
    workload: str,
    n: int,
    workers: str,
    client: tuple[str, Path] | None = None,
) -> tuple[dict, float, int]:  # type: ignore[type-arg]
    """One workload against a fresh ``tool`` server; the client is the server's own
    project's unless ``client`` = (tool, interpreter) names another."""
    client_tool, client_python = client or (tool, python)
    with tempfile.TemporaryDirectory(prefix=f"bench-server-{tool}-") as folder:
        proc, url = start_server(tool, python, folder, workers)
        try:
            time.sleep(3)  # let workers finish importing
            idle, processes = tree_rss_mb(proc.pid), count_processes(proc.pid)
            out = subprocess.run(
                [
                    str(client_python),
                    str(HERE / "_tracking_worker.py"),
                    "--tool",
                    client_tool,
                    "--workload",
                    workload,
                    "--dir",
                    folder,
                    "--n",
                    str(n),
                    "--uri",
                    url,
                ],
                capture_output=True,
                text=True,
                cwd=folder,
            )
            if out.returncode != 0:
                raise RuntimeError(f"{tool} {workload} failed:\n{out.stderr[-3000:]}")
            return json.loads(out.stdout.strip().splitlines()[-1]), idle, processes
        finally:
            stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", default="default", help="'default' or a number for both")
    parser.add_argument(
        "--client",
        choices=("own", "mlflow"),
        default="own",
        help="'own': each server gets its own project's client; 'mlflow': the MLflow client "
        "drives both servers",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    mlflow_python = peer_python("mlflow")
    ours_python = Path(sys.executable)
    rows, idle = [], {"loopml": [], "mlflow": []}
    procs = {"loopml": 0, "mlflow": 0}
    for workload, (size, quick, unit, higher) in WORKLOADS.items():
        n = quick if args.quick else size
        ours, theirs = [], []
        for rep in range(args.repeats):
            order = [("loopml", ours_python), ("mlflow", mlflow_python)]
            if rep % 2:
                order.reverse()
            for tool, python in order:
                client = ("mlflow", mlflow_python) if args.client == "mlflow" else None
                result, rss, count = measure(tool, python, workload, n, args.workers, client)
                idle[tool].append(rss)
                procs[tool] = count
                value = (
                    result["seconds"] * 1000
                    if unit == "ms"
                    else result["points"] / result["seconds"]
                )
                (ours if tool == "loopml" else theirs).append(value)
        rows.append(Row(f"{workload} (n={n:,})", unit, ours, theirs, higher))
    rows.append(Row("idle memory", "MB", idle["loopml"], idle["mlflow"], False))
    meta = {
        "command": command_line(),
        "workers": args.workers,
        "client": "MLflow's, for both servers" if args.client == "mlflow" else "each its own",
        "server processes": f"loopml {procs['loopml']}, mlflow {procs['mlflow']}",
        "mlflow": peer_version(mlflow_python, "mlflow"),
        **machine(),
    }
    title = f"Tracking server over HTTP (workers: {args.workers}, client: {args.client})"
    print_table(title, "MLflow", rows, meta)
    if args.json:
        dump_json(args.json, rows, meta)


if __name__ == "__main__":
    main()
