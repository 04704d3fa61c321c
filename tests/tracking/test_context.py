"""The reproducibility record: git state, entry point, argv, Python, platform and packages."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.entities.validation import MAX_TAG_VALUE_LENGTH
from loopml.tracking.context import capture_run_context, git_info, installed_packages

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

# Prints the tags a script sees, so the entry point can be checked the way users start code.
PRINT_TAGS = (
    "import json\n"
    "from loopml.tracking.context import capture_run_context\n"
    "print(json.dumps(capture_run_context(packages=False).tags))\n"
)


@pytest.fixture(autouse=True)
def _quiet_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git that ignores the machine's config and never looks above tmp_path for a repo."""
    config = tmp_path / "gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Ada")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "ada@example.com")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit on branch main."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text("print('train')\n")
    (path / ".gitignore").write_text("data/\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    return path


def run_python(*args: str, cwd: Path) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    tags: dict[str, str] = json.loads(done.stdout)
    return tags


@needs_git
def test_clean_repo_reports_commit_and_branch(repo: Path) -> None:
    info = git_info(repo)

    assert info is not None
    assert info.commit == git(repo, "rev-parse", "HEAD")
    assert info.branch == "main"
    assert info.dirty is False
    assert info.diff_digest is None
    assert info.remote is None


@needs_git
def test_a_file_or_subfolder_inside_the_repo_finds_it(repo: Path) -> None:
    (repo / "pkg").mkdir()

    assert git_info(repo / "pkg") == git_info(repo)
    assert git_info(repo / "train.py") == git_info(repo)


@needs_git
def test_the_digest_does_not_depend_on_the_folder_or_diff_settings(repo: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "train.py").write_text("print('train harder')\n")
    plain = git_info(repo / "pkg")
    git(repo, "config", "diff.relative", "true")
    git(repo, "config", "diff.noprefix", "true")

    from_subfolder = git_info(repo / "pkg")

    assert plain is not None
    assert from_subfolder == plain


@needs_git
def test_modified_file_makes_a_dirty_tree_whose_digest_follows_the_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('train harder')\n")
    first = git_info(repo)
    again = git_info(repo)
    (repo / "train.py").write_text("print('train less')\n")
    changed = git_info(repo)
    (repo / "train.py").write_text("print('train')\n")
    reverted = git_info(repo)

    assert first is not None
    assert again is not None
    assert changed is not None
    assert first.dirty is True
    assert first.diff_digest is not None
    assert len(first.diff_digest) == 64
    assert again.diff_digest == first.diff_digest
    assert changed.diff_digest != first.diff_digest
    assert reverted is not None
    assert reverted.dirty is False
    assert reverted.diff_digest is None


@needs_git
def test_staging_a_change_does_not_change_its_digest(repo: Path) -> None:
    (repo / "train.py").write_text("print('train harder')\n")
    unstaged = git_info(repo)
    git(repo, "add", "train.py")
    staged = git_info(repo)

    assert unstaged is not None
    assert staged is not None
    assert staged.dirty is True
    assert staged.diff_digest == unstaged.diff_digest


@needs_git
def test_binary_changes_are_in_the_digest(repo: Path) -> None:
    (repo / "weights.bin").write_bytes(bytes(range(256)))
    git(repo, "add", "weights.bin")
    one = git_info(repo)
    (repo / "weights.bin").write_bytes(bytes(range(255, -1, -1)))
    other = git_info(repo)

    assert one is not None
    assert other is not None
    assert one.diff_digest is not None
    assert one.diff_digest != other.diff_digest


@needs_git
def test_untracked_files_make_the_tree_dirty_and_their_names_count(repo: Path) -> None:
    (repo / "notes.txt").write_text("todo\n")
    one = git_info(repo)
    (repo / "notes.txt").rename(repo / "ideas.txt")
    renamed = git_info(repo)

    assert one is not None
    assert renamed is not None
    assert one.dirty is True
    assert one.diff_digest is not None
    assert renamed.diff_digest != one.diff_digest


@needs_git
def test_ignored_files_do_not_make_the_tree_dirty(repo: Path) -> None:
    (repo / "data").mkdir()
    (repo / "data" / "big.csv").write_text("a,b\n1,2\n")

    info = git_info(repo)

    assert info is not None
    assert info.dirty is False


@needs_git
def test_repository_without_commits(tmp_path: Path) -> None:
    path = tmp_path / "fresh"
    path.mkdir()
    git(path, "init", "-q", "-b", "trunk")
    empty = git_info(path)
    (path / "train.py").write_text("print('hi')\n")
    untracked = git_info(path)
    git(path, "add", "train.py")
    staged = git_info(path)
    (path / "train.py").write_text("print('hello')\n")
    edited = git_info(path)

    assert empty is not None
    assert (empty.commit, empty.branch, empty.dirty) == ("", "trunk", False)
    assert untracked is not None
    assert untracked.dirty is True
    assert staged is not None
    assert staged.commit == ""
    assert staged.dirty is True
    assert staged.diff_digest is not None
    assert edited is not None
    assert edited.diff_digest not in (None, staged.diff_digest)


@needs_git
def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")

    info = git_info(repo)

    assert info is not None
    assert info.branch == ""
    assert info.commit == git(repo, "rev-parse", "HEAD")


@needs_git
def test_outside_a_repository_there_is_no_git_info(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    assert git_info(plain) is None
    assert git_info(tmp_path / "missing") is None


@needs_git
def test_without_git_installed_there_is_no_git_info(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))

    assert git_info(repo) is None
    assert "loopml.source.git.commit" not in capture_run_context(packages=False).tags


@needs_git
@pytest.mark.parametrize(
    ("url", "recorded"),
    [
        ("https://alice:s3cret@example.com/org/repo.git", "https://example.com/org/repo.git"),
        ("https://ghp_token123@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("https://example.com:8443/org/repo.git", "https://example.com:8443/org/repo.git"),
        ("ssh://git:pw@example.com:2222/org/repo.git", "ssh://git@example.com:2222/org/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
    ],
)
def test_remote_url_is_recorded_without_credentials(repo: Path, url: str, recorded: str) -> None:
    git(repo, "remote", "add", "origin", url)

    info = git_info(repo)

    assert info is not None
    assert info.remote == recorded


@needs_git
def test_script_in_a_repo_is_recorded_relative_to_its_root(repo: Path, tmp_path: Path) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "report.py").write_text(PRINT_TAGS)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "add report")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # Started from outside the repo: the script's folder, not the cwd, decides the repo.
    tags = run_python(str(repo / "src" / "report.py"), "--lr", "0.1", "x y", cwd=elsewhere)

    assert tags["loopml.source.entry_point"] == "src/report.py"
    assert json.loads(tags["loopml.source.argv"]) == ["--lr", "0.1", "x y"]
    assert tags["loopml.source.git.commit"] == git(repo, "rev-parse", "HEAD")
    assert tags["loopml.source.git.branch"] == "main"
    assert tags["loopml.source.git.dirty"] == "false"
    assert "loopml.source.git.diff_digest" not in tags


@needs_git
def test_script_outside_any_repo_is_recorded_by_its_path(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "report.py").write_text(PRINT_TAGS)

    tags = run_python("report.py", cwd=plain)

    assert tags["loopml.source.entry_point"] == str((plain / "report.py").resolve())
    assert json.loads(tags["loopml.source.argv"]) == []
    assert not any(key.startswith("loopml.source.git.") for key in tags)


@needs_git
def test_module_and_command_entry_points(repo: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "report.py").write_text(PRINT_TAGS)
    (repo / "pkg" / "__main__.py").write_text(PRINT_TAGS)

    module = run_python("-m", "pkg.report", "--epochs", "3", cwd=repo)
    package = run_python("-m", "pkg", cwd=repo)
    command = run_python("-c", PRINT_TAGS, "arg", cwd=repo)

    assert module["loopml.source.entry_point"] == "-m pkg.report"
    assert json.loads(module["loopml.source.argv"]) == ["--epochs", "3"]
    assert package["loopml.source.entry_point"] == "-m pkg"
    assert command["loopml.source.entry_point"] == "-c"
    assert json.loads(command["loopml.source.argv"]) == ["arg"]
    # Without a script the working directory's repo is recorded; new files make it dirty.
    assert command["loopml.source.git.commit"] == git(repo, "rev-parse", "HEAD")
    assert command["loopml.source.git.dirty"] == "true"
    assert len(command["loopml.source.git.diff_digest"]) == 64


def test_python_platform_host_and_user_are_recorded() -> None:
    tags = capture_run_context(packages=False).tags

    assert tags["loopml.python.version"] == platform.python_version()
    assert tags["loopml.platform"] == platform.platform()
    assert tags["loopml.host"] == platform.node()
    assert tags["loopml.user"]
    assert all(isinstance(value, str) and value for value in tags.values())


def test_installed_packages_are_in_the_environment_with_a_stable_digest() -> None:
    first = capture_run_context()
    second = capture_run_context()

    assert first.environment is not None
    packages = first.environment["packages"]
    assert isinstance(packages, dict)
    assert packages["sqlalchemy"] == importlib.metadata.version("sqlalchemy")
    assert list(packages) == sorted(packages)
    assert first.environment["python"] == platform.python_version()
    assert len(first.tags["loopml.environment.digest"]) == 64
    assert second.tags["loopml.environment.digest"] == first.tags["loopml.environment.digest"]


def test_package_names_are_normalised_and_the_cache_cannot_be_corrupted() -> None:
    packages = installed_packages()
    packages["sqlalchemy"] = "0.0"

    assert installed_packages()["sqlalchemy"] == importlib.metadata.version("sqlalchemy")
    assert all(name == name.lower() and "_" not in name for name in packages)


def test_package_list_agrees_with_importlib_metadata() -> None:
    expected: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        expected.setdefault(name, dist.version)

    assert installed_packages() == expected


def test_without_packages_there_is_no_environment() -> None:
    ctx = capture_run_context(packages=False)

    assert ctx.environment is None
    assert "loopml.environment.digest" not in ctx.tags


def test_secrets_typed_on_the_command_line_are_not_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    typed = [
        "train.py-args", "--lr", "0.1", "--password", "hunter2", "--api-key=sk-123",
        "db.token=abc", "AWS_SECRET_ACCESS_KEY=zzz", "--db", "postgresql://me:pw@db:5432/ml",
        "--repo", "https://ghp_tok@github.com/acme/ml", "--tokenizer", "bpe", "--no-auth",
        "rides.csv", "--auth",
    ]  # fmt: skip
    monkeypatch.setattr(sys, "argv", [sys.argv[0], *typed])

    recorded = json.loads(capture_run_context(packages=False).tags["loopml.source.argv"])

    assert recorded == [
        "train.py-args", "--lr", "0.1", "--password", "***", "--api-key=***",
        "db.token=***", "AWS_SECRET_ACCESS_KEY=***", "--db", "postgresql://me:***@db:5432/ml",
        "--repo", "https://***@github.com/acme/ml", "--tokenizer", "bpe", "--no-auth",
        "rides.csv", "--auth",
    ]  # fmt: skip
    for secret in ("hunter2", "sk-123", "abc", "zzz", ":pw@", "ghp_tok"):
        assert all(secret not in arg for arg in recorded)


def test_a_huge_argv_is_cut_to_fit_a_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    args = [f"--file=shard-{i:05d}.parquet" for i in range(2000)]
    monkeypatch.setattr(sys, "argv", [sys.argv[0], *args])

    recorded = json.loads(capture_run_context(packages=False).tags["loopml.source.argv"])

    assert len(json.dumps(recorded)) <= MAX_TAG_VALUE_LENGTH
    assert recorded[:-1] == args[: len(recorded) - 1]
    assert recorded[-1] == f"... {len(args) - len(recorded) + 1} more arguments not recorded"


@needs_git
def test_a_rename_is_a_change(repo: Path) -> None:
    git(repo, "mv", "train.py", "fit.py")

    info = git_info(repo)

    assert info is not None
    assert info.dirty is True
    assert info.diff_digest is not None


@needs_git
def test_git_is_asked_at_most_four_times(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real git behind a wrapper that counts its invocations.
    log = tmp_path / "git-calls.log"
    wrapper_dir = tmp_path / "wrapper"
    wrapper_dir.mkdir()
    wrapper = wrapper_dir / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec "{shutil.which("git")}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper_dir}{os.pathsep}{os.environ['PATH']}")

    run_python("-c", PRINT_TAGS, cwd=repo)
    clean_calls = len(log.read_text().splitlines())
    (repo / "train.py").write_text("print('changed')\n")
    log.unlink()
    tags = run_python("-c", PRINT_TAGS, cwd=repo)
    dirty_calls = len(log.read_text().splitlines())

    assert tags["loopml.source.git.dirty"] == "true"
    assert clean_calls <= 3
    assert dirty_calls <= 4


def test_packages_added_to_sys_path_later_are_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = installed_packages()  # cached for this sys.path
    info = tmp_path / "vendored_thing-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vendored-thing\nVersion: 1.2.3\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # as Ray does for its vendored packages
    assert "vendored-thing" not in before
    assert installed_packages()["vendored-thing"] == "1.2.3"


@needs_git
def test_a_new_store_in_the_work_tree_leaves_it_clean(repo: Path) -> None:
    from loopml.tracking.client import TrackingClient

    client = TrackingClient(str(repo / ".loopml"))
    run = client.create_run(client.create_experiment("e"))
    client.log_text(run.info.run_id, "some text", "notes.txt")  # a blob under .loopml
    client.close()
    info = git_info(repo)
    assert info is not None and info.dirty is False

    existing = repo / "kept"  # a folder the user made is left as it is
    existing.mkdir()
    TrackingClient(str(existing)).search_experiments()
    assert not (existing / ".gitignore").exists()
