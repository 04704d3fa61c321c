"""The reproducibility record captured on every run: code, entry point, Python and platform.

:func:`capture_run_context` gathers what a later ``loopml reproduce`` needs to re-run a
script — the git commit, branch and uncommitted changes, how the program was started, the
Python version, the platform and the installed packages — as run tags plus an environment
document that the tracking layer stores as an artifact.

Git is asked through the ``git`` binary: three short queries started together, then a diff
when the tree is dirty; outside a work tree, or without git installed, the git part is
simply left out. The installed packages are
read once per process, because scanning them is the slow part.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import blake3

from loopml.entities.validation import MAX_TAG_VALUE_LENGTH

if TYPE_CHECKING:
    import importlib.metadata

__all__ = [
    "GitInfo",
    "RunContext",
    "capture_run_context",
    "current_user",
    "git_info",
    "installed_packages",
]

_GIT_TIMEOUT = 5.0
# `git diff` of a large binary change can take longer than the metadata queries.
_DIFF_TIMEOUT = 15.0
_CHUNK = 1 << 20
# Git special-cases the empty tree, so these ids work even though no such object is stored.
_EMPTY_TREE = {
    "sha1": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "sha256": "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
}
# Schemes where anything before "@" is a secret (a password or an access token).
_SECRET_USERINFO_SCHEMES = {"http", "https", "ftp", "ftps"}
_NAME_SEPARATORS = re.compile(r"[-_.]+")
# An option or key=value whose name says it holds a secret: its value is not recorded.
_SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|"
    r"credentials?|auth)$",
    re.IGNORECASE,
)
_OPTION = re.compile(r"^(-{1,2}[A-Za-z0-9][\w.-]*)(=(.*))?$", re.DOTALL)
_KEY_VALUE = re.compile(r"^([A-Za-z_][\w.-]*)=(.*)$", re.DOTALL)
_URL_IN_ARG = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s@/]*@[^\s]*")
REDACTED = "***"
_BLANK_LINE = re.compile(r"\r?\n\r?\n")
_HEADER = re.compile(r"^(Name|Version):[ \t]*(\S.*?)[ \t]*\r?$", re.MULTILINE)
# --no-optional-locks: do not take index.lock, so a concurrent `git commit` never fails.
_STATUS_ARGS = (
    "--no-optional-locks",
    "status",
    "--porcelain=v2",
    "--branch",
    "-z",
    "--untracked-files=all",
)

_DIFF_CONFIG = (
    *("-c", "diff.relative=false"),
    *("-c", "diff.noprefix=false"),
    *("-c", "diff.mnemonicPrefix=false"),
    *("-c", "core.quotePath=true"),
)
_DIFF_OPTIONS = ("--binary", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames")


@dataclass(frozen=True)
class GitInfo:
    """The state of the git work tree a run's code came from.

    Attributes:
        commit: the full id of HEAD; empty in a repository with no commits yet.
        branch: the checked-out branch; empty when HEAD is detached.
        dirty: True when tracked files differ from HEAD or untracked files exist.
        diff_digest: BLAKE3 hex of ``git diff HEAD --binary`` plus the sorted names of
            untracked files; None when the tree is clean (or the diff could not be read).
        remote: the URL of the ``origin`` remote with any credentials removed; None
            without one.
    """

    commit: str
    branch: str
    dirty: bool
    diff_digest: str | None
    remote: str | None


@dataclass(frozen=True)
class RunContext:
    """What :func:`capture_run_context` found.

    Attributes:
        tags: run tags (``loopml.source.*``, ``loopml.python.version``, ``loopml.platform``,
            ``loopml.host``, ``loopml.user``, ``loopml.environment.digest``). A tag whose
            value is unknown or empty (no branch, clean tree, no remote) is left out.
        environment: ``{"python": …, "platform": …, "packages": {name: version}}`` to store
            as an artifact; None when packages were not captured.
    """

    tags: dict[str, str]
    environment: dict[str, object] | None


def git_info(path: str | os.PathLike[str] | None = None) -> GitInfo | None:
    """Describe the git work tree that contains ``path``.

    Args:
        path: a folder or file inside the work tree; the working directory when omitted.

    Returns:
        The commit, branch, dirty flag, diff digest and remote, or None when ``path`` is not
        inside a git work tree, git is not installed, or git does not answer in time.
    """
    cwd = _cwd() if path is None else Path(path)
    if cwd is None:
        return None
    if cwd.is_file():
        cwd = cwd.parent
    return _git_context(cwd)[1]


def capture_run_context(*, packages: bool = True) -> RunContext:
    """Capture the reproducibility record of the current process.

    Args:
        packages: also list the installed packages (the environment document and the
            ``loopml.environment.digest`` tag). The list is read once per process.

    Returns:
        The tags to set on a run and the environment document (None without packages).
    """
    entry, script = _entry_point()
    cwd = script.parent if script is not None else _cwd()
    tags: dict[str, str] = {}
    root, state = _git_context(cwd) if cwd is not None else (None, None)
    if root is not None:
        if state is not None:
            tags["loopml.source.git.commit"] = state.commit
            tags["loopml.source.git.branch"] = state.branch
            tags["loopml.source.git.dirty"] = "true" if state.dirty else "false"
            tags["loopml.source.git.diff_digest"] = state.diff_digest or ""
            tags["loopml.source.git.remote"] = state.remote or ""
        if script is not None:
            entry = _relative_to(script, root)
        here = _cwd()
        if here is not None:
            # where it was started from, inside the repository (scripts may rely on it)
            with contextlib.suppress(ValueError):
                tags["loopml.source.cwd"] = here.resolve().relative_to(root).as_posix()
    tags["loopml.source.entry_point"] = entry
    tags["loopml.source.argv"] = _argv_json(redact_argv(sys.argv[1:]))
    tags["loopml.python.version"] = platform.python_version()
    tags["loopml.platform"] = platform.platform()
    tags["loopml.host"] = platform.node()
    tags["loopml.user"] = current_user()
    environment: dict[str, object] | None = None
    if packages:
        environment = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "packages": installed_packages(),
        }
        canonical = json.dumps(environment, sort_keys=True, separators=(",", ":"))
        tags["loopml.environment.digest"] = blake3.blake3(canonical.encode()).hexdigest()
    return RunContext(tags={k: v for k, v in tags.items() if v}, environment=environment)


def installed_packages() -> dict[str, str]:
    """The installed distributions as ``{normalised name: version}``, sorted by name.

    Names are normalised as pip compares them (lower case, runs of ``-_.`` become ``-``).
    The scan is done once per ``sys.path``; later calls return a copy of that answer (a
    library that adds a folder to ``sys.path``, as Ray does for its vendored packages,
    makes the next call scan again).
    """
    return dict(_package_items(tuple(sys.path)))


@functools.cache
def _package_items(path: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # Imported here: it costs ~30 ms and runs without packages never need it.
    import importlib.metadata

    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions(path=list(path)):
        name_version = _name_and_version(dist)
        if name_version is None:  # a broken install with no metadata; nothing to record
            continue
        key = _NAME_SEPARATORS.sub("-", name_version[0]).lower()
        # The first distribution on sys.path is the one `import` would use.
        found.setdefault(key, name_version[1])
    return tuple(sorted(found.items()))


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str, str] | None:
    """Name and version read from the metadata headers without the email parser.

    ``dist.metadata`` parses the whole file with :mod:`email`, which makes a scan of a
    typical environment ~15 times slower; Name and Version are single-line headers, so
    reading them directly gives the same answer.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    headers = dict(_HEADER.findall(_BLANK_LINE.split(text, maxsplit=1)[0]))
    if headers.get("Name") and headers.get("Version"):
        return headers["Name"], headers["Version"]
    meta = dist.metadata  # the slow path, for metadata written in an unusual shape
    if meta is None:  # newer Pythons return None when there is no metadata file
        return None
    name, version = meta["Name"], meta["Version"]
    return (name, version) if name and version else None


def _entry_point() -> tuple[str, Path | None]:
    """How the program was started, and the script file when there is one."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return f"-m {spec.name.removesuffix('.__main__')}", None
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 == "-c":
        return "-c", None
    if argv0 == "-":
        return "<stdin>", None
    file = getattr(main, "__file__", None)
    if isinstance(file, str) and file:
        # __main__.__file__ is absolute (unlike argv[0]), so a later chdir does not matter.
        script = Path(file).resolve()
        return str(script), script
    return "<interactive>", None


def _cwd() -> Path | None:
    try:
        return Path.cwd()
    except OSError:  # the working directory was deleted under the process
        return None


def _relative_to(script: Path, root: Path) -> str:
    try:
        return script.relative_to(root).as_posix()
    except ValueError:
        return str(script)


def _secret_name(name: str) -> bool:
    bare = name.lstrip("-")
    if bare.lower().startswith("no-"):
        return False  # `--no-auth`: a switch, not a value
    return bool(_SECRET_NAME.search(bare.rsplit(".", 1)[-1]))


def _redact_urls(arg: str) -> str:
    return _URL_IN_ARG.sub(lambda m: _strip_password(m.group(0)), arg)


def _strip_password(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if parts.scheme.lower() in _SECRET_USERINFO_SCHEMES:
        netloc = f"{REDACTED}@{host}"  # a user part there is often an access token
    elif colon:
        netloc = f"{user}:{REDACTED}@{host}"
    else:
        return url
    return urlunsplit(parts._replace(netloc=netloc))


def redact_argv(args: list[str]) -> list[str]:
    """The arguments with secrets replaced by ``***``: the value of an option or a
    ``key=value`` whose name ends like a secret (``--password``, ``--api-key``,
    ``db.token=…``), and the password of a URL (``postgresql://me:pw@db``)."""
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next and not arg.startswith("-"):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        option = _OPTION.match(arg)
        if option and _secret_name(option.group(1)):
            if option.group(2) is None:
                out.append(arg)
                hide_next = True  # `--password VALUE`
            else:
                out.append(f"{option.group(1)}={REDACTED}")
            continue
        pair = _KEY_VALUE.match(arg)
        if pair and _secret_name(pair.group(1)):
            out.append(f"{pair.group(1)}={REDACTED}")
            continue
        out.append(_redact_urls(arg))
    return out


def _argv_json(args: list[str]) -> str:
    """The arguments as a JSON list, cut to fit in a tag (the cut is marked)."""
    text = json.dumps(args)
    if len(text) <= MAX_TAG_VALUE_LENGTH:
        return text
    kept: list[str] = []
    for arg in args:
        marker = f"... {len(args) - len(kept) - 1} more arguments not recorded"
        if len(json.dumps([*kept, arg, marker])) > MAX_TAG_VALUE_LENGTH:
            break
        kept.append(arg)
    kept.append(f"... {len(args) - len(kept)} more arguments not recorded")
    return json.dumps(kept)


def current_user() -> str:
    """The login name of the user running this process ("" when there is none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        # No USER/LOGNAME and no password-database entry (e.g. an arbitrary container uid).
        return ""


def _git_env() -> dict[str, str]:
    # The child inherits the caller's environment (PATH, HOME, GIT_*); only the locale is
    # pinned so git's output does not depend on the user's language.
    return {**os.environ, "LC_ALL": "C"}


def _git_all(cwd: Path, *commands: tuple[str, ...]) -> list[bytes | None]:
    """Run git commands in ``cwd`` at the same time; each one's stdout on success, None on
    any failure (no git, not a repository, past the timeout)."""
    started: list[subprocess.Popen[bytes] | None] = []
    for args in commands:
        try:
            started.append(
                subprocess.Popen(
                    ["git", *args],
                    cwd=cwd,
                    env=_git_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            )
        except OSError:
            started.append(None)
    deadline = time.monotonic() + _GIT_TIMEOUT
    out: list[bytes | None] = []
    for proc in started:
        if proc is None:
            out.append(None)
            continue
        try:
            stdout, _ = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            out.append(None)
            continue
        out.append(stdout if proc.returncode == 0 else None)
    return out


def _git_context(cwd: Path) -> tuple[Path | None, GitInfo | None]:
    """The work tree root and its state, (None, None) outside a work tree.

    The three queries start together (git's start-up dominates each); the diff, which
    needs the commit, follows only when the tree is dirty.
    """
    top, status, remote = _git_all(
        cwd,
        ("rev-parse", "--show-toplevel", "--show-object-format"),
        _STATUS_ARGS,
        ("config", "--get", "remote.origin.url"),
    )
    found = _parse_toplevel(top)
    if found is None:
        return None, None
    root, object_format = found
    if status is None:
        return root, None
    commit, branch, dirty, untracked = _parse_status(status)
    digest = None
    if dirty:
        base = commit or _EMPTY_TREE[object_format]
        digest = _diff_digest(root, base, untracked)
    return root, GitInfo(
        commit=commit,
        branch=branch,
        dirty=dirty,
        diff_digest=digest,
        remote=_strip_credentials(remote.decode(errors="replace").strip()) if remote else None,
    )


def _parse_toplevel(out: bytes | None) -> tuple[Path, str] | None:
    """The work tree root and the object format (sha1/sha256) from ``rev-parse``."""
    if out is None:
        return None
    lines = out.decode(errors="surrogateescape").splitlines()
    if not lines or not lines[0]:
        return None
    # A git too old for --show-object-format echoes the flag back; it only knows sha1.
    object_format = lines[1] if len(lines) > 1 and lines[1] in _EMPTY_TREE else "sha1"
    return Path(lines[0]).resolve(), object_format


def _parse_status(out: bytes) -> tuple[str, str, bool, list[bytes]]:
    """Commit, branch, dirty flag and untracked paths from ``status --porcelain=v2 -z``."""
    commit, branch, dirty = "", "", False
    untracked: list[bytes] = []
    records = iter(out.split(b"\0"))
    for record in records:
        if record.startswith(b"# branch.oid "):
            oid = record[len(b"# branch.oid ") :].decode()
            commit = "" if oid == "(initial)" else oid
        elif record.startswith(b"# branch.head "):
            head = record[len(b"# branch.head ") :].decode(errors="replace")
            branch = "" if head == "(detached)" else head
        elif record.startswith(b"? "):
            dirty = True
            untracked.append(record[2:])
        elif record[:2] in (b"1 ", b"2 ", b"u "):
            dirty = True
            if record.startswith(b"2 "):
                next(records, None)  # a rename carries its original path as the next record
    return commit, branch, dirty, untracked


def _diff_digest(root: Path, base: str, untracked: list[bytes]) -> str | None:
    """BLAKE3 of the diff against ``base`` and the untracked names; None if git fails.

    Runs at the work tree root, with the settings that change the diff's bytes pinned, so
    the same change gives the same digest from any folder and on any machine.
    """
    args = [*_DIFF_CONFIG, "diff", *_DIFF_OPTIONS, base, "--"]
    diff = blake3.blake3()
    try:
        proc = subprocess.Popen(
            ["git", *args],
            cwd=root,
            env=_git_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None
    # The diff is streamed into the hash (it can be large); a timer ends a git that hangs.
    timer = threading.Timer(_DIFF_TIMEOUT, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        with proc.stdout:
            while chunk := proc.stdout.read(_CHUNK):
                diff.update(chunk)
        code = proc.wait()
    finally:
        timer.cancel()
    if code != 0:
        return None
    total = blake3.blake3(diff.digest())
    for name in sorted(untracked):
        # Length-prefixed so that no two different lists of names hash alike.
        total.update(len(name).to_bytes(8, "big") + name)
    return str(total.hexdigest())


def _strip_credentials(url: str) -> str:
    """The URL without a password, and without any user part where it is likely a token."""
    if "://" not in url:
        return url  # scp-like "git@host:org/repo" or a local path: nothing secret
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    if parts.scheme.lower() in _SECRET_USERINFO_SCHEMES:
        netloc = host
    else:
        # ssh://git@host: the user name is part of the address, a password never is.
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))
