"""Model servers under load: loopml serve vs mlflow models serve vs BentoML vs a bare
Starlette endpoint, the same scikit-learn model, the same requests.

    .venv/bin/python benchmarks/bench_serving.py [--repeats 3] [--duration 10] [--quick]
        [--only loopml,mlflow,bentoml,bare] [--json out.json] [--profile DIR]

Each tool trains the same LogisticRegression on 4 features (same seed and data, a pandas
DataFrame) in its own environment and packages it its way. Every measurement starts the
tool's server, times start-up (process start to ready), reads its idle memory (RSS of the
process tree), checks its answers to every payload against the others', then drives it
with wrk (keep-alive connections, a Lua script rotating 16 distinct single-row JSON
payloads): a warm-up, then a fixed duration, at 1 and 8 connections; 64 connections with
batching on (loopml --max-batch-size, BentoML's adaptive batching; MLflow and bare have
none). Tools alternate (the order rotates every repeat); figures are medians of repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _venv import peer_python, peer_version  # noqa: E402
from bench_server import count_processes, tree_rss_mb  # noqa: E402
from common import command_line, machine, median  # noqa: E402

TOOLS = ("loopml", "mlflow", "bentoml", "bare")
NAMES = {"loopml": "loopml", "mlflow": "MLflow", "bentoml": "BentoML", "bare": "bare Starlette"}
LEVELS = (1, 8, 64)
BATCHED_LEVEL = 64
COLUMNS = ["f0", "f1", "f2", "f3"]
PAYLOADS = 16
MAX_BATCH = 64
MAX_LATENCY_MS = 2.0
GOALS = {"vs MLflow": 8.0, "% of bare": 80.0, "p99 ms": 15.0}


# -- set-up ---------------------------------------------------------------------------
def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing (needs root)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install -y wrk) ...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)
    found = shutil.which("wrk")
    if done.returncode != 0 or not found:
        raise SystemExit(f"wrk is needed and could not be installed:\n{done.stderr[-1500:]!r}")
    return found


def ensure_packages(python: Path, requirements: list[str]) -> None:
    """pip-install requirements a peer's venv lacks (the model's libraries)."""
    missing = []
    for req in requirements:
        name, _, version = req.partition("==")
        if peer_version(python, name) != version:
            missing.append(req)
    if missing:
        print(f"installing {' '.join(missing)} into {python.parent.parent} ...", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *missing], check=True)


def payloads() -> list[dict[str, Any]]:
    """Distinct single-row requests, the same for every tool."""
    import numpy as np

    rng = np.random.default_rng(11)
    rows = np.round(rng.normal(scale=1.5, size=(PAYLOADS, 4)), 4).tolist()
    return [{"dataframe_split": {"columns": COLUMNS, "data": [row]}} for row in rows]


def lua_script(bodies: list[dict[str, Any]], path: Path) -> Path:
    quoted = ",\n  ".join("[==[" + json.dumps(b, separators=(",", ":")) + "]==]" for b in bodies)
    path.write_text(
        f"""local bodies = {{
  {quoted}
}}
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""
    )
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- servers --------------------------------------------------------------------------
@dataclass
class Server:
    tool: str
    batched: bool
    proc: subprocess.Popen[bytes]
    url: str
    startup_s: float
    log: Path


def loopml_serve_available() -> bool:
    loopml = Path(sys.executable).with_name("loopml")
    done = subprocess.run([str(loopml), "serve", "--help"], capture_output=True, text=True)
    return done.returncode == 0


def _command(tool: str, batched: bool, work: Path, port: int, pythons: dict[str, Path]) -> tuple:
    env = dict(os.environ)
    # A tool that starts helpers by name (mlflow execs `uvicorn`) finds its own venv's first.
    env["PATH"] = f"{pythons[tool].parent}{os.pathsep}{env.get('PATH', '')}"
    if tool == "loopml":
        env["LOOPML_TRACKING_URI"] = str(work / "store")  # the prediction log lands here
        cmd = [str(pythons["loopml"].with_name("loopml")), "serve", str(work / "model")]
        cmd += ["--port", str(port)]
        if batched:
            cmd += ["--max-batch-size", str(MAX_BATCH), "--max-latency-ms", str(MAX_LATENCY_MS)]
        return cmd, env, "/v2/health/ready"
    if tool == "mlflow":
        cmd = [str(pythons["mlflow"].with_name("mlflow")), "models", "serve"]
        cmd += ["-m", str(work / "model"), "--env-manager", "local"]
        cmd += ["-h", "127.0.0.1", "-p", str(port)]
        return cmd, env, "/ping"
    if tool == "bentoml":
        env["BENTOML_HOME"] = str(work / "bentoml")
        env["BENTOML_DO_NOT_TRACK"] = "True"
        env["BENCH_MAX_BATCH_SIZE"] = str(MAX_BATCH)
        env["PYTHONPATH"] = str(HERE)
        service = "_bentoml_service:Batched" if batched else "_bentoml_service:Plain"
        cmd = [str(pythons["bentoml"].with_name("bentoml")), "serve", service]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        return cmd, env, "/readyz"
    cmd = [str(pythons["bare"]), str(HERE / "_serving_worker.py"), "bare"]
    cmd += ["--model", str(work / "model.pkl"), "--port", str(port)]
    return cmd, env, "/ping"


def start(tool: str, batched: bool, work: Path, pythons: dict[str, Path]) -> Server:
    port = _free_port()
    cmd, env, ready = _command(tool, batched, work, port, pythons)
    log = work / f"server-{tool}{'-batched' if batched else ''}.log"
    url = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    with open(log, "ab") as sink:
        proc = subprocess.Popen(
            cmd, stdout=sink, stderr=sink, cwd=work, env=env, start_new_session=True
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{tool} server exited with {proc.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(url + ready, timeout=2) as answer:
                if answer.status == 200:
                    return Server(tool, batched, proc, url, time.perf_counter() - began, log)
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError(f"{tool} server was not ready within 180 s: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-1500:] if log.exists() else ""


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
    except ProcessLookupError:
        pass


def answers(server: Server, bodies: list[dict[str, Any]]) -> list[Any]:
    """The server's predictions for every payload, in order."""
    out = []
    for body in bodies:
        request = urllib.request.Request(
            server.url + "/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            data = json.loads(answer.read())
        predictions = data.get("predictions", data) if isinstance(data, dict) else data
        out.append(predictions)
    return out


def run_wrk(wrk: str, script: Path, url: str, connections: int, seconds: float) -> dict:
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    cmd += ["-s", str(script), url + "/invocations"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("WRKJSON "):
            figures = json.loads(line[len("WRKJSON ") :])
            seconds_run = figures["duration_us"] / 1e6
            errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
            return {
                "rps": figures["requests"] / seconds_run,
                "p50_ms": figures["p50_us"] / 1000,
                "p99_ms": figures["p99_us"] / 1000,
                "errors": errors,
                "requests": figures["requests"],
            }
    raise RuntimeError(f"wrk printed no figures: {done.stdout[-800:]} {done.stderr[-800:]}")


# -- the measurement loop ---------------------------------------------------------------
@dataclass
class Figures:
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    errors: int = 0
    requests: int = 0


@dataclass
class ToolResult:
    levels: dict[int, Figures] = field(default_factory=lambda: {c: Figures() for c in LEVELS})
    startup: dict[str, list[float]] = field(default_factory=lambda: {"plain": [], "batched": []})
    idle_mb: dict[str, list[float]] = field(default_factory=lambda: {"plain": [], "batched": []})
    processes: dict[str, int] = field(default_factory=dict)
    failed: str = ""
    pending: bool = False


def has_batching(tool: str) -> bool:
    return tool in ("loopml", "bentoml")


def measure_server(
    server: Server,
    levels: list[int],
    result: ToolResult,
    bodies: list[dict[str, Any]],
    reference: dict[str, Any],
    args: argparse.Namespace,
    wrk: str,
    script: Path,
) -> None:
    kind = "batched" if server.batched else "plain"
    result.startup[kind].append(server.startup_s)
    time.sleep(2)  # let a server that forks workers settle before reading its memory
    result.idle_mb[kind].append(tree_rss_mb(server.proc.pid))
    result.processes[kind] = count_processes(server.proc.pid)
    got = answers(server, bodies)
    key = f"{server.tool}{' (batched)' if server.batched else ''}"
    reference.setdefault("answers", {})[key] = got
    for level in levels:
        run_wrk(wrk, script, server.url, level, args.warmup)
        figures = run_wrk(wrk, script, server.url, level, args.duration)
        target = result.levels[level]
        target.rps.append(figures["rps"])
        target.p50.append(figures["p50_ms"])
        target.p99.append(figures["p99_ms"])
        target.errors += figures["errors"]
        target.requests += figures["requests"]
        if args.profile and server.tool == "loopml" and level == 8:
            profile(server, wrk, script, level, args)


def profile(server: Server, wrk: str, script: Path, level: int, args: argparse.Namespace) -> None:
    """A py-spy profile of the loopml server under the same load (its own venv)."""
    spy = peer_python("py-spy", import_name="site").with_name("py-spy")
    folder = Path(args.profile)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"loopml-c{level}{'-batched' if server.batched else ''}"
    seconds = max(5, int(args.duration))
    recorders = [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(server.proc.pid),
                "--subprocesses",
                "--duration",
                str(seconds),
                "--rate",
                "200",
                "--format",
                fmt,
                "-o",
                f"{stem}.{ext}",
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fmt, ext in (("flamegraph", "svg"), ("raw", "txt"))
    ]
    run_wrk(wrk, script, server.url, level, seconds + 1)
    for recorder in recorders:
        recorder.wait(timeout=120)
    print(f"profile: {stem}.svg and {stem}.txt", file=sys.stderr)


def prepare(tool: str, python: Path, root: Path) -> Path:
    work = root / tool
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, BENTOML_HOME=str(work / "bentoml"), BENTOML_DO_NOT_TRACK="True")
    done = subprocess.run(
        [
            str(python),
            str(HERE / "_serving_worker.py"),
            "train",
            "--tool",
            tool,
            "--out",
            str(work),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
    )
    if done.returncode != 0:
        raise RuntimeError(f"training for {tool} failed:\n{done.stderr[-2000:]}")
    return work


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each")
    parser.add_argument("--quick", action="store_true", help="1 repeat of 3 s (a smoke run)")
    parser.add_argument("--only", default=",".join(TOOLS), help="comma-separated tools")
    parser.add_argument("--json")
    parser.add_argument("--profile", help="folder for py-spy profiles of the loopml server")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.duration, args.warmup = 1, 3.0, 1.0
    tools = [t for t in TOOLS if t in args.only.split(",")]
    wrk = ensure_wrk()
    libraries = [
        f"scikit-learn=={peer_version(Path(sys.executable), 'scikit-learn')}",
        f"pandas=={peer_version(Path(sys.executable), 'pandas')}",
    ]
    pythons: dict[str, Path] = {"loopml": Path(sys.executable), "bare": Path(sys.executable)}
    if "mlflow" in tools:
        pythons["mlflow"] = peer_python("mlflow")
        ensure_packages(pythons["mlflow"], libraries)
    if "bentoml" in tools:
        pythons["bentoml"] = peer_python("bentoml")
        ensure_packages(pythons["bentoml"], libraries)
    results = {tool: ToolResult() for tool in tools}
    if "loopml" in tools and not loopml_serve_available():
        results["loopml"].pending = True
    bodies = payloads()
    reference: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        root = Path(tmp)
        script = lua_script(bodies, root / "post.lua")
        works = {}
        for tool in tools:
            if results[tool].pending:
                continue
            try:
                works[tool] = prepare(tool, pythons[tool], root)
            except RuntimeError as exc:
                results[tool].failed = str(exc)
        active = [t for t in tools if t in works]
        for rep in range(args.repeats):
            order = active[rep % len(active) :] + active[: rep % len(active)] if active else []
            for tool in order:
                result = results[tool]
                if result.failed:
                    continue
                configs = [
                    (False, [c for c in LEVELS if c != BATCHED_LEVEL or not has_batching(tool)])
                ]
                if has_batching(tool):
                    configs.append((True, [BATCHED_LEVEL]))
                for batched, levels in configs:
                    print(
                        f"repeat {rep + 1}: {tool}{' batched' if batched else ''} ...",
                        file=sys.stderr,
                    )
                    try:
                        server = start(tool, batched, works[tool], pythons)
                    except RuntimeError as exc:
                        result.failed = str(exc)
                        break
                    try:
                        measure_server(server, levels, result, bodies, reference, args, wrk, script)
                    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                        result.failed = f"{type(exc).__name__}: {exc} {_tail(server.log)}"
                    finally:
                        stop_server(server.proc)
    mismatch = check_answers(reference.get("answers", {}))
    meta = {
        "command": command_line(),
        "load": f"{wrk_version(wrk)}, 1 thread, keep-alive, {PAYLOADS} rotating payloads",
        "batching": f"loopml --max-batch-size {MAX_BATCH} --max-latency-ms {MAX_LATENCY_MS:g}; "
        f"BentoML max_batch_size={MAX_BATCH} (adaptive wait)",
        **versions(pythons),
        **machine(),
    }
    report(tools, results, mismatch, meta, args)
    if args.json:
        dump(args.json, tools, results, mismatch, meta)
    return 1 if any(r.failed for r in results.values()) or mismatch else 0


def wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    words = (done.stdout + done.stderr).split()
    return " ".join(words[:2]) if words else "wrk"


def versions(pythons: dict[str, Path]) -> dict[str, str]:
    out = {}
    if "mlflow" in pythons:
        out["mlflow"] = peer_version(pythons["mlflow"], "mlflow")
    if "bentoml" in pythons:
        out["bentoml"] = peer_version(pythons["bentoml"], "bentoml")
    out["scikit-learn"] = peer_version(pythons["loopml"], "scikit-learn")
    out["uvicorn (loopml, bare)"] = peer_version(pythons["loopml"], "uvicorn")
    return out


def check_answers(answers: dict[str, list[Any]]) -> str:
    """'' when every server gave the same predictions for every payload, else which differ."""
    if not answers:
        return ""
    items = list(answers.items())
    first_name, first = items[0]
    bad = [name for name, got in items[1:] if got != first]
    return f"{', '.join(bad)} answered differently from {first_name}" if bad else ""


# -- reporting --------------------------------------------------------------------------
def _m(values: list[float]) -> float:
    return median(values) if values else float("nan")


def _cell(value: float, fmt: str = "{:,.0f}") -> str:
    return "-" if value != value else fmt.format(value)


def report(
    tools: list[str],
    results: dict[str, ToolResult],
    mismatch: str,
    meta: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    title = (
        f"Model servers under load (wrk, {args.duration:g} s per run, medians of {args.repeats})"
    )
    table = Table(title=title)
    for name in ("connections", "server", "requests/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(name, justify="left" if name == "server" else "right")
    for level in LEVELS:
        for tool in tools:
            result = results[tool]
            label = NAMES[tool]
            if level == BATCHED_LEVEL and has_batching(tool):
                label += " (batching)"
            if result.pending:
                table.add_row(str(level), label, "pending", "", "", "")
                continue
            f = result.levels[level]
            if not f.rps:
                table.add_row(
                    str(level), label, "[red]failed[/]" if result.failed else "-", "", "", ""
                )
                continue
            table.add_row(
                str(level),
                label,
                _cell(_m(f.rps)),
                _cell(_m(f.p50), "{:.2f}"),
                _cell(_m(f.p99), "{:.2f}"),
                f"{f.errors:,} / {f.requests:,}",
            )
        table.add_section()
    console.print(table)
    ratios = Table(title="loopml against the others (requests/s) and the goals")
    for name in ("connections", "vs MLflow", "vs BentoML", "% of bare", "loopml p99 ms"):
        ratios.add_column(name, justify="right")
    ours = results.get("loopml")
    for level in LEVELS:
        if ours is None or ours.pending or not ours.levels[level].rps:
            ratios.add_row(str(level), "pending" if ours and ours.pending else "-", "", "", "")
            continue
        mine = _m(ours.levels[level].rps)

        def ratio(tool: str, level: int = level, mine: float = mine) -> float:
            other = results.get(tool)
            if other is None or not other.levels[level].rps:
                return float("nan")
            return mine / _m(other.levels[level].rps)

        p99 = _m(ours.levels[level].p99)
        ratios.add_row(
            str(level),
            _goal(ratio("mlflow"), GOALS["vs MLflow"], "{:.1f}x"),
            _cell(ratio("bentoml"), "{:.1f}x"),
            _goal(100 * ratio("bare"), GOALS["% of bare"], "{:.0f}%"),
            _goal(p99, GOALS["p99 ms"], "{:.2f}", lower=True),
        )
    console.print(ratios)
    start = Table(
        title="start-up (process start to ready) and idle memory (RSS of the process tree)"
    )
    for name in ("server", "start-up s", "idle MB", "processes"):
        start.add_column(name, justify="left" if name == "server" else "right")
    for tool in tools:
        result = results[tool]
        for kind in ("plain", "batched"):
            if not result.startup[kind] and not (result.pending and kind == "plain"):
                continue
            label = NAMES[tool] + (" (batching)" if kind == "batched" else "")
            if result.pending:
                start.add_row(label, "pending", "", "")
                continue
            start.add_row(
                label,
                _cell(_m(result.startup[kind]), "{:.2f}"),
                _cell(_m(result.idle_mb[kind])),
                str(result.processes.get(kind, "")),
            )
    console.print(start)
    console.print(
        "answers: "
        + (
            f"[red]MISMATCH: {escape(mismatch)}[/]"
            if mismatch
            else "identical for every payload on every server"
        ),
    )
    if ours is not None and ours.pending:
        console.print("loopml: pending — `loopml serve` is not available in this environment yet")
    for tool in tools:
        if results[tool].failed:
            console.print(f"[red]{NAMES[tool]} failed[/]: {escape(results[tool].failed[:1500])}")
    for key, value in meta.items():
        if not value:
            continue
        sep = "\n" if "\n" in str(value) else " "
        console.print(f"[bold]{key}[/]:{sep}{escape(str(value))}", highlight=False)


def _goal(value: float, goal: float, fmt: str, lower: bool = False) -> str:
    if value != value:
        return "-"
    met = value <= goal if lower else value >= goal
    return f"{fmt.format(value)} {'✓' if met else '✗'}"


def dump(
    path: str, tools: list[str], results: dict[str, ToolResult], mismatch: str, meta: dict
) -> None:
    data = {
        "meta": meta,
        "answers_mismatch": mismatch,
        "tools": {
            tool: {
                "pending": results[tool].pending,
                "failed": results[tool].failed,
                "levels": {
                    str(c): {
                        "rps": f.rps,
                        "p50_ms": f.p50,
                        "p99_ms": f.p99,
                        "errors": f.errors,
                        "requests": f.requests,
                        "rps_median": _m(f.rps) if f.rps else None,
                    }
                    for c, f in results[tool].levels.items()
                },
                "startup_s": results[tool].startup,
                "idle_mb": results[tool].idle_mb,
                "processes": results[tool].processes,
            }
            for tool in tools
        },
    }
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")


if __name__ == "__main__":
    sys.exit(main())
