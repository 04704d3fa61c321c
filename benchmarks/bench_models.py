"""Loading a ~100 MB scikit-learn model: loopml (digest verification on and off) vs MLflow.

    .venv/bin/python benchmarks/bench_models.py [--repeats 5] [--trees 60] [--json out.json]

Each tool trains the same random forest (same data and seed, in its own environment) and
packages it once; then each load is timed in a fresh process, the tools alternating.
loopml verifies the BLAKE3 digest of every file on load unless told not to; MLflow does not
verify files. MLflow is measured in its default format (skops, told that tree nodes are
trusted) and in cloudpickle, the closest to loopml's joblib file. MLflow runs from
benchmarks/.venvs/mlflow (made on first use).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _venv import PeerInstallError, peer_python, peer_version  # noqa: E402
from common import (  # noqa: E402
    Row,
    WorkerError,
    command_line,
    dump_json,
    machine,
    print_table,
    run_worker,
)

TIMEOUT_S = 900.0


def worker(python: Path, tool: str, *args: str) -> dict[str, float]:
    command = [str(python), str(HERE / "_models_worker.py"), "--tool", tool, *args]
    return run_worker(command, cwd=HERE, timeout=TIMEOUT_S)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trees", type=int, default=60, help="forest size (60 ≈ 100 MB)")
    parser.add_argument("--json", help="also write the raw figures here")
    args = parser.parse_args()

    ours = Path(sys.executable)
    failed: dict[str, str] = {}
    try:
        theirs: Path | None = peer_python("mlflow")
    except PeerInstallError as exc:
        theirs, failed["peer"] = None, str(exc).splitlines()[0]

    with tempfile.TemporaryDirectory(prefix="bench-models-") as root:
        folders = {"loopml": Path(root) / "loopml", "mlflow": Path(root) / "mlflow"}
        sizes: dict[str, float] = {}
        for tool, folder in folders.items():
            folder.mkdir()
            python = ours if tool == "loopml" else theirs
            if python is None:
                continue
            try:
                saved = worker(
                    python, tool, "--step", "save", "--dir", str(folder), "--trees", str(args.trees)
                )
                sizes[tool] = saved["size_mb"]
            except WorkerError as exc:
                failed["loopml" if tool == "loopml" else "peer"] = str(exc).splitlines()[0]

        figures: dict[str, list[float]] = {
            "verify": [],
            "no-verify": [],
            "skops": [],
            "cloudpickle": [],
        }
        for rep in range(args.repeats):
            steps = [
                ("loopml", "verify"),
                ("mlflow", "skops"),
                ("loopml", "no-verify"),
                ("mlflow", "cloudpickle"),
            ]
            if rep % 2:
                steps.reverse()
            for tool, variant in steps:
                python = ours if tool == "loopml" else theirs
                if python is None or tool not in sizes:
                    continue
                extra = ["--no-verify"] if variant == "no-verify" else []
                if tool == "mlflow":
                    extra = ["--format", variant]
                try:
                    result = worker(
                        python, tool, "--step", "load", "--dir", str(folders[tool]), *extra
                    )
                except WorkerError as exc:
                    failed["loopml" if tool == "loopml" else "peer"] = str(exc).splitlines()[0]
                    continue
                figures[variant].append(result["seconds"] * 1000)

    size = sizes.get("loopml", 0.0)
    rows = [
        Row(
            "load, digests verified",
            "ms",
            figures["verify"],
            figures["skops"],
            False,
            note="MLflow default (skops); it verifies no digests",
            failed=dict(failed),
        ),
        Row(
            "load, digests verified",
            "ms",
            figures["verify"],
            figures["cloudpickle"],
            False,
            note="MLflow cloudpickle",
            failed=dict(failed),
        ),
        Row(
            "load, verification off",
            "ms",
            figures["no-verify"],
            figures["cloudpickle"],
            False,
            note="MLflow cloudpickle",
            failed=dict(failed),
        ),
    ]
    meta = {
        "model": f"RandomForestRegressor, {args.trees} trees, 20,000 rows x 8 features",
        "package size": ", ".join(f"{t} {s:,.1f} MB" for t, s in sizes.items()),
        "command": command_line(),
        "mlflow": peer_version(theirs, "mlflow") if theirs else "not installed",
        **machine(),
    }
    print_table(f"Loading a {size:,.0f} MB scikit-learn model", "MLflow", rows, meta)
    if args.json:
        dump_json(args.json, rows, meta)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
