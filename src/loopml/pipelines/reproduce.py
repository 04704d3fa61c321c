"""Re-run a tracked script from its record and compare what came out.

::

    result = lm.pipelines.reproduce("4f1c…")      # or `loopml runs reproduce 4f1c…`
    result.ok                                      # same params, metrics within tolerance
    result.metric_diffs                            # [(name, before, after)] that moved

A run's record names the git commit, the entry point, its arguments, where it was started
from, the Python version and the installed packages, and the dataset versions it read. The
reproduction checks the commit out into a temporary git worktree of the repository around
the working directory (the work tree itself is left alone), restores the data files the
commit's pointer files name (``loopml data checkout``, from the store), runs the entry
point with the recorded arguments from the recorded folder, with the same store, and marks
the runs it starts with ``loopml.reproduces=<run id>``. Then it compares the new run with
the old: parameters must be equal, every metric's latest value within the tolerance.

What it cannot restore is reported, not hidden: uncommitted changes of the original
(only their digest was recorded), a different Python or different package versions, and
arguments that were not recorded because they looked like secrets (the reproduction
refuses to run those).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from loopml.errors import InvalidInputError, InvalidStateError, NotFoundError

if TYPE_CHECKING:
    from loopml.entities import Run
    from loopml.tracking.client import TrackingClient

__all__ = ["ReproduceResult", "reproduce"]

REPRODUCES_TAG = "loopml.reproduces"
_ENVIRONMENT = "_loopml/environment.json"
_GIT_TIMEOUT = 120


@dataclass
class ReproduceResult:
    """What a reproduction ran and how it compares with the original.

    Attributes:
        run_id: the original run.
        new_run_id: the top-level run the reproduction started ("" when none was).
        returncode: the script's exit code.
        param_diffs: ``(name, original, new)`` for parameters that differ or are missing
            on one side (None).
        metric_diffs: ``(name, original, new)`` for metrics beyond the tolerance.
        warnings: what could not be made the same (Python, packages, uncommitted changes).
        output: the last lines the script printed (stdout and stderr).
    """

    run_id: str
    new_run_id: str = ""
    returncode: int = 0
    commit: str = ""
    param_diffs: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    metric_diffs: list[tuple[str, float | None, float | None]] = field(default_factory=list)
    metrics_compared: int = 0
    warnings: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def ok(self) -> bool:
        """The script succeeded, made a run, and its params and metrics match."""
        return (
            self.returncode == 0
            and bool(self.new_run_id)
            and not self.param_diffs
            and not self.metric_diffs
        )

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-able data."""
        return {
            "run_id": self.run_id,
            "new_run_id": self.new_run_id,
            "ok": self.ok,
            "returncode": self.returncode,
            "commit": self.commit,
            "param_diffs": [list(d) for d in self.param_diffs],
            "metric_diffs": [list(d) for d in self.metric_diffs],
            "metrics_compared": self.metrics_compared,
            "warnings": self.warnings,
            "output": self.output,
        }


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError as exc:
        raise InvalidStateError("reproducing a run needs git, which is not installed") from exc
    if done.returncode != 0:
        raise InvalidStateError(f"git {' '.join(args)} failed: {done.stderr.strip()[:500]}")
    return done.stdout.strip()


def _repository(commit: str, remote: str, start: Path) -> Path:
    try:
        root = Path(_git(start, "rev-parse", "--show-toplevel"))
    except InvalidStateError as exc:
        raise InvalidStateError(
            f"run this inside a clone of the run's repository ({remote or 'its git remote'}); "
            f"{start} is not in a git work tree"
        ) from exc
    try:
        _git(root, "cat-file", "-e", f"{commit}^{{commit}}")
    except InvalidStateError as exc:
        raise InvalidStateError(
            f"the repository at {root} does not have commit {commit[:12]}; fetch it "
            f"(git fetch {remote or 'origin'}) or run this in the repository the run came from"
        ) from exc
    return root


def _command(entry: str, argv: list[str], folder: Path) -> list[str]:
    if entry.startswith("-m "):
        return [sys.executable, "-m", entry[3:].strip(), *argv]
    if entry in ("-c", "<stdin>", "<interactive>", ""):
        raise InvalidInputError(
            f"the run was started from {entry or 'an unknown entry point'}, not a script or "
            "module; there is nothing to run again"
        )
    path = Path(entry)
    script = path if path.is_absolute() else folder / path
    if not script.is_file():
        raise InvalidStateError(f"the entry point {entry} is not in the checked-out commit")
    return [sys.executable, str(script), *argv]


def _environment_warnings(client: TrackingClient, run: Run) -> list[str]:
    import platform

    from loopml.tracking.context import installed_packages

    warnings = []
    recorded = run.data.tags.get("loopml.python.version", "")
    if recorded and recorded != platform.python_version():
        warnings.append(f"Python {platform.python_version()} here, {recorded} in the original")
    try:
        document = client.load_dict(run.run_id, _ENVIRONMENT)
    except NotFoundError:
        return [*warnings, "the original recorded no package list; packages were not compared"]
    before = dict(document.get("packages") or {})
    now = installed_packages()
    changed = sorted(
        f"{name} {before.get(name, '(absent)')} → {now.get(name, '(absent)')}"
        for name in set(before) | set(now)
        if before.get(name) != now.get(name) and name != "loopml"
    )
    if changed:
        shown = ", ".join(changed[:10]) + (
            f" and {len(changed) - 10} more" if len(changed) > 10 else ""
        )
        warnings.append(f"{len(changed)} package(s) differ: {shown}")
    return warnings


def _same(a: float, b: float, tolerance: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def _compare(result: ReproduceResult, old: Run, new: Run, tolerance: float) -> None:
    before, after = dict(old.data.params), dict(new.data.params)
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            result.param_diffs.append((name, before.get(name), after.get(name)))
    for name in sorted(set(old.data.metrics) | set(new.data.metrics)):
        a, b = old.data.metrics.get(name), new.data.metrics.get(name)
        result.metrics_compared += 1
        if a is None or b is None or not _same(float(a), float(b), tolerance):
            result.metric_diffs.append((name, a, b))


def _new_run(client: TrackingClient, run_id: str, since_ms: int) -> Run | None:
    ids: list[str] = []
    token = None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        ids += [e.experiment_id for e in page]
        token = page.token
        if not token:
            break
    runs = client.search_runs(
        ids,
        filter_string=f"tags.`{REPRODUCES_TAG}` = '{run_id}'",
        max_results=1000,
        order_by=["attributes.start_time ASC"],
    )
    top = [r for r in runs if r.info.start_time >= since_ms and not r.parent_run_id]
    return top[0] if top else None


def _run_script(
    command: list[str], folder: Path, env: dict[str, str], timeout: float | None, echo: Any
) -> tuple[int, str]:
    """Run the script, copying its output to ``echo`` line by line; (exit code, last lines)."""
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                tail.append(line.rstrip("\n"))
                if echo is not None:
                    echo.write(line)
                    echo.flush()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = -1
            tail.append(f"stopped after {timeout} s")
        reader.join(timeout=5)
    return code, "\n".join(tail)


def reproduce(
    run_id: str,
    *,
    tolerance: float = 1e-6,
    timeout: float | None = None,
    keep: bool = False,
    echo: TextIO | None = None,
    client: TrackingClient | None = None,
) -> ReproduceResult:
    """Run a run's script again at its commit, on its data, and compare the results.

    Args:
        run_id: the run to reproduce (it must have been started from a script or module in
            a git repository).
        tolerance: how far a metric may move (relative or absolute, whichever is looser).
        timeout: seconds the script may take (None: no limit).
        keep: keep the temporary worktree (its path is in the warnings).
        echo: a stream to copy the script's output to as it runs (the CLI passes stderr);
            the last lines are in :attr:`ReproduceResult.output` either way.

    Raises:
        InvalidInputError: the run records no commit or entry point, a bad tolerance.
        InvalidStateError: not inside the run's repository, the commit is missing, git is
            not installed, or the recorded arguments held secrets.
    """
    from loopml.data.client import DataClient

    if not isinstance(tolerance, int | float) or not math.isfinite(tolerance) or tolerance < 0:
        raise InvalidInputError(f"tolerance must be a number >= 0, not {tolerance!r}")
    if client is None:
        from loopml.tracking.fluent import get_client

        client = get_client()
    run = client.get_run(run_id)
    tags = run.data.tags
    commit = tags.get("loopml.source.git.commit", "")
    entry = tags.get("loopml.source.entry_point", "")
    if not commit or not entry:
        raise InvalidInputError(
            f"run {run_id} has no record of its code (commit and entry point): it was not "
            "started from a script in a git repository, or context capture was off"
        )
    argv = json.loads(tags.get("loopml.source.argv", "[]") or "[]")
    if any(a == "***" or "***@" in a or ":***@" in a for a in argv):
        raise InvalidStateError(
            f"run {run_id}'s arguments held secrets that were not recorded (shown as ***); "
            "pass such values through the environment, then a run can be reproduced"
        )
    if any(a.startswith("... ") and a.endswith("more arguments not recorded") for a in argv):
        raise InvalidStateError(f"run {run_id}'s command line was too long to record whole")
    result = ReproduceResult(run_id, commit=commit)
    if tags.get("loopml.source.git.dirty") == "true":
        result.warnings.append(
            "the original ran with uncommitted changes (only their digest was recorded); "
            "this reproduces the commit without them"
        )
    result.warnings += _environment_warnings(client, run)
    root = _repository(commit, tags.get("loopml.source.git.remote", ""), Path.cwd())
    work = Path(tempfile.mkdtemp(prefix="loopml-reproduce-"))
    tree = work / "src"
    try:
        _git(root, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        folder = tree / tags.get("loopml.source.cwd", "")
        if not folder.is_dir():
            folder = tree
        settings = client.settings
        tracking = settings.tracking_uri
        if "://" not in tracking and not tracking.startswith(("sqlite:", "postgresql")):
            tracking = str(Path(tracking).resolve())  # the same store from another folder
        artifacts = settings.artifact_uri
        if artifacts and "://" not in artifacts:
            artifacts = str(Path(artifacts).resolve())
        env = {
            **os.environ,
            "LOOPML_TRACKING_URI": tracking,
            "LOOPML_RUN_TAGS": f"{REPRODUCES_TAG}={run_id}",
        }
        if artifacts:
            env["LOOPML_ARTIFACT_URI"] = artifacts
        with DataClient(client, project=tree) as data:
            if data.pointers():
                data.checkout()  # the data files the commit's pointer files name
        command = _command(entry, argv, tree)
        started = int(time.time() * 1000) - 1000
        result.returncode, result.output = _run_script(command, folder, env, timeout, echo)
        new = _new_run(client, run_id, started)
        if new is not None:
            result.new_run_id = new.run_id
            _compare(result, run, new, float(tolerance))
    finally:
        if keep:
            result.warnings.append(f"the worktree is kept at {tree}")
        else:
            with contextlib.suppress(InvalidStateError):
                _git(root, "worktree", "remove", "--force", str(tree))
            shutil.rmtree(work, ignore_errors=True)
            with contextlib.suppress(InvalidStateError):
                _git(root, "worktree", "prune")
    return result
